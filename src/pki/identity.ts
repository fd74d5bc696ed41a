import { X509Certificate } from 'node:crypto';
import { defaultCrypto } from '../crypto/index.js';
import type { CryptoProvider, Signer } from '../crypto/provider.js';
import { subjectNameList } from './certificate-names.js';
import type { Extension } from '../tls/extension.js';
import { stapledEntryExtensions } from './stapled.js';

// A secondary identity of a server, shared by the HTTP/2 and HTTP/3 servers: its chain, its signer,
// and the hosts its leaf covers; with the small certificate helpers (names for reports, PEM) that the
// clients and the checker use too.

/** A certificate chain this server can prove on a connection, and how to sign for it. */
export interface SecondaryIdentity {
  /** Leaf first: DER certificates, or PEM text with one or more CERTIFICATE blocks. */
  chain: readonly Uint8Array[] | string;
  /** The leaf's private key (PKCS#8 DER or PEM). Either this or `signer`. */
  key?: Uint8Array | string;
  /** A signer for the leaf's key: an HSM, a remote service, or `signerFromKeyObject`. */
  signer?: Signer;
  /**
   * A DER OCSPResponse for the leaf, sent in its CertificateEntry's status_request extension, only when the
   * peer solicited it (RFC 9261 section 5.2.1). Replace it on the loaded identity as it is renewed.
   */
  ocspResponse?: Uint8Array;
  /** A SignedCertificateTimestampList (RFC 6962 section 3.3) for the leaf, sent in signed_certificate_timestamp when solicited. */
  sctList?: Uint8Array;
}

/** An identity ready to use: parsed chain, signer, and the leaf's names. */
export interface LoadedIdentity {
  readonly chain: Uint8Array[];
  readonly signer: Signer;
  readonly leaf: X509Certificate;
  /** subjectAltName entries, for logs. */
  readonly names: string[];
  /** What the leaf staples when the peer asks: an OCSP response and an SCT list (see SecondaryIdentity). */
  ocspResponse?: Uint8Array | undefined;
  sctList?: Uint8Array | undefined;
}

/** The CertificateEntry extensions an identity offers (index-aligned with its chain); createAuthenticator sends only the solicited ones. */
export function identityEntryExtensions(identity: LoadedIdentity): Extension[][] | undefined {
  return stapledEntryExtensions(identity, identity.chain.length);
}

/** Parses PEM or DER chains and makes a signer from a key. */
export async function loadIdentity(identity: SecondaryIdentity, crypto: CryptoProvider = defaultCrypto()): Promise<LoadedIdentity> {
  const chain = typeof identity.chain === 'string' ? pemCertificates(identity.chain) : identity.chain.map((c) => new Uint8Array(c));
  if (chain.length === 0) throw new TypeError('an identity needs at least one certificate');
  const signer = identity.signer ?? (identity.key !== undefined ? await crypto.signerFromPrivateKey(identity.key) : undefined);
  if (!signer) throw new TypeError('an identity needs a key or a signer');
  const leaf = new X509Certificate(chain[0] as Uint8Array);
  const names = subjectNameList(leaf);
  const stapled = {
    ...(identity.ocspResponse ? { ocspResponse: new Uint8Array(identity.ocspResponse) } : {}),
    ...(identity.sctList ? { sctList: new Uint8Array(identity.sctList) } : {}),
  };
  return { chain, signer, leaf, names, ...stapled };
}

// The names and the host rule live in certificate-names.ts; these names stay for the code that imports them here.
export { certificateCovers, subjectNameList as sanNames, subjectNameList as leafNames } from './certificate-names.js';

/** One PEM CERTIFICATE block for DER bytes. */
export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

function pemCertificates(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
  }
  return out;
}
