// The connection pool asks an open connection to prove an origin with OPTIONS * when an ORIGIN frame or
// Alt-Svc says its server likely serves it, instead of opening a new connection; real TLS on loopback.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { createSecureContext } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer } from '../../src/h2/server.js';
import { SecondaryCertAgent, type PooledConnection } from '../../src/pool/agent.js';
import { installOptionsStar, type OptionsStarAnswer } from '../../src/flows/options-star/server.js';
import { OptionsStarPool, optionsStarProver, type OptionsStarAttempt } from '../../src/flows/options-star/pool.js';

let pki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

before(async () => {
  pki = await TestPki.create();
  for (const name of ['a.example', 'b.example']) ids[name] = await pki.issue({ dnsNames: [name] });
});

interface Running {
  port: number;
  answers: OptionsStarAnswer[];
  url(host: string): string;
  close(): Promise<void>;
}

/**
 * TLS certificate a.example (b.example by SNI), b.example provable but never sent spontaneously.
 * `originFrame`: each session announces b.example in an ORIGIN frame. `altSvc`: responses for b.example
 * say it is also at a.example's endpoint. `optionsStar` false: no handler (OPTIONS * reaches the app).
 */
async function startServer(o: { originFrame?: boolean; altSvc?: boolean; optionsStar?: boolean }): Promise<Running> {
  const contexts = new Map(['a.example', 'b.example'].map((n) => [n, createSecureContext({ key: ids[n]!.keyPem, cert: ids[n]!.chainPem })]));
  const { server, extension } = await createSecondaryCertServer({
    key: ids['a.example']!.keyPem,
    cert: ids['a.example']!.chainPem,
    minVersion: 'TLSv1.3',
    SNICallback: (name, cb) => cb(null, contexts.get(name)),
    identities: [{ chain: ids['b.example']!.chainDer, key: ids['b.example']!.keyPkcs8Der }],
    sendOnConnect: false,
  });
  const answers: OptionsStarAnswer[] = [];
  if (o.optionsStar ?? true) installOptionsStar(server, { extension }).on('answer', (a: OptionsStarAnswer) => answers.push(a));
  let port = 0;
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.on('error', () => {});
    if (o.originFrame) session.once('remoteSettings', () => session.origin(`https://b.example:${port}`));
  });
  server.on('stream', (stream, headers) => {
    const host = String(headers[':authority']).replace(/:\d+$/, '');
    const connection = extension.connectionOf(stream.session!);
    const covered = connection?.covers(host) ?? false;
    stream.respond({ ':status': covered ? 200 : 421, ...(o.altSvc && host === 'b.example' ? { 'alt-svc': `h2="a.example:${port}"; ma=60` } : {}) });
    stream.end(covered ? `hello from ${host}` : 'misdirected');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  return {
    port,
    answers,
    url: (host) => `https://${host}:${port}/`,
    close: () =>
      new Promise((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
}

test('after an ORIGIN frame lists b.example, the agent proves it with OPTIONS * on the open connection', async () => {
  const s = await startServer({ originFrame: true });
  const prover = optionsStarProver();
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup, provers: [prover], certificateGraceMs: 0 });
  const attempts: OptionsStarAttempt<PooledConnection>[] = [];
  prover.on('attempt', (a: OptionsStarAttempt<PooledConnection>) => attempts.push(a));
  try {
    assert.equal((await agent.request(s.url('a.example'))).connectionId, 1);
    await new Promise((r) => setTimeout(r, 50)); // the ORIGIN frame follows SETTINGS
    const r = await agent.request(s.url('b.example'));
    assert.deepEqual([r.status, r.body.toString(), r.connectionId, r.reused], [200, 'hello from b.example', 1, true]);
    assert.equal(r.authority.via, 'secondary');
    assert.equal(agent.connections.length, 1);
    assert.deepEqual(attempts.map((a) => [a.hint, a.result?.outcome]), [['origin-frame', 'proven']]);
    assert.equal(s.answers.length, 1);
    // Proven once: the next request goes straight through.
    assert.equal((await agent.request(s.url('b.example'))).connectionId, 1);
    assert.equal(s.answers.length, 1);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('without the option, or without a hint, the agent opens a new connection as before', async () => {
  const s = await startServer({ originFrame: true });
  const plain = new SecondaryCertAgent({ ca: [pki.caPem], lookup, certificateGraceMs: 0 });
  try {
    await plain.request(s.url('a.example'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await plain.request(s.url('b.example'))).connectionId, 2);
    assert.equal(s.answers.length, 0);
  } finally {
    await plain.close();
    await s.close();
  }
  const s2 = await startServer({});
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup, provers: [optionsStarProver()], certificateGraceMs: 0 });
  try {
    await agent.request(s2.url('a.example'));
    assert.equal((await agent.request(s2.url('b.example'))).connectionId, 2, 'no ORIGIN frame, no Alt-Svc: no question asked');
    assert.equal(s2.answers.length, 0);
  } finally {
    await agent.close();
    await s2.close();
  }
});

test('after Alt-Svc for b.example names the open connection\'s endpoint, the agent asks it instead of reconnecting', async () => {
  const s = await startServer({ altSvc: true });
  const prover = optionsStarProver();
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup, provers: [prover], certificateGraceMs: 0 });
  const attempts: OptionsStarAttempt<PooledConnection>[] = [];
  prover.on('attempt', (a: OptionsStarAttempt<PooledConnection>) => attempts.push(a));
  try {
    assert.equal((await agent.request(s.url('a.example'))).connectionId, 1);
    const first = await agent.request(s.url('b.example'));
    assert.equal(first.connectionId, 2, 'no hint yet: a connection of its own');
    assert.equal(first.headers['alt-svc'], `h2="a.example:${s.port}"; ma=60`);
    await agent.connections.find((p) => p.id === 2)!.connection.close();
    const again = await agent.request(s.url('b.example'));
    assert.deepEqual([again.status, again.connectionId, again.reused], [200, 1, true]);
    assert.deepEqual(attempts.map((a) => [a.hint, a.result?.outcome, a.pooled.id]), [['alt-svc', 'proven', 1]]);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('a server without OPTIONS *: one attempt, then that connection is not asked again', async () => {
  const s = await startServer({ originFrame: true, optionsStar: false });
  const prover = optionsStarProver();
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup, provers: [prover], certificateGraceMs: 0 });
  const attempts: OptionsStarAttempt<PooledConnection>[] = [];
  prover.on('attempt', (a: OptionsStarAttempt<PooledConnection>) => attempts.push(a));
  try {
    await agent.request(s.url('a.example'));
    await new Promise((r) => setTimeout(r, 50));
    const r = await agent.request(s.url('b.example'));
    assert.deepEqual([r.status, r.connectionId], [200, 2]);
    assert.deepEqual(attempts.map((a) => a.result?.outcome), ['not-supported']);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('Alt-Svc parsing: h2 alternatives only, ma, clear, quoted commas, expiry', () => {
  const pool = new OptionsStarPool();
  const conn = { origin: 'https://a.example:8443', peerAddress: '192.0.2.1', originFrameSet: undefined } as never;
  const now = 1_000_000;
  pool.learnAltSvc('https://b.example', 'h3=":8443", h2="a.example:8443"; ma=10', now);
  assert.equal(pool.likelyServes(conn, 'https://b.example', now), 'alt-svc');
  assert.equal(pool.likelyServes(conn, 'https://b.example', now + 11_000), undefined, 'expired');
  pool.learnAltSvc('https://c.example', 'h2="192.0.2.1:8443"', now);
  assert.equal(pool.likelyServes(conn, 'https://c.example', now), 'alt-svc', 'by peer address');
  pool.learnAltSvc('https://c.example', 'clear', now);
  assert.equal(pool.likelyServes(conn, 'https://c.example', now), undefined);
  pool.learnAltSvc('https://d.example', 'h2="a.example:443", h2="a.example:9", h3="a.example:8443"', now);
  assert.equal(pool.likelyServes(conn, 'https://d.example', now), undefined, 'other ports, other protocols');
  pool.learnAltSvc('https://e.example', 'h2="a,b:1", garbage, h2=":8443"', now);
  assert.equal(pool.likelyServes(conn, 'https://e.example', now), undefined, 'an empty host means e.example itself');
  pool.learnAltSvc('https://a.example:8443', 'h2=":8443"', now);
  assert.equal(pool.likelyServes(conn, 'https://a.example:8443', now), 'alt-svc');
});
