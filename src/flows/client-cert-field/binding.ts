// Our proposal beyond RFC 9440 (spec-notes/rfc9440.md, "hop binding"): RFC 9440 lets an origin believe
// Client-Cert only from peers it trusts, and leaves how it knows its peer to configuration (an address, a
// mutually authenticated connection). An address is weak: anyone who can reach the origin from a trusted
// address, or through the same load balancer, can set the fields. The binding ties the fields to the TLS
// connection the proxy opened to the origin: the proxy sends an HMAC over the fields, keyed with a TLS
// exporter of that connection (RFC 8446 section 7.5), which only the two ends of it can compute. A client
// of the proxy never learns it, and fields copied onto another connection do not verify there.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ClientCertBindingMismatch, UnsupportedTlsVersion } from '../../errors.js';
import { fieldLines, CLIENT_CERT, CLIENT_CERT_CHAIN, type HeaderRecord } from './fields.js';
import { parseBinaryItem, serializeBinaryItem } from './sf-binary.js';

/** Our field: an sf-binary Item, the HMAC-SHA256 of the forwarded fields under the connection's exporter. */
export const CLIENT_CERT_BINDING = 'client-cert-binding';
/** The exporter label (RFC 8446 section 7.5); the context is empty. */
export const CLIENT_CERT_BINDING_LABEL = 'EXPORTER-secondary-certs-client-cert-binding';

/** What the binding needs of a TLS socket: node's TLSSocket, and the socket proxy of an http2 session. */
export interface ExporterSocket {
  getProtocol(): string | null;
  exportKeyingMaterial(length: number, label: string, context?: Buffer): Buffer;
}

/**
 * The bytes the MAC covers: both field names with their lines as they are sent (joined with ", ", the
 * way a recipient may combine them), each line ended by a newline. A field that is absent is there with
 * no value, so dropping Client-Cert-Chain from a bound pair is detected.
 */
function macInput(headers: HeaderRecord): Buffer {
  const line = (name: string): string => `${name}: ${fieldLines(headers, name).join(', ')}\n`;
  return Buffer.from(line(CLIENT_CERT) + line(CLIENT_CERT_CHAIN), 'latin1');
}

function mac(socket: ExporterSocket, headers: HeaderRecord): Buffer {
  const version = socket.getProtocol();
  // TLS 1.2 exporters are only safe with extended master secret, which Node cannot report.
  if (version !== 'TLSv1.3') throw new UnsupportedTlsVersion(`the Client-Cert binding needs TLS 1.3, this connection is ${version ?? 'not established'}`);
  const key = socket.exportKeyingMaterial(32, CLIENT_CERT_BINDING_LABEL, Buffer.alloc(0));
  return createHmac('sha256', key).update(macInput(headers)).digest();
}

/** The Client-Cert-Binding value for fields about to be sent on `socket` (the proxy's side). */
export function clientCertBinding(socket: ExporterSocket, headers: HeaderRecord): string {
  return serializeBinaryItem(mac(socket, headers));
}

/**
 * Checks, on the origin's side, that `headers` carry a Client-Cert-Binding that the peer on `socket`
 * computed for exactly these fields. Throws ClientCertBindingMismatch when it is missing, malformed,
 * repeated or wrong, and UnsupportedTlsVersion when the connection is not TLS 1.3.
 */
export function verifyClientCertBinding(socket: ExporterSocket, headers: HeaderRecord): void {
  const lines = fieldLines(headers, CLIENT_CERT_BINDING);
  if (lines.length === 0) throw new ClientCertBindingMismatch('Client-Cert came without a Client-Cert-Binding');
  let sent: Uint8Array;
  try {
    sent = parseBinaryItem(lines, { fieldName: 'Client-Cert-Binding' });
  } catch (e) {
    throw new ClientCertBindingMismatch(`Client-Cert-Binding is malformed: ${(e as Error).message}`, { cause: e });
  }
  const expected = mac(socket, headers);
  if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) {
    throw new ClientCertBindingMismatch('Client-Cert-Binding does not verify on this connection: the fields were not set by the peer of this TLS connection');
  }
}
