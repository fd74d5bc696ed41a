import { EventEmitter } from 'node:events';
import type { Http2Stream, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { validateAuthenticator, type AuthenticatorRequest, type CreateRequestOptions } from '../../ea/index.js';
import {
  ClientCertificateAborted,
  ClientCertificateRefused,
  ClientCertificateTimeout,
  EmptyAuthenticator,
  SecondaryCertsError,
} from '../../errors.js';
import { CertificatePolicy, type AcceptedCertificate, type Stapled, type StaplingPolicy } from '../../pki/policy.js';
import { stapledOf } from '../../pki/stapled.js';
import type { H2Extension, H2ExtensionContext } from '../../h2/extension.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import type { FrameHeader } from '../../h2/wire/frame-header.js';
import { DEFAULT_MAX_AUTHENTICATOR_SIZE } from '../../h2/wire/common.js';
import { parseCertificate } from '../../h2/wire/certificate.js';
import { parseUseCertificate } from '../../h2/wire/use-certificate.js';
import { encodeAuthenticatorRequests } from '../../h2/wire/authenticator-requests.js';
import { parseClientCertificate } from '../../h2/wire/client-certificate.js';
import type { H2Profile } from '../../h2/profile.js';
import { CertAuthSetting } from '../../h2/settings.js';
import type { ServerConnection } from '../../h2/server.js';
import { ALL_FLOWS, draft06SettingOf, type ExporterSetting, serverInterceptTypes, type ClientAuthFlow } from './negotiation.js';
import { refused, settleIdentity, type CertificateOutcome } from './outcome.js';
import { ClientCertsServer } from './server-client-certs.js';
import { Draft06Server } from './server-06.js';

// Client certificates a server asks for at the HTTP layer, an extension of SecondaryCertServer: a handler calls
// `authenticate(stream)` (or `requireClientCertificate`) and gets the validated identity of the client for
// that request, or the request is answered 403 (refused) / 408 (no answer in time) with a body that says
// why. The connection is never torn down for a refusal; only protocol violations end it.

export interface ClientAuthServerOptions {
  /** Trust anchors for client certificates (PEM text or DER). */
  trustAnchors: ReadonlyArray<string | Uint8Array>;
  /** Flows offered, in order of preference when a connection negotiated both (default: both, -06 first). */
  flows?: readonly ClientAuthFlow[];
  /** How long a request waits for the client's certificate before 408 (default 10 s). */
  timeoutMs?: number;
  /** -06: streams per connection waiting for a certificate at once; more are refused (default 16). */
  maxPendingPerConnection?: number;
  /** -06: Cert-IDs kept per connection; more is ENHANCE_YOUR_CALM (default 32). */
  maxCertificatesPerConnection?: number;
  /** Largest client authenticator (default 64 KiB); larger is ENHANCE_YOUR_CALM. */
  maxAuthenticatorSize?: number;
  /** -06: most CERTIFICATE frames for one authenticator (default 64). */
  maxFragments?: number;
  /** -06: authenticators being reassembled from CERTIFICATE frames at once; one more is ENHANCE_YOUR_CALM (default 4). */
  maxReassembling?: number;
  /** What the requests ask for: signature schemes, certificate authorities, OID filters. */
  request?: Omit<CreateRequestOptions, 'creator' | 'context' | 'state' | 'crypto' | 'serverName'>;
  /**
   * -06 section 3.4.1 says an authenticator that fails RFC 9261 validation SHOULD end the connection
   * (CERTIFICATE_UNREADABLE). Default false: the requests relying on it are refused (403) instead.
   */
  closeOnInvalidAuthenticator?: boolean;
  /** The clock for certificate validity (default: now). */
  now?: () => Date;
  /**
   * What the policy makes of an OCSP response and SCTs the client staples (default: ignored). The client
   * staples only what the request asks for: set `request.statusRequest` / `request.signedCertificateTimestamp`.
   * The outcome is in `ClientIdentity.certificate.ocsp` / `.sct`.
   */
  stapling?: StaplingPolicy;
}

/** The validated client identity of one request. */
export interface ClientIdentity {
  /** How the certificate came: one of the HTTP flows, or the TLS handshake (-06 USE_CERTIFICATE naming none). */
  flow: ClientAuthFlow | 'tls';
  /** The chain as the policy accepted it, with the leaf's subject, issuer, dates and names. */
  certificate: AcceptedCertificate;
  /** The chain as the client sent it, leaf first. */
  chain: Uint8Array[];
  /** The origin of the request (its :scheme and :authority). */
  origin: string;
  /** The TLS connection it came through. */
  connection: ServerConnection;
  /** -06: the client's Cert-ID for the certificate. */
  certId?: number;
}

/** What the flows need of the extension; resolved once from the options. */
interface Settings {
  policy: CertificatePolicy;
  flows: readonly ClientAuthFlow[];
  timeoutMs: number;
  maxAuthenticatorSize: number;
  closeOnInvalid: boolean;
}

/** The events of a ClientAuthServer and their listeners' arguments. */
export interface ClientAuthServerEvents {
  identity: [identity: ClientIdentity, stream: ServerHttp2Stream];
  refused: [error: SecondaryCertsError, stream: ServerHttp2Stream];
  protocolError: [error: H2ConnectionError, connection: ServerConnection];
  settingMismatch: [connection: ServerConnection];
}

/**
 * Client certificates on SecondaryCertServer: pass it in the server's `extensions`
 * (`createSecondaryCertServer({ ..., extensions: [clientAuth] })`). Events: 'identity' (ClientIdentity,
 * stream), 'refused' (error, stream), 'protocolError' (H2ConnectionError, ServerConnection),
 * 'settingMismatch' (ServerConnection): the client's SETTINGS_HTTP_CERT_AUTH is not the exporter value
 * of this TLS connection (a TLS terminator between us?).
 */
export class ClientAuthServer extends EventEmitter<ClientAuthServerEvents> implements H2Extension<ServerConnection> {
  readonly settings: Settings;
  private readonly limits: ConstructorParameters<typeof Draft06Server>[1];
  /** The connection each stream of a spliced connection came on. */
  private readonly sides = new WeakMap<Http2Stream, ServerSide>();
  private readonly results = new WeakMap<ServerHttp2Stream, Promise<ClientIdentity>>();
  private readonly identities = new WeakMap<ServerHttp2Stream, ClientIdentity>();

  constructor(options: ClientAuthServerOptions) {
    super();
    const flows = options.flows ?? ALL_FLOWS;
    if (flows.length === 0 || flows.some((f) => !ALL_FLOWS.includes(f))) throw new TypeError(`flows must be a non-empty list of ${ALL_FLOWS.join(', ')}`);
    this.settings = {
      policy: new CertificatePolicy({ ...options.stapling, trustAnchors: options.trustAnchors, role: 'client', ...(options.now ? { now: options.now } : {}) }),
      flows,
      timeoutMs: positive(options.timeoutMs ?? 10_000, 'timeoutMs'),
      maxAuthenticatorSize: positive(options.maxAuthenticatorSize ?? DEFAULT_MAX_AUTHENTICATOR_SIZE, 'maxAuthenticatorSize'),
      closeOnInvalid: options.closeOnInvalidAuthenticator ?? false,
    };
    this.limits = {
      maxPending: positive(options.maxPendingPerConnection ?? 16, 'maxPendingPerConnection'),
      maxCertificates: positive(options.maxCertificatesPerConnection ?? 32, 'maxCertificatesPerConnection'),
      maxAuthenticatorSize: this.settings.maxAuthenticatorSize,
      maxFragments: positive(options.maxFragments ?? 64, 'maxFragments'),
      maxReassembling: positive(options.maxReassembling ?? 4, 'maxReassembling'),
      request: options.request ?? {},
    };
  }

  /** CERTIFICATE, USE_CERTIFICATE and CLIENT_CERTIFICATE: what clients send for the flows. */
  frameTypes(profile: H2Profile): number[] {
    return serverInterceptTypes(profile);
  }

  attach(context: H2ExtensionContext, connection: ServerConnection): void {
    const side = new ServerSide(this, context, connection, this.limits);
    context.onStream((stream) => this.sides.set(stream, side));
  }

  /**
   * The validated client identity for the request on `stream`: asks the client for a certificate the
   * first time (once per stream), through the flow the connection negotiated. Rejects with
   * ClientCertificateRefused (status 403), ClientCertificateTimeout (408) or ClientCertificateAborted
   * (the stream or connection ended: answer nothing), never anything else.
   */
  requireClientCertificate(stream: ServerHttp2Stream): Promise<ClientIdentity> {
    let result = this.results.get(stream);
    if (!result) {
      result = this.settle(stream);
      this.results.set(stream, result);
    }
    return result;
  }

  /**
   * requireClientCertificate, answering a refusal itself: 403 or 408 with a text body saying why, then
   * undefined. The handler serves the request when it gets an identity.
   */
  async authenticate(stream: ServerHttp2Stream): Promise<ClientIdentity | undefined> {
    try {
      return await this.requireClientCertificate(stream);
    } catch (e) {
      if (e instanceof ClientCertificateRefused || e instanceof ClientCertificateTimeout) {
        const body = e instanceof ClientCertificateRefused ? `client certificate refused (${e.reason}): ${e.message}\n` : `${e.message}\n`;
        if (!stream.destroyed && !stream.closed && !stream.headersSent) {
          stream.respond({ ':status': e.status, 'content-type': 'text/plain; charset=utf-8' });
          stream.end(body);
        }
      }
      return undefined;
    }
  }

  /** The identity already validated for this request, if any. */
  clientIdentityOf(stream: ServerHttp2Stream): ClientIdentity | undefined {
    return this.identities.get(stream);
  }

  private async settle(stream: ServerHttp2Stream): Promise<ClientIdentity> {
    const side = this.sides.get(stream);
    if (!side) throw new ClientCertificateRefused('not-negotiated', 'this connection does not carry the extension (not HTTP/2 over a spliced TLS connection)');
    return settleIdentity(
      stream,
      (r) => side.require(r),
      this.identities,
      (identity) => this.emit('identity', identity, stream),
      (error) => this.emit('refused', error, stream),
    );
  }
}

/** The feature on one connection: its settings, both flows, and the streams waiting. */
class ServerSide {
  private setting06: ExporterSetting | undefined;
  private readonly settingClientCerts: CertAuthSetting;
  private readonly draft06: Draft06Server;
  private readonly clientCerts: ClientCertsServer;
  private readonly streams = new Map<number, Http2Stream>();
  private readonly origins = new WeakMap<Http2Stream, string>();
  /** Whether our SETTINGS for the flows are on the wire: no flow frame may go out before them. */
  private settingsSent = false;
  /** Resolves once they are; undefined when none are sent (no TLS 1.3). */
  private settingsOut: Promise<void> | undefined;

  constructor(
    private readonly owner: ClientAuthServer,
    private readonly context: H2ExtensionContext,
    private readonly connection: ServerConnection,
    limits: ConstructorParameters<typeof Draft06Server>[1],
  ) {
    const { profile, crypto } = context;
    const host = {
      profile,
      crypto,
      state: context.state,
      sendFrame: (type: number, flags: number, payload: Uint8Array) => context.sendFrame(type, flags, payload),
      check: (authenticator: Uint8Array, request: AuthenticatorRequest) => this.check(authenticator, request),
      tlsOutcome: () => this.tlsOutcome(),
      streamError: (streamId: number, code: number) => {
        const stream = this.streams.get(streamId);
        if (stream && !stream.closed) stream.close(code);
      },
    };
    this.draft06 = new Draft06Server(host, limits);
    this.settingClientCerts = new CertAuthSetting(profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH, 'count', 'flag');
    const setting = this.settingClientCerts;
    this.clientCerts = new ClientCertsServer(
      { ...host, sendRequests: (requests) => context.sendFrame(profile.frames.AUTHENTICATOR_REQUESTS, 0, encodeAuthenticatorRequests({ requests })) },
      () => setting.remote,
      limits,
    );

    // Our settings go out per connection: the -06 value depends on this TLS connection's exporter, and
    // neither flow can run without TLS 1.3 (RFC 9261 through Node), so a TLS 1.2 peer is offered nothing.
    if (context.tlsProtocol === 'TLSv1.3' && !context.closed) this.offer(owner.settings.flows);

    context.onPeerSettings((settings) => this.onPeerSettings(settings));
    context.onFrame((header, payload) => this.onFrame(header, payload));
    context.onStream((stream, headers) => {
      const id = stream.id ?? 0; // a server's stream has its id from the HEADERS that opened it
      this.streams.set(id, stream);
      this.origins.set(stream, originOf(headers, context.servername));
      stream.once('close', () => this.streams.delete(id));
    });
  }

  /** Sends our settings for the flows, in a SETTINGS frame of their own. */
  private offer(flows: readonly ClientAuthFlow[]): void {
    const { profile } = this.context;
    const custom: Record<number, number> = {};
    let setting06: ExporterSetting | undefined;
    if (flows.includes('secondary-certs-06')) {
      // The profile's -06 form: the single setting, or -06's SETTINGS_HTTP_CLIENT_CERT_AUTH.
      setting06 = draft06SettingOf(this.context, 'server', 'client-certs');
      if (setting06) custom[setting06.id] = setting06.local;
    }
    if (flows.includes('secondary-client-certs')) {
      this.settingClientCerts.send(1);
      custom[profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH] = 1;
    }
    if (Object.keys(custom).length === 0) return;
    // Room for a whole CLIENT_CERTIFICATE (one frame per authenticator in that draft).
    const maxFrameSize = Math.min(0xffffff, Math.max(16_384, this.owner.settings.maxAuthenticatorSize + 1024));
    this.setting06 = setting06;
    this.settingsOut = new Promise((resolve) => {
      this.context.sendSettings({ customSettings: custom, ...(flows.includes('secondary-client-certs') ? { maxFrameSize } : {}) }, () => {
        this.settingsSent = true;
        if (setting06) setting06.sent = true;
        resolve();
      });
    });
  }

  /** The flow this connection uses: the first one, in the server's preference, both sides turned on. */
  private get flow(): ClientAuthFlow | undefined {
    if (!this.settingsSent) return undefined;
    return this.owner.settings.flows.find((f) => (f === 'secondary-certs-06' ? this.setting06?.active === true : this.settingClientCerts.active));
  }

  async require(stream: ServerHttp2Stream): Promise<ClientIdentity> {
    if (stream.destroyed || stream.closed) throw new ClientCertificateAborted('the stream is closed');
    const origin = this.origins.get(stream) ?? this.context.origin;
    const base = { origin, connection: this.connection };
    // node:http2 writes our SETTINGS lazily: a request in the client's first flight can be handled before
    // they are out. Wait for them (bounded like any answer) so the flow is known.
    if (!this.settingsSent && this.settingsOut) await this.wait(stream, this.settingsOut, () => {});
    const flow = this.flow;
    if (!flow) {
      const outcome = await this.tlsOutcome();
      if (!outcome.ok) {
        const hint = this.setting06?.mismatched ? ' (its SETTINGS_HTTP_CERT_AUTH does not match this TLS connection)' : '';
        throw new ClientCertificateRefused('not-negotiated', `the client did not negotiate HTTP-layer client certificates${hint}, and the TLS handshake gave none`);
      }
      return { ...base, flow: 'tls', certificate: outcome.certificate, chain: outcome.chain };
    }
    if (flow === 'secondary-certs-06') {
      const { answer, withdraw } = this.ask06(stream.id ?? 0);
      const { outcome, certId } = await this.wait(stream, answer, withdraw);
      if (!outcome.ok) throw outcome.error;
      return { ...base, flow, certificate: outcome.certificate, chain: outcome.chain, ...(certId !== undefined ? { certId } : {}) };
    }
    const outcome = await this.wait(stream, this.askClientCerts(), () => {});
    if (!outcome.ok) throw outcome.error;
    return { ...base, flow, certificate: outcome.certificate, chain: outcome.chain };
  }

  private ask06(streamId: number): ReturnType<Draft06Server['ask']> {
    try {
      return this.draft06.ask(streamId);
    } catch (e) {
      // Out of contexts, a request too large for the client's frames: this request cannot be asked about.
      return { answer: Promise.resolve({ outcome: refused('busy', `cannot ask for a certificate: ${describe(e)}`, e) }), withdraw: () => {} };
    }
  }

  private askClientCerts(): Promise<CertificateOutcome> {
    try {
      return this.clientCerts.identity();
    } catch (e) {
      return Promise.resolve(refused('busy', `cannot ask for a certificate: ${describe(e)}`, e));
    }
  }

  /** Waits for `answer`, bounded by the timeout, the stream and the connection. */
  private wait<T>(stream: ServerHttp2Stream, answer: Promise<T>, withdraw: () => void): Promise<T> {
    const { timeoutMs } = this.owner.settings;
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        stream.off('close', onClose);
      };
      const timer = setTimeout(() => {
        done();
        withdraw();
        reject(new ClientCertificateTimeout(`the client gave no certificate within ${timeoutMs} ms`));
      }, timeoutMs);
      const onClose = (): void => {
        done();
        withdraw();
        reject(new ClientCertificateAborted('the stream closed while waiting for the client certificate'));
      };
      stream.once('close', onClose);
      answer.then(
        (value) => {
          done();
          resolve(value);
        },
        (e: unknown) => {
          done();
          reject(e);
        },
      );
    });
  }

  /** RFC 9261 validation of a client authenticator, then the client certificate policy. */
  private async check(authenticator: Uint8Array, request: AuthenticatorRequest): Promise<CertificateOutcome> {
    let chain: Uint8Array[];
    let stapled: Stapled;
    try {
      const validated = await validateAuthenticator({ keys: this.context.keys(), creator: 'client', authenticator, request, state: this.context.state, crypto: this.context.crypto });
      chain = validated.chain;
      stapled = stapledOf(validated.entries[0]);
    } catch (e) {
      if (e instanceof EmptyAuthenticator) return refused('declined', 'the client declined to present a certificate (empty authenticator)');
      if (this.owner.settings.closeOnInvalid) {
        this.fail(new H2ConnectionError(this.context.profile.errors.CERTIFICATE_UNREADABLE, `client authenticator does not validate: ${describe(e)}`));
      }
      return refused('invalid', `the authenticator does not validate: ${describe(e)}`, e);
    }
    return this.acceptChain(chain, stapled);
  }

  private async acceptChain(chain: Uint8Array[], stapled: Stapled = {}): Promise<CertificateOutcome> {
    try {
      return { ok: true, certificate: await this.owner.settings.policy.check(chain, stapled), chain };
    } catch (e) {
      return refused('rejected', describe(e), e);
    }
  }

  /** The certificate of the TLS handshake, if the server asked for one there (requestCert). */
  private async tlsOutcome(): Promise<CertificateOutcome> {
    const chain = this.context.peerCertificateChain();
    if (chain.length === 0) return refused('declined', 'the client named no certificate, and the TLS handshake gave none');
    return this.acceptChain(chain);
  }

  private onPeerSettings(settings: ReadonlyMap<number, number>): void {
    if (this.setting06 && settings.has(this.setting06.id)) {
      this.setting06.receiveMap(settings);
      if (this.setting06.mismatched) this.owner.emit('settingMismatch', this.connection);
    }
    try {
      this.settingClientCerts.receiveMap(settings);
    } catch (e) {
      this.fail(e as H2ConnectionError);
    }
  }

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    const { frames } = this.context.profile;
    const options = { profile: this.context.profile };
    try {
      if (header.type === frames.CLIENT_CERTIFICATE) {
        const { authenticator } = parseClientCertificate(header, payload, { profile: this.context.profile, maxAuthenticatorSize: this.owner.settings.maxAuthenticatorSize });
        // Section 4.2: a certificate frame with no request outstanding is a connection error.
        if (!this.clientCerts.onClientCertificate(authenticator)) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'CLIENT_CERTIFICATE with no authenticator request outstanding');
        return;
      }
      // -06 frames before (or without) the negotiation mean nothing to us, as for SERVER_CERTIFICATE.
      if (!this.setting06?.active) return;
      if (header.type === frames.CERTIFICATE) this.draft06.onCertificate(parseCertificate(header, payload, options));
      else if (header.type === frames.USE_CERTIFICATE) this.draft06.onUse(parseUseCertificate(header, payload, options));
    } catch (e) {
      this.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.INTERNAL_ERROR, describe(e), { cause: e }));
    }
  }

  private fail(error: H2ConnectionError): void {
    if (this.context.closed) return;
    this.owner.emit('protocolError', error, this.connection);
    this.context.fail(error);
  }
}

function originOf(headers: IncomingHttpHeaders, servername: string | undefined): string {
  const scheme = headers[':scheme'] ?? 'https';
  const authority = headers[':authority'] ?? headers.host ?? (servername || 'unknown');
  try {
    return new URL(`${scheme}://${authority}`).origin;
  } catch {
    return `${scheme}://${authority}`;
  }
}

function describe(e: unknown): string {
  if (e instanceof SecondaryCertsError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function positive(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, not ${v}`);
  return v;
}
