// A stream whose peer's flow-control window is shut waits quietly: quiche queues a STREAM_DATA_BLOCKED
// for each refused offer, the peer ACKs it, the ACK wakes our flush, and an offer made then is refused
// again, a loop at the round-trip rate (thousands of datagrams a second on loopback) for as long as the
// peer does not read. The writer must instead wait for credit, and still resume once the peer reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TestPki } from '../../src/testing/test-pki.js';
import { connectQuic, listenQuic } from '../../src/h3/transport/index.js';
import type { TransportConnection, TransportStream } from '../../src/h3/transport/transport.js';

test('a write held by the peer\'s flow control sends almost nothing while it waits, and completes once the peer reads', async () => {
  const pki = await TestPki.create({ keyType: 'p256' });
  const a = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  const server = await listenQuic({ cert: a.chainPem, key: a.keyPem });
  let serverStream!: TransportStream;
  const gotStream = new Promise<void>((resolve) => {
    server.onConnection((t: TransportConnection) => t.onStream((s) => ((serverStream = s), resolve())));
  });
  const client = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  try {
    // A short write first (as an HTTP/3 request's HEADERS), then one larger than the peer's windows: the
    // pattern of a request with a body, and the one that set the loop going.
    const head = Buffer.alloc(60, 1);
    const body = Buffer.alloc(16 * 1024 * 1024, 7);
    const stream = client.openStream('bidi');
    const writer = stream.writable!.getWriter();
    let written = false;
    const writing = (async () => {
      await writer.write(head);
      await writer.write(body);
      await writer.close();
      written = true;
    })();
    writing.catch(() => undefined);
    await gotStream;
    // Let the window fill, then count what the blocked sender sends while the peer reads nothing.
    await new Promise((r) => setTimeout(r, 300));
    const before = client.stats().sent;
    await new Promise((r) => setTimeout(r, 1000));
    const during = client.stats().sent - before;
    assert.equal(written, false, 'the write is held by the peer\'s window');
    assert.ok(during < 50, `a blocked sender sent ${during} datagrams in a second`);
    const parts: Buffer[] = [];
    for await (const chunk of serverStream.readable!) parts.push(Buffer.from(chunk));
    await writing;
    assert.equal(createHash('sha256').update(Buffer.concat(parts)).digest('hex'), createHash('sha256').update(head).update(body).digest('hex'));
  } finally {
    await client.close(0);
    await server.close(0);
  }
});
