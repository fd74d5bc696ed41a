// The connection pool holding HTTP/3 connections: a request for an origin a connection proved with a
// SERVER_CERTIFICATE goes on that connection; an origin no open connection covers gets a new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer } from '../../src/h3/server.js';
import { SecondaryCertAgent } from '../../src/pool/agent.js';

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

test('over HTTP/3 too: DNS that leaves out the peer address keeps a proven origin off, and a 421 moves it to a new connection', async () => {
  const pki = await TestPki.create({ keyType: 'p256' });
  const both = await pki.issue({ dnsNames: ['a.example', 'b.example'], keyType: 'p256' });
  const c = await pki.issue({ dnsNames: ['c.example'], keyType: 'p256' });
  const firstConnection = new Set<number>();
  const server = await createH3SecondaryCertServer({ cert: both.chainPem, key: both.keyPem, identities: [{ chain: c.chainPem, key: c.keyPem }] }, async (req, res) => {
    // The first connection that asks for b.example is told it is misdirected.
    const port = req.connection.transport.remotePort;
    if (req.authority.startsWith('b.example') && (firstConnection.size === 0 || firstConnection.has(port))) {
      firstConnection.add(port);
      return res.end(421);
    }
    return res.end(200, {}, `hi ${req.authority}`);
  });
  const lookup = async (host: string): Promise<string[]> => (host === 'c.example' ? ['192.0.2.1'] : ['127.0.0.1']);
  const agent = new SecondaryCertAgent({ protocol: 'h3', ca: [pki.caPem], lookup, certificateGraceMs: 0 });
  try {
    const ra = await agent.request(`https://a.example:${server.port}/`);
    const conn = agent.connections[0]!.connection;
    while (conn.certificates.length === 0) await new Promise((r) => setTimeout(r, 10));
    const dns = await conn.authorityFor(`https://c.example:${server.port}`);
    assert.equal(dns.ok, false);
    assert.match(dns.reason, /DNS for c.example does not include the peer address 127.0.0.1/);
    const rb = await agent.request(`https://b.example:${server.port}/`);
    assert.deepEqual([ra.connectionId, rb.status, rb.connectionId, rb.reused], [1, 200, 2, false]);
    assert.ok(agent.connections[0]!.connection.excluded.has(`https://b.example:${server.port}`));
  } finally {
    await agent.close();
    await server.close();
  }
});

test('over HTTP/3: five requests at once for a.example share one QUIC connection, and b.example proven by a secondary certificate joins it', async () => {
  const pki = await TestPki.create({ keyType: 'p256' });
  const [a, b] = await Promise.all(['a.example', 'b.example'].map((n) => pki.issue({ dnsNames: [n], keyType: 'p256' })));
  const server = await createH3SecondaryCertServer({ cert: a!.chainPem, key: a!.keyPem, identities: [{ chain: b!.chainPem, key: b!.keyPem }] }, async (req, res) => res.end(200, {}, `hi ${req.authority}`));
  const agent = new SecondaryCertAgent({ protocol: 'h3', ca: [pki.caPem], lookup: async () => ['127.0.0.1'] });
  try {
    const responses = await Promise.all([
      ...Array.from({ length: 5 }, () => agent.request(`https://a.example:${server.port}/`)),
      agent.request(`https://b.example:${server.port}/`),
    ]);
    assert.deepEqual(responses.map((r) => [r.status, r.connectionId]), Array.from({ length: 6 }, () => [200, 1]));
    assert.equal(responses.filter((r) => !r.reused).length, 1);
    assert.equal(responses[5]!.authority.via, 'secondary');
    assert.equal(responses[5]!.body.toString(), `hi b.example:${server.port}`);
    assert.equal(server.connections.size, 1);
  } finally {
    await agent.close();
    await server.close();
  }
});
