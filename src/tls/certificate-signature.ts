import { DerReader, oidText, TAG } from '../codec/der.js';
import { SignatureScheme } from './signature-scheme.js';

// Which TLS SignatureScheme names the signature on a certificate (RFC 8446 section 4.2.3: the
// signature_algorithms_cert schemes "apply to signatures in certificates"), and whether a chain's
// signatures all fit a list a peer offered (section 4.4.2.2; RFC 9261 section 5.2.1 makes it a MUST for
// authenticators). Read from the certificate's outer signatureAlgorithm.

const SHA = { '2.16.840.1.101.3.4.2.1': 256, '2.16.840.1.101.3.4.2.2': 384, '2.16.840.1.101.3.4.2.3': 512 } as Record<string, number>;

/** Schemes named by a plain signature-algorithm OID (no parameters to read). */
const BY_OID: Record<string, readonly number[]> = {
  '1.2.840.10045.4.3.2': [SignatureScheme.ecdsa_secp256r1_sha256],
  '1.2.840.10045.4.3.3': [SignatureScheme.ecdsa_secp384r1_sha384],
  '1.2.840.10045.4.3.4': [SignatureScheme.ecdsa_secp521r1_sha512],
  '1.2.840.10045.4.1': [SignatureScheme.ecdsa_sha1],
  '1.3.101.112': [SignatureScheme.ed25519],
  '1.3.101.113': [SignatureScheme.ed448],
  '1.2.840.113549.1.1.11': [SignatureScheme.rsa_pkcs1_sha256],
  '1.2.840.113549.1.1.12': [SignatureScheme.rsa_pkcs1_sha384],
  '1.2.840.113549.1.1.13': [SignatureScheme.rsa_pkcs1_sha512],
  '1.2.840.113549.1.1.5': [SignatureScheme.rsa_pkcs1_sha1],
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';
const PSS_BY_HASH: Record<number, readonly number[]> = {
  // rsae or pss: which one depends on the issuer's key type, which the certificate does not carry.
  256: [SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_pss_sha256],
  384: [SignatureScheme.rsa_pss_rsae_sha384, SignatureScheme.rsa_pss_pss_sha384],
  512: [SignatureScheme.rsa_pss_rsae_sha512, SignatureScheme.rsa_pss_pss_sha512],
};

export interface CertificateSignature {
  /** The schemes that name this certificate's signature; empty when none does (or it does not parse). */
  schemes: readonly number[];
  /** Issuer and subject are the same name: a self-signed certificate, whose signature is not checked. */
  selfSigned: boolean;
}

/** The signature of one DER certificate, as TLS names it. Never throws: unreadable gives no scheme. */
export function certificateSignature(der: Uint8Array): CertificateSignature {
  try {
    const cert = new DerReader(der, 'Certificate').enter(TAG.sequence, 'Certificate');
    const tbs = cert.enter(TAG.sequence, 'tbsCertificate');
    tbs.optional(0xa0, 'version');
    tbs.expect(TAG.integer, 'serialNumber');
    tbs.expect(TAG.sequence, 'signature');
    const issuer = tbs.expect(TAG.sequence, 'issuer').whole;
    tbs.expect(TAG.sequence, 'validity');
    const subject = tbs.expect(TAG.sequence, 'subject').whole;
    const algorithm = cert.enter(TAG.sequence, 'signatureAlgorithm');
    const oid = oidText(algorithm.expect(TAG.oid, 'algorithm').content);
    const selfSigned = issuer.length === subject.length && issuer.every((b, i) => b === subject[i]);
    if (oid !== RSASSA_PSS) return { schemes: BY_OID[oid] ?? [], selfSigned };
    // RSASSA-PSS-params: hashAlgorithm [0] is DEFAULT sha1, which TLS 1.3 never allows.
    const params = algorithm.optional(TAG.sequence, 'RSASSA-PSS-params');
    const hashField = params ? new DerReader(params.content, 'RSASSA-PSS-params').optional(0xa0, 'hashAlgorithm') : undefined;
    if (!hashField) return { schemes: [], selfSigned };
    const hashOid = oidText(new DerReader(hashField.content, 'hashAlgorithm').enter(TAG.sequence, 'AlgorithmIdentifier').expect(TAG.oid, 'algorithm').content);
    return { schemes: PSS_BY_HASH[SHA[hashOid] ?? 0] ?? [], selfSigned };
  } catch {
    return { schemes: [], selfSigned: false };
  }
}

/**
 * The first certificate of `chain` whose signature no scheme of `offered` names, or undefined when all
 * fit. A self-signed certificate is skipped: a trust anchor's own signature is never validated (RFC 8446
 * section 4.4.2.2).
 */
export function firstUnfitCertificate(chain: readonly Uint8Array[], offered: readonly number[]): { index: number; schemes: readonly number[] } | undefined {
  for (const [index, der] of chain.entries()) {
    const { schemes, selfSigned } = certificateSignature(der);
    if (selfSigned) continue;
    if (!schemes.some((s) => offered.includes(s))) return { index, schemes };
  }
  return undefined;
}
