// Certificate acceptance, apart from RFC 9261: chains to trust anchors, dates, CA constraints, key usage,
// EKU per role, names, and malformed input. Each refusal has its own code.
import 'reflect-metadata';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import * as fc from 'fast-check';
import { CertificatePolicy, type CertificatePolicyOptions } from '../../src/pki/policy.js';
import { CertificateRejected } from '../../src/errors.js';
import { TestPki } from '../../src/testing/test-pki.js';

let pki: TestPki;
let other: TestPki;
let sameName: TestPki;
before(async () => {
  pki = await TestPki.create();
  other = await TestPki.create({ commonName: 'another CA' });
  sameName = await TestPki.create(); // the same default subject as `pki`, another key
});

const policy = (options: Partial<CertificatePolicyOptions> = {}) => new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'server', ...options });
const day = 864e5;

test('a chain to the anchor is accepted, directly and through an intermediate', async () => {
  for (const viaIntermediate of [false, true]) {
    const id = await pki.issue({ dnsNames: ['b.example'], ipAddresses: ['127.0.0.1'], viaIntermediate });
    const accepted = await policy().check(id.chainDer);
    assert.deepEqual(accepted.dnsNames, ['b.example']);
    assert.deepEqual(accepted.ipAddresses, ['127.0.0.1']);
    assert.deepEqual(accepted.chain, [...id.chainDer, pki.caDer]);
    assert.equal(accepted.leaf.subject, 'CN=b.example');
    assert.equal(accepted.covers('b.example'), true);
    assert.equal(accepted.covers('127.0.0.1'), true);
    assert.equal(accepted.covers('c.example'), false);
  }
});

test('anchors as DER or PEM bundles; a sent root, a pinned leaf and trailing extras are fine', async () => {
  const id = await pki.issue({ dnsNames: ['b.example'], viaIntermediate: true });
  await new CertificatePolicy({ trustAnchors: [pki.caDer], role: 'server' }).check(id.chainDer);
  await new CertificatePolicy({ trustAnchors: [other.caPem + pki.caPem], role: 'server' }).check(id.chainDer);
  // The sender appends the root: the path ends at it, not after it.
  assert.equal((await policy().check([...id.chainDer, pki.caDer])).chain.length, 3);
  // Certificates after the point where the anchor is reached are ignored.
  assert.equal((await policy().check([...id.chainDer, other.caDer])).chain.length, 3);
  // A leaf that is itself a trust anchor (pinned) is a path of one.
  const pinned = await new CertificatePolicy({ trustAnchors: [id.certDer], role: 'server' }).check([id.certDer]);
  assert.equal(pinned.chain.length, 1);
});

test('every kind of key the project supports is accepted, as leaf and as CA', async () => {
  for (const keyType of ['ed25519', 'p256', 'p384', 'rsa2048'] as const) {
    const id = await pki.issue({ dnsNames: ['k.example'], keyType });
    await policy().check(id.chainDer);
  }
  for (const keyType of ['ed25519', 'p384', 'rsa2048'] as const) {
    const ca = await TestPki.create({ keyType });
    const id = await ca.issue({ dnsNames: ['k.example'], viaIntermediate: true });
    await new CertificatePolicy({ trustAnchors: [ca.caPem], role: 'server' }).check(id.chainDer);
  }
});

