// The cap on server authenticators a client processes per connection (maxAuthenticators) lives in the part
// HTTP/2 and HTTP/3 share (src/http/certificate-receiver.ts); the hostile HTTP/2 cases are in
// test/h2/hostile-client.test.ts. Here: the same cap over HTTP/3, set through the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultCrypto } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { createH3SecondaryCertServer } from '../../src/h3/server.js';
import type { CertificateEvent } from '../../src/pki/accept-chain.js';
import { SecondaryCertAgent } from '../../src/pool/agent.js';
import { TestPki } from '../../src/testing/test-pki.js';

test('over HTTP/3, an agent with maxAuthenticators 2 validates 2 of the server\'s 3 SERVER_CERTIFICATE frames and reports the third once, unvalidated', async () => {
  const pki = await TestPki.create({ keyType: 'p256' });
  const [a, ...secondary] = await Promise.all(['a.example', 'b.example', 'c.example', 'd.example'].map((n) => pki.issue({ dnsNames: [n], keyType: 'p256' })));
  const server = await createH3SecondaryCertServer(
    { cert: a!.chainPem, key: a!.keyPem, identities: secondary.map((id) => ({ chain: id.chainPem, key: id.keyPem })) },
    async (req, res) => res.end(200, {}, `hi ${req.authority}`),
  );
  let verifies = 0;
  const crypto: CryptoProvider = { ...defaultCrypto(), verify: (...args) => (verifies++, defaultCrypto().verify(...args)) };
  const agent = new SecondaryCertAgent({ protocol: 'h3', ca: [pki.caPem], lookup: async () => ['127.0.0.1'], crypto, maxAuthenticators: 2 });
  const events: CertificateEvent[] = [];
  const limited = new Promise<void>((resolve) =>
    agent.on('certificate', (_pooled, e) => {
      events.push(e);
      if (e.reason?.startsWith('ERR_TOO_MANY_AUTHENTICATORS: ')) resolve();
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    assert.equal((await agent.request(`https://a.example:${server.port}/`)).status, 200);
    await Promise.race([limited, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no limit event within 10 s')), 10_000)))]);
    const connection = agent.connections[0]!.connection;
    await connection.settled();
    assert.equal(verifies, 2);
    assert.deepEqual(events.slice(0, 2), [
      { names: ['b.example'], accepted: true },
      { names: ['c.example'], accepted: true },
    ]);
    assert.equal(events.length, 3);
    assert.deepEqual(events[2]!.names, []);
    assert.equal(events[2]!.accepted, false);
    assert.equal(connection.certificates.length, 2);
    assert.equal((await agent.request(`https://b.example:${server.port}/`)).reused, true);
  } finally {
    clearTimeout(timer);
    await agent.close();
    await server.close();
  }
});
