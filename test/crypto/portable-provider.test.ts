// The portable provider reads a certificate's key with the project's own DER reader: no @peculiar/x509,
// no reflect-metadata, no Buffer, no node: module, so it can run where Node's built-ins do not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCrypto, portableCrypto } from '../../src/crypto/index.js';
import { TestPki } from '../../src/testing/test-pki.js';

test('the portable provider reads the same key type and RSA size as node:crypto for every key type', async () => {
  const pki = await TestPki.create();
  for (const keyType of ['ed25519', 'p256', 'p384', 'rsa2048'] as const) {
    const leaf = (await pki.issue({ dnsNames: ['a.example'], keyType })).chainDer[0]!;
    const portable = await portableCrypto.publicKeyFromCertificate(leaf);
    const native = await nodeCrypto.publicKeyFromCertificate(leaf);
    assert.equal(portable.type, native.type, keyType);
    assert.equal(portable.bits, native.bits, keyType);
  }
});

test('a certificate that does not decode, or whose point is off the curve, is ERR_MALFORMED; an unknown curve is ERR_UNSUPPORTED_KEY', async () => {
  const pki = await TestPki.create();
  const leaf = (await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' })).chainDer[0]!;
  await assert.rejects(portableCrypto.publicKeyFromCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01])), { code: 'ERR_MALFORMED' });
  await assert.rejects(portableCrypto.publicKeyFromCertificate(leaf.subarray(0, leaf.length - 20)), { code: 'ERR_MALFORMED' });
  // The SPKI's point is the last 65 bytes before the extensions; find it after the P-256 curve OID.
  const curveOid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
  const at = indexOf(leaf, curveOid);
  assert.ok(at > 0);
  const offCurve = new Uint8Array(leaf);
  // BIT STRING header (03 42 00), then 0x04 and X: change a byte of X.
  offCurve[at + curveOid.length + 3 + 1 + 5]! ^= 0x01;
  await assert.rejects(portableCrypto.publicKeyFromCertificate(offCurve), { code: 'ERR_MALFORMED' });
  const otherCurve = new Uint8Array(leaf);
  otherCurve[at + curveOid.length - 1] = 0x06; // 1.2.840.10045.3.1.6, a curve nobody supports
  await assert.rejects(portableCrypto.publicKeyFromCertificate(otherCurve), { code: 'ERR_UNSUPPORTED_KEY' });
});

test('the portable provider and what it imports use no node: module, no Buffer and no reflect-metadata', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const start = resolve(here, '../../src/crypto/portable.js');
  const seen = new Set<string>();
  const offending: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s*|import\s*\(?\s*)['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (spec.startsWith('node:') || spec === 'reflect-metadata' || spec.startsWith('@peculiar/')) offending.push(`${file}: ${spec}`);
    }
    if (/\bBuffer\b/.test(text.replace(/\/\/.*$/gm, ''))) offending.push(`${file}: Buffer`);
  };
  visit(start);
  assert.deepEqual(offending, []);
  assert.ok(seen.size > 3);
});

function indexOf(haystack: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
