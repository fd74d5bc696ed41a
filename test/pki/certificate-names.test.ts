// The one host rule on real certificates (issued by the test CA): the subjectAltName read from the DER,
// matched by names.ts; the subject CN never counts; DER bytes and X509Certificate objects agree.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { TestPki } from '../../src/testing/test-pki.js';
import { certificateCovers, serverNameMismatch, subjectNameList, subjectNamesOf } from '../../src/pki/certificate-names.js';
import { CertificatePolicy } from '../../src/pki/policy.js';

let pki: TestPki;
before(async () => {
  pki = await TestPki.create();
});

test('a certificate with only a subject CN covers no host, not even its CN', async () => {
  const id = await pki.issue({ commonName: 'a.example' });
  for (const cert of [id.certDer, new X509Certificate(id.certDer)]) {
    assert.deepEqual(subjectNamesOf(cert), { dnsNames: [], ipAddresses: [] });
    assert.equal(certificateCovers(cert, 'a.example'), false);
  }
  assert.equal(serverNameMismatch(id.certDer, 'a.example')?.code, 'ERR_CERT_NAME_MISMATCH');
});

test('subjectAltName entries decide, by the rules of names.ts, for DER bytes and X509Certificate alike', async () => {
  const id = await pki.issue({ dnsNames: ['*.b.example', 'a.example'], ipAddresses: ['127.0.0.1', '2001:db8::1'], commonName: 'c.example' });
  const hosts: [string, boolean][] = [
    ['a.example', true],
    ['A.EXAMPLE.', true],
    ['x.b.example', true],
    ['b.example', false],
    ['x.y.b.example', false],
    ['c.example', false],
    ['127.0.0.1', true],
    ['[2001:db8:0::1]', true],
    ['2001:db8::2', false],
    ['127.1', false],
  ];
  for (const cert of [id.certDer, new X509Certificate(id.certDer)]) {
    for (const [host, covered] of hosts) assert.equal(certificateCovers(cert, host), covered, host);
  }
  assert.equal(serverNameMismatch(id.certDer, 'x.b.example'), undefined);
  assert.deepEqual(subjectNameList(id.certDer), ['*.b.example', 'a.example', '127.0.0.1', '2001:db8::1']);
});

test('the names are the ones the certificate policy reads', async () => {
  const id = await pki.issue({ dnsNames: ['a.example'], ipAddresses: ['::1'] });
  const accepted = await new CertificatePolicy({ trustAnchors: [pki.caDer], role: 'server' }).check(id.chainDer);
  assert.deepEqual(subjectNamesOf(id.certDer), { dnsNames: accepted.dnsNames, ipAddresses: accepted.ipAddresses });
});

test('bytes that are no certificate cover nothing and do not throw', () => {
  for (const bytes of [new Uint8Array(0), new Uint8Array([0x30, 0x03, 0x30, 0x01]), new Uint8Array(64).fill(0x30)]) {
    assert.equal(certificateCovers(bytes, 'a.example'), false);
  }
  assert.equal(certificateCovers(undefined, 'a.example'), false);
});
