import type { CertificateEntry } from '../tls/certificate.js';
import { encodeCertificateStatus, ExtensionType, parseCertificateStatus, type Extension } from '../tls/extension.js';
import type { Stapled } from './policy.js';

// Between the TLS CertificateEntry extensions (RFC 8446 section 4.4.2.1, RFC 6962 section 3.3) and what the
// certificate policy judges: the leaf's OCSP response and SCT list, read from an entry or made into one.

/** The OCSP response and SCT list a CertificateEntry carries (the leaf's entry: RFC 8446 section 4.4.2.1). */
export function stapledOf(entry: CertificateEntry | undefined): Stapled {
  const out: Stapled = {};
  for (const e of entry?.extensions ?? []) {
    if (e.type === ExtensionType.status_request) out.ocspResponse = parseCertificateStatus(e.data);
    if (e.type === ExtensionType.signed_certificate_timestamp) out.sctList = e.data;
  }
  return out;
}

/** The leaf entry's extensions for what an identity staples (index-aligned with the chain), or undefined for none. */
export function stapledEntryExtensions(stapled: Stapled, chainLength: number): Extension[][] | undefined {
  const leaf: Extension[] = [];
  if (stapled.ocspResponse) leaf.push({ type: ExtensionType.status_request, data: encodeCertificateStatus(stapled.ocspResponse) });
  if (stapled.sctList) leaf.push({ type: ExtensionType.signed_certificate_timestamp, data: stapled.sctList });
  if (leaf.length === 0) return undefined;
  return [leaf, ...Array.from({ length: chainLength - 1 }, () => [])];
}
