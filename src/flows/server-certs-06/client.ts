import { EventEmitter } from 'node:events';
import type { Http2Stream } from 'node:http2';
import { equalBytes } from '../../codec/writer.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { createRequest, validateAuthenticator, type AuthenticatorRequest, type CreateRequestOptions } from '../../ea/index.js';
import { CertificateRejected, EmptyAuthenticator, H2ConnectionError, H2ErrorCode, ServerCertificateRefused, type ServerCertRefusal } from '../../errors.js';
import type { SecondaryCertConnection } from '../../h2/client.js';
import type { H2Extension, H2ExtensionContext } from '../../h2/extension.js';
import type { H2Profile } from '../../h2/profile.js';
import { DEFAULT_MAX_AUTHENTICATOR_SIZE } from '../../h2/wire/common.js';
import { encodeCertificateNeeded } from '../../h2/wire/certificate-needed.js';
import { encodeCertificateRequest } from '../../h2/wire/certificate-request.js';
import { CertificateReassembler, parseCertificate, type ReassembledCertificate } from '../../h2/wire/certificate.js';
import type { FrameHeader } from '../../h2/wire/frame-header.js';
import { parseUseCertificate, type UseCertificateFields } from '../../h2/wire/use-certificate.js';
import { certificateCovers, subjectNameList } from '../../pki/certificate-names.js';
import { hostCoveredBy, parseHost } from '../../pki/names.js';
import type { AcceptedCertificate } from '../../pki/policy.js';
import type { PooledConnection } from '../../pool/connection.js';
import type { OriginProver, ProvenOrigin } from '../../pool/prover.js';
import { checkRequiredDomain } from '../../pki/required-domain.js';
import { draft06SettingOf, type ExporterSetting } from '../client-auth/negotiation.js';
import { deferred, type Deferred } from '../client-auth/outcome.js';
import { CONTEXT_RANDOM_BYTES, contextFor, describe, positive } from './common.js';

// The client half of draft-ietf-httpbis-http2-secondary-certs-06's server certificates, an extension of
// connect() and the agent, on one SecondaryCertConnection:
// - it sends the server-direction setting (section 2.1, as the profile says) and uses the frames only
//   once both sides sent the exporter value the other expects;
// - each CERTIFICATE the server sends (reassembled, section 3.4) is validated (section 3.4.1: it answers
//   a request we sent, or is UNSOLICITED; RFC 9261 with that request), must carry a satisfied Required
//   Domain (sections 3.4.1, 5, 6.1), and then goes through the connection's certificate policy; an
//   accepted one serves its origins at once (section 2.2);
// - `requestCertificate(origin)` sends CERTIFICATE_REQUEST (server_name = the host) and
//   CERTIFICATE_NEEDED(stream 0), and settles when the server's USE_CERTIFICATE(stream 0) names a
//   certificate (section 2.3.1): usable for the origin, or a ServerCertificateRefused.
// USE_CERTIFICATE rules (section 3.2): one naming an unknown Cert-ID is PROTOCOL_ERROR; one answering no
// CERTIFICATE_NEEDED, a second unsolicited one, or an unsolicited one after another for the same stream
// is CERTIFICATE_OVERUSED. On stream 0 those stream errors can only be connection errors.

export interface ServerCerts06ClientOptions {
  /** Refuse server certificates without a satisfied Required Domain (default true: -06 sections 3.4.1 and 6.1 say MUST). */
  requireRequiredDomain?: boolean;
  /** How long requestCertificate waits for the server's USE_CERTIFICATE (default 10 s). */
  timeoutMs?: number;
  /** requestCertificate calls waiting at once per connection; more are refused 'busy' (default 16). */
  maxPendingRequests?: number;
  /** Cert-IDs kept per connection; more is ENHANCE_YOUR_CALM (default 32). */
  maxCertificates?: number;
  /** Largest server authenticator (default 64 KiB); larger is ENHANCE_YOUR_CALM. */
  maxAuthenticatorSize?: number;
  /** Most CERTIFICATE frames for one authenticator (default 64). */
  maxFragments?: number;
  /** Authenticators being reassembled from CERTIFICATE frames at once; one more is ENHANCE_YOUR_CALM (default 4). */
  maxReassembling?: number;
  /** What the requests ask for besides server_name: signature schemes, certificate authorities. */
  request?: Omit<CreateRequestOptions, 'creator' | 'context' | 'state' | 'crypto' | 'serverName'>;
  crypto?: CryptoProvider;
}

