// The node:crypto provider's public-key cache: a lookup is by a short fingerprint of the DER, so a
// certificate sharing that fingerprint with a cached one must still be decoded on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCrypto } from '../../src/crypto/index.js';
import { TestPki } from '../../src/pki/test-pki.js';

test('a cached public key is returned only for the very same certificate bytes', async () => {
  const pki = await TestPki.create();
  const ed = (await pki.issue({ dnsNames: ['a.example'], keyType: 'ed25519' })).chainDer[0]!;
  const first = await nodeCrypto.publicKeyFromCertificate(ed);
  assert.equal(first.type, 'ed25519');
  // An equal copy in another buffer hits the cache.
  assert.equal(await nodeCrypto.publicKeyFromCertificate(new Uint8Array(ed)), first);
  // Same length and same last bytes, a different first byte: not the cached certificate, and not DER.
  const altered = new Uint8Array(ed);
  altered[0] = 0x31;
  await assert.rejects(nodeCrypto.publicKeyFromCertificate(altered), { code: 'ERR_MALFORMED' });
  // The cache holds its own copy: changing the caller's bytes afterwards changes nothing.
  const mine = new Uint8Array(ed);
  const k = await nodeCrypto.publicKeyFromCertificate(mine);
  mine.fill(0);
  assert.equal(await nodeCrypto.publicKeyFromCertificate(ed), k);
});
