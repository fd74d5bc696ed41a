// The TLS-terminating reverse proxy's side of RFC 9440: never pass on a client's own Client-Cert or
// Client-Cert-Chain (section 2.4 and 4), and add the fields for the identity this hop validated, taken from
// its TLS handshake or from an exported authenticator the client sent on the connection.
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import type { CertificatePolicy, OcspOutcome, SctOutcome } from '../../pki/policy.js';
import { stapledOf } from '../../pki/stapled.js';
import type { CertificateEntry } from '../../tls/certificate.js';
import { CertificateRejected, type CertificateProblem } from '../../errors.js';
import { encodeClientCertFields, isClientCertField, CLIENT_CERT, type HeaderRecord, type HeaderValue } from './fields.js';
import { clientCertBinding, CLIENT_CERT_BINDING, type ExporterSocket } from './binding.js';

/** A client identity this hop validated: its certificate chain, end-entity first. */
export interface ForwardedIdentity {
  chain: readonly Uint8Array[];
  /**
   * What this hop's policy made of an OCSP response / SCTs the client stapled (an exported authenticator
   * answering a request that asked for them), when its policy looks at them. Not forwarded in a field:
   * RFC 9440 has none, and a policy that requires them has already refused the identity here.
   */
  ocsp?: OcspOutcome;
  sct?: SctOutcome;
}

/**
 * A copy of a request's headers with every Client-Cert and Client-Cert-Chain the client sent removed,
 * whatever the case of its name, and the fields of `identity` added (lowercase names, as HTTP/2 requires).
 * With no identity the fields are only removed (RFC 9440 section 2.4: a connection without client
 * authentication gets none). A Client-Cert-Binding the client sent is removed too; with `bindTo`, the
 * TLS connection the request will go out on, the fields get a binding of that connection (binding.ts).
 * Other headers, HTTP/2 pseudo-headers included, are copied unchanged.
 */
export function forwardClientCert(headers: HeaderRecord, identity: ForwardedIdentity | undefined, options: { bindTo?: ExporterSocket } = {}): Record<string, HeaderValue> {
  const out: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!isClientCertField(name) && name.toLowerCase() !== CLIENT_CERT_BINDING) out[name] = value;
  }
  if (identity) {
    const fields = encodeClientCertFields(identity.chain);
    Object.assign(out, fields);
    if (options.bindTo) out[CLIENT_CERT_BINDING] = clientCertBinding(options.bindTo, fields);
  }
  return out;
}

/** The same for a flat [name, value, name, value, ...] list, such as node's `req.rawHeaders`. */
export function forwardClientCertRaw(rawHeaders: readonly string[], identity: ForwardedIdentity | undefined): string[] {
  if (rawHeaders.length % 2 !== 0) throw new TypeError('rawHeaders must hold name, value pairs');
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!isClientCertField(rawHeaders[i]!) && rawHeaders[i]!.toLowerCase() !== CLIENT_CERT_BINDING) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  if (identity) for (const [name, value] of Object.entries(encodeClientCertFields(identity.chain))) out.push(name, value);
  return out;
}

/**
 * Response headers on their way back to the client: the fields never belong in a response (RFC 9440
 * sections 2.2 and 2.3), and a Vary that names Client-Cert becomes `*`, as section 2.4 says a proxy should
 * do, since no cache beyond this hop sees the field.
 */
export function sanitizeResponseHeaders(headers: HeaderRecord): Record<string, HeaderValue> {
  const out: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (isClientCertField(name)) continue;
    if (name.toLowerCase() === 'vary' && value !== undefined && variesOnClientCert(value)) out[name] = '*';
    else out[name] = value;
  }
  return out;
}

function variesOnClientCert(value: string | number | readonly string[]): boolean {
  const lines = typeof value === 'object' ? value : [String(value)];
  return lines.some((line) => line.split(',').some((token) => token.trim().toLowerCase() === CLIENT_CERT));
}

