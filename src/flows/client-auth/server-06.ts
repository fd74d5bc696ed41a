import { createRequest, type AuthenticatorRequest, type CreateRequestOptions } from '../../ea/index.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { encodeCertificateNeeded } from '../../h2/wire/certificate-needed.js';
import { encodeCertificateRequest } from '../../h2/wire/certificate-request.js';
import { CertificateReassembler, type CertificateFields } from '../../h2/wire/certificate.js';
import type { UseCertificateFields } from '../../h2/wire/use-certificate.js';
import type { H2Profile } from '../../h2/profile.js';
import type { ConnectionState } from '../../ea/state.js';
import { deferred, refused, type CertificateOutcome, type Deferred } from './outcome.js';

// The server side of draft-ietf-httpbis-http2-secondary-certs-06's reactive client authentication
// (section 2.3.2) on one connection:
//   server: CERTIFICATE_REQUEST(Request-ID, request) then CERTIFICATE_NEEDED(stream N, Request-ID)
//   client: CERTIFICATE(Cert-ID, Request-ID, fragments...) then USE_CERTIFICATE(stream N, Cert-ID)
// A certificate counts for stream N only when a USE_CERTIFICATE for N names it (section 2.2, the
// confused-deputy rule): a certificate merely sent on the connection counts for nothing.
//
// A client may also name a certificate it already presented for a new stream before we ask
// (USE_CERTIFICATE with UNSOLICITED, section 3.2): cached briefly, it answers that stream's question
// without a CERTIFICATE_NEEDED; a second unsolicited one for a stream is CERTIFICATE_OVERUSED.
//
// We send a fresh CERTIFICATE_REQUEST with every CERTIFICATE_NEEDED, so the client can always answer
// with a new identity (one authenticator per context, RFC 9261 section 5.2), or name one it already sent.

/** What the -06 flow needs from the connection it runs on. */
export interface Draft06Host {
  readonly profile: H2Profile;
  readonly state: ConnectionState;
  readonly crypto: CryptoProvider;
  sendFrame(type: number, flags: number, payload: Uint8Array): void;
  /** Validates an authenticator answering `request`, then applies the certificate policy. */
  check(authenticator: Uint8Array, request: AuthenticatorRequest): Promise<CertificateOutcome>;
  /** The certificate of the TLS handshake, for a USE_CERTIFICATE that names none. */
  tlsOutcome(): Promise<CertificateOutcome>;
  /** Resets one stream (a stream error, RFC 9113 section 5.4.2). */
  streamError(streamId: number, code: number, message: string): void;
}

export interface Draft06Limits {
  /** Streams waiting for a USE_CERTIFICATE at once; more are refused ('busy'). */
  maxPending: number;
  /** Cert-IDs kept per connection (each may be named again later); more is ENHANCE_YOUR_CALM. */
  maxCertificates: number;
  maxAuthenticatorSize: number;
  maxFragments: number;
  /** Authenticators being reassembled at once; one more is ENHANCE_YOUR_CALM. */
  maxReassembling: number;
  /** Passed to createRequest: what to ask for (signature schemes, CAs, OID filters). */
  request: Omit<CreateRequestOptions, 'creator' | 'context' | 'state' | 'crypto' | 'serverName'>;
}

/** The client's answer for a stream: the outcome of the certificate it named, and its Cert-ID. */
export interface UseAnswer {
  outcome: CertificateOutcome;
  certId?: number;
}

/** Streams remembered for the UNSOLICITED rule (section 3.2). */
const MAX_REMEMBERED_STREAMS = 4096;

/** Random bytes after the Request-ID in each context: 30, well over -06's 96 bits (section 3.3.1). */
const CONTEXT_RANDOM_BYTES = 30;

