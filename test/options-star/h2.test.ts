// OPTIONS * (our proposal, spec-notes/options-star.md) over real node:http2 sessions on loopback TLS 1.3: capability
// discovery, a proven origin then served on the same connection, refusal, and every error status.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer, type SecondaryCertServer } from '../../src/h2/server.js';
import { connect, type SecondaryCertConnection } from '../../src/h2/client.js';
import { createRequest } from '../../src/ea/index.js';
import { installOptionsStar, type OptionsStarAnswer, type OptionsStarServerOptions } from '../../src/flows/options-star/server.js';
import { discoverOptionsStar, proveOrigin } from '../../src/flows/options-star/client.js';
import { DEFAULT_OPTIONS_STAR_NAMES as N } from '../../src/flows/options-star/names.js';
import { OptionsStarStatus, SecondaryCertsError } from '../../src/errors.js';

let pki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

before(async () => {
  pki = await TestPki.create();
  for (const name of ['a.example', 'b.example']) ids[name] = await pki.issue({ dnsNames: [name] });
});

interface Running {
  extension: SecondaryCertServer;
  port: number;
  answers: OptionsStarAnswer[];
  /** OPTIONS * requests the application's own 'stream' listener saw (should be none unless passed on). */
  appSawOptionsStar: number;
  url(host: string): string;
  close(): Promise<void>;
}

/** a.example's TLS certificate, b.example provable (never sent spontaneously); 200 for covered hosts, else 421. */
async function startServer(handlerOptions: Omit<OptionsStarServerOptions, 'extension'> = {}): Promise<Running> {
  const { server, extension } = await createSecondaryCertServer({
    key: ids['a.example']!.keyPem,
    cert: ids['a.example']!.chainPem,
    minVersion: 'TLSv1.3',
    identities: [{ chain: ids['b.example']!.chainDer, key: ids['b.example']!.keyPkcs8Der }],
    sendOnConnect: false,
  });
  const handler = installOptionsStar(server, { extension, ...handlerOptions });
  const running: Running = {
    extension,
    port: 0,
    answers: [],
    appSawOptionsStar: 0,
    url: (host) => `https://${host}:${running.port}`,
    close: () =>
      new Promise((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
  handler.on('answer', (a: OptionsStarAnswer) => running.answers.push(a));
  server.on('stream', (stream, headers) => {
    if (headers[':path'] === '*') {
      running.appSawOptionsStar++;
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('the application answered');
      return;
    }
    const host = String(headers[':authority']).replace(/:\d+$/, '');
    const covered = handler.covers(stream, host);
    stream.respond({ ':status': covered ? 200 : 421 });
    stream.end(covered ? `hello from ${host}` : 'misdirected');
  });
  server.on('sessionError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  running.port = (server.address() as AddressInfo).port;
  return running;
}

async function open(s: Running, extension = true): Promise<SecondaryCertConnection> {
  return connect(s.url('a.example'), { ca: [pki.caPem], lookup, connectAddress: '127.0.0.1', extension });
}

interface Raw {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

function raw(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Uint8Array): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'OPTIONS', ':path': '*', ':authority': 'a.example', ...headers }, { endStream: !body });
    let h: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (x) => (h = x));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(h[':status']), headers: h, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (body) stream.end(body);
  });
}

function get(conn: SecondaryCertConnection, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const stream = conn.session.request({ ':path': '/', ':authority': u.host });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
}

function eaRequest(host = 'b.example', context?: Uint8Array): Uint8Array {
  return createRequest({ creator: 'client', serverName: host, ...(context ? { context } : {}) }).bytes;
}

