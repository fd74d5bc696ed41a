// Our OPTIONS * profile over HTTP/3 (spec-notes/options-star.md), over real QUIC on loopback: the client
// asks the server of an open connection to prove an origin; the answer is validated with the QUIC
// connection's exporter and the same RFC 9261 state as SERVER_CERTIFICATE frames, with the same rules
// (proven, refused, 400, 415) as over HTTP/2 and HTTP/1.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/server.js';
import { connectH3, type H3SecondaryCertConnection } from '../../src/h3/client.js';
import { createRequest } from '../../src/ea/index.js';
import { OptionsStarHandler, type OptionsStarAnswer } from '../../src/flows/options-star/server.js';
import { discoverOptionsStarOverH3, proveOriginOverH3 } from '../../src/flows/options-star/client.js';
import { DEFAULT_OPTIONS_STAR_NAMES as N } from '../../src/flows/options-star/names.js';

let pki: TestPki;
let a: IssuedIdentity;
let b: IssuedIdentity;
let server: H3SecondaryCertServer;
let optionsStar: OptionsStarHandler;
const answers: OptionsStarAnswer[] = [];
let appSawOptionsStar = 0;

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  a = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  b = await pki.issue({ dnsNames: ['b.example'], keyType: 'p256' });
  // b.example is an identity of the server but not sent on connect: only OPTIONS * proves it.
  const h3 = { cert: a.chainPem, key: a.keyPem, identities: [{ chain: b.chainPem, key: b.keyPem }], sendOnConnect: false };
  server = await createH3SecondaryCertServer(h3, async (req, res) => {
    if (optionsStar.handleH3(req, res)) return;
    if (req.path === '*') appSawOptionsStar++;
    await res.end(200, {}, `hello from ${req.authority.replace(/:\d+$/, '')}`);
  });
  optionsStar = new OptionsStarHandler({ identities: server.identities });
  optionsStar.on('answer', (answer) => answers.push(answer));
});

after(async () => {
  await server.close();
});

const url = (host: string) => `https://${host}:${server.port}/`;
const open = () => connectH3(url('a.example'), { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup: async () => ['127.0.0.1'] });

async function get(c: H3SecondaryCertConnection, target: string): Promise<{ status: number; body: string }> {
  const r = await c.request(target);
  return { status: r.status, body: r.body.toString() };
}

test('HTTP/3 OPTIONS *: capability discovery answers 204 with the capability field, never reaching the application', async () => {
  const c = await open();
  try {
    const found = await discoverOptionsStarOverH3(c);
    assert.equal(found.status, 204);
    assert.equal(found.server, true);
    assert.equal(appSawOptionsStar, 0);
  } finally {
    await c.close();
  }
});

test('HTTP/3 OPTIONS *: proveOriginOverH3 proves b.example on the open connection, which then serves it', async () => {
  const c = await open();
  answers.length = 0;
  try {
    assert.equal((await get(c, url('b.example'))).status, 421, 'b.example is not served before it is proven');
    const result = await proveOriginOverH3(c, url('b.example'));
    assert.equal(result.outcome, 'proven', JSON.stringify(result));
    assert.ok(result.outcome === 'proven');
    assert.deepEqual(result.names, ['b.example']);
    assert.equal(c.certificates.length, 1);
    assert.equal((await c.authorityFor(url('b.example'))).ok, true);
    assert.deepEqual(await get(c, url('b.example')), { status: 200, body: 'hello from b.example' });
    assert.deepEqual(answers.map((x) => [x.status, x.protocol, x.proven]), [[200, 'h3', ['b.example']]]);
    // The server's connection records the identity, as for SERVER_CERTIFICATE.
    assert.ok([...server.connections].some((s) => s.sent.some((id) => id.names.includes('b.example'))));
  } finally {
    await c.close();
  }
});

test('HTTP/3 OPTIONS *: refused with an empty authenticator for a host the server has no certificate for; the origin is not added', async () => {
  const c = await open();
  try {
    const result = await proveOriginOverH3(c, url('c.example'));
    assert.equal(result.outcome, 'refused');
    assert.equal(c.certificates.length, 0);
    assert.equal((await c.authorityFor(url('c.example'))).ok, false);
    assert.equal((await proveOriginOverH3(c, url('b.example'))).outcome, 'proven', 'a new context on the same connection still works');
  } finally {
    await c.close();
  }
});

test('HTTP/3 OPTIONS *: a malformed body or a CertificateRequest (13) is 400, another media type 415; the connection lives on', async () => {
  const c = await open();
  const send = (headers: Record<string, string>, body: Uint8Array) => c.request(url('a.example'), { method: 'OPTIONS', path: '*', headers: { 'max-forwards': '0', ...headers }, body }).then((r) => r.status);
  try {
    assert.equal(await send({ 'content-type': N.requestMediaType }, new Uint8Array([0x11, 0, 0, 9, 1, 2, 3])), 400);
    assert.equal(await send({ 'content-type': N.requestMediaType }, createRequest({ creator: 'server' }).bytes), 400);
    assert.equal(await send({ 'content-type': 'application/octet-stream' }, createRequest({ creator: 'client', serverName: 'b.example' }).bytes), 415);
    assert.equal(c.closed, false);
    assert.equal((await get(c, url('a.example'))).status, 200);
  } finally {
    await c.close();
  }
});

test('HTTP/3 OPTIONS *: a 50 MB body is refused with 413 and stopped, not uploaded whole, and 200 at once on one connection each get 200 or 429, none hang; the connection lives on', async () => {
  const c = await open();
  const ask = (body: Uint8Array) =>
    c.request(url('a.example'), { method: 'OPTIONS', path: '*', headers: { 'max-forwards': '0', 'content-type': N.requestMediaType }, body, timeoutMs: 20_000 }).then(
      (r) => r.status,
      (e: unknown) => `error ${(e as { code?: string }).code ?? String(e)}`,
    );
  try {
    const sentBefore = c.session.transport.stats().sent;
    const huge = await ask(new Uint8Array(50 * 1024 * 1024));
    assert.equal(huge, 413, `50 MB body: ${huge}`);
    // Once the 413 is out the server stops the body (STOP_SENDING, H3_NO_ERROR) and the client keeps the
    // complete response: far fewer datagrams than the 37,000 that 50 MB takes.
    const sentForHuge = c.session.transport.stats().sent - sentBefore;
    assert.ok(sentForHuge < 10_000, `the client sent ${sentForHuge} datagrams of a body the server refused`);
    // Each with its own context: a context used twice is 400 (RFC 9261 section 5.1).
    const statuses = await Promise.all(Array.from({ length: 200 }, () => ask(createRequest({ creator: 'client', serverName: 'b.example' }).bytes)));
    const counts = new Map<string | number, number>();
    for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].filter((s) => s !== 200 && s !== 429), [], JSON.stringify([...counts]));
    assert.ok((counts.get(429) ?? 0) > 0, 'the per-connection concurrency bound refused some');
    assert.equal(c.closed, false);
    assert.equal((await get(c, url('a.example'))).status, 200);
  } finally {
    await c.close();
  }
});