/** A certificate the server sent, as this client judged it. */
export interface ServerCertificate06Event {
  certId: number;
  unsolicited: boolean;
  /** The Request-ID it answers (solicited only). */
  requestId?: number;
  /** The leaf's subjectAltName entries (empty for a refusal). */
  names: string[];
  /** Accepted: its origins may go on this connection. */
  accepted: boolean;
  /** Why not: an empty authenticator, the policy, the Required Domain. */
  reason?: string;
}

/** A server certificate a client asked for, usable for the origin. */
export interface RequestedServerCertificate {
  origin: string;
  /** 'tls': the server named no Cert-ID and its TLS certificate covers the host (section 3.2). */
  via: 'secondary' | 'tls';
  /** The Cert-ID the server named. */
  certId?: number;
  names: string[];
  /** True when the certificate named did not answer this request: the server had sent it earlier (unasked, say). */
  reused: boolean;
}

export interface ServerCerts06ConnectionEvents {
  certificate: [event: ServerCertificate06Event];
}

/**
 * -06 server certificates for `connect()` (and the agent): pass it in `extensions`, then `of(connection)`
 * gives the feature on each connection.
 *
 *   const certs06 = new ServerCerts06Client();
 *   const connection = await connect(url, { ca, profile: DRAFT_06_PROFILE, extensions: [certs06] });
 *   await certs06.of(connection)!.requestCertificate('https://b.example');
 */
export class ServerCerts06Client implements H2Extension<SecondaryCertConnection>, OriginProver {
  private readonly connections = new WeakMap<object, ServerCerts06Connection>();
  /** Origins already asked of each connection (the agent's prover asks once). */
  private readonly asked = new WeakMap<object, Set<string>>();

  constructor(readonly options: ServerCerts06ClientOptions = {}) {
    limitsOf(options);
  }

  /** CERTIFICATE and USE_CERTIFICATE: what a server sends to prove a certificate. */
  frameTypes(profile: H2Profile): number[] {
    return [profile.frames.CERTIFICATE, profile.frames.USE_CERTIFICATE];
  }

  attach(context: H2ExtensionContext, connection: SecondaryCertConnection): void {
    this.connections.set(connection, new ServerCerts06Connection(context, connection, this.options));
  }

  /** The feature on `connection`; undefined for a connection opened without this extension. */
  of(connection: object): ServerCerts06Connection | undefined {
    return this.connections.get(connection);
  }

  /**
   * The agent's OriginProver (`new SecondaryCertAgent({ ca, extensions: [certs06], provers: [certs06] })`):
   * before opening a connection for `origin`, asks each open HTTP/2 connection that negotiated -06 and
   * whose ORIGIN frame lists the origin (section 2.3.1's condition), once per connection and origin.
   */
  async prove(candidates: readonly PooledConnection[], origin: string): Promise<ProvenOrigin | undefined> {
    for (const pooled of candidates) {
      if (pooled.protocol !== 'h2') continue;
      const c = pooled.connection;
      const feature = this.of(c);
      if (!feature || c.closed || !feature.negotiated || !c.originFrameSet?.has(origin)) continue;
      const asked = this.asked.get(c) ?? new Set<string>();
      this.asked.set(c, asked);
      if (asked.has(origin)) continue;
      asked.add(origin);
      try {
        await feature.requestCertificate(origin);
      } catch (e) {
        if (e instanceof ServerCertificateRefused) continue;
        throw e;
      }
      const authority = await c.authorityFor(origin);
      if (authority.ok) return { pooled, authority };
    }
    return undefined;
  }
}

/** What became of one Cert-ID. */
type CertOutcome = { ok: true; certificate: AcceptedCertificate; names: string[] } | { ok: false; reason: ServerCertRefusal; message: string; names: string[] };

interface Asked {
  requestId: number;
  origin: string;
  host: string;
  answer: Deferred<{ certId?: number }>;
}

function limitsOf(o: ServerCerts06ClientOptions) {
  return {
    timeoutMs: positive(o.timeoutMs ?? 10_000, 'timeoutMs'),
    maxPending: positive(o.maxPendingRequests ?? 16, 'maxPendingRequests'),
    maxCertificates: positive(o.maxCertificates ?? 32, 'maxCertificates'),
    maxAuthenticatorSize: positive(o.maxAuthenticatorSize ?? DEFAULT_MAX_AUTHENTICATOR_SIZE, 'maxAuthenticatorSize'),
    maxFragments: positive(o.maxFragments ?? 64, 'maxFragments'),
    maxReassembling: positive(o.maxReassembling ?? 4, 'maxReassembling'),
  };
}

