import * as nodeCryptoModule from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { MalformedMessage, UnsupportedKey } from '../errors.js';
import type { KeyType } from '../tls/signature-scheme.js';
import { keyTypeForScheme } from '../tls/signature-scheme.js';
import type { CryptoProvider, HashName, PublicKeyHandle, Signer } from './provider.js';
import { BoundedCache, SCHEMES_FOR_KEY, schemeHash } from './keys.js';

// The fast provider: everything on node:crypto (OpenSSL).

const { createHash, createHmac, createPrivateKey, randomFillSync, sign, verify, X509Certificate, constants } = nodeCryptoModule;

// crypto.hash (Node 20.12+) hashes in one call, without a Hash object: about a third faster for the
// short transcripts RFC 9261 hashes. Older versions fall back to createHash.
const oneShotHash = (nodeCryptoModule as { hash?: (alg: string, data: Uint8Array, encoding: 'binary') => string }).hash;

// Digests are taken as 'binary' (latin1) strings, exactly one char per byte, and copied into a Uint8Array.
// A Buffer made by node:crypto is an off-heap allocation of its own: ~0.35 us more per hash and per HMAC,
// about a tenth of the time an authenticator spends outside its signature. A digest is at most 64 bytes,
// which V8 keeps on its heap, so the copy is cheap.
function digestBytes(binary: string): Uint8Array {
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < out.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

// Each crypto.randomBytes call costs microseconds of overhead, as much as the rest of building an
// authenticator besides the signature; contexts are taken from a pooled CSPRNG buffer instead, each
// byte used once (and zeroed once handed out); the pool is refilled in place when used up.
const RANDOM_POOL_SIZE = 4096;
const randomPool = new Uint8Array(RANDOM_POOL_SIZE);
let randomAt = RANDOM_POOL_SIZE;
function pooledRandom(n: number): Uint8Array {
  if (n > RANDOM_POOL_SIZE / 4) return u8(randomFillSync(Buffer.alloc(n)));
  if (randomAt + n > RANDOM_POOL_SIZE) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  const out = randomPool.slice(randomAt, randomAt + n);
  randomPool.fill(0, randomAt, randomAt + n);
  randomAt += n;
  return out;
}

interface NodePublicKey extends PublicKeyHandle {
  readonly key: KeyObject;
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function keyTypeOf(key: KeyObject): { type: KeyType; bits?: number } {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return { type: 'ed25519' };
    case 'ec':
      if (details.namedCurve === 'prime256v1') return { type: 'p256' };
      if (details.namedCurve === 'secp384r1') return { type: 'p384' };
      return { type: 'unsupported' };
    case 'rsa':
      return { type: 'rsa', bits: details.modulusLength };
    default:
      return { type: 'unsupported' };
  }
}

/** Signs and verifies one scheme with a KeyObject; the options object node:crypto wants for it. */
function keyOptions(scheme: number, key: KeyObject): { algorithm: string | null; key: nodeCryptoModule.SignKeyObjectInput | nodeCryptoModule.VerifyKeyObjectInput } {
  const hash = schemeHash(scheme);
  if (keyTypeForScheme(scheme) === 'ed25519') return { algorithm: null, key: { key } };
  if (keyTypeForScheme(scheme) === 'rsa' && hash !== undefined) {
    const saltLength = hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64;
    return { algorithm: hash, key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength } };
  }
  return { algorithm: hash ?? null, key: { key, dsaEncoding: 'der' } };
}

/** A Signer over a node:crypto private KeyObject (a local key). */
export function signerFromKeyObject(key: KeyObject): Signer {
  if (key.type !== 'private') throw new UnsupportedKey('a signer needs a private key');
  const { type } = keyTypeOf(key);
  if (type === 'unsupported') throw new UnsupportedKey(`key type ${key.asymmetricKeyType ?? 'unknown'} is not supported`);
  const schemes = SCHEMES_FOR_KEY[type];
  return {
    schemes,
    sign(scheme: number, message: Uint8Array): Uint8Array {
      if (!schemes.includes(scheme)) throw new UnsupportedKey(`this ${type} key cannot sign with scheme 0x${scheme.toString(16)}`);
      const o = keyOptions(scheme, key);
      return u8(sign(o.algorithm, message, o.key as nodeCryptoModule.SignKeyObjectInput));
    },
  };
}

// Decoding a certificate costs more than verifying an Ed25519 signature, and a connection sees the same
// few certificates again and again, so public keys are kept. The lookup key is the certificate's length and
// last 32 bytes (the tail of its issuer's signature), not the whole DER: turning ~1 KB into a string and
// hashing it cost more than a microsecond per lookup. A hit counts only if the whole DER is equal too, so a
// collision is just a miss.
const publicKeys = new BoundedCache<string, { der: Buffer; handle: NodePublicKey }>(256);

function publicKeyCacheId(der: Buffer): string {
  return `${der.length}:${der.toString('latin1', Math.max(0, der.length - 32))}`;
}

export const nodeCrypto: CryptoProvider = {
  name: 'node',
  hash(alg: HashName, data: Uint8Array): Uint8Array {
    return digestBytes(oneShotHash ? oneShotHash(alg, data, 'binary') : createHash(alg).update(data).digest('binary'));
  },
  hmac(alg: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
    return digestBytes(createHmac(alg, key).update(data).digest('binary'));
  },
  randomBytes(n: number): Uint8Array {
    return pooledRandom(n);
  },
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
    return a.length === b.length && nodeCryptoModule.timingSafeEqual(a, b);
  },
  async publicKeyFromCertificate(certDer: Uint8Array): Promise<PublicKeyHandle> {
    const der = Buffer.from(certDer.buffer, certDer.byteOffset, certDer.byteLength);
    const id = publicKeyCacheId(der);
    const cached = publicKeys.get(id);
    if (cached?.der.equals(der)) return cached.handle;
    let key: KeyObject;
    try {
      key = new X509Certificate(certDer).publicKey;
    } catch (e) {
      throw new MalformedMessage('Certificate', `the end-entity certificate does not decode: ${(e as Error).message}`);
    }
    const { type, bits } = keyTypeOf(key);
    if (type === 'unsupported') throw new UnsupportedKey(`certificate key type ${key.asymmetricKeyType ?? 'unknown'} is not supported`);
    const handle: NodePublicKey = bits === undefined ? { type, key } : { type, bits, key };
    publicKeys.set(id, { der: Buffer.from(der), handle });
    return handle;
  },
  async verify(scheme: number, handle: PublicKeyHandle, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const key = (handle as Partial<NodePublicKey>).key;
    if (key === undefined || keyTypeForScheme(scheme) !== handle.type) return false;
    try {
      const o = keyOptions(scheme, key);
      return verify(o.algorithm, message, o.key as nodeCryptoModule.VerifyKeyObjectInput, signature);
    } catch {
      return false;
    }
  },
  async signerFromPrivateKey(key: Uint8Array | string): Promise<Signer> {
    let keyObject: KeyObject;
    try {
      keyObject = typeof key === 'string' ? createPrivateKey(key) : createPrivateKey({ key: Buffer.from(key), format: 'der', type: 'pkcs8' });
    } catch (e) {
      throw new UnsupportedKey(`the private key does not decode: ${(e as Error).message}`);
    }
    return signerFromKeyObject(keyObject);
  },
};
