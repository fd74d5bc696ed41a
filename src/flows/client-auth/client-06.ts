import { hex } from '../../codec/writer.js';
import { ContextReused, MalformedMessage, SecondaryCertsError, TooManyContexts, UnexpectedMessage, H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { parseRequest, type AuthenticatorRequest } from '../../ea/index.js';
import type { CertificateNeededFields } from '../../h2/wire/certificate-needed.js';
import type { CertificateRequestFields } from '../../h2/wire/certificate-request.js';
import { certificateFlags, encodeCertificate, fragmentCertificate } from '../../h2/wire/certificate.js';
import { encodeUseCertificate } from '../../h2/wire/use-certificate.js';
import type { ClientFlowHost } from './client-flow.js';

// The client side of draft-ietf-httpbis-http2-secondary-certs-06's reactive client authentication on one
// connection. For each CERTIFICATE_NEEDED(stream N, Request-ID) it asks ClientCertificates for the
// origin of stream N, then either names a certificate already sent on this connection, or answers the
// request with a new authenticator (or an empty one, to decline) in CERTIFICATE frames fragmented to the
// server's SETTINGS_MAX_FRAME_SIZE, and then sends USE_CERTIFICATE(N, Cert-ID).

export interface Draft06ClientLimits {
  /** CERTIFICATE_REQUESTs kept unanswered; the oldest is dropped beyond this (default 64). */
  maxRequests: number;
  /** CERTIFICATE_NEEDED frames waiting for an answer; more is ENHANCE_YOUR_CALM (default 64). */
  maxQueued: number;
  /** Accept a ClientCertificateRequest (17) from the server, as rosomakho's text has it (default true). */
  acceptRequestType17: boolean;
}

const MIN_CONTEXT_LENGTH = 2 + 12; // Request-ID then at least 96 bits (section 3.3.1)
/** Where `sent` keeps the Cert-ID of our empty authenticator: a refusal is named again too, not rebuilt. */
const DECLINED = 'declined';

export class Draft06Client {
  /** Requests received and not yet answered by a CERTIFICATE, oldest first. */
  private readonly requests = new Map<number, AuthenticatorRequest>();
  /** One bit per Request-ID ever received: IDs are unique per sender for the connection's life. */
  private readonly seen = new Uint8Array(0x10000 / 8);
  /**
   * Authenticators sent on this connection, by the leaf's DER in hex (or DECLINED), so that they are named
   * again rather than rebuilt: each new one costs a signature, and the server a Cert-ID it must keep.
   */
  private readonly sent = new Map<string, number>();
  private nextCertId = 0;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(
    private readonly host: ClientFlowHost,
    private readonly limits: Draft06ClientLimits,
  ) {}

  /** A CERTIFICATE_REQUEST. Throws H2ConnectionError for a connection error. */
  onRequest(fields: CertificateRequestFields): void {
    const { requestId } = fields;
    if (this.wasSeen(requestId)) throw protocolError(`Request-ID ${requestId} was already used`);
    this.seen[requestId >>> 3] = this.seen[requestId >>> 3]! | (1 << (requestId & 7));
    let request: AuthenticatorRequest;
    try {
      request = parseRequest(fields.request);
    } catch (e) {
      if (e instanceof MalformedMessage || e instanceof UnexpectedMessage) throw protocolError(`CERTIFICATE_REQUEST: ${e.message}`, e);
      throw e;
    }
    if (request.creator !== 'server' && !this.limits.acceptRequestType17) throw protocolError('CERTIFICATE_REQUEST holds a ClientCertificateRequest (17), not a CertificateRequest (13)');
    const c = request.context;
    if (c.length < MIN_CONTEXT_LENGTH || c[0] !== requestId >> 8 || c[1] !== (requestId & 0xff)) {
      throw protocolError('certificate_request_context must begin with the Request-ID and carry at least 96 more bits (-06 section 3.3.1)');
    }
    try {
      this.host.state.recordRequest(c);
    } catch (e) {
      if (e instanceof ContextReused) throw protocolError(e.message, e);
      if (e instanceof TooManyContexts) throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, e.message, { cause: e });
      throw e;
    }
    this.requests.set(requestId, request);
    if (this.requests.size > this.limits.maxRequests) this.requests.delete(this.requests.keys().next().value as number);
  }

  /** A CERTIFICATE_NEEDED. Throws H2ConnectionError for a connection error; answers asynchronously, in order. */
  onNeeded(fields: CertificateNeededFields): void {
    if (fields.streamId === 0) throw protocolError('a server asked for a client certificate for stream 0');
    if (!this.wasSeen(fields.requestId)) throw protocolError(`CERTIFICATE_NEEDED names Request-ID ${fields.requestId}, which was never sent`);
    if (this.queued >= this.limits.maxQueued) throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.limits.maxQueued} CERTIFICATE_NEEDED frames waiting`);
    this.queued++;
    // One at a time: USE_CERTIFICATE frames for a stream answer its CERTIFICATE_NEEDED frames in order.
    this.queue = this.queue
      .then(() => this.answer(fields.streamId, fields.requestId))
      .catch((e: unknown) => this.host.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.INTERNAL_ERROR, String(e), { cause: e })))
      .finally(() => this.queued--);
  }

  private wasSeen(requestId: number): boolean {
    return (this.seen[requestId >>> 3]! & (1 << (requestId & 7))) !== 0;
  }

  private async answer(streamId: number, requestId: number): Promise<void> {
    // -06 section 3.1: a stream that is closed (or that we did not open) is not answered.
    if (this.host.closed || !this.host.streamIsOpen(streamId)) return;
    const origin = this.host.originOfStream(streamId);
    const request = this.requests.get(requestId);
    const identity = await this.host.certificates.select({ origin, flow: 'secondary-certs-06', ...(request ? { request } : {}) });
    if (this.host.closed) return;
    const key = identity ? hex(identity.chain[0]!) : DECLINED;
    const known = this.sent.get(key);
    if (known !== undefined) {
      this.sendUse(streamId, known);
      const declined = this.sent.get(DECLINED) === known ? { declined: 'named the refusal sent earlier' } : {};
      this.host.report({ flow: 'secondary-certs-06', origin, streamId, certId: known, names: identity && !declined.declined ? identity.names : [], reused: true, ...declined });
      return;
    }
    if (!request || this.nextCertId > 0xffff) {
      // Nothing left to answer with a new authenticator: name no certificate (the TLS one, if any).
      this.sendUse(streamId, undefined);
      this.host.report({ flow: 'secondary-certs-06', origin, streamId, names: [], declined: 'no unanswered request to build an authenticator for' });
      return;
    }
    const built = await this.host.build(identity, request);
    const certId = this.nextCertId++;
    this.requests.delete(requestId);
    this.sendCertificate(certId, requestId, built.authenticator);
    this.sent.set(key, certId);
    if (built.declined) this.sent.set(DECLINED, certId);
    this.sendUse(streamId, certId);
    this.host.report({
      flow: 'secondary-certs-06',
      origin,
      streamId,
      certId,
      names: built.declined ? [] : identity!.names,
      bytes: built.authenticator.length,
      ...(built.declined ? { declined: built.declined } : {}),
    });
  }

  private sendCertificate(certId: number, requestId: number, authenticator: Uint8Array): void {
    const type = this.host.profile.frames.CERTIFICATE;
    for (const f of fragmentCertificate(certId, authenticator, this.host.peerMaxFrameSize, { unsolicited: false, requestId })) {
      this.host.sendFrame(type, certificateFlags(f), encodeCertificate(f));
    }
  }

  private sendUse(streamId: number, certId: number | undefined): void {
    const fields = { streamId, unsolicited: false, ...(certId !== undefined ? { certId } : {}) };
    this.host.sendFrame(this.host.profile.frames.USE_CERTIFICATE, 0, encodeUseCertificate(fields));
  }
}

function protocolError(message: string, cause?: SecondaryCertsError): H2ConnectionError {
  return new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, message, cause ? { cause } : undefined);
}
