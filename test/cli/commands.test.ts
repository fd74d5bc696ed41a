// The demo and `secondary-certs serve` as a user runs them: real processes, real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecondaryCertAgent } from '../../src/pool/agent.js';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;

test('the demo makes one TLS handshake with the extension and three without, and exits 0', () => {
  const r = spawnSync(process.execPath, [cli, 'demo'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /With the extension[\s\S]*TLS handshakes: 1;[\s\S]*Without the extension[\s\S]*TLS handshakes: 3;/);
  assert.match(r.stdout, /SERVER_CERTIFICATE on #1 for b\.example: valid \(RFC 9261\), accepted/);
  assert.match(r.stdout, /GET https:\/\/c\.example:\d+\/\s+200\s+connection #1\s+reused \(secondary certificate\)/);
  assert.match(r.stdout, /Over HTTP\/3[\s\S]*control stream for b\.example: valid and accepted[\s\S]*"hello from c\.example over HTTP\/3"[\s\S]*QUIC handshakes: 1;/);
});

test('serve prints its port, writes the CA, serves secondary origins on one connection, and stops on SIGINT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-'));
  const caFile = join(dir, 'ca.pem');
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--origins', 'a.example,b.example', '--ca-out', caFile]);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  try {
    for (let i = 0; i < 200 && !/press Ctrl-C/.test(out); i++) await new Promise((r) => setTimeout(r, 25));
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    assert.ok(port > 0, out);
    assert.match(out, new RegExp(`test CA written to ${caFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const agent = new SecondaryCertAgent({ ca: [readFileSync(caFile, 'utf8')], lookup: async () => ['127.0.0.1'] });
    await agent.request(`https://a.example:${port}/`);
    const r = await agent.request(`https://b.example:${port}/`);
    assert.equal(r.body.toString(), 'hello from b.example\n');
    assert.equal(r.connectionId, 1);
    await agent.close();
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0);
  assert.match(out, /stopped/);
});

test('serve --h3 serves the same origins over HTTP/3 on the same port number', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-h3-'));
  const caFile = join(dir, 'ca.pem');
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--origins', 'a.example,b.example', '--ca-out', caFile, '--h3']);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  try {
    for (let i = 0; i < 200 && !/press Ctrl-C/.test(out); i++) await new Promise((r) => setTimeout(r, 25));
    const port = Number(/HTTP\/3 on UDP 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    assert.ok(port > 0, out);
    const agent = new SecondaryCertAgent({ protocol: 'h3', ca: [readFileSync(caFile, 'utf8')], lookup: async () => ['127.0.0.1'] });
    await agent.request(`https://a.example:${port}/`);
    const r = await agent.request(`https://b.example:${port}/`);
    assert.equal(r.body.toString(), 'hello from b.example over HTTP/3\n');
    assert.equal(r.connectionId, 1);
    await agent.close();
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0);
});

test('serve refuses bad options with exit status 2', () => {
  const r = spawnSync(process.execPath, [cli, 'serve', '--port', 'x'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--port/);
  const u = spawnSync(process.execPath, [cli, 'nonsense'], { encoding: 'utf8' });
  assert.equal(u.status, 2);
});
