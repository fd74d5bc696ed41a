// Our QUIC endpoint over quiche's native binding (src/h3/transport/quiche) under load: many connections
// at once each with its own exporter, a large transfer intact, a peer that vanishes without a word, and
// more streams than the peer allows at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/server.js';
import { connectH3, type H3CertificateEvent } from '../../src/h3/client.js';
import { connectQuic, listenQuic, TransportClosed } from '../../src/h3/transport/index.js';
import type { TransportClose, TransportConnection, TransportStream } from '../../src/h3/transport/transport.js';

let pki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
const open: { close(): Promise<void> }[] = [];

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  for (const name of ['a.example', 'b.example', 'c.example']) ids[name] = await pki.issue({ dnsNames: [name], keyType: 'p256' });
});

after(async () => {
  await Promise.all(open.map((o) => o.close().catch(() => undefined)));
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function waitUntil(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function h3Server(options: { secondary?: string[] }, handler: Parameters<typeof createH3SecondaryCertServer>[1]): Promise<H3SecondaryCertServer> {
  return createH3SecondaryCertServer(
    {
      cert: ids['a.example']!.chainPem,
      key: ids['a.example']!.keyPem,
      identities: (options.secondary ?? []).map((n) => ({ chain: ids[n]!.chainPem, key: ids[n]!.keyPem })),
    },
    handler,
  ).then((s) => {
    open.push(s);
    return s;
  });
}

test('50 connections at once, each validating both authenticators with its own exporter and using the proven origins', async () => {
  const server = await h3Server({ secondary: ['b.example', 'c.example'] }, (req, res) => res.end(200, {}, `${req.authority} ${req.connection.transport.remotePort}`));
  const clients = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const c = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup: async () => ['127.0.0.1'] });
      open.push(c);
      const events: H3CertificateEvent[] = [];
      const errors: Error[] = [];
      c.on('certificate', (e: H3CertificateEvent) => events.push(e));
      c.on('protocolError', (e: Error) => errors.push(e));
      return { c, events, errors };
    }),
  );
  await waitUntil(() => clients.every(({ events, errors }) => events.length === 2 || errors.length > 0));
  await Promise.all(
    clients.map(async ({ c, events, errors }) => {
      assert.deepEqual(errors, []);
      assert.deepEqual(events.map((e) => [e.names[0], e.accepted]).sort(), [['b.example', true], ['c.example', true]]);
      const r = await c.request(`https://c.example:${server.port}/`);
      assert.equal(r.body.toString(), `c.example:${server.port} ${c.transport.localPort}`, 'served on this very connection');
    }),
  );
  assert.equal(new Set(clients.map(({ c }) => Buffer.from(c.transport.keys.server.finishedKey).toString('hex'))).size, 50);
  assert.equal(server.connections.size, 50);
  await Promise.all(clients.map(({ c }) => c.close()));
});

test('a 50 MiB response arrives whole (SHA-256), and so does a 50 MiB upload', async () => {
  const body = randomBytes(50 * 1024 * 1024);
  let uploaded = '';
  const server = await h3Server({}, async (req, res) => {
    if (req.method === 'POST') {
      uploaded = sha256(await req.body());
      return res.end(200, {}, 'stored');
    }
    return res.end(200, {}, body);
  });
  const c = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', requestTimeoutMs: 120_000, maxBodySize: 64 * 1024 * 1024 });
  open.push(c);
  const r = await c.request(`https://a.example:${server.port}/big`);
  assert.equal(r.body.length, body.length);
  assert.equal(sha256(r.body), sha256(body));
  const up = await c.request(`https://a.example:${server.port}/up`, { method: 'POST', body });
  assert.equal(up.status, 200);
  assert.equal(uploaded, sha256(body));
  await c.close();
});

