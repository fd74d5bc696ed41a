import { EventEmitter } from 'node:events';
import type { X509Certificate } from 'node:crypto';
import type { ConnectionState } from '../ea/index.js';
import type { AuthenticatorKeys } from '../exporter/keys.js';
import type { CertificateEvent } from '../pki/accept-chain.js';
import { certificateCovers } from '../pki/certificate-names.js';
import type { AcceptedCertificate, Stapled } from '../pki/policy.js';
import { ConnectionAuthority, defaultLookup, type AuthorityAnswer, type Lookup } from './authority.js';
import { CertificateReceiver, type CertificateReceiverOptions } from './certificate-receiver.js';

// The part of a client connection that is the same over HTTP/2 and HTTP/3: it receives the server's
// certificates (CertificateReceiver) and answers which origins the connection may carry
// (ConnectionAuthority). Each protocol's connection extends it with its frames, settings and requests.

/** The options both clients take. */
export interface ClientConnectionOptions extends CertificateReceiverOptions {
  lookup?: Lookup;
  /** The address to connect to instead of resolving the URL's host (its name is still the SNI). */
  connectAddress?: string;
}

/** What a protocol's connection gives the common part; none of it may use the connection object itself. */
export interface ClientConnectionParts {
  /** The origin the connection was opened for. */
  origin: string;
  /** For the debug log: "h2 client" or "h3 client". */
  role: string;
  options: ClientConnectionOptions;
  /** The leaf of the server's TLS certificate. */
  tlsLeaf: X509Certificate | undefined;
  /** The connection's RFC 9261 keys. */
  keys(): AuthenticatorKeys;
  /** Both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1. */
  negotiated(): boolean;
  peerAddress(): string | undefined;
  /** True when the server takes no new requests although the connection is open (HTTP/3 GOAWAY). */
  refusesRequests?(): boolean;
  /** CertificateEntry extension types the TLS ClientHello offered (status_request when OCSP was requested). */
  offeredEntryExtensions?: readonly number[];
}

/** Events every client connection emits. */
export interface ClientConnectionEvents {
  /** A SERVER_CERTIFICATE validated, accepted or not. */
  certificate: [event: CertificateEvent];
}

export abstract class ClientConnectionBase<Events extends Record<keyof Events, unknown[]>> extends EventEmitter<Events> {
  readonly origin: string;
  /** Accepted secondary certificates. */
  readonly certificates: AcceptedCertificate[];
  /** Origins a 421 took away from this connection (RFC 8336 section 2.3 / RFC 9110 section 15.5.20). */
  readonly excluded: Set<string>;
  /** RFC 9261 contexts of this connection, shared by every authenticator flow on it (frames, OPTIONS *). */
  readonly state: ConnectionState;
  closed = false;
  private readonly receiver: CertificateReceiver;
  private readonly authority: ConnectionAuthority;

  protected constructor(private readonly parts: ClientConnectionParts) {
    super();
    this.origin = parts.origin;
    this.receiver = new CertificateReceiver(parts.options, {
      name: `${parts.role} client ${parts.origin}`,
      keys: parts.keys,
      closed: () => this.closed,
      ...(parts.offeredEntryExtensions ? { offeredEntryExtensions: parts.offeredEntryExtensions } : {}),
      certificate: (event) => (this as unknown as EventEmitter).emit('certificate', event),
      invalid: (message, cause) => this.certificateInvalid(message, cause),
    });
    this.state = this.receiver.state;
    this.certificates = this.receiver.certificates;
    const now = (): Date => parts.options.now?.() ?? new Date();
    this.authority = new ConnectionAuthority({
      origin: parts.origin,
      closed: () => this.closed || (parts.refusesRequests?.() ?? false),
      // The TLS certificate counts for another host while it is within its validity period (D2).
      coveredByTls: (host) => certificateCovers(parts.tlsLeaf, host) && withinValidity(parts.tlsLeaf, now()),
      certificates: this.certificates,
      peerAddress: parts.peerAddress,
      lookup: parts.options.lookup ?? defaultLookup,
      now,
    });
    this.excluded = this.authority.excluded;
  }

  /** Whether both sides have sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1. */
  get negotiated(): boolean {
    return this.parts.negotiated();
  }

  /** The peer's IP address, for the DNS check. */
  get peerAddress(): string | undefined {
    return this.parts.peerAddress();
  }

  /** Origins from ORIGIN frames (RFC 8336, RFC 9412); undefined until the first one arrives, and DNS decides until then. */
  get originFrameSet(): Set<string> | undefined {
    return this.authority.originFrameSet;
  }

  /** Resolves once every SERVER_CERTIFICATE received so far has been processed. */
  settled(): Promise<void> {
    return this.receiver.settled();
  }

  /**
   * Applies the certificate policy to a chain that an authenticator validated on this connection (a
   * SERVER_CERTIFICATE, or an answer to our own request such as OPTIONS *). An accepted chain joins the
   * certificates the connection is authoritative through; either way a 'certificate' event says what
   * happened. A valid authenticator whose certificate is not acceptable is not an error (draft section 6.2).
   */
  acceptChain(chain: Uint8Array[], stapled: Stapled = {}): Promise<CertificateEvent> {
    return this.receiver.acceptChain(chain, stapled);
  }

  /**
   * May a request for `origin` go on this connection? The certificate (the TLS one, or an accepted
   * secondary one) must cover the host; the port must be the connection's; an origin a 421 excluded is
   * refused; once ORIGIN frames arrived, only listed origins count (RFC 8336 section 2.4) and DNS is not
   * consulted; otherwise DNS for the host must include the peer's address (draft section 7.1).
   */
  authorityFor(origin: string | URL): Promise<AuthorityAnswer> {
    return this.authority.authorityFor(origin);
  }

  /** A SERVER_CERTIFICATE's authenticator, parsed by the protocol (`frame` describes it in the log). */
  protected receiveAuthenticator(authenticator: Uint8Array, frame: string): void {
    this.receiver.receive(authenticator, frame);
  }

  /** The origins of one ORIGIN frame. */
  protected addOrigins(origins: readonly string[]): void {
    this.authority.addOrigins(origins);
  }

  /** An authenticator did not validate: the protocol closes with SERVER_CERTIFICATE_INVALID. */
  protected abstract certificateInvalid(message: string, cause: unknown): void;
}

function withinValidity(cert: X509Certificate | undefined, now: Date): boolean {
  return cert !== undefined && new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}