/**
 * The identity the client proved in the TLS handshake, or undefined when it sent no certificate.
 *
 * With a policy, the chain the client sent is checked against it and the validated path is forwarded. Without
 * one, node:tls must have verified it (the server's `ca` and `requestCert`): `socket.authorized` must be
 * true. Either way a certificate that fails throws CertificateRejected, and the caller decides between
 * refusing the request and forwarding it without an identity. The trust anchor is left out of what is
 * forwarded (RFC 9440 section 2.3 allows it; the origin checks against its own anchors).
 */
export async function identityFromTlsSocket(socket: TLSSocket, options: { policy?: CertificatePolicy } = {}): Promise<ForwardedIdentity | undefined> {
  const received = peerChain(socket);
  if (received.length === 0) return undefined;
  if (options.policy) {
    const accepted = await options.policy.check(received.map((c) => c.der));
    return { chain: withoutAnchor(accepted.chain) };
  }
  if (!socket.authorized) {
    const reason = String(socket.authorizationError ?? 'not verified');
    throw new CertificateRejected(fromOpenSslError(reason), `the TLS stack did not verify the client certificate: ${reason}`);
  }
  // node appends the root it verified against; like the validated path above, it is not forwarded.
  const sent = received.length > 1 && received[received.length - 1]!.selfIssued ? received.slice(0, -1) : received;
  return { chain: sent.map((c) => c.der) };
}

/**
 * The identity from a client's exported authenticator (RFC 9261): `validated` is what validateAuthenticator
 * returned, whose chain RFC 9261 proved but no policy has yet judged; the OCSP response and SCTs its leaf
 * entry stapled are judged by the policy's stapling options. Using Client-Cert for such an
 * identity goes beyond RFC 9440, which speaks of the TLS handshake only (see spec-notes/rfc9440.md).
 */
export async function identityFromAuthenticator(validated: { chain: readonly Uint8Array[]; entries?: readonly CertificateEntry[] }, policy: CertificatePolicy): Promise<ForwardedIdentity> {
  const accepted = await policy.check(validated.chain, stapledOf(validated.entries?.[0]));
  return { chain: withoutAnchor(accepted.chain), ...(accepted.ocsp ? { ocsp: accepted.ocsp } : {}), ...(accepted.sct ? { sct: accepted.sct } : {}) };
}

/** A validated path ends with its trust anchor, unless the leaf itself is the anchor (a path of one). */
export function withoutAnchor(path: readonly Uint8Array[]): Uint8Array[] {
  return path.length > 1 ? path.slice(0, -1) : [...path];
}

interface ReceivedCertificate {
  der: Uint8Array;
  selfIssued: boolean;
}

/**
 * The client's chain as node:tls reports it, leaf first: getPeerCertificate(true) links each certificate to
 * its issuer, and the last one to itself. (getPeerX509Certificate() gives the leaf only.)
 */
function peerChain(socket: TLSSocket): ReceivedCertificate[] {
  const chain: ReceivedCertificate[] = [];
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  // A bound on the walk: node builds the links, but a loop that is not a self-link would never end.
  while (cert && cert.raw && chain.length < 16) {
    const issuer: DetailedPeerCertificate | undefined = cert.issuerCertificate;
    const selfIssued = issuer !== undefined && (issuer === cert || issuer.fingerprint256 === cert.fingerprint256);
    chain.push({ der: new Uint8Array(cert.raw), selfIssued });
    if (!issuer || selfIssued) break;
    cert = issuer;
  }
  return chain;
}

/** OpenSSL's verification codes, as node:tls reports them, mapped to ours. */
function fromOpenSslError(code: string): CertificateProblem {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return 'ERR_CERT_EXPIRED';
    case 'CERT_NOT_YET_VALID':
      return 'ERR_CERT_NOT_YET_VALID';
    case 'CERT_SIGNATURE_FAILURE':
      return 'ERR_CERT_BAD_SIGNATURE';
    case 'INVALID_CA':
      return 'ERR_CERT_NOT_CA';
    case 'INVALID_PURPOSE':
      return 'ERR_CERT_EKU';
    case 'PATH_LENGTH_EXCEEDED':
      return 'ERR_CERT_PATH_LENGTH';
    default:
      return 'ERR_CERT_UNTRUSTED';
  }
}