export class Draft06Server {
  /** Request-IDs are handed out in order, so "never sent" is just "not yet reached". */
  private nextRequestId = 0;
  /** Requests sent and not yet answered by a CERTIFICATE, nor withdrawn. */
  private readonly requests = new Map<number, AuthenticatorRequest>();
  /** Every Cert-ID the client has started, with the outcome once validated. */
  private readonly certificates = new Map<number, Deferred<CertificateOutcome>>();
  /** Streams we sent CERTIFICATE_NEEDED for and that await a USE_CERTIFICATE. */
  private readonly waiting = new Map<number, { requestId: number; answer: Deferred<UseAnswer> }>();
  private readonly reassembler: CertificateReassembler;
  /** Streams some USE_CERTIFICATE named, oldest first (bounded), for section 3.2's unsolicited rule. */
  private readonly used = new Set<number>();
  /** Unsolicited USE_CERTIFICATE frames for streams not yet asked about (section 3.2: cached briefly), oldest first. */
  private readonly proactive = new Map<number, number | undefined>();

  constructor(
    private readonly host: Draft06Host,
    private readonly limits: Draft06Limits,
  ) {
    this.reassembler = new CertificateReassembler({ profile: host.profile, maxAuthenticatorSize: limits.maxAuthenticatorSize, maxFragments: limits.maxFragments, maxPending: limits.maxReassembling });
  }

  /** Streams awaiting the client's answer. */
  get pending(): number {
    return this.waiting.size;
  }

  /**
   * Asks the client for a certificate for `streamId`. `answer` settles when the client names one;
   * `withdraw` forgets the question (timeout, stream closed). Returns a refusal outcome at once when
   * too many questions are open.
   */
  ask(streamId: number): { answer: Promise<UseAnswer>; withdraw: () => void } {
    const existing = this.waiting.get(streamId);
    if (existing) return { answer: existing.answer.promise, withdraw: () => this.withdraw(streamId) };
    if (this.proactive.has(streamId)) {
      // The client named a certificate for this stream before we asked (section 3.2): no CERTIFICATE_NEEDED.
      const certId = this.proactive.get(streamId);
      this.proactive.delete(streamId);
      return { answer: this.answerFor(certId), withdraw: () => {} };
    }
    if (this.waiting.size >= this.limits.maxPending || this.nextRequestId > 0xffff) {
      const outcome = refused('busy', `${this.waiting.size} certificate requests are already waiting on this connection`);
      return { answer: Promise.resolve({ outcome }), withdraw: () => {} };
    }
    const requestId = this.nextRequestId++;
    const context = new Uint8Array(2 + CONTEXT_RANDOM_BYTES);
    context[0] = requestId >> 8;
    context[1] = requestId & 0xff;
    context.set(this.host.crypto.randomBytes(CONTEXT_RANDOM_BYTES), 2);
    const request = createRequest({ ...this.limits.request, creator: 'server', context, state: this.host.state, crypto: this.host.crypto });
    const frames = this.host.profile.frames;
    this.host.sendFrame(frames.CERTIFICATE_REQUEST, 0, encodeCertificateRequest({ requestId, request: request.bytes }));
    this.host.sendFrame(frames.CERTIFICATE_NEEDED, 0, encodeCertificateNeeded({ streamId, requestId }));
    this.requests.set(requestId, request);
    const answer = deferred<UseAnswer>();
    this.waiting.set(streamId, { requestId, answer });
    return { answer: answer.promise, withdraw: () => this.withdraw(streamId) };
  }

  private withdraw(streamId: number): void {
    const w = this.waiting.get(streamId);
    if (!w) return;
    this.waiting.delete(streamId);
    this.requests.delete(w.requestId);
  }

