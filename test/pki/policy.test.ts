// Certificate acceptance, apart from RFC 9261: chains to trust anchors, dates, CA constraints, EKU, and
// which hosts a leaf covers.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { CertificatePolicy } from '../../src/pki/policy.js';
import { hostCoveredBy, originCoveredBy } from '../../src/pki/names.js';
import { TestPki } from '../../src/pki/test-pki.js';

let pki: TestPki;
let other: TestPki;
before(async () => {
  pki = await TestPki.create();
  other = await TestPki.create({ commonName: 'another CA' });
});

const serverPolicy = () => new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'server' });
const day = 864e5;

test('a chain to the anchor is accepted, directly and through an intermediate', async () => {
  for (const viaIntermediate of [false, true]) {
    const id = await pki.issue({ dnsNames: ['b.example'], viaIntermediate });
    const accepted = await serverPolicy().check(id.chainDer);
    assert.deepEqual(accepted.dnsNames, ['b.example']);
    assert.equal(accepted.chain.length, viaIntermediate ? 3 : 2);
    assert.equal(accepted.covers('b.example'), true);
    assert.equal(accepted.covers('c.example'), false);
  }
});

test('every kind of key the project supports is accepted', async () => {
  for (const keyType of ['ed25519', 'p256', 'p384', 'rsa2048'] as const) {
    const id = await pki.issue({ dnsNames: ['k.example'], keyType });
    await serverPolicy().check(id.chainDer);
  }
});

test('expired and not yet valid certificates are refused with their own codes', async () => {
  const expired = await pki.issue({ dnsNames: ['b.example'], notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
  await assert.rejects(serverPolicy().check(expired.chainDer), { code: 'ERR_CERT_EXPIRED' });
  const future = await pki.issue({ dnsNames: ['b.example'], notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 3 * day) });
  await assert.rejects(serverPolicy().check(future.chainDer), { code: 'ERR_CERT_NOT_YET_VALID' });
  // The clock is injectable: the same certificate is fine two days from now.
  await new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'server', now: () => new Date(Date.now() + 2 * day) }).check(future.chainDer);
});

test('a certificate from another issuer is untrusted', async () => {
  const id = await other.issue({ dnsNames: ['b.example'] });
  await assert.rejects(serverPolicy().check(id.chainDer), { code: 'ERR_CERT_UNTRUSTED' });
});

test('an intermediate that is not a CA cannot issue', async () => {
  const id = await pki.issue({ dnsNames: ['b.example'], viaIntermediate: true, intermediateIsCa: false });
  await assert.rejects(serverPolicy().check(id.chainDer), { code: 'ERR_CERT_NOT_CA' });
});

test('the EKU must fit the role: a client certificate is no server certificate, and the reverse', async () => {
  const client = await pki.issue({ dnsNames: ['b.example'], role: 'client' });
  await assert.rejects(serverPolicy().check(client.chainDer), { code: 'ERR_CERT_EKU' });
  await new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'client' }).check(client.chainDer);
  const server = await pki.issue({ dnsNames: ['b.example'] });
  await assert.rejects(new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'client' }).check(server.chainDer), { code: 'ERR_CERT_EKU' });
});

test('garbage DER is ERR_CERT_MALFORMED; a chain longer than the limit is ERR_CERT_PATH_LENGTH', async () => {
  await assert.rejects(serverPolicy().check([new Uint8Array([0x30, 0x03, 0x02, 0x01])]), { code: 'ERR_CERT_MALFORMED' });
  const id = await pki.issue({ dnsNames: ['b.example'], viaIntermediate: true });
  await assert.rejects(new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'server', maxChainLength: 1 }).check(id.chainDer), { code: 'ERR_CERT_PATH_LENGTH' });
});

test('wildcards: *.example.com covers a.example.com, not example.com, a.b.example.com or partial labels', () => {
  const names = { dnsNames: ['*.example.com'], ipAddresses: [] };
  assert.equal(hostCoveredBy('a.example.com', names), true);
  assert.equal(hostCoveredBy('A.Example.COM', names), true);
  assert.equal(hostCoveredBy('a.example.com.', names), true);
  assert.equal(hostCoveredBy('example.com', names), false);
  assert.equal(hostCoveredBy('a.b.example.com', names), false);
  assert.equal(hostCoveredBy('a.example.org', names), false);
  assert.equal(hostCoveredBy('a.example.com', { dnsNames: ['a*.example.com'], ipAddresses: [] }), false);
  assert.equal(hostCoveredBy('a.com', { dnsNames: ['*.com'], ipAddresses: [] }), false);
});

test('IP literals match iPAddress entries only; origins carry ports', () => {
  const names = { dnsNames: ['127.0.0.1', 'b.example'], ipAddresses: ['10.0.0.1', '2001:db8::1'] };
  assert.equal(hostCoveredBy('10.0.0.1', names), true);
  assert.equal(hostCoveredBy('127.0.0.1', names), false);
  assert.equal(hostCoveredBy('[2001:db8:0::1]', names), true);
  assert.equal(originCoveredBy('https://b.example:8443', names), true);
  assert.equal(originCoveredBy('https://[2001:db8::1]:8443', names), true);
});

test('a random host string never throws', () => {
  const names = { dnsNames: ['*.example.com', 'b.example'], ipAddresses: ['::1'] };
  fc.assert(fc.property(fc.string({ maxLength: 80 }), (host) => typeof hostCoveredBy(host, names) === 'boolean'), { numRuns: 500 });
});
