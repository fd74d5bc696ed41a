import { EventEmitter } from 'node:events';
import { validateAuthenticator, type AuthenticatorRequest } from '../../ea/index.js';
import { ClientCertificateAborted, ClientCertificateRefused, ClientCertificateTimeout, EmptyAuthenticator, H3ConnectionError, H3ErrorCode, SecondaryCertsError } from '../../errors.js';
import type { Role } from '../../exporter/keys.js';
import type { H3SecondaryCertConnection } from '../../h3/client.js';
import type { H3Extension, H3ExtensionContext } from '../../h3/extension.js';
import type { H3Profile } from '../../h3/profile.js';
import type { H3ServerConnection, H3ServerRequest, H3ServerResponse } from '../../h3/server.js';
import { DEFAULT_MAX_AUTHENTICATOR_SIZE, encodeAuthenticatorRequestsFrame, encodeClientCertificateFrame, parseAuthenticatorRequests, parseClientCertificate } from '../../h3/wire/certificates.js';
import { CertificatePolicy, type AcceptedCertificate } from '../../pki/policy.js';
import type { LoadedIdentity } from '../../pki/identity.js';
import { ClientCertsClient, type ClientCertsErrorKind } from './client-client-certs.js';
import { buildAnswer, type ClientCertificateAnswer } from './client-flow.js';
import { checkMaxCredentials, type ClientAuthConnectionEvents, type ClientAuthOptions } from './client.js';
import { originKey } from './credentials.js';
import { refused, settleIdentity, type CertificateOutcome } from './outcome.js';
import type { ClientAuthServerOptions } from './server.js';
import { ClientCertsServer } from './server-client-certs.js';

// draft-rosomakho-httpbis-secondary-client-certs over HTTP/3, the twin of the HTTP/2 extensions in
// ./server.ts and ./client.ts with the same API: SETTINGS_HTTP_CLIENT_CERT_AUTH in each side's one SETTINGS
// frame (the client's count, the server's 1), the server's AUTHENTICATOR_REQUESTS and the client's
// CLIENT_CERTIFICATE frames on the control streams (rosomakho-00 sections 3.1.2, 4.1.2), a handler that asks
// for the client's identity for a request and gets it or a refusal answered 403/408 on that request (the
// connection goes on), and the client's per-origin cache whose clear() retires the connection so that the
// next request is asked again. The flow logic is the HTTP/2 one (server-client-certs.ts,
// client-client-certs.ts); only frames and error codes differ. -06 (CERTIFICATE_NEEDED...) is HTTP/2's alone.

const FLOW = 'secondary-client-certs' as const;

/** HTTP/3's code for each kind of rosomakho connection error (rosomakho-00 sections 4.1.2, 4.1.4). */
function h3Error(kind: ClientCertsErrorKind, message: string, cause?: unknown): H3ConnectionError {
  const code = {
    unexpected: H3ErrorCode.H3_FRAME_UNEXPECTED,
    malformed: H3ErrorCode.H3_MESSAGE_ERROR,
    excessive: H3ErrorCode.H3_EXCESSIVE_LOAD,
    internal: H3ErrorCode.H3_INTERNAL_ERROR,
  }[kind];
  return new H3ConnectionError(code, message, cause === undefined ? undefined : { cause });
}

const asH3Error = (e: unknown): H3ConnectionError => (e instanceof H3ConnectionError ? e : h3Error('internal', describe(e), e));

// ---- server ----

/** The options of H3ClientAuthServer: those of the HTTP/2 ClientAuthServer that apply to this flow. */
export type H3ClientAuthServerOptions = Pick<ClientAuthServerOptions, 'trustAnchors' | 'timeoutMs' | 'maxAuthenticatorSize' | 'request' | 'now'>;

/** The validated client identity of one HTTP/3 request. */
export interface H3ClientIdentity {
  /** The rosomakho flow, or the TLS handshake's certificate when the flow is not negotiated. */
  flow: typeof FLOW | 'tls';
  certificate: AcceptedCertificate;
  /** The chain as the client sent it, leaf first. */
  chain: Uint8Array[];
  /** The origin of the request (its :scheme and :authority). */
  origin: string;
  connection: H3ServerConnection;
}

export interface H3ClientAuthServerEvents {
  identity: [identity: H3ClientIdentity, request: H3ServerRequest];
  refused: [error: SecondaryCertsError, request: H3ServerRequest];
  protocolError: [error: H3ConnectionError, connection: H3ServerConnection];
}

