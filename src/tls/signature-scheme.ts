// TLS SignatureScheme codepoints (RFC 8446 section 4.2.3) and which of them TLS 1.3 allows.

export const SignatureScheme = {
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  ed25519: 0x0807,
  ed448: 0x0808,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
  // Defined by TLS but not allowed in a TLS 1.3 CertificateVerify:
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  rsa_pkcs1_sha1: 0x0201,
  ecdsa_sha1: 0x0203,
} as const;
export type SignatureSchemeName = keyof typeof SignatureScheme;

/** Schemes a TLS 1.3 CertificateVerify may use (RFC 8446 sections 4.2.3 and 4.4.3: no PKCS#1 v1.5, no SHA-1). */
const TLS13_SCHEMES = new Set<number>([0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b]);

export function isTls13Scheme(scheme: number): boolean {
  return TLS13_SCHEMES.has(scheme);
}

/** The schemes this library signs and verifies with, in our default order of preference. */
export const SUPPORTED_SCHEMES: readonly number[] = [
  SignatureScheme.ed25519,
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pss_rsae_sha512,
];

/** The kinds of public key this library knows; 'unsupported' covers everything else (ed448, P-521, RSA-PSS-only keys...). */
export type KeyType = 'ed25519' | 'p256' | 'p384' | 'rsa' | 'unsupported';

/** Which key type a scheme needs (RFC 8446 section 4.2.3); undefined for schemes we do not implement. */
export function keyTypeForScheme(scheme: number): KeyType | undefined {
  switch (scheme) {
    case 0x0807:
      return 'ed25519';
    case 0x0403:
      return 'p256';
    case 0x0503:
      return 'p384';
    case 0x0804:
    case 0x0805:
    case 0x0806:
      return 'rsa';
    default:
      return undefined;
  }
}

export function schemeName(scheme: number): string {
  for (const [name, v] of Object.entries(SignatureScheme)) if (v === scheme) return name;
  return `0x${scheme.toString(16).padStart(4, '0')}`;
}