test('expired and not yet valid certificates are refused with their own codes', async () => {
  const expired = await pki.issue({ dnsNames: ['b.example'], notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
  await assert.rejects(policy().check(expired.chainDer), { code: 'ERR_CERT_EXPIRED' });
  const future = await pki.issue({ dnsNames: ['b.example'], notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 3 * day) });
  await assert.rejects(policy().check(future.chainDer), { code: 'ERR_CERT_NOT_YET_VALID' });
  // The clock is injectable: the same certificate is fine two days from now.
  await policy({ now: () => new Date(Date.now() + 2 * day) }).check(future.chainDer);
  // The intermediate's dates count too (it is valid for 30 days, the leaf here for 60).
  const long = await pki.issue({ dnsNames: ['b.example'], viaIntermediate: true, notAfter: new Date(Date.now() + 60 * day) });
  await assert.rejects(policy({ now: () => new Date(Date.now() + 45 * day) }).check(long.chainDer), { code: 'ERR_CERT_EXPIRED', message: /certificate 1/ });
});

test('a certificate from another CA is untrusted, even when that CA has the same name', async () => {
  const id = await other.issue({ dnsNames: ['b.example'] });
  await assert.rejects(policy().check(id.chainDer), { code: 'ERR_CERT_UNTRUSTED' });
  // The key identifiers tell the two CAs apart, so this is untrusted rather than a bad signature.
  const lookalike = await sameName.issue({ dnsNames: ['b.example'] });
  await assert.rejects(policy().check(lookalike.chainDer), { code: 'ERR_CERT_UNTRUSTED' });
  // Sending the other root along does not help.
  await assert.rejects(policy().check([...id.chainDer, other.caDer]), { code: 'ERR_CERT_UNTRUSTED' });
  await assert.rejects(policy().check([]), { code: 'ERR_CERT_UNTRUSTED' });
});

test('a signature that does not verify is ERR_CERT_BAD_SIGNATURE', async () => {
  for (const viaIntermediate of [false, true]) {
    const id = await pki.issue({ dnsNames: ['b.example'], viaIntermediate });
    // The signature BIT STRING ends the certificate: flipping its last byte keeps the DER well formed.
    const tampered = id.certDer.slice();
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0x01;
    await assert.rejects(policy().check([tampered, ...id.chainDer.slice(1)]), { code: 'ERR_CERT_BAD_SIGNATURE' });
  }
});

test('an intermediate that is not a CA cannot issue', async () => {
  const id = await pki.issue({ dnsNames: ['b.example'], viaIntermediate: true, intermediateIsCa: false });
  await assert.rejects(policy().check(id.chainDer), { code: 'ERR_CERT_NOT_CA' });
});

test('the EKU must fit the role: a client certificate is no server certificate, and the reverse', async () => {
  const clientPolicy = policy({ role: 'client' });
  const client = await pki.issue({ dnsNames: ['b.example'], role: 'client' });
  await assert.rejects(policy().check(client.chainDer), { code: 'ERR_CERT_EKU' });
  await clientPolicy.check(client.chainDer);
  const server = await pki.issue({ dnsNames: ['b.example'] });
  await assert.rejects(clientPolicy.check(server.chainDer), { code: 'ERR_CERT_EKU' });
  // Both purposes, anyExtendedKeyUsage, or no EKU extension at all fit either role.
  for (const options of [{ role: 'both' as const }, { ekuOids: ['2.5.29.37.0'] }, { ekuOids: [] }]) {
    const id = await pki.issue({ dnsNames: ['b.example'], ...options });
    await policy().check(id.chainDer);
    await clientPolicy.check(id.chainDer);
  }
  const emailOnly = await pki.issue({ dnsNames: ['b.example'], ekuOids: ['1.3.6.1.5.5.7.3.4'] });
  await assert.rejects(policy().check(emailOnly.chainDer), { code: 'ERR_CERT_EKU' });
});

test('a server certificate needs a dNSName or iPAddress; the subject CN never counts', async () => {
  const nameless = await pki.issue({ commonName: 'b.example' });
  await assert.rejects(policy().check(nameless.chainDer), { code: 'ERR_CERT_NO_NAME' });
  // Client certificates often carry no names: that is fine for the client role.
  const client = await pki.issue({ role: 'client', commonName: 'someone' });
  await policy({ role: 'client' }).check(client.chainDer);
  const id = await pki.issue({ dnsNames: ['c.example'], commonName: 'b.example' });
  const accepted = await policy().check(id.chainDer);
  assert.equal(accepted.covers('b.example'), false);
  assert.equal(accepted.covers('c.example'), true);
});

test('a chain longer than maxChainLength is ERR_CERT_PATH_LENGTH', async () => {
  const id = await pki.issue({ dnsNames: ['b.example'], viaIntermediate: true });
  await assert.rejects(policy({ maxChainLength: 1 }).check(id.chainDer), { code: 'ERR_CERT_PATH_LENGTH' });
  await policy({ maxChainLength: 2 }).check(id.chainDer);
  const tooMany = Array.from({ length: 9 }, () => id.certDer);
  await assert.rejects(policy().check(tooMany), { code: 'ERR_CERT_PATH_LENGTH' });
  assert.throws(() => policy({ maxChainLength: 0 }), RangeError);
});

// ---- CA constraints that TestPki cannot express: certificates made here with @peculiar/x509 directly ----

x509.cryptoProvider.set(webcrypto);
const SIGN = { name: 'ECDSA', hash: 'SHA-256' };
type Keys = webcrypto.CryptoKeyPair;
interface Made {
  der: Uint8Array;
  cert: x509.X509Certificate;
  keys: Keys;
}

const newKeys = async () => (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as Keys;
let serial = 1;

/** A certificate for `cn`, signed by `issuer` (self-signed without one), with exactly the extensions given. */
async function make(cn: string, issuer: Made | undefined, extensions: x509.Extension[]): Promise<Made> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject: [{ CN: [cn] }],
    issuer: issuer ? issuer.cert.subjectName : [{ CN: [cn] }],
    notBefore: new Date(Date.now() - day),
    notAfter: new Date(Date.now() + day),
    publicKey: keys.publicKey,
    signingKey: (issuer ?? { keys }).keys.privateKey,
    signingAlgorithm: SIGN,
    extensions,
  });
  return { der: new Uint8Array(cert.rawData), cert, keys };
}

