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
  try {
    const body = Buffer.alloc(16 * 1024 * 1024, 9);
    let readDone = false;
    const read = conn.request(`https://a.example:${server.port}/read`, { method: 'POST', body }).then((r) => ((readDone = true), r));
    const unread = conn.request(`https://a.example:${server.port}/ignore`, { method: 'POST', body });
    read.catch(() => undefined);
    unread.catch(() => undefined);
    // With nobody asking, the server takes 64 KiB and QUIC's windows (4 MiB a stream) hold the rest back.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(readDone, false);
    const sent = conn.transport.stats().sent;
    await new Promise((r) => setTimeout(r, 300));
    const more = conn.transport.stats().sent - sent;
    assert.ok(more < 50, `the client is held by flow control, not still sending (${more} datagrams in 300 ms)`);
    release();
    const [r1, r2] = await Promise.all([read, unread]);
    assert.equal(r1.status, 200);
    assert.equal(r1.body.toString(), createHash('sha256').update(body).digest('hex'));
    assert.equal(r2.status, 204);
  } finally {
    await conn.close();
    await server.close(0);
  }
});
