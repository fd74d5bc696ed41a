// The small DER reader the certificate policy reads extensions with, and the policy's own refusals that
// rest on it: SHA-1 signatures (RSASSA-PKCS1 and RSASSA-PSS with its SHA-1 default), names shown as one line.
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { bitFlags, derTime, DerReader, oidText, smallInteger, TAG } from '../../src/codec/der.js';
import { CertificatePolicy } from '../../src/pki/policy.js';
import { MalformedMessage } from '../../src/errors.js';

x509.cryptoProvider.set(webcrypto);

test('oidText, derTime, bitFlags and smallInteger read what RFC 5280 certificates carry, and refuse the rest', () => {
  assert.equal(oidText(new Uint8Array([0x55, 0x1d, 0x11])), '2.5.29.17');
  assert.equal(oidText(new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b])), '1.2.840.113549.1.1.11');
  assert.throws(() => oidText(new Uint8Array([0x2a, 0x86])), RangeError);
  assert.throws(() => oidText(new Uint8Array(0)), RangeError);
  const time = (tag: number, s: string) => derTime({ tag, content: new Uint8Array(Buffer.from(s)), whole: new Uint8Array(0) });
  assert.equal(time(TAG.utcTime, '491231235959Z').toISOString(), '2049-12-31T23:59:59.000Z');
  assert.equal(time(TAG.utcTime, '500101000000Z').toISOString(), '1950-01-01T00:00:00.000Z');
  assert.equal(time(TAG.generalizedTime, '20500101000000Z').toISOString(), '2050-01-01T00:00:00.000Z');
  for (const bad of ['4912312359Z', '491231235959', '491231235959+0100']) assert.throws(() => time(TAG.utcTime, bad), RangeError);
  assert.throws(() => time(TAG.octetString, '491231235959Z'), RangeError);
  // keyUsage digitalSignature (bit 0) and keyCertSign (bit 5).
  assert.equal(bitFlags(new Uint8Array([0x02, 0x84])), 0b100001);
  assert.equal(bitFlags(new Uint8Array([0x07, 0x80, 0x80])), 0b1_0000_0001);
  assert.throws(() => bitFlags(new Uint8Array([0x08, 0x00])), RangeError);
  assert.throws(() => bitFlags(new Uint8Array([0x01])), RangeError);
  assert.equal(smallInteger(new Uint8Array([0x00])), 0);
  assert.equal(smallInteger(new Uint8Array([0x01, 0x00])), 256);
  assert.throws(() => smallInteger(new Uint8Array([0xff])), RangeError);
});

test('DerReader never trusts a length: short values, indefinite and over-long lengths fail with MalformedMessage', () => {
  const r = new DerReader(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05, 0x04, 0x00]), 'test');
  const seq = r.enter(TAG.sequence, 'seq');
  assert.equal(smallInteger(seq.expect(TAG.integer, 'int').content), 5);
  seq.end();
  assert.equal(r.optional(TAG.boolean, 'flag'), undefined);
  assert.equal(r.expect(TAG.octetString, 'octets').content.length, 0);
  r.end();
  for (const bytes of [[0x30, 0x05, 0x02], [0x30, 0x80, 0x00, 0x00], [0x30, 0x85, 1, 0, 0, 0, 0], [0x1f, 0x01, 0x00], [0x30]]) {
    assert.throws(() => new DerReader(new Uint8Array(bytes), 'test').next('value'), MalformedMessage);
  }
  assert.throws(() => new DerReader(new Uint8Array([0x04, 0x00]), 'test').expect(TAG.sequence, 'seq'), MalformedMessage);
});

const day = 864e5;

/** A root (self-signed) and a leaf it issued, both signed with `signingAlgorithm` and the root's key. */
async function rootAndLeaf(algorithm: webcrypto.RsaHashedKeyGenParams, signingAlgorithm: webcrypto.Algorithm & Record<string, unknown>, name = 'CN=root') {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const base = { notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + day), signingAlgorithm };
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    ...base,
    serialNumber: '01',
    name,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'root.example' }])],
  });
  const leaf = await x509.X509CertificateGenerator.create({
    ...base,
    serialNumber: '02',
    subject: 'CN=leaf',
    issuer: root.subject,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'b.example' }])],
  });
  return { root: new Uint8Array(root.rawData), leaf: new Uint8Array(leaf.rawData) };
}

const rsa = (name: string, hash: string) => ({ name, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash });

test('a certificate signed with SHA-1 is refused as ERR_CERT_BAD_SIGNATURE, PKCS#1 v1.5 and PSS alike', async () => {
  for (const [keyAlgorithm, signing] of [
    [rsa('RSASSA-PKCS1-v1_5', 'SHA-1'), { name: 'RSASSA-PKCS1-v1_5' }],
    [rsa('RSA-PSS', 'SHA-1'), { name: 'RSA-PSS', saltLength: 20 }],
  ] as const) {
    const { root, leaf } = await rootAndLeaf(keyAlgorithm, signing);
    await assert.rejects(new CertificatePolicy({ trustAnchors: [root], role: 'server' }).check([leaf]), { code: 'ERR_CERT_BAD_SIGNATURE', message: /SHA-1/ }, keyAlgorithm.name);
  }
  for (const [keyAlgorithm, signing] of [
    [rsa('RSASSA-PKCS1-v1_5', 'SHA-256'), { name: 'RSASSA-PKCS1-v1_5' }],
    [rsa('RSA-PSS', 'SHA-256'), { name: 'RSA-PSS', saltLength: 32 }],
  ] as const) {
    const { root, leaf } = await rootAndLeaf(keyAlgorithm, signing);
    await new CertificatePolicy({ trustAnchors: [root], role: 'server' }).check([leaf]);
  }
});

test('names of several attributes read as one line, in the order the certificate has them', async () => {
  const { root, leaf } = await rootAndLeaf(rsa('RSASSA-PKCS1-v1_5', 'SHA-256'), { name: 'RSASSA-PKCS1-v1_5' }, 'C=NL, O=Example, CN=root');
  const accepted = await new CertificatePolicy({ trustAnchors: [root], role: 'server' }).check([leaf]);
  assert.equal(accepted.leaf.subject, 'CN=leaf');
  assert.equal(accepted.leaf.issuer, 'C=NL, O=Example, CN=root');
  assert.equal(accepted.leaf.serialNumber, '02');
});
