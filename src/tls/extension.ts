import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';

// TLS extensions (RFC 8446 section 4.2) and the bodies of those an RFC 9261 request or CertificateEntry
// may carry. Unknown extension types are kept as raw bytes so they round-trip.

export const ExtensionType = {
  server_name: 0,
  status_request: 5,
  signature_algorithms: 13,
  status_request_v2: 17,
  signed_certificate_timestamp: 18,
  compress_certificate: 27,
  delegated_credential: 34,
  certificate_authorities: 47,
  oid_filters: 48,
  signature_algorithms_cert: 50,
  transparency_info: 52,
} as const;

export interface Extension {
  type: number;
  data: Uint8Array;
}

/**
 * Extensions whose RFC 8446 / IANA "TLS 1.3" column includes CT, so they may appear in a CertificateEntry.
 * Any other *known* type there is refused even if offered; unknown types are judged only by whether they
 * were offered (RFC 9261 section 5.2.1).
 */
export const CERTIFICATE_ENTRY_EXTENSIONS: ReadonlySet<number> = new Set([5, 18, 34, 52]);
const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(ExtensionType));
export function isKnownExtension(type: number): boolean {
  return KNOWN_TYPES.has(type);
}

/** Reads `Extension extensions<min..2^16-1>`; a type appearing twice is malformed (RFC 8446 section 4.2). */
export function readExtensions(r: Reader, what: string, min = 0): Extension[] {
  const list = r.sub(2, what, min);
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (list.remaining > 0) {
    const type = list.u16('extension_type');
    const data = list.vector(2, 'extension_data');
    if (seen.has(type)) list.fail(`extension ${type} appears twice`);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

export function writeExtensions(w: Writer, exts: readonly Extension[], what = 'extensions'): void {
  w.vector(
    2,
    (l) => {
      for (const e of exts) l.u16(e.type).opaque(2, e.data, 'extension_data');
    },
    what,
  );
}

function encodeWith(fn: (w: Writer) => void): Uint8Array {
  const w = new Writer(64);
  fn(w);
  return w.finish();
}

// ---- signature_algorithms (13) and signature_algorithms_cert (50): SignatureScheme list<2..2^16-2> ----

export function encodeSignatureSchemeList(schemes: readonly number[]): Uint8Array {
  if (schemes.length === 0) throw new RangeError('a signature scheme list may not be empty');
  return encodeWith((w) => w.vector(2, (l) => schemes.forEach((s) => l.u16(s)), 'supported_signature_algorithms'));
}

export function parseSignatureSchemeList(data: Uint8Array, what: string): number[] {
  const r = new Reader(data, what);
  const list = r.sub(2, 'supported_signature_algorithms', 2, 0xfffe);
  if (list.remaining % 2 !== 0) list.fail('odd length');
  const out: number[] = [];
  while (list.remaining > 0) out.push(list.u16('SignatureScheme'));
  r.end();
  return out;
}

// ---- server_name (0): ServerNameList { ServerName server_name_list<1..2^16-1> } (RFC 6066 section 3) ----

export function encodeServerName(host: string): Uint8Array {
  const name = new TextEncoder().encode(host);
  if (name.length === 0 || !/^[\x21-\x7e]+$/.test(host)) throw new TypeError('server_name must be a non-empty ASCII host name');
  return encodeWith((w) => w.vector(2, (l) => l.u8(0).opaque(2, name, 'HostName'), 'server_name_list'));
}

/** The host_name from a ServerNameList. RFC 6066 allows one name of each type; only host_name (0) exists. */
export function parseServerName(data: Uint8Array): string {
  const r = new Reader(data, 'server_name');
  const list = r.sub(2, 'server_name_list', 1);
  let host: string | undefined;
  while (list.remaining > 0) {
    const nameType = list.u8('name_type');
    const name = list.vector(2, 'HostName', 1);
    if (nameType !== 0) list.fail(`unknown name_type ${nameType}`);
    if (host !== undefined) list.fail('more than one host_name');
    // Host names are ASCII (A-labels); anything else is malformed rather than silently decoded.
    for (const b of name) if (b < 0x21 || b > 0x7e) list.fail('HostName is not printable ASCII');
    host = String.fromCharCode(...name);
  }
  r.end();
  return host!;
}

// ---- certificate_authorities (47): DistinguishedName authorities<3..2^16-1>, each opaque<1..2^16-1> ----

export function encodeCertificateAuthorities(names: readonly Uint8Array[]): Uint8Array {
  if (names.length === 0) throw new RangeError('certificate_authorities may not be empty');
  return encodeWith((w) => w.vector(2, (l) => names.forEach((n) => l.opaque(2, n, 'DistinguishedName')), 'authorities'));
}

export function parseCertificateAuthorities(data: Uint8Array): Uint8Array[] {
  const r = new Reader(data, 'certificate_authorities');
  const list = r.sub(2, 'authorities', 3);
  const out: Uint8Array[] = [];
  while (list.remaining > 0) out.push(list.vector(2, 'DistinguishedName', 1));
  r.end();
  return out;
}

// ---- oid_filters (48): OIDFilter filters<0..2^16-1> (RFC 8446 section 4.2.5) ----

export interface OidFilter {
  /** DER-encoded OID content bytes, as carried. */
  oid: Uint8Array;
  /** DER of the extension values the certificate must carry. */
  values: Uint8Array;
}

export function encodeOidFilters(filters: readonly OidFilter[]): Uint8Array {
  return encodeWith((w) =>
    w.vector(2, (l) => filters.forEach((f) => l.opaque(1, f.oid, 'certificate_extension_oid').opaque(2, f.values, 'certificate_extension_values')), 'filters'),
  );
}

export function parseOidFilters(data: Uint8Array): OidFilter[] {
  const r = new Reader(data, 'oid_filters');
  const list = r.sub(2, 'filters');
  const out: OidFilter[] = [];
  while (list.remaining > 0) {
    const oid = list.vector(1, 'certificate_extension_oid', 1);
    const values = list.vector(2, 'certificate_extension_values');
    out.push({ oid, values });
  }
  r.end();
  return out;
}

// ---- status_request (5) ----
// In a CertificateRequest the extension is empty (RFC 8446 section 4.4.2.1); a client-made request may carry
// the ClientHello form, CertificateStatusRequest (RFC 6066 section 8). Both are accepted.

export function parseStatusRequestInRequest(data: Uint8Array): void {
  if (data.length === 0) return;
  const r = new Reader(data, 'status_request');
  const statusType = r.u8('status_type');
  if (statusType !== 1) r.fail(`status_type ${statusType} is not ocsp(1)`);
  r.vector(2, 'responder_id_list');
  r.vector(2, 'request_extensions');
  r.end();
}

/** In a CertificateEntry: CertificateStatus { status_type ocsp(1); OCSPResponse<1..2^24-1> }. */
export function encodeCertificateStatus(ocspResponse: Uint8Array): Uint8Array {
  return encodeWith((w) => w.u8(1).opaque(3, ocspResponse, 'OCSPResponse'));
}

export function parseCertificateStatus(data: Uint8Array): Uint8Array {
  const r = new Reader(data, 'CertificateEntry.status_request');
  const statusType = r.u8('status_type');
  if (statusType !== 1) r.fail(`status_type ${statusType} is not ocsp(1)`);
  const resp = r.vector(3, 'OCSPResponse', 1);
  r.end();
  return resp;
}

// ---- signed_certificate_timestamp (18) ----
// Empty in a request (RFC 6962 section 3.3.1); in a CertificateEntry a SignedCertificateTimestampList,
// opaque<1..2^16-1>, which we check for framing only.

export function parseSctList(data: Uint8Array): Uint8Array {
  const r = new Reader(data, 'CertificateEntry.signed_certificate_timestamp');
  const list = r.vector(2, 'SignedCertificateTimestampList', 1);
  r.end();
  return list;
}

export function requireEmpty(data: Uint8Array, what: string): void {
  if (data.length !== 0) new Reader(data, what).fail('must be empty');
}
