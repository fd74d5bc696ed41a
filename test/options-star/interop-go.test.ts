// OPTIONS * against the independent Go peer (interop/go, written from the same profile, spec-notes/options-star.md): our client
// against go-h2-server, and go-h2-client against our server. Skipped when the Go binaries are not built
// (bash interop/build-go.sh) and cannot be.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { connect, type SecondaryCertConnection } from '../../src/h2/client.js';
import { createSecondaryCertServer } from '../../src/h2/server.js';
import { installOptionsStar, type OptionsStarAnswer } from '../../src/flows/options-star/server.js';
import { discoverOptionsStar, proveOrigin } from '../../src/flows/options-star/client.js';
import { SecondaryCertsError } from '../../src/errors.js';

const bin = join(process.cwd(), 'interop', 'bin');
const goServer = join(bin, 'go-h2-server');
const goClient = join(bin, 'go-h2-client');
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

function goAvailable(): boolean {
  if (existsSync(goServer) && existsSync(goClient)) return true;
  if (spawnSync('go', ['version']).status !== 0) return false;
  spawnSync('bash', [join(process.cwd(), 'interop', 'build-go.sh')], { stdio: 'ignore', timeout: 240_000 });
  return existsSync(goServer) && existsSync(goClient);
}

const skip = goAvailable() ? false : 'the Go interop peers are not built and go is not installed';
let dir = '';
const pem = (name: string): string => readFileSync(join(dir, name), 'utf8');

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'optstar-go-'));
  const r = spawnSync(goServer, ['-gen-certs', dir]);
  assert.equal(r.status, 0, String(r.stderr));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts go-h2-server with a.example as TLS certificate and b.example provable; `args` add flags. */
async function startGo(args: string[]): Promise<{ port: number; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(goServer, ['-cert', join(dir, 'a.example.pem'), '-key', join(dir, 'a.example.key'), '-secondary', `${join(dir, 'b.example.pem')},${join(dir, 'b.example.key')}`, '-quiet', ...args]);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`go-h2-server exited with ${code}`)));
  });
  return {
    port,
    child,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

function get(conn: SecondaryCertConnection, authority: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = conn.session.request({ ':path': '/', ':authority': authority });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
}

test('our client against go-h2-server: discovery, proof, service on the same connection, refusal', { skip }, async () => {
  // -plain: the Go server sends no SERVER_CERTIFICATE, so OPTIONS * is the only way b.example gets proven.
  const go = await startGo(['-plain']);
  const conn = await connect(`https://a.example:${go.port}`, { ca: [pem('ca.pem')], lookup, connectAddress: '127.0.0.1' });
  try {
    const cap = await discoverOptionsStar(conn);
    assert.equal(cap.status, 204);
    assert.equal(cap.server, true);
    // The Go server answers for b.example on any connection, but the client may not use it there yet.
    assert.equal((await conn.authorityFor(`https://b.example:${go.port}`)).ok, false);
    const proven = await proveOrigin(conn, `https://b.example:${go.port}`);
    assert.equal(proven.outcome, 'proven', JSON.stringify(proven));
    assert.equal(proven.outcome === 'proven' && proven.authority?.ok, true);
    assert.equal((await get(conn, `b.example:${go.port}`)).body.trim(), 'hello from b.example');
    assert.equal((await proveOrigin(conn, `https://d.example:${go.port}`)).outcome, 'refused');
  } finally {
    await conn.close();
    await go.stop();
  }
});

test('our client against go-h2-server -broken bad-signature: a typed BadSignature, the origin not added', { skip }, async () => {
  const go = await startGo(['-plain', '-broken', 'bad-signature']);
  const conn = await connect(`https://a.example:${go.port}`, { ca: [pem('ca.pem')], lookup, connectAddress: '127.0.0.1' });
  try {
    await assert.rejects(proveOrigin(conn, `https://b.example:${go.port}`), (e: unknown) => e instanceof SecondaryCertsError && e.code === 'ERR_BAD_SIGNATURE');
    assert.equal(conn.certificates.length, 0);
  } finally {
    await conn.close();
    await go.stop();
  }
});

test('go-h2-client against our server: OPTIONS * proves b.example, then the fetch is served', { skip }, async () => {
  const { server, extension } = await createSecondaryCertServer({
    key: pem('a.example.key'),
    cert: pem('a.example.pem'),
    minVersion: 'TLSv1.3',
    identities: [{ chain: pem('b.example.pem'), key: pem('b.example.key') }],
    sendOnConnect: false,
  });
  const answers: OptionsStarAnswer[] = [];
  installOptionsStar(server, { extension }).on('answer', (a: OptionsStarAnswer) => answers.push(a));
  server.on('stream', (stream, headers) => {
    const host = String(headers[':authority']).replace(/:\d+$/, '');
    const covered = extension.connectionOf(stream.session!)?.covers(host) ?? false;
    stream.respond({ ':status': covered ? 200 : 421 });
    stream.end(covered ? `hello from ${host}` : 'misdirected');
  });
  server.on('sessionError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const out = await new Promise<{ code: number | null; lines: Record<string, unknown>[] }>((resolve) => {
      const child = spawn(goClient, ['-url', `https://127.0.0.1:${port}/`, '-servername', 'a.example', '-ca', join(dir, 'ca.pem'), '-options-star', 'b.example', '-fetch', 'b.example', '-wait', '100ms']);
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('exit', (code) => resolve({ code, lines: text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) }));
    });
    const options = out.lines.find((l) => l.event === 'options');
    assert.equal(options?.status, 200, JSON.stringify(out.lines));
    assert.equal(options?.valid, true, JSON.stringify(out.lines));
    const response = out.lines.find((l) => l.event === 'response');
    assert.equal(response?.status, 200, JSON.stringify(out.lines));
    assert.equal(out.code, 0);
    assert.deepEqual(answers.map((a) => [a.status, a.serverName, a.proven]), [[200, 'b.example', ['b.example']]]);
  } finally {
    for (const c of extension.connections) c.session.destroy();
    await new Promise((r) => server.close(r));
  }
});