test('a peer that vanishes without CONNECTION_CLOSE is timed out: its connection closes as idle and its streams fail', async () => {
  const server = await listenQuic({ cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem, idleTimeoutMs: 300 });
  open.push(server);
  const accepted = new Promise<TransportConnection>((resolve) => server.onConnection(resolve));
  // The client reaches the server through a relay that we then cut: from the server's side the peer is gone.
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  let cut = false;
  let peer: { port: number; address: string } | undefined;
  front.on('message', (m, r) => {
    peer = r;
    if (!cut) back.send(m, server.port, '127.0.0.1');
  });
  back.on('message', (m) => {
    if (!cut && peer) front.send(m, peer.port, peer.address);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  try {
    const client = await connectQuic({ host: '127.0.0.1', port: front.address().port, servername: 'a.example', ca: pki.caPem, idleTimeoutMs: 60_000 });
    const s = await accepted;
    const arrived = new Promise<TransportStream>((resolve) => s.onStream(resolve));
    const w = client.openStream('bidi').writable!.getWriter();
    await w.write(Buffer.from('half a request'));
    const stream = await arrived;
    const reader = stream.readable!.getReader();
    assert.equal(Buffer.from((await reader.read()).value!).toString(), 'half a request');
    const pendingRead = reader.read();
    cut = true;
    const info: TransportClose = await s.closed;
    assert.equal(info.by, 'idle');
    await assert.rejects(pendingRead, TransportClosed, 'the read waiting on the vanished peer fails');
    assert.equal(s.closing, true);
    assert.throws(() => s.openStream('uni'), TransportClosed);
    await client.close(0);
  } finally {
    front.close();
    back.close();
  }
});

test('more streams than the peer allows at once: the openers wait for MAX_STREAMS, none fails', async () => {
  const server = await listenQuic({ cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem, flowControl: { maxStreamsBidi: 4 } });
  open.push(server);
  server.onConnection((s) =>
    s.onStream(async (stream) => {
      const parts: Buffer[] = [];
      for await (const chunk of stream.readable!) parts.push(Buffer.from(chunk));
      const w = stream.writable!.getWriter();
      // Held open a little, so that the client really runs into the limit of 4.
      await new Promise((r) => setTimeout(r, 5));
      await w.write(Buffer.concat([Buffer.from('echo '), ...parts]));
      await w.close();
    }),
  );
  const client = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  let mostAtOnce = 0;
  let atOnce = 0;
  const answers = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const stream = await client.openStreamWhenAllowed('bidi', 20_000);
      mostAtOnce = Math.max(mostAtOnce, ++atOnce);
      const w = stream.writable!.getWriter();
      await w.write(Buffer.from(`${i}`));
      await w.close();
      const parts: Buffer[] = [];
      for await (const chunk of stream.readable!) parts.push(Buffer.from(chunk));
      atOnce--;
      return Buffer.concat(parts).toString();
    }),
  );
  assert.deepEqual(answers, Array.from({ length: 100 }, (_, i) => `echo ${i}`));
  assert.ok(mostAtOnce <= 4, `${mostAtOnce} streams open at once, beyond the peer's 4`);
  await client.close(0);
});

test('1000 requests on one connection leave no stream behind on either side', async () => {
  const server = await h3Server({}, (req, res) => res.end(200, {}, req.path));
  const c = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  open.push(c);
  let next = 0;
  const worker = async () => {
    while (next < 1000) {
      const path = `/r${next++}`;
      assert.equal((await c.request(`https://a.example:${server.port}${path}`)).body.toString(), path);
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  // The stream tables (internal, read here to find leaks) hold only the three unidirectional streams of
  // each side: control, QPACK encoder and QPACK decoder.
  const tableSize = (t: TransportConnection) => (t as unknown as { streams: Map<number, unknown> }).streams.size;
  const serverSide = [...server.connections][0]!.transport;
  await waitUntil(() => tableSize(serverSide) === 6 && tableSize(c.transport) === 6, 5000);
  await c.close();
});
