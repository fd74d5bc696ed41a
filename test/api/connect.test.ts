// connect() and connectH3() on real loopback servers: the injectable lookup decides where they connect
// (a.example resolves only through it; the name stays the SNI and the origin), a non-https URL and a
// failed handshake are typed errors with a stable code and a message that says why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { connect, createSecondaryCertServer, type CertificateEvent } from '../../src/h2/index.js';
import { connectH3, createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/index.js';
import { SecondaryCertsError } from '../../src/errors.js';

let pki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
const looked: string[] = [];
// a.example and b.example exist only here: the system resolver knows neither.
const lookup = async (host: string): Promise<string[]> => {
  looked.push(host);
  return host === 'a.example' || host === 'b.example' ? ['127.0.0.1'] : [];
};
let h2Port: number;
let closeH2: () => void;
let h3: H3SecondaryCertServer;

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  for (const name of ['a.example', 'b.example']) ids[name] = await pki.issue({ dnsNames: [name], keyType: 'p256' });
  const { server } = await createSecondaryCertServer({
    key: ids['a.example']!.keyPem,
    cert: ids['a.example']!.chainPem,
    identities: [{ chain: ids['b.example']!.chainPem, key: ids['b.example']!.keyPem }],
  });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(String(headers[':authority']));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  h2Port = (server.address() as AddressInfo).port;
  closeH2 = () => server.close();
  h3 = await createH3SecondaryCertServer(
    { cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem, identities: [{ chain: ids['b.example']!.chainPem, key: ids['b.example']!.keyPem }] },
    (req, res) => res.end(200, { 'content-type': 'text/plain' }, req.authority),
  );
});

after(async () => {
  closeH2();
  await h3.close();
});

function codeOf(e: unknown): string {
  assert.ok(e instanceof SecondaryCertsError, `not a typed error: ${String(e)}`);
  return e.code;
}

test('HTTP/2: connect() reaches a.example through the lookup alone, with a.example as SNI and origin', async () => {
  looked.length = 0;
  const conn = await connect(`https://a.example:${h2Port}/`, { ca: [pki.caPem], lookup });
  try {
    assert.deepEqual(looked.slice(0, 1), ['a.example']);
    assert.equal(conn.tlsSocket.servername, 'a.example');
    assert.equal(conn.origin, `https://a.example:${h2Port}`);
    const event = await new Promise<CertificateEvent>((resolve) => conn.once('certificate', resolve));
    assert.deepEqual(event.names, ['b.example']);
    assert.equal((await conn.authorityFor(`https://b.example:${h2Port}`)).ok, true);
  } finally {
    await conn.close();
  }
});

test('HTTP/3: connectH3() reaches a.example through the lookup alone, with a.example as SNI', async () => {
  looked.length = 0;
  const conn = await connectH3(`https://a.example:${h3.port}/`, { ca: [pki.caPem], lookup });
  try {
    assert.deepEqual(looked.slice(0, 1), ['a.example']);
    const r = await conn.request(`https://a.example:${h3.port}/`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `a.example:${h3.port}`);
    assert.equal([...h3.connections][0]?.transport.servername, 'a.example');
  } finally {
    await conn.close();
  }
});

test('a lookup with no address is ERR_NO_ADDRESS, over HTTP/2 and HTTP/3', async () => {
  await assert.rejects(connect(`https://c.example:${h2Port}/`, { ca: [pki.caPem], lookup }), (e) => codeOf(e) === 'ERR_NO_ADDRESS');
  await assert.rejects(connectH3(`https://c.example:${h3.port}/`, { ca: [pki.caPem], lookup }), (e) => codeOf(e) === 'ERR_NO_ADDRESS');
});

test('an http: URL is ERR_UNSUPPORTED_SCHEME, before any connection', async () => {
  await assert.rejects(connect(`http://a.example:${h2Port}/`, { ca: [pki.caPem], lookup }), (e) => codeOf(e) === 'ERR_UNSUPPORTED_SCHEME');
  await assert.rejects(connectH3(`http://a.example:${h3.port}/`, { ca: [pki.caPem], lookup }), (e) => codeOf(e) === 'ERR_UNSUPPORTED_SCHEME');
});

test('an HTTP/3 handshake that fails says why', async () => {
  // A host the system resolver does not know (no lookup given): a typed error naming the host, over
  // both protocols, before any handshake.
  for (const open of [() => connectH3(`https://a.example:${h3.port}/`, { ca: [pki.caPem], connectTimeoutMs: 3000 }), () => connect(`https://a.example:${h2Port}/`, { ca: [pki.caPem] })]) {
    await assert.rejects(open(), (e) => {
      assert.equal(codeOf(e), 'ERR_NO_ADDRESS');
      assert.match((e as Error).message, /no address for a\.example: \S/);
      return true;
    });
  }
  // A certificate that does not verify for the name.
  await assert.rejects(connectH3(`https://b.example:${h3.port}/`, { ca: [pki.caPem], lookup, connectTimeoutMs: 3000 }), (e) => {
    assert.equal(codeOf(e), 'ERR_QUIC_HANDSHAKE');
    assert.match((e as Error).message, /\S/);
    return true;
  });
});

test('an HTTP/3 body over the bound is ERR_BODY_TOO_LARGE, for the client (response) and the server (request)', async () => {
  const server = await createH3SecondaryCertServer(
    { cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem, identities: [], maxBodySize: 16 },
    async (req, res) => {
      const answer = await req.body().then(
        () => 'read',
        (e: unknown) => (e instanceof SecondaryCertsError ? e.code : `untyped: ${String(e)}`),
      );
      await res.end(200, { 'content-type': 'text/plain' }, `${answer} ${'x'.repeat(100)}`);
    },
  );
  const conn = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], lookup, maxBodySize: 1000 });
  const small = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], lookup, maxBodySize: 50 });
  try {
    const r = await conn.request(`https://a.example:${server.port}/`, { method: 'POST', body: 'y'.repeat(17) });
    assert.match(r.body.toString(), /^ERR_BODY_TOO_LARGE x+$/);
    await assert.rejects(small.request(`https://a.example:${server.port}/`), (e) => codeOf(e) === 'ERR_BODY_TOO_LARGE');
  } finally {
    await conn.close();
    await small.close();
    await server.close();
  }
});
