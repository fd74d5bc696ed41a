// The QUIC transport (src/h3/transport/quiche): streams both ways, peer streams that arrive before the
// connection is handed over are kept, and every connection reads the EXPORTER_SECRET of its own key log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { connectQuic, listenQuic, StreamResetByPeer, TransportClosed } from '../../src/h3/transport/index.js';
import type { TransportConnection, TransportServer, TransportStream } from '../../src/h3/transport/transport.js';

let pki: TestPki;
let a: IssuedIdentity;
let server: TransportServer;
const accepted: TransportConnection[] = [];
let onServerConnection: (t: TransportConnection) => void = () => undefined;

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  a = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  server = await listenQuic({ cert: a.chainPem, key: a.keyPem });
  server.onConnection((t) => {
    accepted.push(t);
    onServerConnection(t);
  });
});

after(async () => {
  await server.close();
});

const connect = () => connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });

async function readAll(stream: TransportStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream.readable!) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString();
}

test('streams both ways, ALPN h3, SNI, the peer certificate, and a close code the peer sees', async () => {
  const got = new Promise<TransportConnection>((resolve) => (onServerConnection = resolve));
  const c = await connect();
  const s = await got;
  s.onStream(async (stream) => {
    const text = await readAll(stream);
    if (stream.bidirectional) {
      const w = stream.writable!.getWriter();
      await w.write(Buffer.from(`echo ${text}`));
      await w.close();
    }
  });
  assert.equal(c.alpnProtocol, 'h3');
  assert.equal(s.servername, 'a.example');
  assert.equal(c.remoteAddress, '127.0.0.1', 'IPv4 peers are not shown as ::ffff:a.b.c.d');
  assert.deepEqual(Buffer.from(c.peerCertificates()[0]!), Buffer.from(a.certDer));
  const bidi = c.openStream('bidi');
  assert.equal(bidi.id % 4, 0, 'a client-initiated bidirectional stream');
  const w = bidi.writable!.getWriter();
  await w.write(Buffer.from('ping'));
  await w.close();
  assert.equal(await readAll(bidi), 'echo ping');
  const uni = c.openStream('uni');
  assert.equal(uni.id % 4, 2);
  assert.equal(uni.readable, undefined, 'our own unidirectional stream cannot be read');
  await c.close(0x1234, 'done here');
  const info = await s.closed;
  assert.deepEqual([info.by, info.app, info.code, info.reason], ['peer', true, 0x1234, 'done here']);
  assert.throws(() => c.openStream('bidi'), TransportClosed);
});

test('a stream the peer opens before the connection is handed over (or before a listener is set) is kept', async () => {
  const got = new Promise<TransportConnection>((resolve) => (onServerConnection = resolve));
  const c = await connect();
  const w = c.openStream('uni').writable!.getWriter();
  void w.write(Buffer.from('early bytes'));
  void w.close();
  const s = await got;
  await new Promise((r) => setTimeout(r, 200)); // the stream has long arrived; no listener yet
  const stream = await new Promise<TransportStream>((resolve) => s.onStream(resolve));
  assert.equal(await readAll(stream), 'early bytes');
  await c.close(0);
});

test('a reset stream reports the code to the reader', async () => {
  const got = new Promise<TransportConnection>((resolve) => (onServerConnection = resolve));
  const c = await connect();
  const s = await got;
  const seen = new Promise<unknown>((resolve) => s.onStream((stream) => readAll(stream).then(resolve, resolve)));
  const stream = c.openStream('bidi');
  await stream.writable!.getWriter().write(Buffer.from('partial'));
  await new Promise((r) => setTimeout(r, 50));
  stream.abort(0x10c);
  const error = await seen;
  assert.ok(error instanceof StreamResetByPeer, String(error));
  assert.equal(error.wireCode, 0x10c);
  await c.close(0);
});

test('concurrent handshakes: each connection has its own exporter, equal on both ends, and no key log stays on disk', async () => {
  const before = accepted.length;
  const clients = await Promise.all(Array.from({ length: 10 }, () => connect()));
  while (accepted.length < before + clients.length) await new Promise((r) => setTimeout(r, 10));
  const servers = accepted.slice(before);
  for (const c of clients) {
    // Match the server side by the client's port (what the server sees as the remote port).
    const s = servers.find((x) => x.remotePort === c.localPort);
    assert.ok(s, 'the server side of the connection');
    assert.equal(c.keys.hash, s.keys.hash);
    assert.deepEqual(Buffer.from(c.keys.server.handshakeContext), Buffer.from(s.keys.server.handshakeContext));
    assert.deepEqual(Buffer.from(c.keys.client.finishedKey), Buffer.from(s.keys.client.finishedKey));
  }
  const distinct = new Set(clients.map((c) => Buffer.from(c.keys.server.finishedKey).toString('hex')));
  assert.equal(distinct.size, clients.length);
  await Promise.all(clients.map((c) => c.close(0)));
  const leftovers = readdirSync(tmpdir()).filter((n) => n.startsWith('secondary-certs-keylog-'));
  // The server's directory lives as long as the server; it must hold no file of a finished handshake.
  // (Only this process's files: other processes on the machine may be mid-handshake.)
  for (const d of leftovers) assert.deepEqual(readdirSync(`${tmpdir()}/${d}`).filter((f) => f.startsWith(`conn-${process.pid}-`)), [], `${d} still holds key logs`);
});

test('connection failures are typed: a name the certificate does not cover, an untrusted CA, and nobody answering', async () => {
  const { connectH3 } = await import('../../src/h3/client.js');
  const other = await TestPki.create({ keyType: 'p256' });
  const code = (e: unknown) => (e as { code?: string }).code;
  await assert.rejects(connectQuic({ host: '127.0.0.1', port: server.port, servername: 'wrong.example', ca: pki.caPem }), (e) => code(e) === 'ERR_QUIC_HANDSHAKE');
  await assert.rejects(connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: other.caPem }), (e) => code(e) === 'ERR_QUIC_HANDSHAKE');
  // A UDP port nobody listens on: the handshake times out, no hang.
  const { createSocket } = await import('node:dgram');
  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  const port = silent.address().port;
  await assert.rejects(connectH3(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', connectTimeoutMs: 500 }), (e) => code(e) === 'ERR_QUIC_CONNECT_TIMEOUT');
  silent.close();
});

test('off Linux x64 the native binding is not loaded: listening and connecting fail with QuicUnavailable', async () => {
  // A child process that believes it runs on macOS arm64 (the binding package is Linux x64 only).
  const { execFileSync } = await import('node:child_process');
  const index = new URL('../../src/h3/transport/index.js', import.meta.url).href;
  const script = `
    Object.defineProperty(process, 'platform', { value: 'darwin' });
    Object.defineProperty(process, 'arch', { value: 'arm64' });
    const { listenQuic, connectQuic } = await import(${JSON.stringify(index)});
    const codes = [];
    for (const f of [() => listenQuic({ cert: '', key: '' }), () => connectQuic({ host: '127.0.0.1', port: 1, servername: 'a', ca: '' })]) {
      await f().then(() => codes.push('resolved'), (e) => codes.push(e.code + ' ' + e.name));
    }
    console.log(JSON.stringify(codes));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), ['ERR_QUIC_UNAVAILABLE QuicUnavailable', 'ERR_QUIC_UNAVAILABLE QuicUnavailable']);
});
