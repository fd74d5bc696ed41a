import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { MalformedMessage, UnsupportedKey } from '../errors.js';
import type { KeyType } from '../tls/signature-scheme.js';
import { keyTypeForScheme } from '../tls/signature-scheme.js';
import type { webcrypto } from 'node:crypto';
import { bitFlags, DerReader, oidText, TAG } from '../codec/der.js';
import type { CryptoProvider, HashName, PublicKeyHandle, Signer } from './provider.js';
import { BoundedCache, SCHEMES_FOR_KEY, schemeHash } from './keys.js';

// The portable provider: @noble/curves and @noble/hashes for Ed25519, ECDSA and hashing, WebCrypto for
// RSA-PSS and for reading keys. It runs wherever WebCrypto does (browsers, Deno, Node), and passes the
// same tests as the node:crypto provider, which keeps both honest.

// Types only: the code uses globalThis.crypto, whatever the runtime provides.
type CryptoKey = webcrypto.CryptoKey;
type JsonWebKey = webcrypto.JsonWebKey;
type BufferSource = webcrypto.BufferSource;
type ImportParams = webcrypto.EcKeyImportParams | webcrypto.Algorithm | webcrypto.RsaHashedImportParams;

const subtle = globalThis.crypto.subtle;
const HASHES = { sha256, sha384, sha512 } as const;
const WEBCRYPTO_HASH = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' } as const;

interface PortablePublicKey extends PublicKeyHandle {
  /** Raw key bytes for Ed25519 and ECDSA (uncompressed point); SPKI DER for RSA. */
  readonly raw: Uint8Array;
  /** RSA only: the key imported into WebCrypto, once per hash (an import costs more than a verify). */
  readonly rsa?: Map<HashName, Promise<CryptoKey>>;
}

/** The value of `key` in `map`, made by `make` the first time. */
function once<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

const OID = {
  ed25519: '1.3.101.112',
  ecPublicKey: '1.2.840.10045.2.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const;

/** The end-entity key of a certificate: its type and the bytes of its subjectPublicKey. */
interface CertificateKey {
  type: KeyType;
  /** The SubjectPublicKeyInfo, whole (what WebCrypto imports for RSA). */
  spki: Uint8Array;
  /** The subjectPublicKey BIT STRING's bits (a raw Ed25519 key, an EC point, an RSAPublicKey). */
  key: Uint8Array;
  algorithm: string;
}

/**
 * Reads the SubjectPublicKeyInfo out of a DER certificate (RFC 5280 section 4.1): the seventh field of
 * tbsCertificate once the optional [0] version is skipped. Nothing else of the certificate is needed here.
 */
function certificateKey(certDer: Uint8Array): CertificateKey {
  const tbs = new DerReader(certDer, 'Certificate').enter(TAG.sequence, 'Certificate').enter(TAG.sequence, 'tbsCertificate');
  tbs.optional(0xa0, 'version');
  tbs.expect(TAG.integer, 'serialNumber');
  for (const field of ['signature', 'issuer', 'validity', 'subject']) tbs.expect(TAG.sequence, field);
  const spkiTlv = tbs.expect(TAG.sequence, 'subjectPublicKeyInfo');
  const spki = new DerReader(spkiTlv.content, 'subjectPublicKeyInfo');
  const algorithm = spki.enter(TAG.sequence, 'algorithm');
  const algorithmOid = oidText(algorithm.expect(TAG.oid, 'algorithm').content);
  const curve = algorithm.optional(TAG.oid, 'namedCurve');
  const bits = spki.expect(TAG.bitString, 'subjectPublicKey').content;
  bitFlags(bits); // checks the unused-bits count
  if (bits[0] !== 0) throw new RangeError('a subjectPublicKey that is not whole octets');
  const key = bits.subarray(1);
  let type: KeyType = 'unsupported';
  if (algorithmOid === OID.ed25519) type = 'ed25519';
  else if (algorithmOid === OID.ecPublicKey && curve) {
    const named = oidText(curve.content);
    type = named === OID.p256 ? 'p256' : named === OID.p384 ? 'p384' : 'unsupported';
  } else if (algorithmOid === OID.rsaEncryption) type = 'rsa'; // used with the rsae schemes
  return { type, spki: spkiTlv.whole, key, algorithm: algorithmOid };
}

/** The modulus size in bits of an RSAPublicKey (RFC 8017 appendix A.1.1). */
function rsaModulusBits(rsaPublicKey: Uint8Array): number {
  const modulus = new DerReader(rsaPublicKey, 'RSAPublicKey').enter(TAG.sequence, 'RSAPublicKey').expect(TAG.integer, 'modulus').content;
  let i = 0;
  while (i < modulus.length - 1 && modulus[i] === 0) i++;
  const top = modulus[i] ?? 0;
  return (modulus.length - i - 1) * 8 + (top === 0 ? 0 : 32 - Math.clz32(top));
}

async function importRsa(spki: Uint8Array, hash: HashName, usage: 'verify' | 'sign', pkcs8?: Uint8Array): Promise<CryptoKey> {
  const alg = { name: 'RSA-PSS', hash: WEBCRYPTO_HASH[hash] };
  return pkcs8 ? subtle.importKey('pkcs8', pkcs8 as BufferSource, alg, false, [usage]) : subtle.importKey('spki', spki as BufferSource, alg, false, [usage]);
}

const publicKeys = new BoundedCache<string, PortablePublicKey>(256);

function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(pem);
  if (!m?.[1]) throw new UnsupportedKey('expected a PKCS#8 "PRIVATE KEY" PEM block');
  return base64ToBytes(m[1].replace(/\s+/g, ''));
}