test('capability discovery: 204 with the capability field, not cacheable, never reaching the application', async () => {
  const s = await startServer();
  const conn = await open(s);
  try {
    const cap = await discoverOptionsStar(conn);
    assert.deepEqual(cap, { status: 204, capabilities: ['server'], server: true });
    const r = await raw(conn.session, { 'max-forwards': '0' });
    assert.equal(r.status, 204);
    assert.equal(r.headers[N.capabilityField], 'server');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.body.length, 0);
    assert.equal(s.appSawOptionsStar, 0);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('proveOrigin: b.example proven over OPTIONS *, then served on the same connection', async () => {
  const s = await startServer();
  for (const extension of [true, false]) {
    const conn = await open(s, extension);
    try {
      assert.equal((await get(conn, s.url('b.example'))).status, 421, 'b.example is not served before it is proven');
      assert.equal((await conn.authorityFor(s.url('b.example'))).ok, false);
      const result = await proveOrigin(conn, s.url('b.example'));
      assert.equal(result.outcome, 'proven', JSON.stringify(result));
      assert.ok(result.outcome === 'proven');
      assert.deepEqual(result.names, ['b.example']);
      assert.equal(result.authority?.ok, true);
      assert.equal(result.authority?.via, 'secondary');
      assert.equal(conn.certificates.length, 1);
      const after = await get(conn, s.url('b.example'));
      assert.deepEqual(after, { status: 200, body: 'hello from b.example' });
      // The server's connection shares one RFC 9261 state with the frame flow, and records the identity.
      const serverConn = [...s.extension.connections].at(-1)!;
      assert.deepEqual(serverConn.sent.map((id) => id.names), [['b.example']]);
    } finally {
      await conn.close();
    }
  }
  assert.equal(s.appSawOptionsStar, 0);
  assert.deepEqual(s.answers.map((a) => [a.status, a.protocol, a.proven]), [[200, 'h2', ['b.example']], [200, 'h2', ['b.example']]]);
  await s.close();
});

test('refusal: an empty authenticator for a host the server has no certificate for; the origin is not added', async () => {
  const s = await startServer();
  const conn = await open(s);
  try {
    const result = await proveOrigin(conn, s.url('c.example'));
    assert.equal(result.outcome, 'refused');
    assert.equal(conn.certificates.length, 0);
    assert.equal((await conn.authorityFor(s.url('c.example'))).ok, false);
    assert.equal(s.answers[0]?.status, 200);
    assert.match(s.answers[0]!.reason, /empty authenticator: no certificate for c\.example/);
    // A second request (a new context) for a host it has still works on the same connection.
    assert.equal((await proveOrigin(conn, s.url('b.example'))).outcome, 'proven');
  } finally {
    await conn.close();
    await s.close();
  }
});

test('400: a malformed body, a CertificateRequest (13), no server_name, a mismatched origin field', async () => {
  const s = await startServer();
  const conn = await open(s);
  const ea = { 'content-type': N.requestMediaType, 'max-forwards': '0' };
  try {
    assert.equal((await raw(conn.session, ea, new Uint8Array([0x11, 0, 0, 9, 1, 2, 3]))).status, 400);
    assert.equal((await raw(conn.session, ea, new Uint8Array(0))).status, 400, 'our media type with no body');
    assert.equal((await raw(conn.session, ea, createRequest({ creator: 'server' }).bytes)).status, 400);
    assert.equal((await raw(conn.session, ea, createRequest({ creator: 'client' }).bytes)).status, 400);
    const mismatch = await raw(conn.session, { ...ea, [N.originField]: '"https://c.example:443"' }, eaRequest());
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.body.toString(), /another host/);
    assert.equal((await raw(conn.session, { ...ea, [N.originField]: 'https://b.example' }, eaRequest())).status, 400, 'not an SF String');
    assert.equal((await raw(conn.session, { ...ea, 'max-forwards': 'zero' }, eaRequest())).status, 400);
    // The origin field naming the port is fine.
    assert.equal((await raw(conn.session, { ...ea, [N.originField]: `"https://b.example:${s.port}"` }, eaRequest())).status, 200);
    assert.equal(conn.closed, false, 'errors are HTTP answers, never a torn-down connection');
  } finally {
    await conn.close();
    await s.close();
  }
});

test('400: a context reused on the connection; the client reports the status as OptionsStarStatus', async () => {
  const s = await startServer();
  const conn = await open(s);
  const ea = { 'content-type': N.requestMediaType };
  try {
    const context = new Uint8Array(32).fill(7);
    const first = await raw(conn.session, ea, eaRequest('b.example', context));
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-type'], N.authenticatorMediaType);
    assert.equal((await raw(conn.session, ea, eaRequest('b.example', context))).status, 400);
    // Also after a refusal: the context was used all the same.
    const other = new Uint8Array(32).fill(8);
    assert.equal((await raw(conn.session, ea, eaRequest('c.example', other))).status, 200);
    assert.equal((await raw(conn.session, ea, eaRequest('b.example', other))).status, 400);
    // The server's state is the extension connection's: the frame flow sees these contexts too.
    const serverConn = [...s.extension.connections][0]!;
    assert.equal(serverConn.state.hasSeen(context), true);
    // A fresh connection has its own contexts.
    const conn2 = await open(s);
    assert.equal((await raw(conn2.session, ea, eaRequest('b.example', context))).status, 200);
    await conn2.close();
  } finally {
    await conn.close();
    await s.close();
  }
  // The client side: any status that is no answer rejects with a typed error carrying the status.
  const s2 = await startServer({ tlsEndpoint: false });
  const conn3 = await open(s2);
  try {
    await assert.rejects(proveOrigin(conn3, s2.url('b.example')), (e: unknown) => e instanceof OptionsStarStatus && e.status === 421 && e.code === 'ERR_OPTIONS_STAR_STATUS');
  } finally {
    await conn3.close();
    await s2.close();
  }
});

test('415: another media type, or content with no type', async () => {
  const s = await startServer();
  const conn = await open(s);
  try {
    assert.equal((await raw(conn.session, { 'content-type': 'text/plain' }, eaRequest())).status, 415);
    assert.equal((await raw(conn.session, { 'content-type': N.authenticatorMediaType }, eaRequest())).status, 415, 'client authenticators are not taken here');
    assert.equal((await raw(conn.session, {}, eaRequest())).status, 415);
    // Media types compare case-insensitively and without parameters.
    assert.equal((await raw(conn.session, { 'content-type': `${N.requestMediaType.toUpperCase()}; x=1` }, eaRequest())).status, 200);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('421 off the TLS endpoint; Max-Forwards: 0 answered here, other bodiless OPTIONS * left to the application', async () => {
  const s = await startServer({ tlsEndpoint: false });
  const conn = await open(s);
  try {
    const r = await raw(conn.session, { 'content-type': N.requestMediaType, 'max-forwards': '0' }, eaRequest());
    assert.equal(r.status, 421);
    assert.equal((await raw(conn.session, { 'content-type': N.requestMediaType }, eaRequest())).status, 421, 'with or without Max-Forwards');
    const d = await raw(conn.session, { 'max-forwards': '0' });
    assert.equal(d.status, 204);
    assert.equal(d.headers[N.capabilityField], undefined, 'no capability off the TLS endpoint');
    assert.deepEqual((await discoverOptionsStar(conn)).capabilities, []);
    const forwarded = await raw(conn.session, { 'max-forwards': '3' });
    assert.equal(forwarded.body.toString(), 'the application answered');
    assert.equal(s.appSawOptionsStar, 1);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('425 for a request an intermediary received in early data; 413 for a body over the limit', async () => {
  const s = await startServer({ maxRequestSize: 512 });
  const conn = await open(s);
  try {
    assert.equal((await raw(conn.session, { 'content-type': N.requestMediaType, 'early-data': '1' }, eaRequest())).status, 425);
    assert.equal((await raw(conn.session, { 'max-forwards': '0', 'early-data': '1' })).status, 204, 'discovery is safe in early data');
    assert.equal((await raw(conn.session, { 'content-type': N.requestMediaType }, new Uint8Array(2000))).status, 413);
    // The connection still works.
    assert.equal((await proveOrigin(conn, s.url('b.example'))).outcome, 'proven');
  } finally {
    await conn.close();
    await s.close();
  }
});

test('a server without the profile: not-supported, whatever it answers; a broken answer is a typed error', async () => {
  const server = http2.createSecureServer({ key: ids['a.example']!.keyPem, cert: ids['a.example']!.chainPem, minVersion: 'TLSv1.3' });
  let mode = 'text';
  server.on('stream', (stream) => {
    if (mode === 'text') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('hello');
    } else if (mode === '405') {
      stream.respond({ ':status': 405 });
      stream.end();
    } else {
      stream.respond({ ':status': 200, 'content-type': N.authenticatorMediaType });
      stream.end(Buffer.from('0b000001', 'hex'));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const conn = await connect(`https://a.example:${port}`, { ca: [pki.caPem], lookup, connectAddress: '127.0.0.1' });
  try {
    const r1 = await proveOrigin(conn, `https://b.example:${port}`);
    assert.equal(r1.outcome, 'not-supported');
    mode = '405';
    const r2 = await proveOrigin(conn, `https://b.example:${port}`);
    assert.deepEqual([r2.outcome, r2.outcome === 'not-supported' && r2.status], ['not-supported', 405]);
    mode = 'garbage';
    await assert.rejects(proveOrigin(conn, `https://b.example:${port}`), (e: unknown) => e instanceof SecondaryCertsError && e.code === 'ERR_MALFORMED');
    await assert.rejects(proveOrigin(conn, 'http://b.example'), TypeError);
    await assert.rejects(proveOrigin(conn, `https://127.0.0.2:${port}`), TypeError);
  } finally {
    await conn.close();
    await new Promise((r) => server.close(r));
  }
});

test('every strict prefix of a valid request, and random bytes, get 400; the connection lives on', async () => {
  const s = await startServer();
  const conn = await open(s);
  const type = { 'content-type': N.requestMediaType };
  try {
    const full = eaRequest();
    const statuses = new Set<number>();
    for (let n = 1; n < full.length; n++) statuses.add((await raw(conn.session, type, full.subarray(0, n))).status);
    assert.deepEqual([...statuses], [400]);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const r = await raw(conn.session, type, bytes);
        return r.status === 400 || r.status === 200;
      }),
      { numRuns: 200 },
    );
    assert.equal((await proveOrigin(conn, s.url('b.example'))).outcome, 'proven');
  } finally {
    await conn.close();
    await s.close();
  }
});

test('configured names: server and client agree on other names; a client with the defaults gets 415', async () => {
  const names = { requestMediaType: 'application/vnd.example.ea-request', authenticatorMediaType: 'application/vnd.example.ea', capabilityField: 'x-ea', originField: 'x-ea-origin' };
  const s = await startServer({ names });
  const conn = await open(s);
  try {
    assert.deepEqual(await discoverOptionsStar(conn, { names }), { status: 204, capabilities: ['server'], server: true });
    assert.deepEqual((await discoverOptionsStar(conn)).capabilities, [], 'the default field is absent');
    assert.equal((await proveOrigin(conn, s.url('b.example'))).outcome, 'not-supported');
    assert.equal((await proveOrigin(conn, s.url('b.example'), { names })).outcome, 'proven');
  } finally {
    await conn.close();
    await s.close();
  }
});

test('proving the same origin again keeps one certificate on the connection', async () => {
  const s = await startServer();
  const conn = await open(s);
  try {
    for (let i = 0; i < 40; i++) assert.equal((await proveOrigin(conn, s.url('b.example'))).outcome, 'proven', `attempt ${i}`);
    assert.equal(conn.certificates.length, 1, 'no duplicate, so the 32-certificate limit is not reached');
    assert.equal(s.answers.length, 40, 'each attempt is a real OPTIONS * with its own context');
  } finally {
    await conn.close();
    await s.close();
  }
});
