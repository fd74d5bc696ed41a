// The origin's side of RFC 9440: believe Client-Cert only from a configured proxy (section 4), parse it,
// judge the chain under a CertificatePolicy, and hand the request handler either the client's identity or a
// refusal it can send as an HTTP response (section 2.4: access decisions are a 403 or content, never a TLS
// alert).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { AcceptedCertificate, CertificatePolicy } from '../../pki/policy.js';
import { parseIpAddress } from '../../pki/names.js';
import { hex } from '../../codec/writer.js';
import { CertificateRejected, ClientCertBindingMismatch, FieldTooLarge, MalformedField, UnsupportedTlsVersion, type CertificateProblem } from '../../errors.js';
import { verifyClientCertBinding, type ExporterSocket } from './binding.js';
import { hasClientCertFields, readClientCertFields, type HeaderRecord } from './fields.js';

/** The part of a socket this helper reads: node's net.Socket, TLSSocket and the http2 socket proxy fit. */
export interface PeerSocket {
  remoteAddress?: string | undefined;
  /** A TLS socket's, for `requireBinding`. */
  getProtocol?: ExporterSocket['getProtocol'];
  exportKeyingMaterial?: ExporterSocket['exportKeyingMaterial'];
}

export interface ClientCertOriginOptions {
  /**
   * Which peers may speak for a client: proxy addresses (IPv4 or IPv6 text; an IPv4-mapped IPv6 peer
   * matches its IPv4 address), or a predicate for anything else (a mutually authenticated proxy, a Unix
   * socket). Nobody is trusted by default: RFC 9440 section 4 makes accepting the fields opt-in.
   */
  trustedProxies: readonly string[] | ((socket: PeerSocket) => boolean);
  /** Judges the forwarded chain; build it with role 'client' so the leaf must allow clientAuth. */
  policy: CertificatePolicy;
  /** Most characters in each field. Default 16384; a larger field is refused with 431. */
  maxFieldSize?: number;
  /** Most certificates in Client-Cert-Chain. Default 16. */
  maxChainLength?: number;
  /**
   * Believe the fields only with a Client-Cert-Binding that verifies on the TLS 1.3 connection they came
   * on (binding.ts: our proposal, beyond RFC 9440), so a request from a trusted address that the proxy did
   * not send is refused. Default false.
   */
  requireBinding?: boolean;
}

/** The client identity a trusted proxy forwarded, after the policy accepted it. */
export interface ClientCertIdentity extends AcceptedCertificate {
  /** subjectAltName rfc822Name entries of the leaf. */
  emails: string[];
  /** subjectAltName uniformResourceIdentifier entries of the leaf. */
  uris: string[];
  /** The address of the proxy that forwarded it. */
  proxyAddress: string | undefined;
}

export type ClientCertRefusalCode = 'ERR_UNTRUSTED_PROXY' | 'ERR_MALFORMED_FIELD' | 'ERR_FIELD_TOO_LARGE' | 'ERR_CLIENT_CERT_BINDING' | CertificateProblem;

/** Why a request's Client-Cert was not accepted, as an HTTP status and a reason to put in the body. */
export interface ClientCertRefusal {
  status: 400 | 403 | 431;
  code: ClientCertRefusalCode;
  reason: string;
}

/**
 * The outcome for one request: an identity (undefined when the request carried no Client-Cert, which the
 * handler may or may not require), or a refusal.
 */
export type ClientCertVerdict = { identity: ClientCertIdentity | undefined; refusal?: undefined } | { refusal: ClientCertRefusal; identity?: undefined };

/** What verify() reads of a request: node:http IncomingMessage and node:http2 Http2ServerRequest fit. */
export interface RequestLike {
  headers: HeaderRecord;
  /** node:http's per-line view, which keeps repeated field lines apart; used when present. */
  headersDistinct?: HeaderRecord;
  socket: PeerSocket;
}

export class ClientCertOrigin {
  private readonly isTrusted: (socket: PeerSocket) => boolean;
  private readonly policy: CertificatePolicy;
  private readonly maxFieldSize: number | undefined;
  private readonly maxChainLength: number | undefined;
  private readonly requireBinding: boolean;

