import type { KeyType } from '../tls/signature-scheme.js';

export type HashName = 'sha256' | 'sha384' | 'sha512';

export const HASH_LENGTH: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** A public key taken from a certificate, in whatever form the provider verifies with fastest. */
export interface PublicKeyHandle {
  readonly type: KeyType;
  /** Modulus size for RSA keys, else undefined. */
  readonly bits?: number;
}

/**
 * Something that signs with one private key. It may be asynchronous, so the key can live in an HSM or a
 * remote signing service. `schemes` lists what the key can sign with (TLS 1.3 SignatureScheme values),
 * most preferred first; `sign` receives the whole to-be-signed content (RFC 8446 section 4.4.3 layout) and
 * must return the bare signature as it goes in CertificateVerify.signature.
 */
export interface Signer {
  readonly schemes: readonly number[];
  sign(scheme: number, message: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

/**
 * All the cryptography the Exported Authenticator core uses, behind one narrow interface (in the manner of
 * rustls' CryptoProvider). Hashing and HMAC are synchronous because both backends can do them so; key
 * import, signing and verification may be asynchronous (WebCrypto).
 */
export interface CryptoProvider {
  readonly name: string;
  hash(alg: HashName, data: Uint8Array): Uint8Array;
  hmac(alg: HashName, key: Uint8Array, data: Uint8Array): Uint8Array;
  randomBytes(n: number): Uint8Array;
  /** Constant-time equality of two byte strings (false when lengths differ). */
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
  /**
   * The subject public key of a DER X.509 certificate. Throws UnsupportedKey for key types outside
   * KeyType, and MalformedMessage for DER that does not parse.
   */
  publicKeyFromCertificate(certDer: Uint8Array): Promise<PublicKeyHandle>;
  /** Verifies `signature` over `message` with `scheme`. False for a bad signature; never throws for one. */
  verify(scheme: number, key: PublicKeyHandle, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** A Signer for a PKCS#8 DER private key (or PEM text). */
  signerFromPrivateKey(key: Uint8Array | string): Promise<Signer>;
}
