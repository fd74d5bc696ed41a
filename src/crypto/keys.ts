import type { KeyType } from '../tls/signature-scheme.js';
import { SignatureScheme } from '../tls/signature-scheme.js';

// Which TLS 1.3 schemes a key of each type can sign with, most preferred first. RSA keys use the rsae
// schemes (rsaEncryption SPKI); RSASSA-PSS SPKIs (the rsa_pss_pss_* schemes) are not supported.
export const SCHEMES_FOR_KEY: Record<Exclude<KeyType, 'unsupported'>, readonly number[]> = {
  ed25519: [SignatureScheme.ed25519],
  p256: [SignatureScheme.ecdsa_secp256r1_sha256],
  p384: [SignatureScheme.ecdsa_secp384r1_sha384],
  rsa: [SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_rsae_sha384, SignatureScheme.rsa_pss_rsae_sha512],
};

/** The hash a scheme signs with (RSA-PSS salt length equals its length, RFC 8446 section 4.2.3). */
export function schemeHash(scheme: number): 'sha256' | 'sha384' | 'sha512' | undefined {
  switch (scheme) {
    case SignatureScheme.ecdsa_secp256r1_sha256:
    case SignatureScheme.rsa_pss_rsae_sha256:
      return 'sha256';
    case SignatureScheme.ecdsa_secp384r1_sha384:
    case SignatureScheme.rsa_pss_rsae_sha384:
      return 'sha384';
    case SignatureScheme.rsa_pss_rsae_sha512:
      return 'sha512';
    default:
      return undefined;
  }
}

/** A small bounded map: when full, the oldest entry goes. Keeps a verifier from growing without limit. */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    return this.map.get(key);
  }
  set(key: K, value: V): void {
    if (this.map.size >= this.max && !this.map.has(key)) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }
}
