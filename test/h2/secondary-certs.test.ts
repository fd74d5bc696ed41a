// draft-ietf-httpbis-secondary-server-certs over real node:http2 sessions on loopback TLS: a server that
// proves extra origins, clients with and without the extension, nghttp as a peer that does not know it,
// and every way a certificate can fail to be used.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer, type SecondaryCertServer } from '../../src/h2/server.js';
import { connect, type CertificateEvent } from '../../src/h2/client.js';
import { SecondaryCertAgent } from '../../src/pool/agent.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import type { Signer } from '../../src/crypto/provider.js';
import { nodeCrypto } from '../../src/crypto/index.js';

let pki: TestPki;
let otherPki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

before(async () => {
  pki = await TestPki.create();
  otherPki = await TestPki.create({ commonName: 'someone else' });
  for (const name of ['a.example', 'b.example', 'c.example']) ids[name] = await pki.issue({ dnsNames: [name] });
  ids['untrusted-b'] = await otherPki.issue({ dnsNames: ['b.example'] });
  ids['expired-c'] = await pki.issue({ dnsNames: ['c.example'], notBefore: new Date(Date.now() - 3 * 864e5), notAfter: new Date(Date.now() - 864e5) });
});

interface Running {
  server: http2.Http2SecureServer;
  extension: SecondaryCertServer;
  port: number;
  url(host: string): string;
  goaways: number[];
  close(): Promise<void>;
}

/**
 * A server whose TLS certificate is a.example (and b/c through SNI, so a client can always open a
 * connection for them), proving `secondary` on each connection; it answers 200 for any host its
 * connection covers, else 421, unless `handler` says otherwise.
 */
async function startServer(options: {
  secondary?: { chain: Uint8Array[]; key?: Uint8Array; signer?: Signer }[];
  onSession?: (session: http2.ServerHttp2Session, port: number) => void;
  handler?: (host: string, stream: http2.ServerHttp2Stream) => boolean;
} = {}): Promise<Running> {
  const { createSecureContext } = await import('node:tls');
  const contexts = new Map(['a.example', 'b.example', 'c.example'].map((n) => [n, createSecureContext({ key: ids[n]!.keyPem, cert: ids[n]!.chainPem })]));
  const { server, extension } = await createSecondaryCertServer({
    key: ids['a.example']!.keyPem,
    cert: ids['a.example']!.chainPem,
    SNICallback: (name, cb) => cb(null, contexts.get(name)),
    identities: options.secondary ?? [],
  });
  const goaways: number[] = [];
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.on('goaway', (code: number) => goaways.push(code));
    session.on('error', () => {});
    options.onSession?.(session, (server.address() as AddressInfo).port);
  });
  server.on('stream', (stream, headers) => {
    const host = String(headers[':authority']).replace(/:\d+$/, '');
    if (options.handler?.(host, stream)) return;
    const covered = extension.connectionOf(stream.session!)?.covers(host) ?? false;
    stream.respond({ ':status': covered ? 200 : 421 });
    stream.end(covered ? `hello from ${host}` : 'misdirected');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    extension,
    port,
    goaways,
    url: (host) => `https://${host}:${port}/`,
    close: () =>
      new Promise((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
}

const secondary = (name: string) => ({ chain: ids[name]!.chainDer, key: ids[name]!.keyPkcs8Der });

test('extension on both sides: one TLS connection serves a.example, b.example and c.example', async () => {
  const s = await startServer({ secondary: [secondary('b.example'), secondary('c.example')] });
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  const certificates: CertificateEvent[] = [];
  agent.on('certificate', (_p, e: CertificateEvent) => certificates.push(e));
  try {
    for (const host of ['a.example', 'b.example', 'c.example']) {
      const r = await agent.request(s.url(host));
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `hello from ${host}`);
      assert.equal(r.connectionId, 1, `${host} went on another connection`);
    }
    assert.equal(agent.connections.length, 1);
    assert.deepEqual(certificates.map((c) => [c.names, c.accepted]), [[['b.example'], true], [['c.example'], true]]);
    const pooled = agent.connections[0]!;
    assert.equal(pooled.protocol, 'h2');
    if (pooled.protocol !== 'h2') return;
    const conn = pooled.connection;
    assert.equal(conn.negotiated, true);
    assert.equal((await conn.authorityFor(s.url('b.example'))).via, 'secondary');
    // The session still reports the truth about TLS.
    assert.equal(conn.session.encrypted, true);
    assert.equal(conn.session.alpnProtocol, 'h2');
  } finally {
    await agent.close();
    await s.close();
  }
});

test('a plain node:http2 client against the extended server works as before', async () => {
  const s = await startServer({ secondary: [secondary('b.example')] });
  const session = http2.connect(s.url('a.example'), { ca: pki.caPem, servername: 'a.example', host: '127.0.0.1' } as http2.SecureClientSessionOptions);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (data += d));
      req.on('end', () => resolve(data));
      req.on('error', reject);
    });
    assert.equal(body, 'hello from a.example');
    assert.equal(s.extension.connections.size, 1);
    assert.equal([...s.extension.connections][0]!.negotiated, false);
  } finally {
    session.close();
    await s.close();
  }
});

