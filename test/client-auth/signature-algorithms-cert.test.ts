// RFC 9261 section 5.2.1 in the client-certificate flows, end to end over real TLS and node:http2: a server
// whose requests carry signature_algorithms_cert gets, from a client whose chain does not fit it, a
// refusal (an empty authenticator, so 403) with the reason on the client's side; a chain that fits is accepted.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { SecondaryCertAgent } from '../../src/pool/agent.js';
import { ClientCertificates } from '../../src/flows/client-auth/credentials.js';
import type { ClientCertificateAnswer } from '../../src/flows/client-auth/client-flow.js';
import { ClientAuthClient } from '../../src/flows/client-auth/client.js';
import { SignatureScheme as S } from '../../src/tls/signature-scheme.js';
import { identity, lookup, pkis, startServer, type Pkis } from './helpers.js';

let p: Pkis;
before(async () => {
  p = await pkis();
});

for (const flow of ['secondary-certs-06', 'secondary-client-certs'] as const) {
  test(`${flow}: a client chain signed with a scheme the server's signature_algorithms_cert does not list is declined (403, ERR_CHAIN_SCHEME_NOT_OFFERED on the client); one that fits is accepted`, { timeout: 30_000 }, async () => {
    // The shared test CA signs with ECDSA P-256.
    for (const [offered, status] of [[[S.ed25519], 403], [[S.ecdsa_secp256r1_sha256, S.ed25519], 200]] as const) {
      const s = await startServer({ flows: [flow], request: { signatureSchemesCert: offered } });
      const clientAuth = new ClientAuthClient({ certificates: new ClientCertificates(() => identity(p.ids['alice']!)) });
      const agent = new SecondaryCertAgent({ ca: [p.pki.caPem], lookup, extensions: [clientAuth] });
      const answers: ClientCertificateAnswer[] = [];
      agent.on('connect', (pooled) => clientAuth.of(pooled.connection)?.on('answer', (a: ClientCertificateAnswer) => answers.push(a)));
      try {
        const r = await agent.request(s.url('/protected'));
        assert.equal(r.status, status, r.body.toString());
        if (status === 403) {
          assert.match(answers[0]?.declined ?? '', /ERR_CHAIN_SCHEME_NOT_OFFERED/);
          assert.deepEqual(answers[0]?.names, []);
        } else {
          assert.equal(answers[0]?.declined, undefined);
        }
      } finally {
        await agent.close();
        await s.close();
      }
    }
  });
}
