import { ContextReused, MalformedMessage, TooManyContexts, UnexpectedMessage } from '../../errors.js';
import { parseRequest, type AuthenticatorRequest } from '../../ea/index.js';
import type { ConnectionState } from '../../ea/state.js';
import type { LoadedIdentity } from '../../pki/identity.js';
import type { BuiltAuthenticator, ClientCertificateAnswer } from './client-flow.js';
import type { ClientCertificates } from './credentials.js';

// The client side of draft-rosomakho-httpbis-secondary-client-certs-00 on one connection, over either
// protocol: each AUTHENTICATOR_REQUESTS frame lists requests; the client answers every request with exactly
// one CLIENT_CERTIFICATE frame, in the order received (section 4.2), possibly an empty authenticator. The
// identity is the connection's, so the certificate is chosen for the origin the connection was opened
// for; a server-made request (13) cannot name a host. Frames and error codes are the host's.

/** The kinds of connection error, each protocol with its own code (HTTP/2, HTTP/3). */
export type ClientCertsErrorKind =
  /** A frame the client may not get now: before negotiation, more requests than advertised (PROTOCOL_ERROR, H3_FRAME_UNEXPECTED). */
  | 'unexpected'
  /** A malformed request in the frame (PROTOCOL_ERROR, H3_MESSAGE_ERROR). */
  | 'malformed'
  /** More contexts than we keep (ENHANCE_YOUR_CALM, H3_EXCESSIVE_LOAD). */
  | 'excessive'
  | 'internal';

export interface ClientCertsClientHost {
  readonly state: ConnectionState;
  readonly certificates: ClientCertificates;
  /** The origin the connection was opened for. */
  readonly origin: string;
  readonly closed: boolean;
  /** The largest authenticator one CLIENT_CERTIFICATE frame may carry to this server. */
  readonly maxAnswerSize: number;
  /** Sends one CLIENT_CERTIFICATE frame. */
  sendAnswer(authenticator: Uint8Array): void;
  build(identity: LoadedIdentity | null, request: AuthenticatorRequest, maxSize: number): Promise<BuiltAuthenticator>;
  report(answer: ClientCertificateAnswer): void;
  /** The protocol's connection error for `kind`. */
  error(kind: ClientCertsErrorKind, message: string, cause?: unknown): Error;
  /** Ends the connection for `error`: one of `error()`'s, or anything else thrown while answering (an internal error). */
  fail(error: unknown): void;
}

export class ClientCertsClient {
  private outstanding = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Whether this connection has given the server an answer (an identity or a refusal). */
  answered = false;

  constructor(
    private readonly host: ClientCertsClientHost,
    /** Both sides sent SETTINGS_HTTP_CLIENT_CERT_AUTH. */
    private readonly active: () => boolean,
    /** The count we advertised in SETTINGS_HTTP_CLIENT_CERT_AUTH. */
    private readonly advertised: () => number,
    private readonly acceptRequestType17: boolean,
  ) {}

  /** An AUTHENTICATOR_REQUESTS frame, read by `read` (the protocol's codec). Throws the host's connection errors. */
  onRequests(read: () => { requests: Uint8Array[] }): void {
    if (!this.active()) throw this.host.error('unexpected', 'AUTHENTICATOR_REQUESTS before both sides sent SETTINGS_HTTP_CLIENT_CERT_AUTH');
    const { requests } = read();
    // Section 4.1.1: more outstanding requests than the credentials we said we would provide.
    if (this.outstanding + requests.length > this.advertised()) {
      throw this.host.error('unexpected', `${this.outstanding + requests.length} authenticator requests outstanding; we advertised ${this.advertised()}`);
    }
    const parsed = requests.map((bytes) => this.parse(bytes));
    this.outstanding += parsed.length;
    for (const request of parsed) {
      this.queue = this.queue
        .then(() => this.answer(request))
        .catch((e: unknown) => this.host.fail(e))
        .finally(() => this.outstanding--);
    }
  }

  private parse(bytes: Uint8Array): AuthenticatorRequest {
    let request: AuthenticatorRequest;
    try {
      request = parseRequest(bytes);
    } catch (e) {
      if (e instanceof MalformedMessage || e instanceof UnexpectedMessage) throw this.host.error('malformed', `AUTHENTICATOR_REQUESTS: ${e.message}`);
      throw e;
    }
    // RFC 9261 makes a server's request a CertificateRequest (13); the draft's text says 17 (spec-notes/client-certs-h2.md).
    if (request.creator !== 'server' && !this.acceptRequestType17) throw this.host.error('malformed', 'AUTHENTICATOR_REQUESTS holds a ClientCertificateRequest (17)');
    try {
      this.host.state.recordRequest(request.context);
    } catch (e) {
      if (e instanceof ContextReused) throw this.host.error('malformed', e.message);
      if (e instanceof TooManyContexts) throw this.host.error('excessive', e.message);
      throw e;
    }
    return request;
  }

  private async answer(request: AuthenticatorRequest): Promise<void> {
    if (this.host.closed) return;
    const origin = this.host.origin;
    const identity = await this.host.certificates.select({ origin, flow: 'secondary-client-certs', request });
    if (this.host.closed) return;
    // One frame per authenticator in this draft: it must fit what the server takes in one frame.
    const built = await this.host.build(identity, request, this.host.maxAnswerSize);
    this.host.sendAnswer(built.authenticator);
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