test('an extended client against a plain server works as before', async () => {
  const server = http2.createSecureServer({ key: ids['a.example']!.keyPem, cert: ids['a.example']!.chainPem });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('plain');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  try {
    const r = await agent.request(`https://a.example:${port}/`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'plain');
    assert.equal(agent.connections[0]!.connection.negotiated, false);
    // No certificate covers b.example on the first connection, so a new one is opened for it; this plain
    // server has no certificate for b.example at all, so that connection fails its TLS name check.
    await assert.rejects(agent.request(`https://b.example:${port}/`), { code: 'ERR_CERT_NAME_MISMATCH', message: /does not cover b\.example/ });
    assert.equal(agent.connections.length, 1);
  } finally {
    await agent.close();
    await new Promise((r) => server.close(r));
  }
});

test("Debian's nghttp, which does not know the extension, gets a page from the extended server", async (t) => {
  const which = spawnSync('nghttp', ['--version'], { encoding: 'utf8' });
  if (which.error) {
    t.skip('nghttp is not installed (apt-get install nghttp2-client; .ci/run does it)');
    return;
  }
  const s = await startServer({ secondary: [secondary('b.example')] });
  try {
    const { spawn } = await import('node:child_process');
    const child = spawn('nghttp', ['-v', '-H', ':authority: a.example', `https://127.0.0.1:${s.port}/`]);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    const status = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(status, 0, output);
    assert.match(output, /UNKNOWN\(0xf5ec\):1/i);
    assert.match(output, /hello from a\.example/);
    assert.doesNotMatch(output, /type=245/); // no SERVER_CERTIFICATE (0xf5) to a client that did not ask
  } finally {
    await s.close();
  }
});

