// draft-ietf-httpbis-secondary-server-certs over HTTP/3 on real QUIC connections on loopback
// (our endpoint over quiche's native binding): the unprompted certificate, a request to the proven origin on the same connection,
// an invalid authenticator, peers without the extension, and many connections at once, each checking
// authenticators made with its own exporter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer, type H3ServerConnection } from '../../src/h3/server.js';
import { connectH3, type H3CertificateEvent, type H3SecondaryCertConnection } from '../../src/h3/client.js';
import { DEFAULT_H3_PROFILE } from '../../src/h3/profile.js';
import { createAuthenticator } from '../../src/ea/index.js';
import { encodeServerCertificateFrame } from '../../src/h3/wire/certificates.js';
import type { H3ConnectionError } from '../../src/errors.js';

let pki: TestPki;
let otherPki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
const lookup = async (): Promise<string[]> => ['127.0.0.1'];
const open: { close(): Promise<void> }[] = [];

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  otherPki = await TestPki.create({ commonName: 'someone else', keyType: 'p256' });
  for (const name of ['a.example', 'b.example', 'c.example']) ids[name] = await pki.issue({ dnsNames: [name], keyType: 'p256' });
  ids['untrusted-c'] = await otherPki.issue({ dnsNames: ['c.example'], keyType: 'p256' });
});

after(async () => {
  await Promise.all(open.map((o) => o.close().catch(() => undefined)));
});

async function startServer(options: { secondary?: string[]; extension?: boolean; sendOnConnect?: boolean } = {}): Promise<H3SecondaryCertServer> {
  const server = await createH3SecondaryCertServer(
    {
      cert: ids['a.example']!.chainPem,
      key: ids['a.example']!.keyPem,
      identities: (options.secondary ?? ['b.example']).map((n) => ({ chain: ids[n]!.chainPem, key: ids[n]!.keyPem })),
      ...(options.extension !== undefined ? { extension: options.extension } : {}),
      ...(options.sendOnConnect !== undefined ? { sendOnConnect: options.sendOnConnect } : {}),
    },
    async (req, res) => res.end(200, { 'content-type': 'text/plain' }, `${req.method} ${req.authority}${req.path} on connection ${req.connection.transport.remotePort}\n`),
  );
  open.push(server);
  return server;
}

async function client(server: H3SecondaryCertServer, options: { extension?: boolean } = {}): Promise<H3SecondaryCertConnection> {
  const c = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup, ...options });
  open.push(c);
  return c;
}

