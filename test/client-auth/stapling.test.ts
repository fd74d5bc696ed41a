// A client certificate with a stapled OCSP response, over real TLS and node:http2 with both client-certificate
// flows: the client staples only when the server's request asks (status_request), the server's policy
// judges it (accepted, revoked: 403), and the outcome reaches the identity and the Client-Cert forwarding.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { SecondaryCertAgent } from '../../src/pool/agent.js';
import { ClientCertificates } from '../../src/flows/client-auth/credentials.js';
import { ClientAuthClient } from '../../src/flows/client-auth/client.js';
import type { ClientIdentity } from '../../src/flows/client-auth/server.js';
import { identityFromAuthenticator } from '../../src/flows/client-cert-field/forward.js';
import { CertificatePolicy } from '../../src/pki/policy.js';
import { identity, lookup, pkis, startServer, type Pkis } from './helpers.js';

let p: Pkis;
before(async () => {
  p = await pkis();
});

function agentStapling(ocspResponse: Uint8Array): SecondaryCertAgent {
  const certificates = new ClientCertificates(() => ({ ...identity(p.ids['alice']!), ocspResponse }));
  return new SecondaryCertAgent({ ca: [p.pki.caPem], lookup, extensions: [new ClientAuthClient({ certificates })] });
}

for (const flow of ['secondary-certs-06', 'secondary-client-certs'] as const) {
  test(`${flow}: a request asking for status_request gets the client's OCSP response, and a policy requiring OCSP accepts it`, async () => {
    const s = await startServer({ flows: [flow], request: { statusRequest: true }, stapling: { ocsp: 'require' } });
    const identities: ClientIdentity[] = [];
    s.clientAuth.on('identity', (id) => identities.push(id));
    const agent = agentStapling(p.pki.ocspResponse(p.ids['alice']!));
    try {
      const r = await agent.request(s.url('/protected'));
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(identities[0]?.certificate.ocsp?.status, 'good');
    } finally {
      await agent.close();
      await s.close();
    }
  });

  test(`${flow}: a revoked client certificate is refused with 403 ERR_CERT_REVOKED`, async () => {
    const s = await startServer({ flows: [flow], request: { statusRequest: true }, stapling: { ocsp: 'require' } });
    const agent = agentStapling(p.pki.ocspResponse(p.ids['alice']!, { status: 'revoked' }));
    try {
      const r = await agent.request(s.url('/protected'));
      assert.equal(r.status, 403);
      assert.match(r.body.toString(), /refused \(rejected\): ERR_CERT_REVOKED/);
    } finally {
      await agent.close();
      await s.close();
    }
  });
}

test('a request that does not ask for status_request gets no staple (the client holds one): reported absent, not an unsolicited extension', async () => {
  const s = await startServer({ stapling: { ocsp: 'report' } });
  const identities: ClientIdentity[] = [];
  s.clientAuth.on('identity', (id) => identities.push(id));
  const agent = agentStapling(p.pki.ocspResponse(p.ids['alice']!));
  try {
    const r = await agent.request(s.url('/protected'));
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(identities[0]?.certificate.ocsp, { status: 'absent' });
  } finally {
    await agent.close();
    await s.close();
  }
});

test('identityFromAuthenticator judges the stapled OCSP response of the leaf entry and reports it with the forwarded identity', async () => {
  const alice = p.ids['alice']!;
  const policy = new CertificatePolicy({ trustAnchors: [p.pki.caPem], role: 'client', ocsp: 'report' });
  const entries = [{ certData: alice.certDer, extensions: [{ type: 5, data: new Uint8Array([1, ...u24(p.pki.ocspResponse(alice, { status: 'revoked' }))]) }] }];
  const forwarded = await identityFromAuthenticator({ chain: alice.chainDer, entries }, policy);
  assert.equal(forwarded.ocsp?.status === 'failed' && forwarded.ocsp.code, 'ERR_CERT_REVOKED');
  const strict = new CertificatePolicy({ trustAnchors: [p.pki.caPem], role: 'client', ocsp: 'require' });
  await assert.rejects(identityFromAuthenticator({ chain: alice.chainDer, entries }, strict), { code: 'ERR_CERT_REVOKED' });
});

function u24(b: Uint8Array): number[] {
  return [b.length >> 16, (b.length >> 8) & 0xff, b.length & 0xff, ...b];
}