test('an authenticator that does not validate closes the connection with SERVER_CERTIFICATE_INVALID', async () => {
  const real = await nodeCrypto.signerFromPrivateKey(ids['b.example']!.keyPkcs8Der);
  const badSigner: Signer = { schemes: real.schemes, sign: async (scheme, m) => { const sig = await real.sign(scheme, m); sig[sig.length - 1]! ^= 1; return sig; } };
  const s = await startServer({ secondary: [{ chain: ids['b.example']!.chainDer, signer: badSigner }] });
  try {
    const conn = await connect(s.url('a.example'), { ca: [pki.caPem], connectAddress: '127.0.0.1' });
    const error = await new Promise<{ wireCode: number; message: string }>((r) => conn.once('protocolError', r));
    assert.equal(error.wireCode, DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID);
    assert.match(error.message, /ERR_BAD_SIGNATURE/);
    await new Promise((r) => (conn.closed ? r(null) : conn.once('close', () => r(null))));
    for (let i = 0; i < 50 && s.goaways.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(s.goaways, [DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID]);
  } finally {
    await s.close();
  }
});

test('an untrusted or expired secondary certificate is not used: a new connection is opened', async () => {
  const s = await startServer({ secondary: [secondary('untrusted-b'), secondary('expired-c')] });
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  const events: CertificateEvent[] = [];
  agent.on('certificate', (_p, e: CertificateEvent) => events.push(e));
  try {
    assert.equal((await agent.request(s.url('a.example'))).connectionId, 1);
    const b = await agent.request(s.url('b.example'));
    const c = await agent.request(s.url('c.example'));
    assert.equal(b.status, 200);
    assert.equal(c.status, 200);
    assert.notEqual(b.connectionId, 1);
    assert.notEqual(c.connectionId, 1);
    const reasons = events.filter((e) => !e.accepted).map((e) => e.reason ?? '');
    assert.ok(reasons.some((r) => r.startsWith('ERR_CERT_UNTRUSTED') || r.startsWith('ERR_CERT_BAD_SIGNATURE')), reasons.join('; '));
    assert.ok(reasons.some((r) => r.startsWith('ERR_CERT_EXPIRED')), reasons.join('; '));
    // Not a protocol error: the first connection is still open.
    assert.equal(agent.connections[0]!.connection.closed, false);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('a 421 takes the origin off the connection and the request is retried on a new one', async () => {
  let first = true;
  const s = await startServer({
    secondary: [secondary('b.example')],
    handler: (host, stream) => {
      // The first request for b.example is refused although the certificate was sent.
      if (host === 'b.example' && first) {
        first = false;
        stream.respond({ ':status': 421 });
        stream.end();
        return true;
      }
      return false;
    },
  });
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  const misdirected: unknown[] = [];
  agent.on('misdirected', (e) => misdirected.push(e));
  try {
    await agent.request(s.url('a.example'));
    const r = await agent.request(s.url('b.example'));
    assert.equal(r.status, 200);
    assert.equal(r.connectionId, 2);
    assert.equal(misdirected.length, 1);
    const conn1 = agent.connections[0]!.connection;
    assert.equal((await conn1.authorityFor(s.url('b.example'))).ok, false);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('an ORIGIN frame that omits a name: that origin goes on a new connection', async () => {
  const s = await startServer({
    secondary: [secondary('b.example'), secondary('c.example')],
    onSession: (session, port) => session.origin(`https://a.example:${port}`, `https://b.example:${port}`),
  });
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  try {
    await agent.request(s.url('a.example'));
    assert.equal((await agent.request(s.url('b.example'))).connectionId, 1);
    const c = await agent.request(s.url('c.example'));
    assert.equal(c.status, 200);
    assert.equal(c.connectionId, 2);
    const why = await agent.connections[0]!.connection.authorityFor(s.url('c.example'));
    assert.match(why.reason, /ORIGIN/);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('an authenticator larger than 16 KiB: sent when the client allows larger frames, withheld otherwise', async () => {
  const many = Array.from({ length: 900 }, (_, i) => `name-${i}.b.example`);
  const big = await pki.issue({ dnsNames: ['b.example', ...many] });
  assert.ok(big.certDer.length > 16384, `certificate only ${big.certDer.length} bytes`);
  const s = await startServer({ secondary: [{ chain: big.chainDer, key: big.keyPkcs8Der }] });
  const notSent: string[] = [];
  s.extension.on('certificateNotSent', (e: { reason: string }) => notSent.push(e.reason));
  try {
    const conn = await connect(s.url('a.example'), { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup });
    const e = await new Promise<CertificateEvent>((r) => conn.once('certificate', r));
    assert.equal(e.accepted, true);
    assert.equal((await conn.authorityFor(s.url('b.example'))).ok, true);
    await conn.close();
    // A client that keeps the default SETTINGS_MAX_FRAME_SIZE cannot receive it; the server says why.
    const small = await connect(s.url('a.example'), { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup, maxAuthenticatorSize: 8192 });
    for (let i = 0; i < 100 && notSent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(notSent[0] ?? '', /SETTINGS_MAX_FRAME_SIZE/);
    assert.equal(small.closed, false);
    await small.close();
  } finally {
    await s.close();
  }
});

test('a SERVER_CERTIFICATE from a client closes the connection with PROTOCOL_ERROR', async () => {
  const s = await startServer({ secondary: [secondary('b.example')] });
  try {
    const conn = await connect(s.url('a.example'), { ca: [pki.caPem], connectAddress: '127.0.0.1' });
    const goaway = new Promise<number>((r) => conn.session.once('goaway', r));
    conn.splicer!.sendFrame(DEFAULT_PROFILE.frames.SERVER_CERTIFICATE, 0, 0, new Uint8Array([20, 0, 0, 32, ...new Uint8Array(32)]));
    assert.equal(await goaway, 0x1);
  } finally {
    await s.close();
  }
});

test('a SERVER_CERTIFICATE on a stream other than 0 is a connection error PROTOCOL_ERROR', async () => {
  const s = await startServer({
    onSession: (session) => {
      const c = s.extension.connectionOf(session);
      c?.once('negotiated', () => c.splicer.sendFrame(DEFAULT_PROFILE.frames.SERVER_CERTIFICATE, 0, 1, new Uint8Array(40)));
    },
  });
  try {
    const conn = await connect(s.url('a.example'), { ca: [pki.caPem], connectAddress: '127.0.0.1' });
    const error = await new Promise<{ wireCode: number }>((r) => conn.once('protocolError', r));
    assert.equal(error.wireCode, 0x1);
  } finally {
    await s.close();
  }
});

after(() => {
  // Nothing global to release; each test closes its own servers and agents.
});

test('a server can prove another origin later, on a connection already open', async () => {
  const s = await startServer();
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup, certificateGraceMs: 0 });
  try {
    await agent.request(s.url('a.example'));
    const connection = [...s.extension.connections][0]!;
    assert.equal(connection.sent.length, 0);
    // Say the server learned from a request that the client wants c.example.
    const c = await s.extension.addIdentity(secondary('c.example'));
    const arrived = new Promise<CertificateEvent>((r) => agent.connections[0]!.connection.once('certificate', r));
    assert.equal(await connection.sendCertificate(c), true);
    assert.equal((await arrived).accepted, true);
    const r = await agent.request(s.url('c.example'));
    assert.equal(r.status, 200);
    assert.equal(r.connectionId, 1);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('SETTINGS_HTTP_SERVER_CERT_AUTH other than 0 or 1 is a connection error PROTOCOL_ERROR', async () => {
  const id = DEFAULT_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const server = http2.createSecureServer({ key: ids['a.example']!.keyPem, cert: ids['a.example']!.chainPem, settings: { customSettings: { [id]: 2 } }, remoteCustomSettings: [] });
  server.on('session', (session) => session.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const conn = await connect(`https://a.example:${(server.address() as AddressInfo).port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
    const error = await new Promise<{ wireCode: number; message: string }>((r) => conn.once('protocolError', r));
    assert.equal(error.wireCode, 0x1);
    assert.match(error.message, /not 0 or 1/);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('a server that never answers: the request fails with ERR_REQUEST_TIMEOUT, no hang', async () => {
  const s = await startServer({ handler: (_host, stream) => (stream.on('error', () => {}), true) /* swallow the request */ });
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup, requestTimeoutMs: 200 });
  try {
    await assert.rejects(agent.request(s.url('a.example')), { code: 'ERR_REQUEST_TIMEOUT' });
  } finally {
    await agent.close();
    await s.close();
  }
});

test('authority: another port, another scheme, or a name no certificate covers is refused, each saying why', async () => {
  const s = await startServer({ secondary: [secondary('b.example')] });
  try {
    const conn = await connect(s.url('a.example'), { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup });
    await new Promise((r) => conn.once('certificate', r));
    assert.equal(conn.origin, new URL(s.url('a.example')).origin);
    assert.deepEqual(await conn.authorityFor(s.url('b.example')), { ok: true, via: 'secondary', reason: 'certificate covers it and DNS includes the peer address' });
    assert.match((await conn.authorityFor(`https://b.example:${s.port + 1}/`)).reason, /another port/);
    assert.match((await conn.authorityFor(`http://b.example:${s.port}/`)).reason, /not an https origin/);
    assert.match((await conn.authorityFor(s.url('z.example'))).reason, /no certificate/);
    // DNS that does not point at the peer: not authoritative (draft section 7.1).
    const elsewhere = await connect(s.url('a.example'), { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup: async () => ['192.0.2.1'] });
    await new Promise((r) => elsewhere.once('certificate', r));
    assert.match((await elsewhere.authorityFor(s.url('b.example'))).reason, /DNS for b\.example does not include/);
    await conn.close();
    await elsewhere.close();
  } finally {
    await s.close();
  }
});

test('a held certificate counts only within its validity period: past the secondary certificate\'s notAfter its origin needs a new connection, past the TLS certificate\'s the other names it covers do too; the connection\'s own origin stays (spec-notes connection-reuse D2)', async () => {
  const day = 864e5;
  const tls = await pki.issue({ dnsNames: ['a.example', 't.example'], notAfter: new Date(Date.now() + 3 * day) });
  const b = await pki.issue({ dnsNames: ['b.example'], notAfter: new Date(Date.now() + day) });
  const { server, extension } = await createSecondaryCertServer({ key: tls.keyPem, cert: tls.chainPem, identities: [{ chain: b.chainDer, key: b.keyPkcs8Der }] });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let clock = Date.now();
  const conn = await connect(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup, now: () => new Date(clock) });
  try {
    await new Promise((r) => conn.once('certificate', r));
    const at = (host: string) => conn.authorityFor(`https://${host}:${port}/`);
    assert.deepEqual([(await at('b.example')).via, (await at('t.example')).via], ['secondary', 'tls']);
    clock += 2 * day;
    assert.match((await at('b.example')).reason, /no longer within its validity period/);
    assert.equal((await at('t.example')).ok, true);
    clock += 2 * day;
    assert.equal((await at('t.example')).ok, false);
    assert.equal((await at('a.example')).ok, true, 'the origin the connection was made for');
  } finally {
    await conn.close();
    for (const c of extension.connections) c.session.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