  /** A CERTIFICATE frame from the client. Throws H2ConnectionError for a connection error. */
  onCertificate(frame: CertificateFields): void {
    const unreadable = this.host.profile.errors.CERTIFICATE_UNREADABLE;
    // -06 section 3.4.1: an authenticator must answer one of our requests (a client never sends one unasked, RFC 9261 section 5).
    if (frame.unsolicited) throw new H2ConnectionError(unreadable, 'a client sent an UNSOLICITED certificate; clients may only answer requests');
    if (frame.requestId >= this.nextRequestId) throw new H2ConnectionError(unreadable, `CERTIFICATE answers Request-ID ${frame.requestId}, which was never sent`);
    if (!this.certificates.has(frame.certId)) {
      if (this.certificates.size >= this.limits.maxCertificates) {
        throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.limits.maxCertificates} client certificates on one connection`);
      }
      this.certificates.set(frame.certId, deferred());
    }
    const whole = this.reassembler.push(frame);
    if (!whole || whole.unsolicited) return;
    const result = this.certificates.get(whole.certId)!;
    const request = this.requests.get(whole.requestId);
    this.requests.delete(whole.requestId);
    if (!request) {
      result.resolve(refused('invalid', `Cert-ID ${whole.certId} answers Request-ID ${whole.requestId}, which was already answered or withdrawn`));
      return;
    }
    result.resolve(this.host.check(whole.authenticator, request));
  }

  /** A USE_CERTIFICATE frame from the client. Throws H2ConnectionError for a connection error. */
  onUse(use: UseCertificateFields): void {
    const { errors } = this.host.profile;
    const first = !this.used.has(use.streamId);
    this.noteUsed(use.streamId);
    if (use.unsolicited) {
      // Section 3.2: a client may name a certificate for a stream before we ask ("UNSOLICITED", only on the
      // first USE_CERTIFICATE for it); a second one, or one after another for the stream, is CERTIFICATE_OVERUSED.
      if (!first) {
        this.proactive.delete(use.streamId);
        this.host.streamError(use.streamId, errors.CERTIFICATE_OVERUSED, `a second USE_CERTIFICATE for stream ${use.streamId} marked UNSOLICITED`);
        return;
      }
      if (use.certId !== undefined && !this.certificates.has(use.certId)) {
        this.host.streamError(use.streamId, H2ErrorCode.PROTOCOL_ERROR, `USE_CERTIFICATE names Cert-ID ${use.certId}, which was never sent`);
        return;
      }
      const w = this.waiting.get(use.streamId);
      if (w) {
        // We asked meanwhile (the frames crossed): this answers that question.
        this.withdraw(use.streamId);
        w.answer.resolve(this.answerFor(use.certId));
        return;
      }
      this.proactive.set(use.streamId, use.certId);
      if (this.proactive.size > this.limits.maxPending) this.proactive.delete(this.proactive.keys().next().value as number);
      return;
    }
    const w = this.waiting.get(use.streamId);
    if (!w) {
      this.host.streamError(use.streamId, errors.CERTIFICATE_OVERUSED, `USE_CERTIFICATE for stream ${use.streamId}, which no CERTIFICATE_NEEDED asked about`);
      return;
    }
    if (use.certId !== undefined && !this.certificates.has(use.certId)) {
      this.host.streamError(use.streamId, H2ErrorCode.PROTOCOL_ERROR, `USE_CERTIFICATE names Cert-ID ${use.certId}, which was never sent`);
      return;
    }
    this.withdraw(use.streamId);
    w.answer.resolve(this.answerFor(use.certId));
  }

  /** The outcome of the certificate a USE_CERTIFICATE named: a Cert-ID, or (none) the TLS-layer certificate. */
  private answerFor(certId: number | undefined): Promise<UseAnswer> {
    if (certId === undefined) return this.host.tlsOutcome().then((outcome) => ({ outcome }));
    return this.certificates.get(certId)!.promise.then((outcome) => ({ outcome, certId }));
  }

  private noteUsed(streamId: number): void {
    this.used.add(streamId);
    // Bounded: a stream forgotten here only lets a late second UNSOLICITED through as a first, which is then cached and unused.
    if (this.used.size > MAX_REMEMBERED_STREAMS) this.used.delete(this.used.values().next().value as number);
  }
}