/** Finds the key type of a PKCS#8 key by trying the WebCrypto imports in turn. */
async function importPrivate(pkcs8: Uint8Array): Promise<{ type: KeyType; jwk?: JsonWebKey }> {
  const attempts: [KeyType, ImportParams][] = [
    ['ed25519', { name: 'Ed25519' }],
    ['p256', { name: 'ECDSA', namedCurve: 'P-256' }],
    ['p384', { name: 'ECDSA', namedCurve: 'P-384' }],
    ['rsa', { name: 'RSA-PSS', hash: 'SHA-256' }],
  ];
  for (const [type, alg] of attempts) {
    try {
      const key = await subtle.importKey('pkcs8', pkcs8 as BufferSource, alg, true, ['sign']);
      return { type, jwk: type === 'rsa' ? undefined : await subtle.exportKey('jwk', key) };
    } catch {
      // not this type; try the next
    }
  }
  return { type: 'unsupported' };
}

export const portableCrypto: CryptoProvider = {
  name: 'portable',
  hash(alg: HashName, data: Uint8Array): Uint8Array {
    return HASHES[alg](data);
  },
  hmac(alg: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
    return hmac(HASHES[alg], key, data);
  },
  randomBytes(n: number): Uint8Array {
    return globalThis.crypto.getRandomValues(new Uint8Array(n));
  },
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
    return diff === 0;
  },
  async publicKeyFromCertificate(certDer: Uint8Array): Promise<PublicKeyHandle> {
    const id = hex(sha256(certDer));
    const cached = publicKeys.get(id);
    if (cached) return cached;
    let parsed: CertificateKey;
    try {
      parsed = certificateKey(certDer);
    } catch (e) {
      throw new MalformedMessage('Certificate', `the end-entity certificate does not decode: ${(e as Error).message}`);
    }
    let handle: PortablePublicKey;
    try {
      switch (parsed.type) {
        case 'ed25519':
          if (parsed.key.length !== 32) throw new RangeError(`an Ed25519 key of ${parsed.key.length} bytes`);
          handle = { type: 'ed25519', raw: parsed.key.slice() };
          break;
        case 'p256':
        case 'p384':
          // fromBytes checks the point is on the curve; verify takes it uncompressed.
          handle = { type: parsed.type, raw: (parsed.type === 'p256' ? p256 : p384).Point.fromBytes(parsed.key).toBytes(false) };
          break;
        case 'rsa':
          handle = { type: 'rsa', bits: rsaModulusBits(parsed.key), raw: parsed.spki.slice(), rsa: new Map() };
          break;
        default:
          throw new UnsupportedKey(`certificate key algorithm ${parsed.algorithm} is not supported`);
      }
    } catch (e) {
      if (e instanceof UnsupportedKey) throw e;
      throw new MalformedMessage('Certificate', `the end-entity certificate's key does not decode: ${(e as Error).message}`);
    }
    publicKeys.set(id, handle);
    return handle;
  },
  async verify(scheme: number, handle: PublicKeyHandle, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const raw = (handle as Partial<PortablePublicKey>).raw;
    const hash = schemeHash(scheme);
    if (raw === undefined || keyTypeForScheme(scheme) !== handle.type) return false;
    try {
      switch (handle.type) {
        case 'ed25519':
          return ed25519.verify(signature, message, raw);
        case 'p256':
          return p256.verify(signature, message, raw, { format: 'der', lowS: false });
        case 'p384':
          return p384.verify(signature, message, raw, { format: 'der', lowS: false });
        case 'rsa': {
          if (hash === undefined) return false;
          const rsa = (handle as PortablePublicKey).rsa ?? new Map<HashName, Promise<CryptoKey>>();
          const key = await once(rsa, hash, () => importRsa(raw, hash, 'verify'));
          return await subtle.verify({ name: 'RSA-PSS', saltLength: HASHES[hash].outputLen }, key, signature as BufferSource, message as BufferSource);
        }
        default:
          return false;
      }
    } catch {
      return false;
    }
  },
  async signerFromPrivateKey(key: Uint8Array | string): Promise<Signer> {
    const pkcs8 = typeof key === 'string' ? pemToDer(key) : key;
    const { type, jwk } = await importPrivate(pkcs8);
    if (type === 'unsupported') throw new UnsupportedKey('the private key is not an Ed25519, P-256, P-384 or RSA PKCS#8 key');
    const schemes = SCHEMES_FOR_KEY[type];
    const secret = jwk?.d ? base64ToBytes(jwk.d) : undefined;
    const rsaKeys = new Map<HashName, Promise<CryptoKey>>();
    return {
      schemes,
      async sign(scheme: number, message: Uint8Array): Promise<Uint8Array> {
        if (!schemes.includes(scheme)) throw new UnsupportedKey(`this ${type} key cannot sign with scheme 0x${scheme.toString(16)}`);
        if (type === 'ed25519' && secret) return ed25519.sign(message, secret);
        if (type === 'p256' && secret) return p256.sign(message, secret, { format: 'der' });
        if (type === 'p384' && secret) return p384.sign(message, secret, { format: 'der' });
        const hash = schemeHash(scheme) as HashName;
        const cryptoKey = await once(rsaKeys, hash, () => importRsa(new Uint8Array(0), hash, 'sign', pkcs8));
        return new Uint8Array(await subtle.sign({ name: 'RSA-PSS', saltLength: HASHES[hash].outputLen }, cryptoKey, message as BufferSource));
      },
    };
  },
};
