// Client certificates asked for by the server at the HTTP layer, end to end over real TLS on loopback and
// real node:http2 sessions through the splicer, with this library on both sides: the -06 flow
// (CERTIFICATE_NEEDED / CERTIFICATE / USE_CERTIFICATE, per request) and the rosomakho flow
// (AUTHENTICATOR_REQUESTS / CLIENT_CERTIFICATE, per connection), each accepting, refusing (403 with the
// reason), declining, and switching identity after the client's cache was cleared.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { SecondaryCertAgent, type AgentResponse } from '../../src/pool/agent.js';
import { ClientCertificates, type ClientCertificateQuestion } from '../../src/flows/client-auth/credentials.js';
import type { ClientCertificateAnswer } from '../../src/flows/client-auth/client-flow.js';
import type { ClientAuthFlow } from '../../src/flows/client-auth/negotiation.js';
import { ClientAuthClient } from '../../src/flows/client-auth/client.js';
import type { IssuedIdentity } from '../../src/testing/test-pki.js';
import { identity, lookup, pkis, startServer, type Pkis } from './helpers.js';

let p: Pkis;
before(async () => {
  p = await pkis();
});

interface Summary {
  subject: string;
  flow: string;
  certId: number | null;
  origin: string;
  chainLength: number;
  sameAsLookup: boolean;
  sameConnection: boolean;
}

const summary = (r: AgentResponse): Summary => JSON.parse(r.body.toString()) as Summary;

/** A chooser that answers with whatever `pick` says now, and records every question. */
function chooser(pick: () => IssuedIdentity | null): { certificates: ClientCertificates; questions: ClientCertificateQuestion[] } {
  const questions: ClientCertificateQuestion[] = [];
  const certificates = new ClientCertificates((q) => {
    questions.push(q);
    const id = pick();
    return id ? identity(id) : null;
  });
  return { certificates, questions };
}

function agentWith(certificates: ClientCertificates, flows?: ClientAuthFlow[]): { agent: SecondaryCertAgent; answers: ClientCertificateAnswer[]; clientAuth: ClientAuthClient } {
  const clientAuth = new ClientAuthClient({ certificates, ...(flows ? { flows } : {}) });
  const agent = new SecondaryCertAgent({ ca: [p.pki.caPem], lookup, extensions: [clientAuth] });
  const answers: ClientCertificateAnswer[] = [];
  agent.on('connect', (pooled) => {
    clientAuth.of(pooled.connection)?.on('answer', (a: ClientCertificateAnswer) => answers.push(a));
  });
  return { agent, answers, clientAuth };
}

for (const flow of ['secondary-certs-06', 'secondary-client-certs'] as const) {
  test(`${flow}: an accepted certificate gives the handler the identity, its origin and connection`, async () => {
    const s = await startServer({ flows: [flow] });
    const { certificates, questions } = chooser(() => p.ids['bob']!);
    const { agent, answers } = agentWith(certificates);
    try {
      const first = await agent.request(s.url('/protected'));
      assert.equal(first.status, 200, first.body.toString());
      const one = summary(first);
      assert.equal(one.flow, flow);
      assert.match(one.subject, /CN=bob/);
      assert.equal(one.chainLength, 2); // bob comes through an intermediate
      assert.equal(one.origin, `https://a.example:${s.port}`);
      assert.equal(one.sameAsLookup, true);
      assert.equal(one.sameConnection, true);
      // Unprotected resources are untouched; a second protected one asks the user nothing new.
      assert.equal((await agent.request(s.url('/open'))).body.toString(), 'open');
      const second = await agent.request(s.url('/protected'));
      assert.equal(second.status, 200);
      assert.equal(second.connectionId, first.connectionId);
      assert.equal(questions.length, 1);
      assert.equal(questions[0]!.flow, flow);
      assert.equal(questions[0]!.origin, `https://a.example:${s.port}`);
      if (flow === 'secondary-certs-06') {
        // Asked per request; the second time the client names the certificate it already sent.
        assert.equal(summary(second).certId, one.certId);
        assert.deepEqual(answers.map((a) => [a.streamId !== undefined, a.reused ?? false]), [[true, false], [true, true]]);
      } else {
        // Asked once for the whole connection.
        assert.equal(answers.length, 1);
        assert.equal(summary(second).certId, null);
      }
      assert.equal(agent.connections.length, 1);
    } finally {
      await agent.close();
      await s.close();
    }
  });

  test(`${flow}: an untrusted or an expired certificate is refused with 403, and the connection stays up`, async () => {
    for (const [who, code] of [['mallory', 'ERR_CERT_UNTRUSTED'], ['expired', 'ERR_CERT_EXPIRED']] as const) {
      const s = await startServer({ flows: [flow] });
      const refusals: string[] = [];
      s.clientAuth.on('refused', (e: Error & { code: string }) => refusals.push(e.code));
      const { certificates } = chooser(() => p.ids[who]!);
      const { agent } = agentWith(certificates);
      try {
        const r = await agent.request(s.url('/protected'));
        assert.equal(r.status, 403);
        assert.match(r.body.toString(), new RegExp(`refused \\(rejected\\): ${code}`));
        assert.deepEqual(refusals, ['ERR_CLIENT_CERT_REFUSED']);
        const open = await agent.request(s.url('/open'));
        assert.equal(open.status, 200);
        assert.equal(open.connectionId, r.connectionId);
        assert.deepEqual(s.goaways, []);
      } finally {
        await agent.close();
        await s.close();
      }
    }
  });

  test(`${flow}: a client that declines (empty authenticator) gets 403, and is not asked again`, async () => {
    const s = await startServer({ flows: [flow] });
    const { certificates, questions } = chooser(() => null);
    const { agent, answers } = agentWith(certificates);
    try {
      for (let i = 0; i < 2; i++) {
        const r = await agent.request(s.url('/protected'));
        assert.equal(r.status, 403);
        assert.match(r.body.toString(), /refused \(declined\): the client declined to present a certificate \(empty authenticator\)/);
      }
      assert.equal(questions.length, 1);
      assert.equal(answers[0]!.declined, 'the application declined');
      // -06: the second refusal names the empty authenticator sent the first time (one Cert-ID, not one per request).
      if (flow === 'secondary-certs-06') assert.deepEqual(answers.map((a) => [a.certId, a.reused ?? false]), [[0, false], [0, true]]);
      assert.equal(agent.connections.length, 1);
    } finally {
      await agent.close();
      await s.close();
    }
  });

  test(`${flow}: clearing the cache lets the user switch identity without restarting`, async () => {
    const s = await startServer({ flows: [flow] });
    let who = 'alice';
    const { certificates, questions } = chooser(() => p.ids[who]!);
    const { agent } = agentWith(certificates);
    try {
      const first = await agent.request(s.url('/protected'));
      assert.match(summary(first).subject, /CN=alice/);
      who = 'bob';
      // Cached: still alice until the cache is cleared.
      assert.match(summary(await agent.request(s.url('/protected'))).subject, /CN=alice/);
      certificates.clear(s.url('/'));
      const switched = await agent.request(s.url('/protected'));
      assert.equal(switched.status, 200);
      assert.match(summary(switched).subject, /CN=bob/);
      if (flow === 'secondary-certs-06') {
        // Same connection, a new Cert-ID.
        assert.equal(switched.connectionId, first.connectionId);
        assert.notEqual(summary(switched).certId, summary(first).certId);
      } else {
        // The identity is the connection's: the old connection retires and a new one asks again.
        assert.notEqual(switched.connectionId, first.connectionId);
      }
      // Clearing everything works the same way.
      who = 'alice';
      certificates.clear();
      assert.match(summary(await agent.request(s.url('/protected'))).subject, /CN=alice/);
      assert.equal(questions.length, 3);
    } finally {
      await agent.close();
      await s.close();
    }
  });
}

