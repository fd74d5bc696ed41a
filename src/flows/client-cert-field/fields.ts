// Client-Cert and Client-Cert-Chain (RFC 9440 section 2) on plain header records: the shape node:http and
// node:http2 use for incoming (IncomingHttpHeaders) and outgoing (OutgoingHttpHeaders) headers. Names are
// matched without regard to case, so records built by hand with "Client-Cert" work too.
import { MalformedField } from '../../errors.js';
import { parseBinaryItem, parseBinaryList, serializeBinaryItem, serializeBinaryList, DEFAULT_MAX_FIELD_LENGTH, DEFAULT_MAX_LIST_MEMBERS } from './sf-binary.js';

export const CLIENT_CERT = 'client-cert';
export const CLIENT_CERT_CHAIN = 'client-cert-chain';

export type HeaderValue = string | number | readonly string[] | undefined;
export type HeaderRecord = Readonly<Record<string, HeaderValue>>;

export interface ClientCertLimits {
  /** Most characters in each of the two fields, all its lines combined. Default 16384. */
  maxFieldSize?: number;
  /** Most certificates in Client-Cert-Chain. Default 16. */
  maxChainLength?: number;
}

/** True for either field's name, in any case. */
export function isClientCertField(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === CLIENT_CERT || lower === CLIENT_CERT_CHAIN;
}

/** Every line of the field `name` (lowercase) in `headers`, under any spelling of the name. */
export function fieldLines(headers: HeaderRecord, name: string): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    if (typeof value === 'string') lines.push(value);
    else if (typeof value === 'number') lines.push(String(value));
    else lines.push(...value);
  }
  return lines;
}

/** Whether a request carries either field at all (even an empty one). */
export function hasClientCertFields(headers: HeaderRecord): boolean {
  return Object.entries(headers).some(([key, value]) => value !== undefined && isClientCertField(key));
}

/**
 * The two fields for a chain, leaf first. Client-Cert-Chain is left out when there is nothing after the
 * leaf: an empty List is not sent (RFC 9651 section 4.1).
 */
export function encodeClientCertFields(chain: readonly Uint8Array[]): Record<string, string> {
  if (!Array.isArray(chain) || chain.length === 0) throw new TypeError('chain must hold at least the end-entity certificate');
  const fields: Record<string, string> = { [CLIENT_CERT]: serializeBinaryItem(chain[0]!) };
  if (chain.length > 1) fields[CLIENT_CERT_CHAIN] = serializeBinaryList(chain.slice(1));
  return fields;
}

/**
 * The certificate chain a request's fields carry, leaf first, or undefined when there is no Client-Cert.
 * Throws MalformedField (bad syntax, Client-Cert more than once, a chain without Client-Cert) or
 * FieldTooLarge. The certificates themselves are not examined here: that is a CertificatePolicy's job.
 */
export function readClientCertFields(headers: HeaderRecord, limits: ClientCertLimits = {}): Uint8Array[] | undefined {
  const maxLength = limits.maxFieldSize ?? DEFAULT_MAX_FIELD_LENGTH;
  const certLines = fieldLines(headers, CLIENT_CERT);
  const chainLines = fieldLines(headers, CLIENT_CERT_CHAIN);
  const intermediates =
    chainLines.length === 0
      ? []
      : parseBinaryList(chainLines, { fieldName: 'Client-Cert-Chain', maxLength, maxMembers: limits.maxChainLength ?? DEFAULT_MAX_LIST_MEMBERS });
  if (certLines.length === 0) {
    // RFC 9440 section 2.3: the chain must not appear without Client-Cert. An empty List counts as absent.
    if (intermediates.length > 0) throw new MalformedField('Client-Cert-Chain', 'present without Client-Cert');
    return undefined;
  }
  const leaf = parseBinaryItem(certLines, { fieldName: 'Client-Cert', maxLength });
  return [leaf, ...intermediates];
}
