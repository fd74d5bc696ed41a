// A client that never reads: QUIC's windows bound what the server buffers, and sendTimeoutMs bounds how
// long a response may wait on them. Past it the server closes the connection with H3_EXCESSIVE_LOAD, as
// HTTP/2's sendTimeoutMs destroys a stalled connection; other connections are served all along.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer } from '../../src/h3/server.js';
import { connectH3 } from '../../src/h3/client.js';
import { H3Session } from '../../src/h3/session.js';
import { connectQuic } from '../../src/h3/transport/index.js';
import { H3ErrorCode } from '../../src/errors.js';

let pki: TestPki;
let a: IssuedIdentity;

before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
});

test('to our server: a client that never reads an 8 MiB response is cut off after sendTimeoutMs with H3_EXCESSIVE_LOAD; a fresh connection is served meanwhile and after', async () => {
  const big = Buffer.alloc(8 * 1024 * 1024, 7);
  const server = await createH3SecondaryCertServer({ cert: a.chainPem, key: a.keyPem, sendTimeoutMs: 400 }, (req, res) =>
    res.end(200, {}, req.path === '/big' ? big : 'small').catch(() => undefined),
  );
  try {
    // Small windows on our side, and nothing read: the server's writes wait on them.
    const stalled = await connectQuic({
      host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem,
      flowControl: { maxData: 64 * 1024, maxStreamDataBidiLocal: 32 * 1024, maxStreamWindow: 32 * 1024, maxConnectionWindow: 64 * 1024 },
    });
    const session = new H3Session(stalled, {});
    session.start();
    const stream = stalled.openStream('bidi');
    const writer = stream.writable!.getWriter();
    await writer.write(session.headersFrame([
      { name: ':method', value: 'GET' }, { name: ':scheme', value: 'https' }, { name: ':authority', value: 'a.example' }, { name: ':path', value: '/big' },
    ]));
    await writer.close();
    const t0 = performance.now();
    const fresh = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
    assert.equal((await fresh.request(`https://a.example:${server.port}/`)).status, 200, 'served while the other connection stalls');
    const info = await Promise.race([stalled.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not closed within 10 s')), 10_000))]);
    assert.deepEqual([info.by, info.app, info.code], ['peer', true, H3ErrorCode.H3_EXCESSIVE_LOAD]);
    assert.match(info.reason, /send stalled/);
    assert.ok(performance.now() - t0 >= 300, 'not before the bound');
    assert.equal((await fresh.request(`https://a.example:${server.port}/`)).status, 200, 'the other connection lives on');
    await fresh.close();
  } finally {
    await server.close(0);
  }
});
