// The package as a user gets it: `npm pack` of this tree, installed offline into a scratch project
// from the npm cache, then used there only through its name. Every `exports` subpath must import, the
// bin must run through its link, the tarball must hold no tests, benchmarks or interop files, and
// every ```ts block of README.md must compile under strict tsc against the installed types.
// Runs on the built dist/ (npm test builds first); packing skips scripts so it never rebuilds dist/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  exports: Record<string, string>;
  sideEffects: string[];
  bin: Record<string, string>;
};
let work: string;
let scratch: string;
let tarball: string;
let packed: string[];

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'sc-package-'));
  const [info] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root)) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  packed = info!.files.map((f) => f.path);
  // The cache holds the dependencies' tarballs but not the registry's metadata, so `npm install <tgz>`
  // cannot resolve them offline. A lockfile that pins them as this project's own lockfile does lets
  // `npm ci --offline` take them from the cache by integrity: the same versions a user would get.
  scratch = join(work, 'scratch');
  mkdirSync(scratch);
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const spec = `file:${tarball}`;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'scratch', version: '1.0.0', dependencies: { 'secondary-certs': spec } },
    'node_modules/secondary-certs': { version: manifest.version, resolved: spec, integrity, dependencies: manifest.dependencies, bin: manifest.bin },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module', dependencies: { 'secondary-certs': spec } }));
  writeFileSync(join(scratch, 'package-lock.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', lockfileVersion: 3, requires: true, packages }));
  run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], scratch);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the built library, its types, README and LICENSE, and nothing of tests, benchmarks or interop', () => {
  for (const name of ['package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/check/index.d.ts']) assert.ok(packed.includes(name), `${name} is missing`);
  const stray = packed.filter((p) => /(^|\/)(test|bench|interop)\//.test(p) || p.endsWith('.ts') && !p.endsWith('.d.ts') || p.endsWith('.map') || p.includes('broken-server') || p.endsWith('.go'));
  assert.deepEqual(stray, []);
  assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) the secondary-certs authors\n/);
});

test('every exports subpath resolves and imports in the installed package, secondary-certs/check included', () => {
  const subpaths = Object.keys(manifest.exports);
  assert.ok(subpaths.includes('./check'));
  const names = subpaths.map((s) => (s === '.' ? 'secondary-certs' : `secondary-certs/${s.slice(2)}`));
  const script = `
    for (const name of ${JSON.stringify(names)}) {
      const m = name.endsWith('.json') ? await import(name, { with: { type: 'json' } }) : await import(name);
      if (Object.keys(m).length === 0) throw new Error(name + ' exports nothing');
      console.log(name, Object.keys(m).length);
    }`;
  const out = run(process.execPath, ['--input-type=module', '-e', script], scratch);
  assert.equal(out.trim().split('\n').length, names.length, out);
  const check = run(process.execPath, ['--input-type=module', '-e', `const c = await import('secondary-certs/check'); console.log(typeof c.checkServer, typeof c.checkH3Server, typeof c.formatReport, c.EXIT_STATUS.conforms)`], scratch);
  assert.equal(check.trim(), 'function function function 0');
});

test('node_modules/.bin/secondary-certs --help runs through the bin link and exits 0', () => {
  const out = run(join(scratch, 'node_modules', '.bin', 'secondary-certs'), ['--help'], scratch);
  assert.match(out, /usage: secondary-certs/);
});

test('sideEffects lists every packed module that runs code for its effect at import (a bare import or the CLI)', () => {
  const listed = manifest.sideEffects.map((p) => p.replace(/^\.\//, ''));
  for (const p of listed) assert.ok(packed.includes(p), `${p} is in sideEffects but not in the package`);
  const effectful = packed.filter((p) => p.endsWith('.js') && /^import ['"][^'"]+['"];$/m.test(readFileSync(join(scratch, 'node_modules', 'secondary-certs', p), 'utf8')));
  for (const p of [...effectful, manifest.bin['secondary-certs']!.replace(/^\.\//, '')]) assert.ok(listed.includes(p), `${p} has side effects but sideEffects does not list it`);
});

// The free names each README section's snippets use, declared so that only the API is under test. A
// new section with a snippet needs an entry here (empty when the snippet is self-contained).
const PRELUDES: Record<string, string> = {
  'Exported Authenticators (RFC 9261)': `
    import type { TLSSocket } from 'node:tls';
    declare const tlsSocket: TLSSocket;
    declare const keyPem: string;
    declare const chainDer: Uint8Array[];
    declare const clientKeys: import('secondary-certs/exporter').AuthenticatorKeys;
    declare const clientState: import('secondary-certs/ea').ConnectionState;`,
  'Exported Authenticators (RFC 9261)#2': `declare const caPem: string; declare const chain: Uint8Array[];`,
  'HTTP/2: servers that prove more origins, clients that use them': `declare const aKeyPem: string, aChainPem: string, bChainPem: string, bKeyPem: string, caPem: string;`,
  'Client certificates over HTTP/2: a server asks, the client chooses': `declare const aKeyPem: string, aChainPem: string, clientCaPem: string, caPem: string, myChainPem: string, myKeyPem: string;`,
  'HTTP/3: the same over QUIC': `declare const aKeyPem: string, aChainPem: string, bChainPem: string, bKeyPem: string, caPem: string;`,
  '`OPTIONS *`: a client asks the server to prove an origin (our proposal)': `
    declare const server: import('node:http2').Http2SecureServer;
    declare const extension: import('secondary-certs/h2').SecondaryCertServer;
    declare const connection: import('secondary-certs/h2').SecondaryCertConnection;`,
  Commands: `declare const caPem: string;`,
  'Client-Cert for TLS-terminating proxies (RFC 9440)': `
    declare const req: import('node:http').IncomingMessage & { socket: import('node:tls').TLSSocket };
    declare const policy: import('secondary-certs/pki').CertificatePolicy;`,
};

/** Each ```ts block of README.md with the heading it sits under (repeated headings get #2, #3...). */
export function readmeSnippets(text: string): { section: string; code: string }[] {
  const snippets: { section: string; code: string }[] = [];
  const seen = new Map<string, number>();
  let heading = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) heading = line.slice(3).trim();
    if (line.trim() !== '```ts') continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    assert.ok(end > i, `unterminated \`\`\`ts block at line ${i + 1}`);
    const n = (seen.get(heading) ?? 0) + 1;
    seen.set(heading, n);
    snippets.push({ section: n === 1 ? heading : `${heading}#${n}`, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return snippets;
}

test('every ```ts snippet of README.md compiles with tsc --strict against the installed package', () => {
  const snippets = readmeSnippets(readFileSync(join(root, 'README.md'), 'utf8'));
  assert.ok(snippets.length >= 8, `only ${snippets.length} snippets found`);
  const dir = join(scratch, 'readme');
  mkdirSync(dir);
  const files = snippets.map((s, i) => {
    const prelude = PRELUDES[s.section];
    assert.ok(prelude !== undefined, `no prelude for the README section "${s.section}"`);
    // Imports first (a prelude may use import types only); `export {}` keeps every file a module.
    const file = join(dir, `snippet-${i + 1}.ts`);
    writeFileSync(file, `${s.code}\n${prelude}\nexport {};\n`);
    return file;
  });
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
      files,
    }),
  );
  try {
    run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], dir);
  } catch (e) {
    const out = (e as { stdout?: string }).stdout ?? String(e);
    assert.fail(`README snippets do not compile:\n${out}\n${snippets.map((s, i) => `snippet-${i + 1}: ${s.section}`).join('\n')}`);
  }
});