/** The feature on one client connection. Event: 'certificate' (ServerCertificate06Event) for each CERTIFICATE the server sent. */
export class ServerCerts06Connection extends EventEmitter<ServerCerts06ConnectionEvents> {
  private readonly setting: ExporterSetting | undefined;
  private readonly limits: ReturnType<typeof limitsOf>;
  private readonly reassembler: CertificateReassembler;
  private readonly crypto: CryptoProvider;
  private nextRequestId = 0;
  /** Requests we sent and no CERTIFICATE answered yet. */
  private readonly requests = new Map<number, AuthenticatorRequest>();
  /** Our CERTIFICATE_NEEDED(stream 0) frames, oldest first: each USE_CERTIFICATE for stream 0 answers the first. */
  private readonly asked: Asked[] = [];
  /** Every whole Cert-ID, with its outcome once judged. */
  private readonly certificates = new Map<number, Promise<CertOutcome>>();
  /** Streams some USE_CERTIFICATE named (for the unsolicited rule); request streams are forgotten when they close. */
  private readonly used = new Set<number>();
  private readonly streams = new Map<number, Http2Stream>();
  private queue: Promise<unknown> = Promise.resolve();
  private negotiatedWaiters: (() => void)[] = [];

  constructor(
    private readonly context: H2ExtensionContext,
    private readonly connection: SecondaryCertConnection,
    private readonly options: ServerCerts06ClientOptions,
  ) {
    super();
    this.limits = limitsOf(options);
    this.crypto = options.crypto ?? context.crypto;
    this.reassembler = new CertificateReassembler({ profile: context.profile, maxAuthenticatorSize: this.limits.maxAuthenticatorSize, maxFragments: this.limits.maxFragments, maxPending: this.limits.maxReassembling });
    if (context.tlsProtocol === 'TLSv1.3' && !context.closed) this.setting = draft06SettingOf(context, 'client', 'server-certs');
    const setting = this.setting;
    if (setting) {
      context.sendSettings({ customSettings: { [setting.id]: setting.local } }, () => {
        setting.sent = true;
        this.wake();
      });
    }
    context.onPeerSettings((settings) => {
      setting?.receiveMap(settings);
      this.wake();
    });
    context.onFrame((header, payload) => this.onFrame(header, payload));
    context.onStream((stream) => {
      const id = stream.id;
      if (id === undefined) return;
      this.streams.set(id, stream);
      stream.once('close', () => {
        this.streams.delete(id);
        this.used.delete(id);
      });
    });
    context.onClose(() => {
      this.wake();
      for (const a of this.asked.splice(0)) a.answer.resolve({});
    });
  }

  /** Both sides sent the server-direction value the other expects. */
  get negotiated(): boolean {
    return this.setting?.active === true;
  }

  /** The peer sent a value that is not this TLS connection's (a TLS terminator between us?). */
  get mismatched(): boolean {
    return this.setting?.mismatched === true;
  }

  /**
   * Asks the server to prove `origin` (section 2.3.1): CERTIFICATE_REQUEST with server_name, then
   * CERTIFICATE_NEEDED for stream 0. Resolves once a certificate the server named in USE_CERTIFICATE
   * validated, was accepted and covers the host: the connection then carries the origin (subject to its
   * DNS or ORIGIN rules). Rejects with ServerCertificateRefused, never anything else.
   */
  async requestCertificate(origin: string | URL): Promise<RequestedServerCertificate> {
    const url = new URL(origin);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (url.protocol !== 'https:' || !parseHost(host)) throw new TypeError(`not an https origin: ${String(origin)}`);
    const deadline = Date.now() + this.limits.timeoutMs;
    await this.whenSettled(this.limits.timeoutMs);
    if (this.context.closed) throw new ServerCertificateRefused('closed', 'the connection is closed');
    if (!this.negotiated) {
      const why = this.setting === undefined ? 'not TLS 1.3' : this.mismatched ? "the server's setting does not match this TLS connection" : 'the server did not send the setting';
      throw new ServerCertificateRefused('not-negotiated', `the connection did not negotiate -06 server certificates (${why})`);
    }
    if (this.asked.length >= this.limits.maxPending || this.nextRequestId > 0xffff) throw new ServerCertificateRefused('busy', `${this.asked.length} certificate requests are already waiting on this connection`);
    const requestId = this.nextRequestId++;
    let request: AuthenticatorRequest;
    try {
      const context = contextFor(requestId, this.crypto.randomBytes(CONTEXT_RANDOM_BYTES));
      request = createRequest({ ...this.options.request, creator: 'client', serverName: host, context, state: this.context.state, crypto: this.crypto });
    } catch (e) {
      throw new ServerCertificateRefused('busy', `cannot make a request: ${describe(e)}`, { cause: e });
    }
    const frames = this.context.profile.frames;
    this.context.sendFrame(frames.CERTIFICATE_REQUEST, 0, encodeCertificateRequest({ requestId, request: request.bytes }));
    this.context.sendFrame(frames.CERTIFICATE_NEEDED, 0, encodeCertificateNeeded({ streamId: 0, requestId }));
    this.requests.set(requestId, request);
    const asked: Asked = { requestId, origin: url.origin, host, answer: deferred() };
    this.asked.push(asked);
    const answer = await this.within(asked.answer.promise, deadline - Date.now());
    if (answer === undefined) throw new ServerCertificateRefused('timeout', `the server named no certificate for ${url.origin} within ${this.limits.timeoutMs} ms`);
    if (this.context.closed && answer.certId === undefined) throw new ServerCertificateRefused('closed', 'the connection closed before the server answered');
    return this.settle(asked, answer.certId);
  }

