// The connection pool holding HTTP/3 connections: a request for an origin a connection proved with a
// SERVER_CERTIFICATE goes on that connection; an origin no open connection covers gets a new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki } from '../../src/pki/test-pki.js';
import { createH3SecondaryCertServer } from '../../src/h3/server.js';
import { SecondaryCertAgent } from '../../src/h2/agent.js';

test('an HTTP/3 agent reuses the connection for a proven origin and opens a new one otherwise', async () => {
  const pki = await TestPki.create({ keyType: 'p256' });
  const [a, b, c] = await Promise.all(['a.example', 'b.example', 'c.example'].map((n) => pki.issue({ dnsNames: [n], keyType: 'p256' })));
  const handler = async (req: { authority: string }, res: { end(s: number, h?: Record<string, string>, b?: string): Promise<void> }) => res.end(200, {}, `hi ${req.authority}`);
  const main = await createH3SecondaryCertServer({ cert: a!.chainPem, key: a!.keyPem, identities: [{ chain: b!.chainPem, key: b!.keyPem }] }, handler);
  const other = await createH3SecondaryCertServer({ cert: c!.chainPem, key: c!.keyPem }, handler);
  const agent = new SecondaryCertAgent({ protocol: 'h3', ca: [pki.caPem], lookup: async () => ['127.0.0.1'] });
  try {
    const ra = await agent.request(`https://a.example:${main.port}/`);
    const rb = await agent.request(`https://b.example:${main.port}/`);
    const rc = await agent.request(`https://c.example:${other.port}/`);
    assert.deepEqual([ra.status, ra.connectionId, ra.reused], [200, 1, false]);
    assert.deepEqual([rb.status, rb.connectionId, rb.reused, rb.authority.via], [200, 1, true, 'secondary']);
    assert.deepEqual([rc.status, rc.connectionId, rc.reused], [200, 2, false]);
    assert.equal(rb.body.toString(), `hi b.example:${main.port}`);
    assert.deepEqual(agent.connections.map((p) => p.protocol), ['h3', 'h3']);
    assert.equal(main.connections.size, 1, 'a.example and b.example shared one QUIC connection');
  } finally {
    await agent.close();
    await main.close();
    await other.close();
  }
});