test('secondary-certs-06: the choice is per origin, on a connection coalesced through a secondary server certificate', async () => {
  const s = await startServer({ flows: ['secondary-certs-06'] });
  const questions: ClientCertificateQuestion[] = [];
  const byOrigin = new ClientCertificates((q) => {
    questions.push(q);
    return identity(q.origin.startsWith('https://b.example') ? p.ids['bob']! : p.ids['alice']!);
  });
  const { agent } = agentWith(byOrigin);
  try {
    const a = await agent.request(s.url('/protected'));
    const b = await agent.request(s.url('/protected', 'b.example'));
    assert.equal(b.connectionId, a.connectionId, 'b.example should ride on the connection proven by SERVER_CERTIFICATE');
    assert.match(summary(a).subject, /CN=alice/);
    assert.match(summary(b).subject, /CN=bob/);
    assert.equal(summary(b).origin, `https://b.example:${s.port}`);
    assert.deepEqual(questions.map((q) => q.origin), [`https://a.example:${s.port}`, `https://b.example:${s.port}`]);
  } finally {
    await agent.close();
    await s.close();
  }
});

test('an authenticator larger than the frame size: -06 fragments it, rosomakho fits it in one larger frame', async () => {
  const big = await p.pki.issue({ role: 'client', commonName: 'big', dnsNames: Array.from({ length: 900 }, (_, i) => `name-${i}.clients.example`) });
  for (const flow of ['secondary-certs-06', 'secondary-client-certs'] as const) {
    const s = await startServer({ flows: [flow] });
    const { certificates } = chooser(() => big);
    const { agent, answers } = agentWith(certificates);
    try {
      const r = await agent.request(s.url('/protected'));
      assert.equal(r.status, 200, r.body.toString());
      assert.match(summary(r).subject, /CN=big/);
      // More than one 16 KiB frame can carry: -06 splits it over CERTIFICATE frames; for rosomakho the
      // server raised its SETTINGS_MAX_FRAME_SIZE so that one CLIENT_CERTIFICATE holds it.
      assert.ok(answers[0]!.bytes! > 16_384, `authenticator of ${answers[0]!.bytes} bytes`);
    } finally {
      await agent.close();
      await s.close();
    }
  }
});

test('a client without the feature, or a server that prefers -06 when both flows are on', async () => {
  const s = await startServer();
  const plain = new SecondaryCertAgent({ ca: [p.pki.caPem], lookup });
  const { certificates } = chooser(() => p.ids['alice']!);
  const { agent, clientAuth } = agentWith(certificates);
  try {
    const r = await plain.request(s.url('/protected'));
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /refused \(not-negotiated\)/);
    const both = await agent.request(s.url('/protected'));
    assert.equal(summary(both).flow, 'secondary-certs-06');
    const pooled = agent.connections[0]!;
    assert.ok(pooled.protocol === 'h2');
    assert.deepEqual(clientAuth.of(pooled.connection)!.negotiatedFlows, ['secondary-certs-06', 'secondary-client-certs']);
  } finally {
    await plain.close();
    await agent.close();
    await s.close();
  }
});
