// RFC 9261: building and validating authenticators for every scheme with both providers, and one negative
// test per validation rule, each expecting its own error code.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCrypto, portableCrypto } from '../../src/crypto/index.js';
import type { CryptoProvider, HashName, Signer } from '../../src/crypto/provider.js';
import {
  ConnectionState,
  createAuthenticator,
  createEmptyAuthenticator,
  createRequest,
  getContext,
  parseAuthenticator,
  parseRequest,
  validateAuthenticator,
} from '../../src/ea/index.js';
import { keysFromExporterSecret } from '../../src/exporter/exporter-secret.js';
import type { AuthenticatorKeys } from '../../src/exporter/keys.js';
import { SignatureScheme } from '../../src/tls/signature-scheme.js';
import { encodeCertificateStatus } from '../../src/tls/extension.js';
import { TestPki } from '../../src/testing/test-pki.js';
import { forgeAuthenticator } from '../helpers/forge.js';

const providers: CryptoProvider[] = [nodeCrypto, portableCrypto];
type KeyType = 'ed25519' | 'p256' | 'p384' | 'rsa2048';
interface Identity {
  chain: Uint8Array[];
  key: Uint8Array;
}
const ids = {} as Record<KeyType, Identity>;
const schemesByKey: [KeyType, number][] = [
  ['ed25519', SignatureScheme.ed25519],
  ['p256', SignatureScheme.ecdsa_secp256r1_sha256],
  ['p384', SignatureScheme.ecdsa_secp384r1_sha384],
  ['rsa2048', SignatureScheme.rsa_pss_rsae_sha256],
  ['rsa2048', SignatureScheme.rsa_pss_rsae_sha384],
  ['rsa2048', SignatureScheme.rsa_pss_rsae_sha512],
];

function keys(hash: HashName = 'sha256', seed = 1): AuthenticatorKeys {
  return keysFromExporterSecret(nodeCrypto, hash, new Uint8Array(hash === 'sha256' ? 32 : 48).fill(seed));
}

/** A signer limited to one scheme, to pin which scheme an authenticator uses. */
function only(signer: Signer, scheme: number): Signer {
  return { schemes: [scheme], sign: (s, m) => signer.sign(s, m) };
}

before(async () => {
  const pki = await TestPki.create();
  for (const k of ['ed25519', 'p256', 'p384', 'rsa2048'] as KeyType[]) {
    const leaf = await pki.issue({ dnsNames: [`${k}.example`], keyType: k });
    ids[k] = { chain: leaf.chainDer, key: leaf.keyPkcs8Der };
  }
});

for (const crypto of providers) {
  describe(`build and validate with the ${crypto.name} provider`, () => {
    for (const [keyType, scheme] of schemesByKey) {
      for (const hash of ['sha256', 'sha384'] as HashName[]) {
        test(`${keyType} 0x${scheme.toString(16)} ${hash}: answering a request, spontaneous, and validated by the other provider`, async () => {
          const k = keys(hash);
          const signer = only(await crypto.signerFromPrivateKey(ids[keyType].key), scheme);
          // Server authenticator answering a client's request (type 17).
          const clientState = new ConnectionState('client');
          const request = createRequest({ creator: 'client', serverName: `${keyType}.example`, state: clientState, crypto });
          assert.equal(request.type, 17);
          const auth = await createAuthenticator({ keys: k, creator: 'server', request: request.bytes, certificateChain: ids[keyType].chain, signer, crypto });
          for (const validator of providers) {
            const r = await validateAuthenticator({ keys: k, creator: 'server', request: request.bytes, authenticator: auth, crypto: validator });
            assert.equal(r.scheme, scheme);
            assert.deepEqual(r.chain, ids[keyType].chain);
          }
          const r = await validateAuthenticator({ keys: k, creator: 'server', request: request.bytes, authenticator: auth, state: clientState, crypto });
          assert.deepEqual(r.context, request.context);
          // Spontaneous server authenticator.
          const spont = await createAuthenticator({ keys: k, creator: 'server', certificateChain: ids[keyType].chain, signer, crypto });
          await validateAuthenticator({ keys: k, creator: 'server', authenticator: spont, state: clientState, crypto });
          // Client authenticator answering a server's request (type 13).
          const serverState = new ConnectionState('server');
          const req13 = createRequest({ creator: 'server', state: serverState, crypto });
          assert.equal(req13.type, 13);
          const clientAuth = await createAuthenticator({ keys: k, creator: 'client', request: req13, certificateChain: ids[keyType].chain, signer, crypto });
          await validateAuthenticator({ keys: k, creator: 'client', request: req13, authenticator: clientAuth, state: serverState, crypto });
        });
      }
    }
  });
}