  constructor(options: ClientCertOriginOptions) {
    const { trustedProxies } = options;
    if (typeof trustedProxies === 'function') {
      this.isTrusted = trustedProxies;
    } else if (Array.isArray(trustedProxies)) {
      const trusted = new Set(
        trustedProxies.map((address: unknown) => {
          const key = typeof address === 'string' ? addressKey(address) : undefined;
          if (key === undefined) throw new TypeError(`trustedProxies: ${String(address)} is not an IP address`);
          return key;
        }),
      );
      this.isTrusted = (socket) => {
        const key = socket.remoteAddress === undefined ? undefined : addressKey(socket.remoteAddress);
        return key !== undefined && trusted.has(key);
      };
    } else {
      throw new TypeError('trustedProxies must be an array of addresses or a predicate');
    }
    if (!options.policy || typeof options.policy.check !== 'function') throw new TypeError('policy must be a CertificatePolicy');
    if (options.policy.role !== 'client') throw new TypeError("policy must have role 'client': the leaf must allow clientAuth");
    this.policy = options.policy;
    this.maxFieldSize = options.maxFieldSize;
    this.maxChainLength = options.maxChainLength;
    this.requireBinding = options.requireBinding ?? false;
  }

  /** Whether this peer may send Client-Cert. */
  isTrustedPeer(socket: PeerSocket): boolean {
    return this.isTrusted(socket);
  }

  /** The verdict for a node:http or node:http2 compatibility-API request. */
  verify(req: RequestLike): Promise<ClientCertVerdict> {
    return this.verifyFields(req.headersDistinct ?? req.headers, req.socket);
  }

  /** The verdict for headers that arrived from `socket` (for the node:http2 'stream' event, say). */
  async verifyFields(headers: HeaderRecord, socket: PeerSocket): Promise<ClientCertVerdict> {
    if (!hasClientCertFields(headers)) return { identity: undefined };
    if (!this.isTrusted(socket)) {
      return refuse(403, 'ERR_UNTRUSTED_PROXY', `Client-Cert came from ${socket.remoteAddress ?? 'an unknown peer'}, which is not a trusted proxy`);
    }
    if (this.requireBinding) {
      const { getProtocol, exportKeyingMaterial } = socket;
      if (!getProtocol || !exportKeyingMaterial) return refuse(403, 'ERR_CLIENT_CERT_BINDING', 'Client-Cert came on a connection that is not TLS, so its binding cannot be checked');
      try {
        verifyClientCertBinding({ getProtocol: getProtocol.bind(socket), exportKeyingMaterial: exportKeyingMaterial.bind(socket) }, headers);
      } catch (err) {
        if (err instanceof ClientCertBindingMismatch || err instanceof UnsupportedTlsVersion) return refuse(403, 'ERR_CLIENT_CERT_BINDING', err.message);
        throw err;
      }
    }
    try {
      const chain = readClientCertFields(headers, { maxFieldSize: this.maxFieldSize, maxChainLength: this.maxChainLength });
      if (!chain) return { identity: undefined };
      const accepted = await this.policy.check(chain);
      return { identity: { ...accepted, ...otherNames(chain[0]!), proxyAddress: socket.remoteAddress } };
    } catch (err) {
      if (err instanceof MalformedField) return refuse(400, err.code, err.message);
      if (err instanceof FieldTooLarge) return refuse(431, err.code, err.message);
      if (err instanceof CertificateRejected) return refuse(403, err.code, `client certificate refused: ${err.message}`);
      throw err;
    }
  }
}

/**
 * Sends a refusal as the response: its status, and a plain-text body with the code and the reason. The body
 * depends on Client-Cert, so it must not be cached (RFC 9440 section 2.4).
 */
export function sendRefusal(res: { writeHead(status: number, headers: Record<string, string>): unknown; end(body: string): unknown }, refusal: ClientCertRefusal): void {
  res.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${refusal.code}: ${refusal.reason}\n`);
}

function refuse(status: ClientCertRefusal['status'], code: ClientCertRefusalCode, reason: string): ClientCertVerdict {
  return { refusal: { status, code, reason } };
}

/** An address as comparable bytes; an IPv4-mapped IPv6 address counts as its IPv4 address. */
function addressKey(address: string): string | undefined {
  const bytes = parseIpAddress(address);
  if (!bytes) return undefined;
  const mapped = bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return hex(mapped ? bytes.subarray(12) : bytes);
}

/** The leaf's email and URI names, which client certificates carry more often than DNS names. */
function otherNames(leafDer: Uint8Array): { emails: string[]; uris: string[] } {
  // The policy has already decoded this certificate, so this does not throw.
  const san = new x509.X509Certificate(leafDer).getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  return {
    emails: names.filter((n) => n.type === 'email').map((n) => n.value),
    uris: names.filter((n) => n.type === 'url').map((n) => n.value),
  };
}
