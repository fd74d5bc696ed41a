// The agent's OriginProver hook, over real TLS on loopback: before opening a connection for an origin no
// open connection may carry, the agent asks its provers in order, with its open connections; the first
// that proves the origin on one of them gets the request there. Provers also see every connection the
// agent opens and every response it gets. (The provers here are small ones of the test's own; the
// OPTIONS * prover is tested in test/options-star/agent.test.ts.)
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer } from '../../src/h2/server.js';
import { SecondaryCertAgent } from '../../src/pool/agent.js';
import type { PooledConnection, PoolResponse } from '../../src/pool/connection.js';
import type { OriginProver, ProvenOrigin } from '../../src/pool/prover.js';

let pki: TestPki;
let a: IssuedIdentity;
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example', 'b.example'] });
});

/** A server whose TLS certificate covers a.example and b.example, and that says which authority it served. */
async function startServer() {
  const { server } = await createSecondaryCertServer({ key: a.keyPem, cert: a.chainPem });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'x-served': String(headers[':authority']) });
    stream.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (host: string) => `https://${host}:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A prover that records what the agent shows it and proves what `decide` says. */
function recordingProver(decide: (candidates: readonly PooledConnection[], origin: string) => ProvenOrigin | undefined) {
  const log: string[] = [];
  const prover: OriginProver = {
    async prove(candidates, origin) {
      log.push(`prove ${new URL(origin).hostname} [${candidates.map((p) => p.id).join(',')}]`);
      return decide(candidates, origin);
    },
    observeConnection(pooled) {
      log.push(`connection ${pooled.id} ${pooled.protocol}`);
    },
    observeResponse(origin: string, headers: PoolResponse['headers'], pooled) {
      log.push(`response ${new URL(origin).hostname} on ${pooled.id}: ${String(headers['x-served']).replace(/:\d+$/, '')}`);
    },
  };
  return { prover, log };
}

test('provers are asked in order before a new connection; the first that proves the origin gets the request', async () => {
  const s = await startServer();
  const declining = recordingProver(() => undefined);
  const proving = recordingProver((candidates) => ({ pooled: candidates[0]!, authority: { ok: true, via: 'secondary', reason: 'the test prover proved it' } }));
  // DNS for b.example does not point at the server (another loopback address, where nothing listens): no
  // open connection may carry it by the rules alone.
  const split = async (host: string): Promise<string[]> => (host === 'b.example' ? ['127.0.0.2'] : ['127.0.0.1']);
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup: split, certificateGraceMs: 0, provers: [declining.prover, proving.prover] });
  try {
    assert.equal((await agent.request(s.url('a.example'))).connectionId, 1);
    const r = await agent.request(s.url('b.example'));
    assert.deepEqual([r.status, r.connectionId, r.reused, r.authority.reason], [200, 1, true, 'the test prover proved it']);
    assert.equal(agent.connections.length, 1);
    assert.deepEqual(declining.log, ['connection 1 h2', 'response a.example on 1: a.example', 'prove b.example [1]', 'response b.example on 1: b.example']);
    assert.deepEqual(proving.log, ['connection 1 h2', 'response a.example on 1: a.example', 'prove b.example [1]', 'response b.example on 1: b.example']);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('when no prover proves the origin, the agent opens a connection for it; an origin an open connection carries asks no prover', async () => {
  const s = await startServer();
  const declining = recordingProver(() => undefined);
  const split = async (host: string): Promise<string[]> => (host === 'c.example' ? ['127.0.0.2'] : ['127.0.0.1']);
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup: split, certificateGraceMs: 0, provers: [declining.prover] });
  try {
    await agent.request(s.url('a.example'));
    // b.example is covered by the TLS certificate and DNS points at the peer: no question asked.
    assert.equal((await agent.request(s.url('b.example'))).connectionId, 1);
    assert.ok(!declining.log.some((l) => l.startsWith('prove')), declining.log.join('; '));
    // c.example: not covered, the prover declines, so the agent connects to c.example's address (where
    // nothing listens).
    await assert.rejects(agent.request(s.url('c.example')), { code: 'ERR_CONNECT_FAILED' });
    assert.ok(declining.log.includes('prove c.example [1]'), declining.log.join('; '));
    assert.equal(agent.connections.length, 1);
  } finally {
    await agent.close();
    await s.close();
  }
});