test('an async signer (an HSM stand-in) builds authenticators like a local key', async () => {
  const local = await nodeCrypto.signerFromPrivateKey(ids.p256.key);
  const remote: Signer = { schemes: local.schemes, sign: async (s, m) => { await new Promise((r) => setTimeout(r, 5)); return local.sign(s, m); } };
  const k = keys();
  const auth = await createAuthenticator({ keys: k, creator: 'server', certificateChain: ids.p256.chain, signer: remote });
  await validateAuthenticator({ keys: k, creator: 'server', authenticator: auth });
});

test('a synchronous signer\'s result is used as returned; a rejected async signing rejects the build', async () => {
  const local = await nodeCrypto.signerFromPrivateKey(ids.ed25519.key);
  let calls = 0;
  const sync: Signer = { schemes: local.schemes, sign: (s, m) => (calls++, local.sign(s, m) as Uint8Array) };
  const k = keys();
  const auth = await createAuthenticator({ keys: k, creator: 'server', certificateChain: ids.ed25519.chain, signer: sync });
  assert.equal(calls, 1);
  await validateAuthenticator({ keys: k, creator: 'server', authenticator: auth });
  const failing: Signer = { schemes: local.schemes, sign: async () => { throw new Error('HSM offline'); } };
  await assert.rejects(createAuthenticator({ keys: k, creator: 'server', certificateChain: ids.ed25519.chain, signer: failing }), /HSM offline/);
  const throwing: Signer = { schemes: local.schemes, sign: () => { throw new Error('no key'); } };
  await assert.rejects(createAuthenticator({ keys: k, creator: 'server', certificateChain: ids.ed25519.chain, signer: throwing }), /no key/);
});

test('a signature longer than the room reserved for it (RSA above 4096 bits) is framed correctly', async () => {
  const k = keys();
  const ed = await nodeCrypto.signerFromPrivateKey(ids.ed25519.key);
  for (const length of [0, 64, 512, 513, 1024, 2000]) {
    const long: Signer = { schemes: ed.schemes, sign: () => new Uint8Array(length).fill(0xab) };
    const auth = await createAuthenticator({ keys: k, creator: 'server', certificateChain: ids.ed25519.chain, signer: long });
    const parsed = parseAuthenticator(auth, 32);
    assert.equal(parsed.kind, 'certificate');
    if (parsed.kind !== 'certificate') continue;
    assert.deepEqual(parsed.certificateVerify.signature, new Uint8Array(length).fill(0xab));
    assert.deepEqual(parsed.certificate.entries.map((e) => e.certData), ids.ed25519.chain);
    // The Finished is right (the signature is not): validation gets past the MAC to the signature check.
    await assert.rejects(validateAuthenticator({ keys: k, creator: 'server', authenticator: auth }), { code: 'ERR_BAD_SIGNATURE' });
    // The result owns exactly its bytes: no handshake context or spare room behind it.
    assert.equal(auth.byteOffset, 0);
    assert.equal(auth.buffer.byteLength, auth.length);
  }
});

