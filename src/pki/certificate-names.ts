import { X509Certificate } from 'node:crypto';
import { CertificateNameMismatch } from '../errors.js';
import { DerReader, TAG } from '../codec/der.js';
import { formatIpAddress, hostCoveredBy, type SubjectNames } from './names.js';
import { certificateExtension } from './extensions.js';

// The one host rule for certificates: a certificate covers a host when its subjectAltName does, by the
// matching in names.ts; the subject common name never counts. The clients (the TLS certificate, in the
// handshake and for authority, and secondary ones), the servers (which hosts a connection serves) and the
// SNI callback all ask this file.

const SUBJECT_ALT_NAME = '2.5.29.17';
const NO_NAMES: SubjectNames = Object.freeze({ dnsNames: Object.freeze([]), ipAddresses: Object.freeze([]) });

/** The dNSName and iPAddress entries of a GeneralNames value (the subjectAltName extension's content). */
export function readGeneralNames(value: DerReader): { dnsNames: string[]; ipAddresses: string[] } {
  const names = value.enter(TAG.sequence, 'GeneralNames');
  const out = { dnsNames: [] as string[], ipAddresses: [] as string[] };
  while (names.remaining > 0) {
    const name = names.next('GeneralName');
    if (name.tag === 0x82) out.dnsNames.push(Buffer.from(name.content).toString('latin1'));
    // 4 or 16 bytes are an address; any other length (a netmask form) is none.
    if (name.tag === 0x87 && (name.content.length === 4 || name.content.length === 16)) out.ipAddresses.push(formatIpAddress(name.content));
  }
  return out;
}

// Servers ask for every request: read each certificate object once.
const namesOfObject = new WeakMap<X509Certificate, SubjectNames>();

/**
 * The subjectAltName names of a certificate (DER bytes or a node:crypto X509Certificate). None when it
 * has no subjectAltName, or when its DER does not decode (such a certificate covers nothing).
 */
export function subjectNamesOf(cert: X509Certificate | Uint8Array | undefined): SubjectNames {
  if (cert === undefined) return NO_NAMES;
  if (cert instanceof Uint8Array) return readSubjectNames(cert);
  let names = namesOfObject.get(cert);
  if (!names) {
    names = readSubjectNames(new Uint8Array(cert.raw));
    namesOfObject.set(cert, names);
  }
  return names;
}

/** Does the certificate cover `host` (a DNS name or an IP address, IPv6 with or without brackets)? */
export function certificateCovers(cert: X509Certificate | Uint8Array | undefined, host: string): boolean {
  return hostCoveredBy(host, subjectNamesOf(cert));
}

/**
 * The TLS handshake's name check, the same for HTTP/2 and HTTP/3: undefined when the server's TLS
 * certificate covers `host`, else the error to fail the connection with.
 */
export function serverNameMismatch(cert: X509Certificate | Uint8Array | undefined, host: string): CertificateNameMismatch | undefined {
  if (certificateCovers(cert, host)) return undefined;
  const names = subjectNameList(cert);
  return new CertificateNameMismatch(`the server's TLS certificate does not cover ${host} (its subjectAltName: ${names.length > 0 ? names.join(', ') : 'none'})`);
}

/** dNSName entries then iPAddress entries, for reports and logs. */
export function subjectNameList(cert: X509Certificate | Uint8Array | undefined): string[] {
  const names = subjectNamesOf(cert);
  return [...names.dnsNames, ...names.ipAddresses];
}

function readSubjectNames(der: Uint8Array): SubjectNames {
  try {
    const san = certificateExtension(der, SUBJECT_ALT_NAME);
    if (san) return readGeneralNames(new DerReader(san, 'subjectAltName'));
  } catch {
    // A certificate that does not decode covers nothing.
  }
  return NO_NAMES;
}