/**
 * Client certificates on an H3SecondaryCertServer: pass it in the server's `extensions`
 * (`createH3SecondaryCertServer({ ..., extensions: [clientAuth] }, handler)`), then in the handler
 * `const identity = await clientAuth.authenticate(req, res)`. Events: 'identity', 'refused', 'protocolError'.
 */
export class H3ClientAuthServer extends EventEmitter<H3ClientAuthServerEvents> implements H3Extension<H3ServerConnection> {
  readonly policy: CertificatePolicy;
  readonly timeoutMs: number;
  readonly maxAuthenticatorSize: number;
  private readonly sides = new WeakMap<H3ServerConnection, H3ServerSide>();
  private readonly results = new WeakMap<H3ServerRequest, Promise<H3ClientIdentity>>();
  private readonly identities = new WeakMap<H3ServerRequest, H3ClientIdentity>();

  constructor(readonly options: H3ClientAuthServerOptions) {
    super();
    this.policy = new CertificatePolicy({ trustAnchors: options.trustAnchors, role: 'client', ...(options.now ? { now: options.now } : {}) });
    this.timeoutMs = positive(options.timeoutMs ?? 10_000, 'timeoutMs');
    this.maxAuthenticatorSize = positive(options.maxAuthenticatorSize ?? DEFAULT_MAX_AUTHENTICATOR_SIZE, 'maxAuthenticatorSize');
  }

  /** The server confirms support with 1 (rosomakho-00 section 3.1). */
  settings(profile: H3Profile, role: Role): Map<number, number> {
    return new Map(role === 'server' ? [[profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH, 1]] : []);
  }

  attach(context: H3ExtensionContext, connection: H3ServerConnection): void {
    this.sides.set(connection, new H3ServerSide(this, context, connection));
  }

  /**
   * The validated client identity for `req`: asks the client the first time on its connection. Rejects
   * with ClientCertificateRefused (403), ClientCertificateTimeout (408) or ClientCertificateAborted (the
   * connection ended: answer nothing), never anything else.
   */
  requireClientCertificate(req: H3ServerRequest): Promise<H3ClientIdentity> {
    let result = this.results.get(req);
    if (!result) {
      result = this.settle(req);
      this.results.set(req, result);
    }
    return result;
  }

  /** requireClientCertificate, answering a refusal itself (403 or 408 with a text body saying why), then undefined. */
  async authenticate(req: H3ServerRequest, res: H3ServerResponse): Promise<H3ClientIdentity | undefined> {
    try {
      return await this.requireClientCertificate(req);
    } catch (e) {
      if (e instanceof ClientCertificateRefused || e instanceof ClientCertificateTimeout) {
        const body = e instanceof ClientCertificateRefused ? `client certificate refused (${e.reason}): ${e.message}\n` : `${e.message}\n`;
        await res.end(e.status, { 'content-type': 'text/plain; charset=utf-8' }, body).catch(() => undefined);
      }
      return undefined;
    }
  }

  /** The identity already validated for this request, if any. */
  clientIdentityOf(req: H3ServerRequest): H3ClientIdentity | undefined {
    return this.identities.get(req);
  }

  private async settle(req: H3ServerRequest): Promise<H3ClientIdentity> {
    const side = this.sides.get(req.connection);
    if (!side) throw new ClientCertificateRefused('not-negotiated', 'this connection does not carry the extension (its server was made without this H3ClientAuthServer)');
    return settleIdentity(
      req,
      (r) => side.require(r),
      this.identities,
      (identity) => this.emit('identity', identity, req),
      (error) => this.emit('refused', error, req),
    );
  }
}

/** The flow on one server connection. */
class H3ServerSide {
  private readonly clientCerts: ClientCertsServer;
  /** Resolves when the client's SETTINGS are here (a request may come before its control stream). */
  private readonly settingsHere: Promise<void>;
  private readonly closedHere: Promise<void>;

  constructor(
    private readonly owner: H3ClientAuthServer,
    private readonly context: H3ExtensionContext,
    private readonly connection: H3ServerConnection,
  ) {
    const { profile } = context;
    this.clientCerts = new ClientCertsServer(
      {
        state: context.state,
        crypto: context.crypto,
        sendRequests: (requests) => context.sendFrame(encodeAuthenticatorRequestsFrame({ requests }, profile)),
        check: (authenticator, request) => this.check(authenticator, request),
      },
      () => this.clientCount,
      { request: owner.options.request ?? {} },
    );
    this.settingsHere = new Promise((resolve) => (context.peerSettings ? resolve() : context.onPeerSettings(() => resolve())));
    this.closedHere = new Promise((resolve) => context.onClose(resolve));
    context.onFrame((type, payload) => this.onFrame(type, payload));
  }

