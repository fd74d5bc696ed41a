// Portable means portable: the authenticator core, the exporter shim and the portable provider are
// bundled for the browser from the package's own "browser" entries (esbuild, platform browser, which
// refuses any Node built-in), and every committed RFC 9261 vector is run in Debian's headless Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const root = process.cwd();
const chromiumPath = '/usr/bin/chromium';
const skip = !existsSync(chromiumPath) && !process.env['CI'] ? "Debian's chromium is not installed (.ci/run installs it)" : false;

// What the page runs: every vector with the portable provider, and what the runtime offers.
const ENTRY = `
import { parseVector, runVector, ConnectionState } from 'secondary-certs/ea';
import { keysFromExporterSecret } from 'secondary-certs/exporter';
import { defaultCrypto, portableCrypto } from 'secondary-certs/crypto';
globalThis.runVectors = async (files) => {
  const results = [];
  for (const [name, json] of files) results.push(await runVector(parseVector(json, name), portableCrypto));
  return {
    results,
    defaultProvider: defaultCrypto().name,
    hasBuffer: typeof globalThis.Buffer !== 'undefined',
    hasProcess: typeof globalThis.process !== 'undefined',
    exports: [typeof ConnectionState, typeof keysFromExporterSecret],
  };
};
`;

/** Bundles `contents` as the browser would get it, resolving 'secondary-certs/...' to this clone. */
async function bundle(contents: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-browser-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'secondary-certs'));
    const out = await build({ stdin: { contents, resolveDir: dir, loader: 'js' }, bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    return out.outputFiles[0]!.text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function vectorFiles(): [string, unknown][] {
  const dir = join(root, 'test', 'vectors');
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8'))]);
}

test("the Node entry cannot be bundled for the browser (it imports node:crypto), so the browser test below proves the browser entries avoid it", { skip }, async () => {
  await assert.rejects(bundle(`import ${JSON.stringify(join(root, 'dist', 'src', 'crypto', 'index.js'))};`), /node:crypto/);
});

test('in headless Chromium, the browser bundle of the core passes every committed vector (all schemes, both roles, empty and invalid ones) with the portable provider as its default and no Buffer or process', { skip, timeout: 120_000 }, async () => {
  const code = await bundle(ENTRY);
  assert.doesNotMatch(code, /from ["']node:/, 'no Node built-in left in the bundle');
  // A page on http://127.0.0.1 is a secure context, which WebCrypto needs.
  const server = createServer((req, res) => {
    if (req.url === '/bundle.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/bundle.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => typeof (globalThis as { runVectors?: unknown }).runVectors === 'function', undefined, { timeout: 30_000 });
    const files = vectorFiles();
    const out = await page.evaluate(
      (f) => (globalThis as unknown as { runVectors(x: unknown): Promise<{ results: { vector: string; ok: boolean; detail: string }[]; defaultProvider: string; hasBuffer: boolean; hasProcess: boolean; exports: string[] }> }).runVectors(f),
      files,
    );
    assert.deepEqual(errors, []);
    assert.equal(out.defaultProvider, 'portable');
    assert.equal(out.hasBuffer, false);
    assert.equal(out.hasProcess, false);
    assert.deepEqual(out.exports, ['function', 'function']);
    assert.equal(out.results.length, files.length);
    assert.ok(files.length >= 20, `committed vectors: ${files.length}`);
    const failed = out.results.filter((r) => !r.ok).map((r) => `${r.vector}: ${r.detail}`);
    assert.deepEqual(failed, []);
  } finally {
    await browser.close();
    server.close();
  }
});