const caExtensions = (pathLength?: number, usages = x509.KeyUsageFlags.keyCertSign) => [
  new x509.BasicConstraintsExtension(true, pathLength, true),
  new x509.KeyUsagesExtension(usages, true),
];
const leafExtensions = (usages = x509.KeyUsageFlags.digitalSignature) => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(usages, true),
  new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'b.example' }]),
];

test('keyUsage: an issuer without keyCertSign, a leaf without digitalSignature', async () => {
  const root = await make('root', undefined, caExtensions());
  const rootPolicy = new CertificatePolicy({ trustAnchors: [root.der], role: 'server' });
  const noCertSign = await make('intermediate', root, caExtensions(undefined, x509.KeyUsageFlags.cRLSign));
  const leaf = await make('leaf', noCertSign, leafExtensions());
  await assert.rejects(rootPolicy.check([leaf.der, noCertSign.der]), { code: 'ERR_CERT_KEY_USAGE' });
  const encipherOnly = await make('leaf', root, leafExtensions(x509.KeyUsageFlags.keyEncipherment));
  await assert.rejects(rootPolicy.check([encipherOnly.der]), { code: 'ERR_CERT_KEY_USAGE' });
  // No keyUsage extension at all leaves the key unrestricted.
  const unrestricted = await make('leaf', root, [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'b.example' }])]);
  await rootPolicy.check([unrestricted.der]);
});

test('basicConstraints pathLenConstraint counts the intermediates below a CA', async () => {
  const root = await make('root', undefined, caExtensions(1));
  const rootPolicy = new CertificatePolicy({ trustAnchors: [root.der], role: 'server' });
  const a = await make('intermediate a', root, caExtensions(0));
  const b = await make('intermediate b', a, caExtensions());
  const leafOfB = await make('leaf', b, leafExtensions());
  await assert.rejects(rootPolicy.check([leafOfB.der, b.der, a.der]), { code: 'ERR_CERT_PATH_LENGTH', message: /intermediate a/ });
  const leafOfA = await make('leaf', a, leafExtensions());
  await rootPolicy.check([leafOfA.der, a.der]);
  // A CA with no basicConstraints at all is no CA.
  const bare = await make('bare', root, []);
  const leafOfBare = await make('leaf', bare, leafExtensions());
  await assert.rejects(rootPolicy.check([leafOfBare.der, bare.der]), { code: 'ERR_CERT_NOT_CA' });
});