  /** The client's SETTINGS_HTTP_CLIENT_CERT_AUTH: how many credentials it expects to provide (0: none). */
  private get clientCount(): number {
    return this.context.peerSettings?.get(this.context.profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH) ?? 0;
  }

  async require(req: H3ServerRequest): Promise<H3ClientIdentity> {
    if (this.context.closed) throw new ClientCertificateAborted('the connection is closed');
    const base = { origin: originOf(req), connection: this.connection };
    await this.wait(this.settingsHere);
    if (this.clientCount === 0) {
      const outcome = await this.tlsOutcome();
      if (!outcome.ok) throw new ClientCertificateRefused('not-negotiated', 'the client did not send SETTINGS_HTTP_CLIENT_CERT_AUTH, and the TLS handshake gave no certificate');
      return { ...base, flow: 'tls', certificate: outcome.certificate, chain: outcome.chain };
    }
    let answer: Promise<CertificateOutcome>;
    try {
      answer = this.clientCerts.identity();
    } catch (e) {
      answer = Promise.resolve(refused('busy', `cannot ask for a certificate: ${describe(e)}`, e));
    }
    const outcome = await this.wait(answer);
    if (!outcome.ok) throw outcome.error;
    return { ...base, flow: FLOW, certificate: outcome.certificate, chain: outcome.chain };
  }

  /** Waits for `answer`, bounded by the timeout and the connection. */
  private wait<T>(answer: Promise<T>): Promise<T> {
    const { timeoutMs } = this.owner;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ClientCertificateTimeout(`the client gave no certificate within ${timeoutMs} ms`)), timeoutMs);
    });
    const gone = this.closedHere.then(() => {
      throw new ClientCertificateAborted('the connection closed while waiting for the client certificate');
    });
    return Promise.race([answer, timeout, gone]).finally(() => clearTimeout(timer));
  }

  private async check(authenticator: Uint8Array, request: AuthenticatorRequest): Promise<CertificateOutcome> {
    let chain: Uint8Array[];
    try {
      ({ chain } = await validateAuthenticator({ keys: this.context.keys(), creator: 'client', authenticator, request, state: this.context.state, crypto: this.context.crypto }));
    } catch (e) {
      if (e instanceof EmptyAuthenticator) return refused('declined', 'the client declined to present a certificate (empty authenticator)');
      return refused('invalid', `the authenticator does not validate: ${describe(e)}`, e);
    }
    return this.acceptChain(chain);
  }

  private async acceptChain(chain: Uint8Array[]): Promise<CertificateOutcome> {
    try {
      return { ok: true, certificate: await this.owner.policy.check(chain), chain };
    } catch (e) {
      return refused('rejected', describe(e), e);
    }
  }

  private async tlsOutcome(): Promise<CertificateOutcome> {
    const chain = this.context.peerCertificateChain();
    if (chain.length === 0) return refused('declined', 'the TLS handshake gave no client certificate');
    return this.acceptChain(chain);
  }

  private onFrame(type: number, payload: Uint8Array): void {
    const { profile } = this.context;
    if (type !== profile.frames.CLIENT_CERTIFICATE) return;
    try {
      // A client MUST NOT send it unless both sides advertised support (rosomakho-00 section 3.1).
      if (this.clientCount === 0) throw h3Error('unexpected', 'CLIENT_CERTIFICATE, but the client did not send SETTINGS_HTTP_CLIENT_CERT_AUTH');
      const { authenticator } = parseClientCertificate(payload, { profile, maxAuthenticatorSize: this.owner.maxAuthenticatorSize });
      // Section 4.2: a certificate frame with no request outstanding is a connection error.
      if (!this.clientCerts.onClientCertificate(authenticator)) throw h3Error('unexpected', 'CLIENT_CERTIFICATE with no authenticator request outstanding');
    } catch (e) {
      const error = asH3Error(e);
      if (this.context.closed) return;
      this.owner.emit('protocolError', error, this.connection);
      this.context.fail(error);
    }
  }
}

// ---- client ----

/** The options of H3ClientAuthClient: those of the HTTP/2 ClientAuthClient that apply to this flow. */
export interface H3ClientAuthOptions extends Pick<ClientAuthOptions, 'certificates' | 'maxCredentials' | 'acceptRequestType17' | 'crypto'> {
  /**
   * The largest authenticator sent in one CLIENT_CERTIFICATE (default 64 KiB, what our server takes).
   * HTTP/3 has no frame-size setting to learn it from; a larger one is replaced by an empty authenticator.
   */
  maxAuthenticatorSize?: number;
}

