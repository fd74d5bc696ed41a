// The agent's pool under concurrency, over real TLS on loopback: requests at once for one origin share one
// connect, a request for another origin waits for a connect to the same address that proves it with a
// secondary certificate, and a failing connect fails every request waiting on it alike.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer } from '../../src/h2/server.js';
import { SecondaryCertAgent } from '../../src/pool/agent.js';
import { SecondaryCertsError } from '../../src/errors.js';

let pki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

before(async () => {
  pki = await TestPki.create();
  for (const name of ['a.example', 'b.example']) ids[name] = await pki.issue({ dnsNames: [name] });
});

/** A server for a.example that proves `secondary` and counts its TLS connections; b.example also through SNI. */
async function startServer(secondary: string[], port = 0) {
  const bContext = tls.createSecureContext({ key: ids['b.example']!.keyPem, cert: ids['b.example']!.chainPem });
  const { server } = await createSecondaryCertServer({
    key: ids['a.example']!.keyPem,
    cert: ids['a.example']!.chainPem,
    SNICallback: (name, cb) => cb(null, name === 'b.example' ? bContext : undefined),
    identities: secondary.map((n) => ({ chain: ids[n]!.chainDer, key: ids[n]!.keyPkcs8Der })),
  });
  let connections = 0;
  server.on('secureConnection', () => connections++);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(`hello from ${String(headers[':authority'])}`);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

test('five requests at once for one origin share one connection', async () => {
  const s = await startServer([]);
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  try {
    const responses = await Promise.all(Array.from({ length: 5 }, () => agent.request(`https://a.example:${s.port}/`)));
    assert.deepEqual(responses.map((r) => [r.status, r.connectionId]), Array.from({ length: 5 }, () => [200, 1]));
    assert.equal(responses.filter((r) => !r.reused).length, 1, 'one request opened the connection, four reused it');
    assert.equal(s.connections, 1);
    assert.equal(agent.connections.length, 1);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('requests at once for a.example and b.example share one connection when it proves b.example', async () => {
  const s = await startServer(['b.example']);
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  try {
    const [ra, rb] = await Promise.all([agent.request(`https://a.example:${s.port}/`), agent.request(`https://b.example:${s.port}/`)]);
    assert.deepEqual([ra.status, ra.connectionId, rb.status, rb.connectionId, rb.authority.via], [200, 1, 200, 1, 'secondary']);
    assert.equal(rb.body.toString(), `hello from b.example:${s.port}`);
    assert.equal(s.connections, 1);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('a pending connection that does not prove the other origin: that request opens its own', async () => {
  const s = await startServer([]);
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup, certificateGraceMs: 50, pendingConnectWaitMs: 200 });
  try {
    const [ra, rb] = await Promise.all([agent.request(`https://a.example:${s.port}/`), agent.request(`https://b.example:${s.port}/`)]);
    assert.deepEqual([ra.status, rb.status, rb.reused], [200, 200, false]);
    assert.notEqual(ra.connectionId, rb.connectionId);
    assert.equal(s.connections, 2);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('a failing connect rejects every waiting request with the same typed error; a later request retries', async () => {
  // A port nothing listens on: bind one, then free it.
  const probe = http2.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  let lookups = 0;
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup: async () => (lookups++, ['127.0.0.1']) });
  try {
    const outcomes = await Promise.allSettled(Array.from({ length: 3 }, () => agent.request(`https://a.example:${port}/`)));
    const errors = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as unknown) : undefined));
    assert.ok(errors[0] instanceof SecondaryCertsError, String(errors[0]));
    assert.equal(errors[0].code, 'ERR_CONNECT_FAILED');
    assert.ok(errors.every((e) => e === errors[0]), 'the waiting requests share the one failure');
    assert.equal(lookups, 1, 'one connect for the three requests');
    assert.equal(agent.connections.length, 0);
    // The failure is not remembered: once a server listens there, the next request connects.
    const s = await startServer([], port);
    try {
      const r = await agent.request(`https://a.example:${port}/`);
      assert.deepEqual([r.status, r.connectionId, r.reused], [200, 1, false]);
    } finally {
      await agent.close();
      await s.close();
    }
  } finally {
    await agent.close();
  }
});

test('a request on a closed agent fails with ERR_AGENT_CLOSED', async () => {
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  await agent.close();
  await assert.rejects(agent.request('https://a.example/'), (e: unknown) => e instanceof SecondaryCertsError && e.code === 'ERR_AGENT_CLOSED');
});

test('the agent\'s events are typed: listener arguments are the pooled connection and the event', async () => {
  const s = await startServer(['b.example']);
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup });
  const seen: string[] = [];
  // These listeners compile only with the event map: `pooled.id`, `event.names` and `decision.reason` are typed.
  agent.on('connect', (pooled) => seen.push(`connect ${pooled.id} ${pooled.protocol}`));
  agent.on('certificate', (pooled, event) => seen.push(`certificate ${pooled.id} ${event.names.join(',')} ${event.accepted}`));
  agent.on('reuse', (decision) => seen.push(`reuse ${decision.id} ${decision.origin.replace(/:\d+$/, '')}`));
  // And a listener with the wrong arguments does not compile (without the event map they are `any`).
  // @ts-expect-error a 'certificate' listener gets the pooled connection first, not a string
  agent.on('certificate', (names: string) => names);
  try {
    await agent.request(`https://a.example:${s.port}/`);
    await agent.request(`https://b.example:${s.port}/`);
    assert.deepEqual(seen, ['connect 1 h2', 'certificate 1 b.example true', 'reuse 1 https://b.example']);
  } finally {
    await agent.close();
    await s.close();
  }
});
