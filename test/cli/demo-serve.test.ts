// The demo's time gain at a simulated round-trip time, and where `serve` puts its test CA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;

test('the demo runs HTTP/2 at a simulated round-trip time and says per origin what the extension saved', () => {
  const r = spawnSync(process.execPath, [cli, 'demo', '--rtt', '20'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /delay proxy on 127\.0\.0\.1:\d+: 20 ms of round-trip time/);
  assert.match(r.stdout, /What the extension saved at 20 ms round-trip time/);
  // The amounts are measured, so only their form is checked here (the bench holds the figures).
  for (const name of ['b.example', 'c.example']) {
    assert.match(r.stdout, new RegExp(`${name.replace('.', '\\.')}:\\s+\\d+\\.\\d ms (saved|lost) \\(no new TCP connection, no new TLS handshake; \\d+\\.\\d ms with, \\d+\\.\\d ms without\\)`));
  }
  assert.match(r.stdout, /total: -?\d+\.\d ms saved for 3 origins \(\d+\.\d ms with the extension, \d+\.\d ms without\)/);
  assert.match(r.stdout, /Over HTTP\/3 \(QUIC\), with the extension, on plain loopback \(the delay proxy is TCP only\)/);
  assert.match(r.stdout, /With the extension[\s\S]*TLS handshakes: 1;[\s\S]*Without the extension[\s\S]*TLS handshakes: 3;/);
});

test('serve without --ca-out writes the CA to a new temporary folder, not the folder it runs in, and prints where', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'serve-cwd-'));
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0'], { cwd });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  let caFile: string | undefined;
  try {
    for (let i = 0; i < 400 && !/press Ctrl-C/.test(out); i++) await new Promise((r) => setTimeout(r, 25));
    caFile = /test CA written to (.+)\n/.exec(out)?.[1];
    assert.ok(caFile, out);
    assert.deepEqual(readdirSync(cwd), []);
    assert.ok(!caFile.startsWith(cwd), caFile);
    assert.match(readFileSync(caFile, 'utf8'), /^-----BEGIN CERTIFICATE-----/);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0);
  rmSync(cwd, { recursive: true, force: true });
  if (caFile) rmSync(dirname(caFile), { recursive: true, force: true });
});
