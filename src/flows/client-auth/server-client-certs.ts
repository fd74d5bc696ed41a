import { createRequest, type AuthenticatorRequest, type CreateRequestOptions } from '../../ea/index.js';
import type { ConnectionState } from '../../ea/state.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { deferred, refused, type CertificateOutcome, type Deferred } from './outcome.js';

// The server side of draft-rosomakho-httpbis-secondary-client-certs-00 on one connection, over either
// protocol: the server sends AUTHENTICATOR_REQUESTS, the client answers each request with one
// CLIENT_CERTIFICATE frame, in order. The identity is the connection's (the draft binds it to no request),
// so we ask once, on the first request that needs it, and the outcome (accepted, refused or declined)
// stands for the connection's life: a client that wants another identity opens a new connection. The
// frames themselves (HTTP/2 or HTTP/3 codecs, error codes) are the host's.

export interface ClientCertsHost {
  readonly state: ConnectionState;
  readonly crypto: CryptoProvider;
  /** Sends `requests` in one AUTHENTICATOR_REQUESTS frame. */
  sendRequests(requests: Uint8Array[]): void;
  check(authenticator: Uint8Array, request: AuthenticatorRequest): Promise<CertificateOutcome>;
}

export interface ClientCertsLimits {
  request: Omit<CreateRequestOptions, 'creator' | 'context' | 'state' | 'crypto' | 'serverName'>;
}

export class ClientCertsServer {
  private outcome: Promise<CertificateOutcome> | undefined;
  /** Requests sent and not yet answered, oldest first: answers come in this order (section 4.2). */
  private readonly outstanding: { request: AuthenticatorRequest; result: Deferred<CertificateOutcome> }[] = [];

  constructor(
    private readonly host: ClientCertsHost,
    /** SETTINGS_HTTP_CLIENT_CERT_AUTH as the client sent it: the most requests it takes outstanding. */
    private readonly clientCount: () => number,
    private readonly limits: ClientCertsLimits,
  ) {}

  /** The connection's client certificate: asks for it the first time. */
  identity(): Promise<CertificateOutcome> {
    if (this.outcome) return this.outcome;
    // The client told us how many credentials it expects to give; never have more requests outstanding (section 4.1.1).
    const count = this.clientCount();
    if (this.outstanding.length + 1 > count) return Promise.resolve(refused('busy', `the client accepts ${count} outstanding requests`));
    const request = createRequest({ ...this.limits.request, creator: 'server', state: this.host.state, crypto: this.host.crypto });
    this.host.sendRequests([request.bytes]);
    const result = deferred<CertificateOutcome>();
    this.outstanding.push({ request, result });
    this.outcome = result.promise;
    return this.outcome;
  }

  /**
   * The authenticator of a CLIENT_CERTIFICATE frame. False when no request is outstanding, which section
   * 4.2 makes a connection error: the caller closes the connection with its protocol's code.
   */
  onClientCertificate(authenticator: Uint8Array): boolean {
    const next = this.outstanding.shift();
    if (!next) return false;
    next.result.resolve(this.host.check(authenticator, next.request));
    return true;
  }
}
