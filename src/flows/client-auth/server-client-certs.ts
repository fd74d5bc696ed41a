import { createRequest, type AuthenticatorRequest, type CreateRequestOptions } from '../../ea/index.js';
import type { ConnectionState } from '../../ea/state.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import type { FrameHeader } from '../../h2/wire/frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { encodeAuthenticatorRequests } from '../../h2/wire/authenticator-requests.js';
import { parseClientCertificate } from '../../h2/wire/client-certificate.js';
import type { H2Profile } from '../../h2/profile.js';
import type { CertAuthSetting } from '../../h2/settings.js';
import { deferred, refused, type CertificateOutcome, type Deferred } from './outcome.js';

// The server side of draft-rosomakho-httpbis-secondary-client-certs-00 on one connection: the server
// sends AUTHENTICATOR_REQUESTS, the client answers each request with one CLIENT_CERTIFICATE frame, in
// order. The identity is the connection's (the draft binds it to no request), so we ask once, on the
// first request that needs it, and the outcome (accepted, refused or declined) stands for the
// connection's life: a client that wants another identity opens a new connection.

export interface ClientCertsHost {
  readonly profile: H2Profile;
  readonly state: ConnectionState;
  readonly crypto: CryptoProvider;
  sendFrame(type: number, flags: number, payload: Uint8Array): void;
  check(authenticator: Uint8Array, request: AuthenticatorRequest): Promise<CertificateOutcome>;
}

export interface ClientCertsLimits {
  maxAuthenticatorSize: number;
  request: Omit<CreateRequestOptions, 'creator' | 'context' | 'state' | 'crypto' | 'serverName'>;
}

export class ClientCertsServer {
  private outcome: Promise<CertificateOutcome> | undefined;
  /** Requests sent and not yet answered, oldest first: answers come in this order (section 4.2). */
  private readonly outstanding: { request: AuthenticatorRequest; result: Deferred<CertificateOutcome> }[] = [];

  constructor(
    private readonly host: ClientCertsHost,
    /** SETTINGS_HTTP_CLIENT_CERT_AUTH: the client's count is `remote`. */
    private readonly setting: CertAuthSetting,
    private readonly limits: ClientCertsLimits,
  ) {}

  /** The connection's client certificate: asks for it the first time. */
  identity(): Promise<CertificateOutcome> {
    if (this.outcome) return this.outcome;
    // The client told us how many credentials it expects to give; never have more requests outstanding (section 4.1.1).
    if (this.outstanding.length + 1 > this.setting.remote) {
      return Promise.resolve(refused('busy', `the client accepts ${this.setting.remote} outstanding requests`));
    }
    const request = createRequest({ ...this.limits.request, creator: 'server', state: this.host.state, crypto: this.host.crypto });
    this.host.sendFrame(this.host.profile.frames.AUTHENTICATOR_REQUESTS, 0, encodeAuthenticatorRequests({ requests: [request.bytes] }));
    const result = deferred<CertificateOutcome>();
    this.outstanding.push({ request, result });
    this.outcome = result.promise;
    return this.outcome;
  }

  /** A CLIENT_CERTIFICATE frame. Throws H2ConnectionError for a connection error. */
  onClientCertificate(header: FrameHeader, payload: Uint8Array): void {
    const { authenticator } = parseClientCertificate(header, payload, { profile: this.host.profile, maxAuthenticatorSize: this.limits.maxAuthenticatorSize });
    const next = this.outstanding.shift();
    // Section 4.2: a certificate frame with no request outstanding is a connection error.
    if (!next) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'CLIENT_CERTIFICATE with no authenticator request outstanding');
    next.result.resolve(this.host.check(authenticator, next.request));
  }
}