test('a critical extension the policy does not process is refused', async () => {
  const root = await make('root', undefined, caExtensions());
  const unknownCritical = new x509.Extension('1.3.6.1.4.1.55555.1', true, new Uint8Array([0x05, 0x00]));
  const leaf = await make('leaf', root, [...leafExtensions(), unknownCritical]);
  await assert.rejects(new CertificatePolicy({ trustAnchors: [root.der], role: 'server' }).check([leaf.der]), { code: 'ERR_CERT_CRITICAL_EXTENSION' });
  // The same extension, not critical, is ignored.
  const relaxed = await make('leaf', root, [...leafExtensions(), new x509.Extension('1.3.6.1.4.1.55555.1', false, new Uint8Array([0x05, 0x00]))]);
  await new CertificatePolicy({ trustAnchors: [root.der], role: 'server' }).check([relaxed.der]);
});

// ---- malformed input ----

test('garbage DER is ERR_CERT_MALFORMED: empty, truncated, trailing bytes, a wrong tag, junk inside', async () => {
  const id = await pki.issue({ dnsNames: ['b.example'] });
  const der = id.certDer;
  const withTrailing = new Uint8Array([...der, 0x00]);
  const junkInside = new Uint8Array(der.length);
  junkInside.set(der.subarray(0, 4)); // a SEQUENCE header of the right length around zero bytes
  const wrongTag = der.slice();
  wrongTag[0] = 0x31;
  for (const bad of [new Uint8Array(0), new Uint8Array([0x30, 0x03, 0x02, 0x01]), der.subarray(0, der.length - 1), der.subarray(0, 100), withTrailing, wrongTag, junkInside]) {
    await assert.rejects(policy().check([bad]), { code: 'ERR_CERT_MALFORMED' });
  }
  // A good leaf followed by garbage: the garbage is refused before any path is built.
  await assert.rejects(policy().check([der, new Uint8Array([1, 2, 3])]), { code: 'ERR_CERT_MALFORMED' });
  // Wrong argument types are API misuse, not peer input.
  await assert.rejects(policy().check('x' as unknown as Uint8Array[]), TypeError);
  assert.throws(() => new CertificatePolicy({ trustAnchors: [new Uint8Array([1, 2, 3])], role: 'server' }), TypeError);
  assert.throws(() => new CertificatePolicy({ trustAnchors: ['no PEM here'], role: 'server' }), TypeError);
  assert.throws(() => new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'peer' as 'server' }), TypeError);
});

test('property: random bytes and one-byte changes to a real chain accept or reject with CertificateRejected only', async () => {
  const id = await pki.issue({ dnsNames: ['b.example'], viaIntermediate: true });
  const check = policy();
  const outcome = async (chain: Uint8Array[]) => {
    try {
      await check.check(chain);
      return 'accepted';
    } catch (e) {
      if (!(e instanceof CertificateRejected)) throw e;
      return e.code;
    }
  };
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      assert.notEqual(await outcome([bytes]), 'accepted');
    }),
    { numRuns: 200 },
  );
  const codes = new Set<string>();
  await fc.assert(
    fc.asyncProperty(fc.nat(1), fc.nat(), fc.integer({ min: 1, max: 255 }), async (which, position, xor) => {
      const chain = id.chainDer.map((d) => d.slice());
      const target = chain[which]!;
      const at = position % target.length;
      target[at] = target[at]! ^ xor;
      codes.add(await outcome(chain));
    }),
    { numRuns: 300 },
  );
  // Changes land in signatures, dates, names and lengths alike: more than one kind of refusal shows up.
  assert.ok(codes.size > 1, [...codes].join(', '));
});