test('a chain\'s encoding is reused per array, and follows a change of the array\'s certificates', async () => {
  const k = keys();
  const ed = await nodeCrypto.signerFromPrivateKey(ids.ed25519.key);
  const p256 = await nodeCrypto.signerFromPrivateKey(ids.p256.key);
  const chain = [...ids.ed25519.chain];
  const leafOf = async (auth: Uint8Array) => (await validateAuthenticator({ keys: k, creator: 'server', authenticator: auth })).chain;
  assert.deepEqual(await leafOf(await createAuthenticator({ keys: k, creator: 'server', certificateChain: chain, signer: ed })), ids.ed25519.chain);
  assert.deepEqual(await leafOf(await createAuthenticator({ keys: k, creator: 'server', certificateChain: chain, signer: ed })), ids.ed25519.chain);
  // The same array now holds another identity's chain (other objects, other length or same length).
  chain.length = 0;
  chain.push(...ids.p256.chain);
  assert.deepEqual(await leafOf(await createAuthenticator({ keys: k, creator: 'server', certificateChain: chain, signer: p256 })), ids.p256.chain);
  chain.push(ids.ed25519.chain[0]!);
  assert.deepEqual(await leafOf(await createAuthenticator({ keys: k, creator: 'server', certificateChain: chain, signer: p256 })), [...ids.p256.chain, ids.ed25519.chain[0]]);
  // Entry extensions bypass the cache; without a request for them the plain chain is sent.
  const withOcsp = createRequest({ creator: 'client', statusRequest: true });
  const ocsp = [[{ type: 5, data: encodeCertificateStatus(new Uint8Array([9])) }]];
  const a = await createAuthenticator({ keys: k, creator: 'server', request: withOcsp, certificateChain: chain, entryExtensions: ocsp, signer: p256 });
  const v = await validateAuthenticator({ keys: k, creator: 'server', request: withOcsp, authenticator: a });
  assert.equal(v.entries[0]!.extensions.length, 1);
  assert.deepEqual(v.chain, chain);
});

test('scheme selection: the first of the key\'s schemes the peer offered; none -> ERR_NO_COMMON_SCHEME', async () => {
  const k = keys();
  const rsa = await nodeCrypto.signerFromPrivateKey(ids.rsa2048.key);
  const req = createRequest({ creator: 'client', signatureSchemes: [SignatureScheme.rsa_pss_rsae_sha512, SignatureScheme.ed25519] });
  const auth = await createAuthenticator({ keys: k, creator: 'server', request: req, certificateChain: ids.rsa2048.chain, signer: rsa });
  assert.equal((await validateAuthenticator({ keys: k, creator: 'server', request: req, authenticator: auth })).scheme, SignatureScheme.rsa_pss_rsae_sha512);
  const edOnly = createRequest({ creator: 'client', signatureSchemes: [SignatureScheme.ed25519] });
  await assert.rejects(createAuthenticator({ keys: k, creator: 'server', request: edOnly, certificateChain: ids.rsa2048.chain, signer: rsa }), { code: 'ERR_NO_COMMON_SCHEME' });
  // A signer claiming a PKCS#1 scheme is never used for it: TLS 1.3 forbids it.
  const pkcs1: Signer = { schemes: [SignatureScheme.rsa_pkcs1_sha256], sign: () => new Uint8Array(256) };
  const reqPkcs1 = createRequest({ creator: 'client', signatureSchemes: [SignatureScheme.rsa_pkcs1_sha256] });
  await assert.rejects(createAuthenticator({ keys: k, creator: 'server', request: reqPkcs1, certificateChain: ids.rsa2048.chain, signer: pkcs1 }), { code: 'ERR_NO_COMMON_SCHEME' });
});

