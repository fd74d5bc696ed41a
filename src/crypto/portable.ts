import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { MalformedMessage, UnsupportedKey } from '../errors.js';
import type { KeyType } from '../tls/signature-scheme.js';
import { keyTypeForScheme } from '../tls/signature-scheme.js';
import type { webcrypto } from 'node:crypto';
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
}

function base64UrlToBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64url'));
}

/** The key type of an SPKI, from the algorithm @peculiar/x509 reads out of it. */
function keyTypeOfAlgorithm(alg: { name: string; namedCurve?: string }): KeyType {
  if (alg.name === 'Ed25519') return 'ed25519';
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-256') return 'p256';
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-384') return 'p384';
  if (alg.name === 'RSASSA-PKCS1-v1_5') return 'rsa'; // rsaEncryption SPKI, used with the rsae schemes
  return 'unsupported';
}

async function importRsa(spki: Uint8Array, hash: HashName, usage: 'verify' | 'sign', pkcs8?: Uint8Array): Promise<CryptoKey> {
  const alg = { name: 'RSA-PSS', hash: WEBCRYPTO_HASH[hash] };
  return pkcs8 ? subtle.importKey('pkcs8', pkcs8 as BufferSource, alg, false, [usage]) : subtle.importKey('spki', spki as BufferSource, alg, false, [usage]);
}

const publicKeys = new BoundedCache<string, PortablePublicKey>(256);

function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(pem);
  if (!m?.[1]) throw new UnsupportedKey('expected a PKCS#8 "PRIVATE KEY" PEM block');
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
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
    const id = Buffer.from(certDer.buffer, certDer.byteOffset, certDer.byteLength).toString('base64');
    const cached = publicKeys.get(id);
    if (cached) return cached;
    let spki: Uint8Array;
    let algorithm: { name: string; namedCurve?: string };
    try {
      const cert = new x509.X509Certificate(certDer);
      spki = new Uint8Array(cert.publicKey.rawData);
      algorithm = cert.publicKey.algorithm as { name: string; namedCurve?: string };
    } catch (e) {
      throw new MalformedMessage('Certificate', `the end-entity certificate does not decode: ${(e as Error).message}`);
    }
    const type = keyTypeOfAlgorithm(algorithm);
    let handle: PortablePublicKey;
    if (type === 'unsupported') throw new UnsupportedKey(`certificate key algorithm ${algorithm.name} is not supported`);
    if (type === 'rsa') {
      const jwk = await subtle.exportKey('jwk', await subtle.importKey('spki', spki as BufferSource, { name: 'RSA-PSS', hash: 'SHA-256' }, true, ['verify']));
      handle = { type, bits: base64UrlToBytes(jwk.n ?? '').length * 8, raw: spki };
    } else {
      const params = type === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: type === 'p256' ? 'P-256' : 'P-384' };
      const key = await subtle.importKey('spki', spki as BufferSource, params, true, ['verify']);
      handle = { type, raw: new Uint8Array(await subtle.exportKey('raw', key)) };
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
          const key = await importRsa(raw, hash, 'verify');
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
    const secret = jwk?.d ? base64UrlToBytes(jwk.d) : undefined;
    return {
      schemes,
      async sign(scheme: number, message: Uint8Array): Promise<Uint8Array> {
        if (!schemes.includes(scheme)) throw new UnsupportedKey(`this ${type} key cannot sign with scheme 0x${scheme.toString(16)}`);
        if (type === 'ed25519' && secret) return ed25519.sign(message, secret);
        if (type === 'p256' && secret) return p256.sign(message, secret, { format: 'der' });
        if (type === 'p384' && secret) return p384.sign(message, secret, { format: 'der' });
        const hash = schemeHash(scheme) as HashName;
        const cryptoKey = await importRsa(new Uint8Array(0), hash, 'sign', pkcs8);
        return new Uint8Array(await subtle.sign({ name: 'RSA-PSS', saltLength: HASHES[hash].outputLen }, cryptoKey, message as BufferSource));
      },
    };
  },
};
