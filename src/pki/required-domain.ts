import { DerReader } from '../codec/der.js';
import { CertificateRejected } from '../errors.js';
import { formatIpAddress, parseIpAddress } from './names.js';
import { certificateExtension } from './extensions.js';

// The Required Domain certificate extension (draft-ietf-httpbis-http2-secondary-certs-06 section 5):
// `RequiredDomain ::= GeneralName`, under an OID the draft leaves TBD ("id-ce TBD1"; the caller passes
// the profile's). A client accepts a server certificate from an exported authenticator only when it
// carries the extension and a certificate already accepted on the connection, the TLS one included,
// covers the named domain (section 6.1); "*" (a dNSName and the whole name) accepts any.

/** A Required Domain value: a DNS name, an IP address, or "*" (any identity already authenticated). */
export type RequiredDomain = { type: 'dns'; name: string } | { type: 'ip'; address: string } | { type: 'any' };

const DNS_NAME = 0x82; // [2] IMPLICIT IA5String
const IP_ADDRESS = 0x87; // [7] IMPLICIT OCTET STRING

/** The extension's value (extnValue's content): one DER GeneralName. Throws RangeError for a value -06 forbids. */
export function encodeRequiredDomain(domain: RequiredDomain): Uint8Array {
  if (domain.type === 'any') return tlv(DNS_NAME, new TextEncoder().encode('*'));
  if (domain.type === 'ip') {
    const bytes = parseIpAddress(domain.address);
    if (!bytes) throw new RangeError(`not an IP address: ${domain.address}`);
    return tlv(IP_ADDRESS, bytes);
  }
  // Section 5: no empty name, and "*" only as the whole name (that is the 'any' form).
  if (domain.name === '' || domain.name.includes('*') || !/^[\x21-\x7e]+$/.test(domain.name)) throw new RangeError(`not a Required Domain dNSName: ${JSON.stringify(domain.name)}`);
  return tlv(DNS_NAME, new TextEncoder().encode(domain.name));
}

/**
 * The Required Domain of a certificate (DER), or undefined when it has none. A value that is empty, not
 * one GeneralName, of another GeneralName type than dNSName or iPAddress, or a wildcard that is not the
 * whole name, makes the certificate invalid (section 5): CertificateRejected(ERR_CERT_REQUIRED_DOMAIN).
 */
export function readRequiredDomain(certificate: Uint8Array, oid: string): RequiredDomain | undefined {
  const value = extensionValue(certificate, oid);
  if (value === undefined) return undefined;
  try {
    const r = new DerReader(value, 'RequiredDomain');
    const name = r.next('GeneralName');
    if (r.remaining !== 0) return invalid('trailing bytes after the GeneralName');
    if (name.content.length === 0) return invalid('an empty GeneralName');
    if (name.tag === IP_ADDRESS) {
      if (name.content.length !== 4 && name.content.length !== 16) return invalid(`an iPAddress of ${name.content.length} bytes`);
      return { type: 'ip', address: formatIpAddress(name.content) };
    }
    if (name.tag !== DNS_NAME) return invalid(`a GeneralName of tag 0x${name.tag.toString(16)} (only dNSName and iPAddress are supported)`);
    const text = Buffer.from(name.content).toString('latin1');
    if (text === '*') return { type: 'any' };
    if (text.includes('*')) return invalid(`the wildcard "*" must be the whole name, not ${JSON.stringify(text)}`);
    return { type: 'dns', name: text.toLowerCase() };
  } catch (e) {
    if (e instanceof CertificateRejected) throw e;
    return invalid(`does not decode: ${(e as Error).message}`);
  }
}

/**
 * Section 6.1's rule for a server certificate received in an exported authenticator: it must carry a
 * Required Domain, and `covered(host)` (does a certificate already accepted on the connection, the TLS one
 * included, cover it?) must hold for it. Throws CertificateRejected(ERR_CERT_REQUIRED_DOMAIN).
 */
export function checkRequiredDomain(leaf: Uint8Array, oid: string, covered: (host: string) => boolean): RequiredDomain {
  const domain = readRequiredDomain(leaf, oid);
  if (!domain) throw new CertificateRejected('ERR_CERT_REQUIRED_DOMAIN', `the certificate has no Required Domain extension (${oid}), which -06 requires of a secondary server certificate`);
  if (domain.type === 'any') return domain;
  const host = domain.type === 'dns' ? domain.name : domain.address;
  if (!covered(host)) throw new CertificateRejected('ERR_CERT_REQUIRED_DOMAIN', `its Required Domain ${host} is covered by no certificate already accepted on this connection`);
  return domain;
}

function invalid(why: string): never {
  throw new CertificateRejected('ERR_CERT_REQUIRED_DOMAIN', `the Required Domain extension is invalid: ${why}`);
}

/** The extnValue content of the extension `oid` in a certificate, or undefined. Throws ERR_CERT_MALFORMED if the DER does not decode. */
function extensionValue(certificate: Uint8Array, oid: string): Uint8Array | undefined {
  try {
    return certificateExtension(certificate, oid);
  } catch (e) {
    throw new CertificateRejected('ERR_CERT_MALFORMED', `the certificate does not decode: ${(e as Error).message}`, { cause: e });
  }
}

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  const out = new Uint8Array(1 + length.length + n);
  out[0] = tag;
  out.set(length, 1);
  out.set(content, 1 + length.length);
  return out;
}