test('only solicited entry extensions are sent', async () => {
  const k = keys();
  const signer = await nodeCrypto.signerFromPrivateKey(ids.ed25519.key);
  const ocsp = [[{ type: 5, data: encodeCertificateStatus(new Uint8Array([1, 2, 3])) }]];
  const plain = createRequest({ creator: 'client' });
  const a1 = await createAuthenticator({ keys: k, creator: 'server', request: plain, certificateChain: ids.ed25519.chain, entryExtensions: ocsp, signer });
  assert.deepEqual((await validateAuthenticator({ keys: k, creator: 'server', request: plain, authenticator: a1 })).entries[0]!.extensions, []);
  const withOcsp = createRequest({ creator: 'client', statusRequest: true });
  const a2 = await createAuthenticator({ keys: k, creator: 'server', request: withOcsp, certificateChain: ids.ed25519.chain, entryExtensions: ocsp, signer });
  assert.equal((await validateAuthenticator({ keys: k, creator: 'server', request: withOcsp, authenticator: a2 })).entries[0]!.extensions.length, 1);
});

describe('every validation rule has its own error', () => {
  const k = keys();
  let signer: Signer;
  let req: ReturnType<typeof createRequest>;
  let good: Uint8Array;
  before(async () => {
    signer = await nodeCrypto.signerFromPrivateKey(ids.ed25519.key);
    req = createRequest({ creator: 'client' });
    good = await createAuthenticator({ keys: k, creator: 'server', request: req, certificateChain: ids.ed25519.chain, signer });
  });
  const validate = (o: Partial<Parameters<typeof validateAuthenticator>[0]>) =>
    validateAuthenticator({ keys: k, creator: 'server', authenticator: good, request: req.bytes, ...o });
  const forge = (o: Partial<Parameters<typeof forgeAuthenticator>[0]>) =>
    forgeAuthenticator({
      keys: k,
      creator: 'server',
      request: req.bytes,
      context: req.context,
      entries: [{ certData: ids.ed25519.chain[0]!, extensions: [] }],
      scheme: SignatureScheme.ed25519,
      sign: (m) => signer.sign(SignatureScheme.ed25519, m),
      crypto: nodeCrypto,
      ...o,
    });

  test('ERR_UNSOLICITED_CLIENT_AUTHENTICATOR: a client authenticator with no request', async () => {
    await assert.rejects(validate({ creator: 'client', request: undefined }), { code: 'ERR_UNSOLICITED_CLIENT_AUTHENTICATOR' });
  });
  test('ERR_UNEXPECTED_MESSAGE: wrong request type, wrong message sequence, spontaneous empty authenticator', async () => {
    const req13 = createRequest({ creator: 'server' });
    await assert.rejects(validate({ request: req13.bytes }), { code: 'ERR_UNEXPECTED_MESSAGE' });
    const cert = good.subarray(0, 4 + ((good[1]! << 16) | (good[2]! << 8) | good[3]!));
    await assert.rejects(validate({ authenticator: cert }), { code: 'ERR_UNEXPECTED_MESSAGE' });
    const empty = createEmptyAuthenticator({ keys: k, creator: 'server', request: req });
    await assert.rejects(validate({ authenticator: empty, request: undefined }), { code: 'ERR_UNEXPECTED_MESSAGE' });
  });
  test('ERR_MALFORMED: truncation, trailing bytes, a Finished of the wrong length', async () => {
    await assert.rejects(validate({ authenticator: good.subarray(0, good.length - 1) }), { code: 'ERR_MALFORMED' });
    await assert.rejects(validate({ authenticator: new Uint8Array([...good, 0]) }), { code: 'ERR_MALFORMED' });
    await assert.rejects(validate({ keys: keys('sha384') }), { code: 'ERR_MALFORMED' });
  });
  test('ERR_CONTEXT_MISMATCH: an authenticator for another request', async () => {
    const other = createRequest({ creator: 'client' });
    await assert.rejects(validate({ request: other.bytes }), { code: 'ERR_CONTEXT_MISMATCH' });
  });
  test('ERR_CONTEXT_REUSED: validated twice; spontaneous reusing a seen context; built twice', async () => {
    const state = new ConnectionState('client');
    await validate({ state });
    await assert.rejects(validate({ state }), { code: 'ERR_CONTEXT_REUSED' });
    const s2 = new ConnectionState('client');
    const mine = createRequest({ creator: 'client', state: s2 });
    const spont = await createAuthenticator({ keys: k, creator: 'server', context: mine.context, certificateChain: ids.ed25519.chain, signer });
    await assert.rejects(validate({ request: undefined, authenticator: spont, state: s2 }), { code: 'ERR_CONTEXT_REUSED' });
    const server = new ConnectionState('server');
    await createAuthenticator({ keys: k, creator: 'server', request: req, certificateChain: ids.ed25519.chain, signer, state: server });
    await assert.rejects(createAuthenticator({ keys: k, creator: 'server', request: req, certificateChain: ids.ed25519.chain, signer, state: server }), { code: 'ERR_CONTEXT_REUSED' });
    assert.throws(() => createRequest({ creator: 'client', context: mine.context, state: s2 }), { code: 'ERR_CONTEXT_REUSED' });
  });
  test('ERR_EMPTY_CERTIFICATE_LIST: a Certificate with no entries beside a CertificateVerify', async () => {
    await assert.rejects(validate({ authenticator: await forge({ entries: [] }) }), { code: 'ERR_EMPTY_CERTIFICATE_LIST' });
  });
  test('ERR_UNSOLICITED_EXTENSION: an entry extension not offered, or one that may not appear in a CertificateEntry', async () => {
    const ocsp = { type: 5, data: encodeCertificateStatus(new Uint8Array([1])) };
    await assert.rejects(validate({ authenticator: await forge({ entries: [{ certData: ids.ed25519.chain[0]!, extensions: [ocsp] }] }) }), { code: 'ERR_UNSOLICITED_EXTENSION' });
    const req17 = createRequest({ creator: 'client', extraExtensions: [{ type: 17, data: new Uint8Array(0) }] });
    const v2 = await forge({ request: req17.bytes, context: req17.context, entries: [{ certData: ids.ed25519.chain[0]!, extensions: [{ type: 17, data: new Uint8Array(0) }] }] });
    await assert.rejects(validate({ request: req17.bytes, authenticator: v2 }), { code: 'ERR_UNSOLICITED_EXTENSION' });
  });
  test('ERR_SCHEME_NOT_TLS13: a PKCS#1 v1.5 scheme', async () => {
    const pkcs1 = createRequest({ creator: 'client', signatureSchemes: [SignatureScheme.rsa_pkcs1_sha256] });
    const a = await forge({ request: pkcs1.bytes, context: pkcs1.context, scheme: SignatureScheme.rsa_pkcs1_sha256 });
    await assert.rejects(validate({ request: pkcs1.bytes, authenticator: a }), { code: 'ERR_SCHEME_NOT_TLS13' });
  });
  test('ERR_SCHEME_NOT_OFFERED: a scheme outside the request, or outside our offer when spontaneous', async () => {
    const ecOnly = createRequest({ creator: 'client', signatureSchemes: [SignatureScheme.ecdsa_secp256r1_sha256] });
    await assert.rejects(validate({ request: ecOnly.bytes, authenticator: await forge({ request: ecOnly.bytes, context: ecOnly.context }) }), { code: 'ERR_SCHEME_NOT_OFFERED' });
    const spont = await createAuthenticator({ keys: k, creator: 'server', certificateChain: ids.ed25519.chain, signer });
    await assert.rejects(validate({ request: undefined, authenticator: spont, offeredSchemes: [SignatureScheme.ecdsa_secp256r1_sha256] }), { code: 'ERR_SCHEME_NOT_OFFERED' });
  });
  test('ERR_BAD_FINISHED: one flipped bit, another connection\'s keys, the wrong role\'s labels', async () => {
    const flipped = new Uint8Array(good);
    flipped[flipped.length - 1]! ^= 1;
    await assert.rejects(validate({ authenticator: flipped }), { code: 'ERR_BAD_FINISHED' });
    await assert.rejects(validate({ keys: keys('sha256', 2) }), { code: 'ERR_BAD_FINISHED' });
    const asClient = await createAuthenticator({ keys: k, creator: 'client', request: createRequest({ creator: 'server', context: req.context }), certificateChain: ids.ed25519.chain, signer });
    const reqServerMade = createRequest({ creator: 'server', context: req.context });
    // Valid under the client labels it was made with; under the server's labels its Finished fails.
    await validateAuthenticator({ keys: k, creator: 'client', request: reqServerMade, authenticator: asClient, crypto: nodeCrypto });
    await assert.rejects(validate({ authenticator: asClient }), { code: 'ERR_BAD_FINISHED' });
  });
  test('ERR_SCHEME_KEY_MISMATCH: an ECDSA scheme over an Ed25519 certificate', async () => {
    const a = await forge({ scheme: SignatureScheme.ecdsa_secp256r1_sha256 });
    await assert.rejects(validate({ authenticator: a }), { code: 'ERR_SCHEME_KEY_MISMATCH' });
  });
  test('ERR_BAD_SIGNATURE: a signature over other content, with a correct Finished', async () => {
    const a = await forge({ sign: (m) => signer.sign(SignatureScheme.ed25519, new Uint8Array([...m, 0])) });
    await assert.rejects(validate({ authenticator: a }), { code: 'ERR_BAD_SIGNATURE' });
  });
  test('ERR_EMPTY_AUTHENTICATOR: a well-formed refusal; its request then counts as answered', async () => {
    const state = new ConnectionState('client');
    const empty = createEmptyAuthenticator({ keys: k, creator: 'server', request: req });
    await assert.rejects(validate({ authenticator: empty, state }), { code: 'ERR_EMPTY_AUTHENTICATOR' });
    await assert.rejects(validate({ authenticator: empty, state }), { code: 'ERR_CONTEXT_REUSED' });
    const tampered = new Uint8Array(empty);
    tampered[5]! ^= 1;
    await assert.rejects(validate({ authenticator: tampered }), { code: 'ERR_BAD_FINISHED' });
  });
  test('ERR_TOO_MANY_CONTEXTS: a connection remembers a bounded number of contexts', () => {
    const state = new ConnectionState('client', 3);
    for (let i = 0; i < 3; i++) state.recordRequest(new Uint8Array(16).fill(i));
    assert.throws(() => state.recordRequest(new Uint8Array(16).fill(9)), { code: 'ERR_TOO_MANY_CONTEXTS' });
  });
  test('a state validates only the peer\'s authenticators (API misuse is a TypeError)', async () => {
    await assert.rejects(validate({ state: new ConnectionState('server') }), TypeError);
  });
});

