// A request body the handler has not asked for is not read ahead without bound: 64 KiB at most, the rest
// waits in QUIC's flow control (so many streams of large bodies cannot fill the server's memory); once
// the handler asks (body() or bodyStream()) it all arrives, and once it answers without asking, the rest
// is read only to be judged and dropped.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer } from '../../src/h3/server.js';
import { connectH3 } from '../../src/h3/client.js';
import { H3Session } from '../../src/h3/session.js';
import { connectQuic } from '../../src/h3/transport/index.js';

let pki: TestPki;
let a: IssuedIdentity;

before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
});

test('HTTP/3 server: a 16 MiB upload waits in flow control until the handler asks for it, then arrives whole; one the handler answers without reading is dropped and the client still completes', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const server = await createH3SecondaryCertServer({ cert: a.chainPem, key: a.keyPem }, async (req, res) => {
    await released;
    if (req.path === '/read') {
      const body = await req.body();
      return res.end(200, {}, createHash('sha256').update(body).digest('hex'));
    }
    return res.end(204);
  });
  const conn = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  // A raw request stream too, so the test sees when the client's 16 MiB write is all taken.
  const raw = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  try {
    const body = Buffer.alloc(16 * 1024 * 1024, 9);
    const session = new H3Session(raw, {});
    session.start();
    const stream = raw.openStream('bidi');
    const writer = stream.writable!.getWriter();
    let written = false;
    const head = session.headersFrame([
      { name: ':method', value: 'POST' }, { name: ':scheme', value: 'https' }, { name: ':authority', value: 'a.example' }, { name: ':path', value: '/read' },
    ]);
    const writing = (async () => {
      for (const part of H3Session.withData(head, body)) await writer.write(part);
      await writer.close();
      written = true;
    })();
    writing.catch(() => undefined);
    let status = '';
    let answer = '';
    const reading = session.readMessage(stream.readable!, { headers: (m) => void (status = m.pseudo[':status'] ?? ''), data: (c) => void (answer += Buffer.from(c).toString()) });
    const unread = conn.request(`https://a.example:${server.port}/ignore`, { method: 'POST', body });
    unread.catch(() => undefined);
    // With nobody asking, the server takes 64 KiB and QUIC's windows (4 MiB a stream) hold the rest back.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(written, false, 'the 16 MiB write is held by flow control while the handler has not asked');
    release();
    await Promise.all([writing, reading]);
    assert.equal(status, '200');
    assert.equal(answer, createHash('sha256').update(body).digest('hex'));
    const r2 = await unread;
    assert.equal(r2.status, 204);
  } finally {
    await conn.close();
    await raw.close(0);
    await server.close(0);
  }
});

test('HTTP/3 server: a handler that answers 413 and refuses the body stops the upload (STOP_SENDING with H3_NO_ERROR) and the client keeps the complete response', async () => {
  const server = await createH3SecondaryCertServer({ cert: a.chainPem, key: a.keyPem }, async (req, res) => {
    req.refuseBody();
    await res.end(413, { 'content-type': 'text/plain' }, 'too large\n');
  });
  const conn = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  try {
    const before = conn.session.transport.stats().sent;
    // 16 MiB is some 12,400 datagrams; the server's windows alone would let 4 MiB through.
    const r = await conn.request(`https://a.example:${server.port}/upload`, { method: 'POST', body: Buffer.alloc(16 * 1024 * 1024, 1) });
    assert.equal(r.status, 413);
    assert.equal(r.body.toString(), 'too large\n');
    const sent = conn.session.transport.stats().sent - before;
    assert.ok(sent < 4000, `the client sent ${sent} datagrams of a refused body`);
    // The connection goes on.
    const again = await conn.request(`https://a.example:${server.port}/small`, { method: 'POST', body: 'x' });
    assert.equal(again.status, 413);
  } finally {
    await conn.close();
    await server.close(0);
  }
});

test('HTTP/3 server: a body past maxBodySize rejects body() with ERR_BODY_TOO_LARGE as soon as it passes the bound, and the rest is stopped once the 413 is out', async () => {
  let error = '';
  const server = await createH3SecondaryCertServer({ cert: a.chainPem, key: a.keyPem, maxBodySize: 1024 * 1024 }, async (req, res) => {
    error = await req.body().then(
      () => 'read',
      (e: unknown) => (e as { code?: string }).code ?? String(e),
    );
    await res.end(413);
  });
  const conn = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  try {
    const before = conn.session.transport.stats().sent;
    // 32 MiB is some 25,000 datagrams: past the 1 MiB bound only the stream's window more goes out.
    const r = await conn.request(`https://a.example:${server.port}/upload`, { method: 'POST', body: Buffer.alloc(32 * 1024 * 1024, 1) });
    assert.equal(r.status, 413);
    assert.equal(error, 'ERR_BODY_TOO_LARGE');
    const sent = conn.session.transport.stats().sent - before;
    assert.ok(sent < 10_000, `the client sent ${sent} datagrams of a body over the bound`);
  } finally {
    await conn.close();
    await server.close(0);
  }
});
