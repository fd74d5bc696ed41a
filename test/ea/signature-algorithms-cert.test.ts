// RFC 9261 section 5.2.1 (RFC 8446 section 4.4.2.2): the chain in an authenticator must suit the
// signature_algorithms_cert of the request. With the test PKI's CAs of each key type (so that chains are
// signed with ECDSA P-256, P-384, Ed25519 and RSA PKCS#1 v1.5), over the exporter of a real TLS 1.3
// connection: the builder refuses a chain that does not fit and chooses one that does; the validator
// refuses, with its own error, a chain that does not fit a signature_algorithms_cert we sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { nodeCrypto } from '../../src/crypto/index.js';
import type { Signer } from '../../src/crypto/provider.js';
import { chooseCandidate, ConnectionState, createAuthenticator, createRequest, validateAuthenticator } from '../../src/ea/index.js';
import { ChainSchemeNotOffered, NoCommonScheme } from '../../src/errors.js';
import { keysFromTlsSocket } from '../../src/exporter/tls-socket.js';
import type { AuthenticatorKeys } from '../../src/exporter/keys.js';
import { certificateSignature, firstUnfitCertificate } from '../../src/tls/certificate-signature.js';
import { SignatureScheme as S } from '../../src/tls/signature-scheme.js';
import { TestPki, type IssuedIdentity, type TestKeyType } from '../../src/testing/test-pki.js';
import { forgeAuthenticator } from '../helpers/forge.js';

/** Leaves for b.example (Ed25519 keys), each from a CA of another key type; and one through an intermediate. */
const leaves = {} as Record<TestKeyType, IssuedIdentity>;
const roots = {} as Record<TestKeyType, TestPki>;
let viaIntermediate: IssuedIdentity; // leaf signed by a P-256 intermediate, which an Ed25519 root signed
const signers = new Map<IssuedIdentity, Signer>();
let serverKeys: AuthenticatorKeys;
let clientKeys: AuthenticatorKeys;
let close: () => Promise<void>;

before(async () => {
  for (const type of ['p256', 'p384', 'ed25519', 'rsa2048'] as const) {
    roots[type] = await TestPki.create({ keyType: type, commonName: `${type} CA` });
    leaves[type] = await roots[type].issue({ dnsNames: ['b.example'], keyType: 'ed25519' });
  }
  viaIntermediate = await roots.ed25519.issue({ dnsNames: ['b.example'], keyType: 'ed25519', viaIntermediate: true });
  for (const id of [...Object.values(leaves), viaIntermediate]) signers.set(id, await nodeCrypto.signerFromPrivateKey(id.keyPem));

  const tlsId = await roots.p256.issue({ dnsNames: ['a.example'] });
  const server = tls.createServer({ key: tlsId.keyPem, cert: tlsId.chainPem, minVersion: 'TLSv1.3' });
  const serverSide = new Promise<tls.TLSSocket>((r) => server.once('secureConnection', r));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'a.example', ca: roots.p256.caPem });
  await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
  const serverSocket = await serverSide;
  serverKeys = keysFromTlsSocket(serverSocket);
  clientKeys = keysFromTlsSocket(client);
  close = async () => {
    client.destroy();
    serverSocket.destroy();
    await new Promise((r) => server.close(r));
  };
});

after(async () => close?.());

const signerOf = (id: IssuedIdentity): Signer => signers.get(id)!;