function next<T>(emitter: { once(event: string, l: (v: T) => void): unknown }, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' in ${ms} ms`)), ms);
    emitter.once(event, (v: T) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

test('the server proves b.example unprompted and serves it on the same QUIC connection', async () => {
  const server = await startServer();
  const c = await client(server);
  const event = await next<H3CertificateEvent>(c, 'certificate');
  assert.deepEqual(event, { names: ['b.example'], accepted: true });
  assert.equal(c.negotiated, true);
  const base = `https://a.example:${server.port}`;
  const first = await c.request(`${base}/one`);
  const answer = await c.authorityFor(`https://b.example:${server.port}`);
  assert.deepEqual([answer.ok, answer.via], [true, 'secondary']);
  const second = await c.request(`https://b.example:${server.port}/two`);
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  const port = String(c.transport.localPort);
  assert.equal(first.body.toString(), `GET a.example:${server.port}/one on connection ${port}\n`);
  assert.equal(second.body.toString(), `GET b.example:${server.port}/two on connection ${port}\n`);
  assert.equal(server.connections.size, 1, 'one QUIC connection served both origins');
  // An origin nobody proved: no authority here, and the server answers 421 if asked anyway.
  assert.equal((await c.authorityFor(`https://c.example:${server.port}`)).ok, false);
  assert.equal((await c.request(`https://c.example:${server.port}/`)).status, 421);
});

test('a request body travels on the request stream and a POST is answered', async () => {
  const server = await createH3SecondaryCertServer({ cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem }, async (req, res) => {
    const body = await req.body();
    await res.end(200, {}, `${body.length} ${body.subarray(0, 5).toString()}`);
  });
  open.push(server);
  const c = await client(server);
  const body = Buffer.alloc(300_000, 'x');
  const r = await c.request(`https://a.example:${server.port}/upload`, { method: 'POST', body });
  assert.equal(r.body.toString(), '300000 xxxxx');
});

test('an authenticator that does not validate closes the connection with SERVER_CERTIFICATE_INVALID', async () => {
  const server = await startServer({ sendOnConnect: false });
  server.on('negotiated', async (connection: H3ServerConnection) => {
    const authenticator = await createAuthenticator({
      keys: connection.transport.keys,
      creator: 'server',
      certificateChain: ids['b.example']!.chainDer,
      signer: await (await import('../../src/crypto/index.js')).nodeCrypto.signerFromPrivateKey(ids['b.example']!.keyPem),
      state: connection.state,
    });
    authenticator[authenticator.length - 1]! ^= 0x01; // the Finished MAC no longer matches
    connection.session.sendControlFrame(encodeServerCertificateFrame({ authenticator }));
  });
  const serverClosed = next<{ by: string; code: number }>(server, 'connection').then((conn) => next<{ by: string; code: number }>(conn as unknown as H3ServerConnection, 'close'));
  const c = await client(server);
  const error = await next<H3ConnectionError>(c, 'protocolError');
  assert.equal(error.wireCode, DEFAULT_H3_PROFILE.errors.SERVER_CERTIFICATE_INVALID);
  const seen = await serverClosed;
  assert.equal(seen.by, 'peer');
  assert.equal(seen.code, DEFAULT_H3_PROFILE.errors.SERVER_CERTIFICATE_INVALID);
  assert.equal(c.certificates.length, 0);
});

test('a certificate the client does not trust is ignored, not an error', async () => {
  const server = await startServer({ secondary: ['untrusted-c'] });
  const c = await client(server);
  const event = await next<H3CertificateEvent>(c, 'certificate');
  assert.equal(event.accepted, false);
  assert.match(event.reason ?? '', /ERR_CERT_UNTRUSTED/);
  assert.equal((await c.authorityFor(`https://c.example:${server.port}`)).ok, false);
  assert.equal((await c.request(`https://a.example:${server.port}/`)).status, 200, 'the connection lives on');
});

test('peers without the extension: a plain client and a plain server both work as before', async () => {
  // Plain client, extended server: the server never sends a certificate.
  const server = await startServer();
  let sent = 0;
  server.on('certificateSent', () => sent++);
  const plain = await client(server, { extension: false });
  assert.equal((await plain.request(`https://a.example:${server.port}/`)).status, 200);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(plain.negotiated, false);
  assert.equal(sent, 0);
  // Extended client, plain server: the setting is unknown to the server, nothing else changes.
  const plainServer = await startServer({ extension: false });
  const c = await client(plainServer);
  assert.equal((await c.request(`https://a.example:${plainServer.port}/`)).status, 200);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(c.negotiated, false);
  assert.equal(c.certificates.length, 0);
  assert.equal(c.session.peerSettings?.has(DEFAULT_H3_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH), false);
});

test('many concurrent connections each validate the authenticators made with their own exporter', async () => {
  const server = await startServer({ secondary: ['b.example', 'c.example'] });
  const clients = await Promise.all(
    Array.from({ length: 12 }, async () => {
      const c = await client(server);
      const events: H3CertificateEvent[] = [];
      c.on('certificate', (e: H3CertificateEvent) => events.push(e));
      const errors: Error[] = [];
      c.on('protocolError', (e: Error) => errors.push(e));
      return { c, events, errors };
    }),
  );
  await waitUntil(() => clients.every(({ events, errors }) => events.length === 2 || errors.length > 0));
  for (const { c, events, errors } of clients) {
    assert.deepEqual(errors, []);
    assert.deepEqual(events.map((e) => [e.names[0], e.accepted]), [['b.example', true], ['c.example', true]]);
    // Each connection's exporter is its own: no two share the server handshake context.
    assert.equal((await c.request(`https://c.example:${server.port}/`)).status, 200);
  }
  const contexts = new Set(clients.map(({ c }) => Buffer.from(c.transport.keys.server.handshakeContext).toString('hex')));
  assert.equal(contexts.size, clients.length);
});

async function waitUntil(test: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the server adds an identity later and proves it on open connections', async () => {
  const server = await startServer({ secondary: [] });
  const c = await client(server);
  await next(c, 'negotiated').catch(() => undefined);
  await waitUntil(() => server.connections.size === 1 && [...server.connections][0]!.negotiated);
  const arrived = next<H3CertificateEvent>(c, 'certificate');
  await server.addIdentity({ chain: ids['c.example']!.chainPem, key: ids['c.example']!.keyPem }, true);
  assert.deepEqual(await arrived, { names: ['c.example'], accepted: true });
  assert.equal((await c.authorityFor(`https://c.example:${server.port}`)).ok, true);
});

test('GOAWAY: the server sends it before closing, and the client then sends nothing new on the connection', async () => {
  const server = await startServer();
  const c = await client(server);
  await next(c, 'certificate');
  assert.equal((await c.request(`https://a.example:${server.port}/`)).status, 200);
  const goaway = next<number>(c.session, 'goaway');
  const connection = [...server.connections][0]!;
  assert.equal(connection.session.sendGoaway(), 4, 'one past the last request stream (0)');
  assert.equal(await goaway, 4);
  const answer = await c.authorityFor(`https://b.example:${server.port}`);
  assert.equal(answer.ok, false);
  await assert.rejects(c.request(`https://a.example:${server.port}/`), /GOAWAY/);
  // server.close() sends GOAWAY to every connection first.
  const second = await client(server);
  await waitUntil(() => server.connections.size === 2);
  const seen = next<number>(second.session, 'goaway');
  await server.close();
  assert.equal(await seen, 0);
});

test('our SETTINGS carry a reserved (GREASE) setting, and an authenticator over the size limit is not sent', async () => {
  const server = await createH3SecondaryCertServer(
    { cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem, identities: [{ chain: ids['b.example']!.chainPem, key: ids['b.example']!.keyPem }], maxAuthenticatorSize: 200 },
    (_req, res) => res.end(200),
  );
  open.push(server);
  const notSent = next<{ reason: string }>(server, 'certificateNotSent');
  const c = await client(server);
  assert.match((await notSent).reason, /more than the 200 a client takes/);
  await waitUntil(() => c.session.peerSettings !== undefined);
  const grease = [...c.session.peerSettings!.keys()].filter((id) => id >= 0x21 && (id - 0x21) % 0x1f === 0);
  assert.equal(grease.length, 1);
  assert.equal(c.certificates.length, 0);
});

test('1000 requests, 50 at a time, on one connection: every response arrives whole', async () => {
  const server = await createH3SecondaryCertServer({ cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem }, (req, res) => res.end(200, {}, `${req.path} `.repeat(50)));
  open.push(server);
  const c = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', requestTimeoutMs: 10_000 });
  open.push(c);
  let next = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (next < 1000) {
      const path = `/r${next++}`;
      try {
        const r = await c.request(`https://a.example:${server.port}${path}`);
        if (r.body.toString() !== `${path} `.repeat(50)) failures.push(`${path}: wrong body`);
      } catch (e) {
        failures.push(`${path}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  assert.deepEqual(failures, []);
});

test('a small request and its response take about one datagram each way (send passes are coalesced)', async () => {
  const server = await createH3SecondaryCertServer({ cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem }, (_req, res) => res.end(200, {}, 'small'));
  open.push(server);
  const c = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  open.push(c);
  await c.request(`https://a.example:${server.port}/warm`);
  const before = c.transport.stats();
  for (let i = 0; i < 100; i++) await c.request(`https://a.example:${server.port}/${i}`);
  const after = c.transport.stats();
  // Without coalescing the library sent four datagrams per request (HEADERS, FIN, ACKs) and got four.
  const perRequest = (after.sent - before.sent + after.received - before.received) / 100;
  assert.ok(perRequest <= 3, `${perRequest} datagrams per request`);
});

test('ORIGIN frames (RFC 9412): a proven name the frame omits is not used; a listed one needs no DNS', async () => {
  const cert = ids['a.example']!;
  const secondary = ['b.example', 'c.example'].map((n) => ({ chain: ids[n]!.chainPem, key: ids[n]!.keyPem }));
  const probe = await createH3SecondaryCertServer({ cert: cert.chainPem, key: cert.keyPem }, (_req, res) => res.end(200));
  const port = probe.port;
  await probe.close();
  // The ORIGIN frame names b.example only; DNS for every name points elsewhere.
  const server = await createH3SecondaryCertServer({ cert: cert.chainPem, key: cert.keyPem, port, identities: secondary, originFrame: [`https://b.example:${port}`] }, (req, res) => res.end(200, {}, req.authority));
  open.push(server);
  const c = await connectH3(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup: async () => ['192.0.2.1'] });
  open.push(c);
  await waitUntil(() => c.certificates.length === 2 && c.originFrameSet !== undefined);
  assert.deepEqual([...c.originFrameSet!], [`https://a.example:${port}`, `https://b.example:${port}`]);
  const b = await c.authorityFor(`https://b.example:${port}`);
  assert.deepEqual([b.ok, b.reason], [true, 'certificate covers it and the ORIGIN frame lists it']);
  const cc = await c.authorityFor(`https://c.example:${port}`);
  assert.deepEqual([cc.ok, cc.reason], [false, 'the ORIGIN frames do not list it']);
});

test('through a UDP relay that drops 10% of datagrams each way, 300 requests all arrive whole', async () => {
  const { createSocket } = await import('node:dgram');
  const server = await createH3SecondaryCertServer({ cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem }, (req, res) => res.end(200, {}, `${req.path}:`.repeat(200)));
  open.push(server);
  // The relay: the client talks to `front`, which forwards to the server through `back`; each datagram
  // has a 10% chance to be dropped in either direction.
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  let client: { port: number; address: string } | undefined;
  let dropped = 0;
  front.on('message', (m, r) => {
    client = r;
    if (Math.random() < 0.1) dropped++;
    else back.send(m, server.port, '127.0.0.1');
  });
  back.on('message', (m) => {
    if (Math.random() < 0.1) dropped++;
    else if (client) front.send(m, client.port, client.address);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  const port = front.address().port;
  try {
    const c = await connectH3(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', requestTimeoutMs: 20_000 });
    open.push(c);
    let next = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (next < 300) {
        const path = `/r${next++}`;
        try {
          const r = await c.request(`https://a.example:${port}${path}`);
          if (r.body.toString() !== `${path}:`.repeat(200)) failures.push(`${path}: wrong body`);
        } catch (e) {
          failures.push(`${path}: ${(e as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    assert.deepEqual(failures, []);
    assert.ok(dropped > 50, `only ${dropped} datagrams dropped`);
  } finally {
    front.close();
    back.close();
  }
});
