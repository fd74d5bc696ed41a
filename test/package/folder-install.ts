// `npm install <path to a fresh clone>` (npm run test:install; about 20 s, so not part of npm test).
// npm 11 links the folder, runs its `prepare` there and installs none of its dependencies; a fresh clone
// has neither node_modules nor dist/, so prepare must install the devDependencies (TypeScript) and build.
// Offline: the clone's own lockfile lets npm take everything from the cache.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'sc-folder-install-'));

after(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('npm install <fresh clone> builds the clone and every exports subpath imports', () => {
  // The tracked files as they are in this tree (a clone, uncommitted edits included): no node_modules, no dist.
  const clone = join(work, 'secondary-certs');
  for (const file of run('git', ['ls-files', '-z'], root).split('\0').filter(Boolean)) {
    if (!existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    cpSync(join(root, file), join(clone, file));
  }
  assert.equal(existsSync(join(clone, 'dist')), false);
  const scratch = join(work, 'scratch');
  mkdirSync(scratch);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }));
  run('npm', ['install', clone, '--offline', '--no-audit', '--no-fund'], scratch);
  assert.ok(existsSync(join(clone, 'dist', 'src', 'index.js')), 'prepare did not build the clone');
  const manifest = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { exports: Record<string, string> };
  const names = Object.keys(manifest.exports).map((s) => (s === '.' ? 'secondary-certs' : `secondary-certs/${s.slice(2)}`));
  const script = `for (const n of ${JSON.stringify(names)}) await (n.endsWith('.json') ? import(n, { with: { type: 'json' } }) : import(n)); console.log('ok')`;
  assert.equal(run(process.execPath, ['--input-type=module', '-e', script], scratch).trim(), 'ok');
  assert.match(run(join(scratch, 'node_modules', '.bin', 'secondary-certs'), ['--help'], scratch), /usage: secondary-certs/);
});