test('certificate signatures are named by their TLS scheme: ECDSA P-256 and P-384, Ed25519, RSA PKCS#1 v1.5; a root is self-signed', () => {
  assert.deepEqual(certificateSignature(leaves.p256.certDer), { schemes: [S.ecdsa_secp256r1_sha256], selfSigned: false });
  assert.deepEqual(certificateSignature(leaves.p384.certDer), { schemes: [S.ecdsa_secp384r1_sha384], selfSigned: false });
  assert.deepEqual(certificateSignature(leaves.ed25519.certDer), { schemes: [S.ed25519], selfSigned: false });
  assert.deepEqual(certificateSignature(leaves.rsa2048.certDer), { schemes: [S.rsa_pkcs1_sha256], selfSigned: false });
  assert.deepEqual(certificateSignature(roots.ed25519.caDer), { schemes: [S.ed25519], selfSigned: true });
  assert.deepEqual(certificateSignature(new Uint8Array([0x30, 0x03, 0x02, 0x01])), { schemes: [], selfSigned: false });
  // The intermediate's signature counts, the root's own does not.
  assert.deepEqual(firstUnfitCertificate([...viaIntermediate.chainDer, roots.ed25519.caDer], [S.ecdsa_secp256r1_sha256]), { index: 1, schemes: [S.ed25519] });
  assert.equal(firstUnfitCertificate([...viaIntermediate.chainDer, roots.ed25519.caDer], [S.ecdsa_secp256r1_sha256, S.ed25519]), undefined);
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

test('an RSASSA-PSS certificate signature (made by the openssl command) is named by rsa_pss_rsae or rsa_pss_pss with its hash', { skip: hasOpenssl ? false : 'no openssl command' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pss-cert-'));
  try {
    const run = (...args: string[]): void => {
      const r = spawnSync('openssl', args, { cwd: dir });
      assert.equal(r.status, 0, r.stderr.toString());
    };
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=pss test CA', '-days', '1');
    run('req', '-newkey', 'ed25519', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=leaf');
    run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1', '-days', '1');
    const der = new Uint8Array(new X509Certificate(readFileSync(join(dir, 'leaf.pem'))).raw);
    assert.deepEqual(certificateSignature(der), { schemes: [S.rsa_pss_rsae_sha384, S.rsa_pss_pss_sha384], selfSigned: false });
    assert.equal(firstUnfitCertificate([der], [S.rsa_pss_rsae_sha384]), undefined);
    assert.deepEqual(firstUnfitCertificate([der], [S.rsa_pss_rsae_sha256, S.rsa_pkcs1_sha384]), { index: 0, schemes: [S.rsa_pss_rsae_sha384, S.rsa_pss_pss_sha384] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createAuthenticator refuses a chain signed with a scheme the request\'s signature_algorithms_cert does not list (ChainSchemeNotOffered, with the certificate\'s index)', async () => {
  const request = createRequest({ creator: 'client', serverName: 'b.example', signatureSchemesCert: [S.ed25519] });
  await assert.rejects(
    createAuthenticator({ keys: serverKeys, creator: 'server', request, certificateChain: leaves.p256.chainDer, signer: signerOf(leaves.p256) }),
    (e: unknown) => e instanceof ChainSchemeNotOffered && e.code === 'ERR_CHAIN_SCHEME_NOT_OFFERED' && e.index === 0 && /ecdsa_secp256r1_sha256/.test(e.message),
  );
  // An intermediate that does not fit is found too.
  const p256Only = createRequest({ creator: 'client', serverName: 'b.example', signatureSchemesCert: [S.ecdsa_secp256r1_sha256] });
  await assert.rejects(
    createAuthenticator({ keys: serverKeys, creator: 'server', request: p256Only, certificateChain: viaIntermediate.chainDer, signer: signerOf(viaIntermediate) }),
    (e: unknown) => e instanceof ChainSchemeNotOffered && e.index === 1,
  );
  // Spontaneous: the peer's ClientHello signature_algorithms_cert, when known, applies the same way.
  await assert.rejects(
    createAuthenticator({ keys: serverKeys, creator: 'server', certificateChain: leaves.rsa2048.chainDer, signer: signerOf(leaves.rsa2048), peerSignatureSchemesCert: [S.ed25519, S.ecdsa_secp256r1_sha256] }),
    ChainSchemeNotOffered,
  );
});

test('a chain that fits signature_algorithms_cert is built and validates; without the extension no chain is refused for its signatures', async () => {
  for (const [type, scheme] of [['p256', S.ecdsa_secp256r1_sha256], ['p384', S.ecdsa_secp384r1_sha384], ['ed25519', S.ed25519], ['rsa2048', S.rsa_pkcs1_sha256]] as const) {
    const clientState = new ConnectionState('client');
    const request = createRequest({ creator: 'client', serverName: 'b.example', signatureSchemesCert: [scheme], state: clientState });
    const authenticator = await createAuthenticator({ keys: serverKeys, creator: 'server', request, certificateChain: leaves[type].chainDer, signer: signerOf(leaves[type]) });
    const validated = await validateAuthenticator({ keys: clientKeys, creator: 'server', request, authenticator, state: clientState });
    assert.equal(validated.chain.length, 1, type);
  }
  const plain = createRequest({ creator: 'client', serverName: 'b.example' });
  const authenticator = await createAuthenticator({ keys: serverKeys, creator: 'server', request: plain, certificateChain: leaves.rsa2048.chainDer, signer: signerOf(leaves.rsa2048) });
  assert.equal((await validateAuthenticator({ keys: clientKeys, creator: 'server', request: plain, authenticator })).chain.length, 1);
});

test('chooseCandidate picks the first identity whose chain fits signature_algorithms_cert, and throws the first problem when none does', () => {
  const candidates = (['p256', 'rsa2048', 'ed25519'] as const).map((type) => ({ type, certificateChain: leaves[type].chainDer, signer: signerOf(leaves[type]) }));
  assert.equal(chooseCandidate(candidates, { signatureSchemes: [S.ed25519], signatureSchemesCert: [S.ed25519] }).type, 'ed25519');
  assert.equal(chooseCandidate(candidates, { signatureSchemes: [S.ed25519], signatureSchemesCert: [S.rsa_pkcs1_sha256, S.ed25519] }).type, 'rsa2048');
  assert.equal(chooseCandidate(candidates, { signatureSchemes: [S.ed25519] }).type, 'p256');
  assert.throws(() => chooseCandidate(candidates, { signatureSchemes: [S.ed25519], signatureSchemesCert: [S.ecdsa_secp384r1_sha384] }), (e: unknown) => e instanceof ChainSchemeNotOffered && e.index === 0);
  // The key's own scheme is checked first: an Ed25519 key answers no ECDSA-only request.
  assert.throws(() => chooseCandidate(candidates, { signatureSchemes: [S.ecdsa_secp256r1_sha256], signatureSchemesCert: [S.ed25519] }), NoCommonScheme);
});

test('validateAuthenticator refuses a chain that does not fit the signature_algorithms_cert we sent, though its Finished and signature are right (ChainSchemeNotOffered)', async () => {
  const clientState = new ConnectionState('client');
  const request = createRequest({ creator: 'client', serverName: 'b.example', signatureSchemesCert: [S.ed25519, S.ecdsa_secp384r1_sha384], state: clientState });
  // A server that ignores the extension: every other part of the authenticator is correct.
  const signer = signerOf(leaves.p256);
  const authenticator = await forgeAuthenticator({
    keys: serverKeys,
    creator: 'server',
    request: request.bytes,
    context: request.context,
    entries: [{ certData: leaves.p256.certDer, extensions: [] }],
    scheme: S.ed25519,
    sign: (content) => signer.sign(S.ed25519, content),
    crypto: nodeCrypto,
  });
  await assert.rejects(
    validateAuthenticator({ keys: clientKeys, creator: 'server', request, authenticator, state: clientState }),
    (e: unknown) => e instanceof ChainSchemeNotOffered && e.code === 'ERR_CHAIN_SCHEME_NOT_OFFERED' && e.index === 0,
  );
  // The same bytes against a request without the extension validate: only the extension made the difference.
  const lenientState = new ConnectionState('client');
  const lenient = createRequest({ creator: 'client', serverName: 'b.example', context: request.context, state: lenientState });
  const again = await forgeAuthenticator({ keys: serverKeys, creator: 'server', request: lenient.bytes, context: lenient.context, entries: [{ certData: leaves.p256.certDer, extensions: [] }], scheme: S.ed25519, sign: (content) => signer.sign(S.ed25519, content), crypto: nodeCrypto });
  assert.equal((await validateAuthenticator({ keys: clientKeys, creator: 'server', request: lenient, authenticator: again, state: lenientState })).chain.length, 1);
});
