// The node:crypto provider's public-key cache: a lookup is by a short fingerprint of the DER, so a
// certificate sharing that fingerprint with a cached one must still be decoded on its own.
import { test } from 'node:test';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { nodeCrypto } from '../../src/crypto/index.js';
import { TestPki } from '../../src/testing/test-pki.js';

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

test('hash and HMAC digests (taken from node:crypto as binary strings) equal node:crypto\'s Buffers byte for byte', () => {
  const every = new Uint8Array(256).map((_, i) => i);
  for (const alg of ['sha256', 'sha384', 'sha512'] as const) {
    for (let n = 0; n < 300; n += 7) {
      const data = randomBytes(n);
      const key = randomBytes((n % 130) + 1);
      const h = nodeCrypto.hash(alg, data);
      assert.ok(h instanceof Uint8Array);
      assert.deepEqual(Buffer.from(h), createHash(alg).update(data).digest());
      assert.deepEqual(Buffer.from(nodeCrypto.hmac(alg, key, data)), createHmac(alg, key).update(data).digest());
    }
    // Digests hold every byte value somewhere across these inputs; check the high half round-trips too.
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) for (const b of nodeCrypto.hash(alg, new Uint8Array([...every.subarray(0, i)]))) seen.add(b);
    assert.equal(seen.size, 256);
  }
});