/**
 * The client-certificate extension for `connectH3()`: pass it in `extensions`, then `of(connection)` gives
 * the feature on each connection ('answer' and 'retired' events, as over HTTP/2).
 */
export class H3ClientAuthClient implements H3Extension<H3SecondaryCertConnection> {
  private readonly connections = new WeakMap<object, H3ClientAuthConnection>();
  readonly maxCredentials: number;

  constructor(readonly options: H3ClientAuthOptions) {
    this.maxCredentials = checkMaxCredentials(options.maxCredentials ?? 4);
  }

  /** The client's count of credentials it expects to provide (rosomakho-00 section 3.1). */
  settings(profile: H3Profile, role: Role): Map<number, number> {
    return new Map(role === 'client' ? [[profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH, this.maxCredentials]] : []);
  }

  attach(context: H3ExtensionContext, connection: H3SecondaryCertConnection): void {
    this.connections.set(connection, new H3ClientAuthConnection(context, this.options, this.maxCredentials));
  }

  /** The feature on `connection`; undefined for a connection opened without this extension. */
  of(connection: object): H3ClientAuthConnection | undefined {
    return this.connections.get(connection);
  }
}

/** The feature on one HTTP/3 client connection. Events: 'answer' (ClientCertificateAnswer), 'retired'. */
export class H3ClientAuthConnection extends EventEmitter<ClientAuthConnectionEvents> {
  private readonly clientCerts: ClientCertsClient;

  constructor(
    private readonly context: H3ExtensionContext,
    readonly options: H3ClientAuthOptions,
    maxCredentials: number,
  ) {
    super();
    const { profile } = context;
    const crypto = options.crypto ?? context.crypto;
    const maxAnswerSize = options.maxAuthenticatorSize ?? DEFAULT_MAX_AUTHENTICATOR_SIZE;
    this.clientCerts = new ClientCertsClient(
      {
        state: context.state,
        certificates: options.certificates,
        origin: context.origin,
        get closed() {
          return context.closed;
        },
        maxAnswerSize,
        sendAnswer: (authenticator) => context.sendFrame(encodeClientCertificateFrame({ authenticator }, profile)),
        build: (identity: LoadedIdentity | null, request: AuthenticatorRequest, maxSize: number) => buildAnswer({ keys: () => context.keys(), state: context.state, crypto }, identity, request, maxSize),
        report: (answer: ClientCertificateAnswer) => this.emit('answer', answer),
        error: h3Error,
        fail: (e) => context.fail(asH3Error(e)),
      },
      () => this.active,
      () => maxCredentials,
      options.acceptRequestType17 ?? true,
    );
    context.onPeerSettings((settings) => {
      // The server's value confirms support and must be 1 (section 3.1); other values are H3_SETTINGS_ERROR,
      // as for SETTINGS_HTTP_SERVER_CERT_AUTH (spec-notes/secondary-server-certs-h3.md, H1).
      const value = settings.get(profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH);
      if (value !== undefined && value > 1) context.fail(new H3ConnectionError(H3ErrorCode.H3_SETTINGS_ERROR, `SETTINGS_HTTP_CLIENT_CERT_AUTH from a server must be 0 or 1, got ${value}`));
    });
    context.onFrame((type, payload) => {
      if (type !== profile.frames.AUTHENTICATOR_REQUESTS) return;
      try {
        this.clientCerts.onRequests(() => parseAuthenticatorRequests(payload));
      } catch (e) {
        context.fail(asH3Error(e));
      }
    });
    const onCleared = (origin: string | undefined): void => this.onCleared(origin);
    options.certificates.on('cleared', onCleared);
    context.onClose(() => options.certificates.off('cleared', onCleared));
  }

  /** Both sides sent SETTINGS_HTTP_CLIENT_CERT_AUTH (ours is always sent; the server's must be 1). */
  get active(): boolean {
    return this.context.peerSettings?.get(this.context.profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH) === 1;
  }

  /** The flows both sides turned on (as ClientAuthConnection.negotiatedFlows). */
  get negotiatedFlows(): (typeof FLOW)[] {
    return this.active ? [FLOW] : [];
  }

  /** After clear() for this origin, an answer given here no longer holds: new requests go on a new connection. */
  private onCleared(origin: string | undefined): void {
    if (!this.clientCerts.answered || this.context.closed) return;
    if (origin !== undefined && origin !== originKey(this.context.origin)) return;
    this.context.retire();
    this.emit('retired');
  }
}

function originOf(req: H3ServerRequest): string {
  try {
    return new URL(`${req.scheme}://${req.authority}`).origin;
  } catch {
    return `${req.scheme}://${req.authority}`;
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
