import { ContextReused, MalformedMessage, TooManyContexts, UnexpectedMessage, H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { parseRequest, type AuthenticatorRequest } from '../../ea/index.js';
import type { FrameHeader } from '../../h2/wire/frame-header.js';
import { parseAuthenticatorRequests } from '../../h2/wire/authenticator-requests.js';
import { encodeClientCertificate } from '../../h2/wire/client-certificate.js';
import type { CertAuthSetting } from '../../h2/settings.js';
import type { ClientFlowHost } from './client-flow.js';

// The client side of draft-rosomakho-httpbis-secondary-client-certs-00 on one connection: each
// AUTHENTICATOR_REQUESTS frame lists requests; the client answers every request with exactly one
// CLIENT_CERTIFICATE frame, in the order received (section 4.2), possibly an empty authenticator. The
// identity is the connection's, so the certificate is chosen for the origin the connection was opened
// for; a server-made request (13) cannot name a host.

export class ClientCertsClient {
  private outstanding = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Whether this connection has given the server an answer (an identity or a refusal). */
  answered = false;

  constructor(
    private readonly host: ClientFlowHost,
    /** SETTINGS_HTTP_CLIENT_CERT_AUTH: our count is `local`. */
    private readonly setting: CertAuthSetting,
    private readonly acceptRequestType17: boolean,
  ) {}

  /** An AUTHENTICATOR_REQUESTS frame. Throws H2ConnectionError for a connection error. */
  onRequests(header: FrameHeader, payload: Uint8Array): void {
    if (!this.setting.active) throw protocolError('AUTHENTICATOR_REQUESTS before both sides sent SETTINGS_HTTP_CLIENT_CERT_AUTH');
    const { requests } = parseAuthenticatorRequests(header, payload, { profile: this.host.profile });
    // Section 4.1.1: more outstanding requests than the credentials we said we would provide.
    if (this.outstanding + requests.length > this.setting.local) {
      throw protocolError(`${this.outstanding + requests.length} authenticator requests outstanding; we advertised ${this.setting.local}`);
    }
    const parsed = requests.map((bytes) => this.parse(bytes));
    this.outstanding += parsed.length;
    for (const request of parsed) {
      this.queue = this.queue
        .then(() => this.answer(request))
        .catch((e: unknown) => this.host.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.INTERNAL_ERROR, String(e), { cause: e })))
        .finally(() => this.outstanding--);
    }
  }

  private parse(bytes: Uint8Array): AuthenticatorRequest {
    let request: AuthenticatorRequest;
    try {
      request = parseRequest(bytes);
    } catch (e) {
      if (e instanceof MalformedMessage || e instanceof UnexpectedMessage) throw protocolError(`AUTHENTICATOR_REQUESTS: ${e.message}`);
      throw e;
    }
    // RFC 9261 makes a server's request a CertificateRequest (13); the draft's text says 17 (spec-notes/client-certs-h2.md).
    if (request.creator !== 'server' && !this.acceptRequestType17) throw protocolError('AUTHENTICATOR_REQUESTS holds a ClientCertificateRequest (17)');
    try {
      this.host.state.recordRequest(request.context);
    } catch (e) {
      if (e instanceof ContextReused) throw protocolError(e.message);
      if (e instanceof TooManyContexts) throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, e.message);
      throw e;
    }
    return request;
  }

  private async answer(request: AuthenticatorRequest): Promise<void> {
    if (this.host.closed) return;
    const origin = this.host.origin;
    const identity = await this.host.certificates.select({ origin, flow: 'secondary-client-certs', request });
    if (this.host.closed) return;
    // One frame per authenticator in this draft: it must fit the server's SETTINGS_MAX_FRAME_SIZE.
    const built = await this.host.build(identity, request, this.host.peerMaxFrameSize);
    this.host.sendFrame(this.host.profile.frames.CLIENT_CERTIFICATE, 0, encodeClientCertificate({ authenticator: built.authenticator }));
    this.answered = true;
    this.host.report({
      flow: 'secondary-client-certs',
      origin,
      names: built.declined ? [] : identity!.names,
      bytes: built.authenticator.length,
      ...(built.declined ? { declined: built.declined } : {}),
    });
  }
}

function protocolError(message: string): H2ConnectionError {
  return new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, message);
}