  private async settle(asked: Asked, certId: number | undefined): Promise<RequestedServerCertificate> {
    if (certId === undefined) {
      // Section 3.2: no Cert-ID names the TLS certificate; it does not cover the host, or we would not have asked.
      if (certificateCovers(this.context.peerCertificateChain()[0], asked.host)) return { origin: asked.origin, via: 'tls', names: [], reused: false };
      throw new ServerCertificateRefused('declined', `the server named no certificate for ${asked.origin} (USE_CERTIFICATE without a Cert-ID)`);
    }
    const outcome = await this.certificates.get(certId)!;
    if (!outcome.ok) throw new ServerCertificateRefused(outcome.reason, outcome.message);
    if (!outcome.certificate.covers(asked.host)) throw new ServerCertificateRefused('rejected', `the certificate named (Cert-ID ${certId}: ${outcome.names.join(', ')}) does not cover ${asked.host}`);
    return { origin: asked.origin, via: 'secondary', certId, names: outcome.names, reused: this.answeredByRequest.get(certId) !== asked.requestId };
  }

  /** The Request-ID each solicited Cert-ID answered. */
  private readonly answeredByRequest = new Map<number, number>();

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    const { frames } = this.context.profile;
    const options = { profile: this.context.profile };
    try {
      // Before (or without) the negotiation these frames mean nothing to us (section 2.1: SHOULD NOT be sent).
      if (!this.negotiated) return;
      if (header.type === frames.CERTIFICATE) {
        const whole = this.reassembler.push(parseCertificate(header, payload, options));
        if (whole) this.onCertificate(whole);
      } else if (header.type === frames.USE_CERTIFICATE) {
        this.onUse(parseUseCertificate(header, payload, options));
      }
    } catch (e) {
      this.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.INTERNAL_ERROR, describe(e), { cause: e }));
    }
  }

  private onCertificate(whole: ReassembledCertificate): void {
    const unreadable = this.context.profile.errors.CERTIFICATE_UNREADABLE;
    let request: AuthenticatorRequest | undefined;
    if (!whole.unsolicited) {
      // Section 3.4.1, first step: it answers a CERTIFICATE_REQUEST we sent (and not yet answered).
      request = this.requests.get(whole.requestId);
      if (!request) throw new H2ConnectionError(unreadable, `CERTIFICATE answers Request-ID ${whole.requestId}, which we never sent or which was already answered`);
      this.requests.delete(whole.requestId);
      this.answeredByRequest.set(whole.certId, whole.requestId);
    }
    if (this.certificates.size >= this.limits.maxCertificates) throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.limits.maxCertificates} server certificates on one connection`);
    // One at a time, in arrival order, so that a Required Domain may rest on the certificate before it.
    const outcome = this.queue.then(() => this.judge(whole, request));
    this.queue = outcome;
    this.certificates.set(whole.certId, outcome);
  }

  private async judge(whole: ReassembledCertificate, request: AuthenticatorRequest | undefined): Promise<CertOutcome> {
    const base = { certId: whole.certId, unsolicited: whole.unsolicited, ...(whole.unsolicited ? {} : { requestId: whole.requestId }) };
    const refuse = (reason: ServerCertRefusal, message: string, names: string[] = []): CertOutcome => {
      this.emit('certificate', { ...base, names, accepted: false, reason: message });
      return { ok: false, reason, message, names };
    };
    if (this.context.closed) return refuse('closed', 'the connection closed');
    let chain: Uint8Array[];
    try {
      ({ chain } = await validateAuthenticator({ keys: this.context.keys(), creator: 'server', authenticator: whole.authenticator, state: this.context.state, crypto: this.crypto, ...(request ? { request } : {}) }));
    } catch (e) {
      if (e instanceof EmptyAuthenticator && request) return refuse('declined', `the server holds no certificate for ${request.serverName ?? 'the request'} (empty authenticator)`);
      // Section 3.4.1 (SHOULD) and 6.3: an authenticator that does not validate ends the connection.
      this.fail(new H2ConnectionError(this.context.profile.errors.CERTIFICATE_UNREADABLE, `server authenticator (Cert-ID ${whole.certId}) does not validate: ${describe(e)}`, { cause: e }));
      return refuse('rejected', `the authenticator does not validate: ${describe(e)}`);
    }
    if (this.options.requireRequiredDomain ?? true) {
      try {
        checkRequiredDomain(chain[0]!, this.context.profile.draft06.requiredDomainOid, (host) => this.coveredAlready(host));
      } catch (e) {
        if (!(e instanceof CertificateRejected)) throw e;
        return refuse('rejected', `${e.code}: ${e.message}`, subjectNameList(chain[0]));
      }
    }
    const event = await this.connection.acceptChain(chain);
    if (!event.accepted) return refuse('rejected', event.reason ?? 'not accepted', event.names);
    const certificate = this.connection.certificates.find((c) => equalBytes(c.chain[0]!, chain[0]!))!;
    this.emit('certificate', { ...base, names: event.names, accepted: true });
    return { ok: true, certificate, names: event.names };
  }

  /** Does a certificate already accepted on this connection, the TLS one included, cover `host` (section 6.1)? */
  private coveredAlready(host: string): boolean {
    if (certificateCovers(this.context.peerCertificateChain()[0], host)) return true;
    return this.connection.certificates.some((c) => hostCoveredBy(host, { dnsNames: c.dnsNames, ipAddresses: c.ipAddresses }));
  }

  private onUse(use: UseCertificateFields): void {
    const overused = this.context.profile.errors.CERTIFICATE_OVERUSED;
    const first = !this.used.has(use.streamId);
    this.used.add(use.streamId);
    if (use.unsolicited) {
      // Section 3.2: a second unsolicited USE_CERTIFICATE, or one after another for the stream, is CERTIFICATE_OVERUSED.
      if (!first) return this.streamError(use.streamId, overused, `a second USE_CERTIFICATE for stream ${use.streamId} marked UNSOLICITED`);
      if (use.certId !== undefined && !this.certificates.has(use.certId)) return this.streamError(use.streamId, H2ErrorCode.PROTOCOL_ERROR, `USE_CERTIFICATE names Cert-ID ${use.certId}, which was never sent`);
      // A server's certificates count without it (section 2.2); it asks for nothing more.
      return;
    }
    const asked = use.streamId === 0 ? this.asked[0] : undefined;
    if (!asked) return this.streamError(use.streamId, overused, `USE_CERTIFICATE for stream ${use.streamId}, for which we sent no CERTIFICATE_NEEDED`);
    if (use.certId !== undefined && !this.certificates.has(use.certId)) return this.streamError(0, H2ErrorCode.PROTOCOL_ERROR, `USE_CERTIFICATE names Cert-ID ${use.certId}, which was never sent`);
    this.asked.shift();
    asked.answer.resolve(use.certId !== undefined ? { certId: use.certId } : {});
  }

  /** A stream error: on stream 0 that is the connection (RFC 9113 section 5.4); else RST_STREAM on our stream. */
  private streamError(streamId: number, code: number, message: string): void {
    if (streamId === 0) return this.fail(new H2ConnectionError(code, message));
    const stream = this.streams.get(streamId);
    if (stream && !stream.closed) stream.close(code);
  }

  /** Whether the negotiation is decided: on, impossible (no TLS 1.3, a value that does not match), or the connection closed. */
  private get settled(): boolean {
    return this.context.closed || this.negotiated || this.setting === undefined || this.mismatched;
  }

  private wake(): void {
    if (!this.settled) return;
    for (const w of this.negotiatedWaiters.splice(0)) w();
  }

  /** Waits (at most `ms`) until the negotiation is decided: negotiated, impossible, or the connection closed. */
  private whenSettled(ms: number): Promise<void> {
    if (this.settled) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.negotiatedWaiters.push(done);
    });
  }

  /** `promise`'s value, or undefined after `ms`. */
  private within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), Math.max(0, ms));
      void promise.then((v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  }

  private fail(error: H2ConnectionError): void {
    if (this.context.closed) return;
    this.context.fail(error);
  }
}