test('get context of requests and authenticators', async () => {
  const k = keys();
  const req = createRequest({ creator: 'client' });
  const signer = await nodeCrypto.signerFromPrivateKey(ids.p256.key);
  const auth = await createAuthenticator({ keys: k, creator: 'server', request: req, certificateChain: ids.p256.chain, signer });
  assert.deepEqual(getContext(req.bytes), req.context);
  assert.deepEqual(getContext(auth), req.context);
  assert.throws(() => getContext(createEmptyAuthenticator({ keys: k, creator: 'server', request: req })), { code: 'ERR_UNEXPECTED_MESSAGE' });
});

test('request API: fresh random contexts of 32 bytes, signature_algorithms required, server_name only from clients', () => {
  const a = createRequest({ creator: 'server' });
  const b = createRequest({ creator: 'server' });
  assert.equal(a.context.length, 32);
  assert.notDeepEqual(a.context, b.context);
  assert.ok(a.signatureSchemes.length > 0);
  assert.throws(() => createRequest({ creator: 'server', signatureSchemes: [] }), TypeError);
  assert.throws(() => createRequest({ creator: 'server', serverName: 'a.example' }), TypeError);
  assert.throws(() => createRequest({ creator: 'client', context: new Uint8Array(15) }), RangeError);
  assert.equal(parseRequest(createRequest({ creator: 'client', serverName: 'b.example' }).bytes).serverName, 'b.example');
});
