import { EventEmitter } from 'node:events';
import type { Http2Stream } from 'node:http2';
import type { AuthenticatorRequest } from '../../ea/index.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import type { SecondaryCertConnection } from '../../h2/client.js';
import type { H2Extension, H2ExtensionContext } from '../../h2/extension.js';
import type { FrameHeader } from '../../h2/wire/frame-header.js';
import { parseAuthenticatorRequests } from '../../h2/wire/authenticator-requests.js';
import { encodeClientCertificate } from '../../h2/wire/client-certificate.js';
import { parseCertificateNeeded } from '../../h2/wire/certificate-needed.js';
import { parseCertificateRequest } from '../../h2/wire/certificate-request.js';
import type { H2Profile } from '../../h2/profile.js';
import type { LoadedIdentity } from '../../pki/identity.js';
import { CertAuthSetting } from '../../h2/settings.js';
import { ClientCertsClient, type ClientCertsErrorKind } from './client-client-certs.js';
import { Draft06Client } from './client-06.js';
import { buildAnswer, type BuiltAuthenticator, type ClientCertificateAnswer, type ClientFlowHost } from './client-flow.js';
import { originKey, type ClientCertificates } from './credentials.js';
import { ALL_FLOWS, clientInterceptTypes, draft06SettingOf, type ExporterSetting, type ClientAuthFlow } from './negotiation.js';

// Client certificates a server asks for at the HTTP layer, on one SecondaryCertConnection: advertises
// the flows in SETTINGS, answers the server's requests with the identity ClientCertificates chooses for
// the origin, and reports each answer.

export interface ClientAuthOptions {
  /** The application's choice of certificate per origin, with its cache. Share one across connections. */
  certificates: ClientCertificates;
  /** Flows to advertise (default: both). */
  flows?: readonly ClientAuthFlow[];
  /** rosomakho: SETTINGS_HTTP_CLIENT_CERT_AUTH, the most credentials (outstanding requests) we take (default 4). */
  maxCredentials?: number;
  /** -06: CERTIFICATE_REQUESTs kept unanswered (default 64; the oldest is dropped). */
  maxRequests?: number;
  /** -06: CERTIFICATE_NEEDED frames waiting for an answer (default 64; more is ENHANCE_YOUR_CALM). */
  maxQueued?: number;
  /** Accept a ClientCertificateRequest (17) where RFC 9261 says a server sends 13 (default true, for rosomakho's text). */
  acceptRequestType17?: boolean;
  crypto?: CryptoProvider;
}

/** The events of a ClientAuthConnection and their listeners' arguments. */
export interface ClientAuthConnectionEvents {
  answer: [answer: ClientCertificateAnswer];
  retired: [];
}

/**
 * The client-certificate extension for `connect()` (and the agent): pass it in `extensions`, then
 * `of(connection)` gives the feature on each connection.
 *
 *   const clientAuth = new ClientAuthClient({ certificates });
 *   const connection = await connect(url, { ca, extensions: [clientAuth] });
 *   clientAuth.of(connection)?.on('answer', (answer) => ...);
 */
export class ClientAuthClient implements H2Extension<SecondaryCertConnection> {
  private readonly connections = new WeakMap<object, ClientAuthConnection>();

  constructor(readonly options: ClientAuthOptions) {
    checkMaxCredentials(options.maxCredentials ?? 4);
  }

  /** CERTIFICATE_REQUEST, CERTIFICATE_NEEDED and AUTHENTICATOR_REQUESTS (what servers send for the flows), and CLIENT_CERTIFICATE (a server must not). */
  frameTypes(profile: H2Profile): number[] {
    return clientInterceptTypes(profile);
  }

  attach(context: H2ExtensionContext, connection: SecondaryCertConnection): void {
    this.connections.set(connection, new ClientAuthConnection(context, this.options));
  }

  /** The feature on `connection`; undefined for a connection opened without this extension. */
  of(connection: object): ClientAuthConnection | undefined {
    return this.connections.get(connection);
  }
}

/**
 * The feature on one client connection. Events: 'answer' (ClientCertificateAnswer): a server's request
 * was answered; 'retired': the cache was cleared for this connection's origin after it had given a
 * connection-wide (rosomakho) answer, so it takes no new requests and closes once they are done.
 */
export class ClientAuthConnection extends EventEmitter<ClientAuthConnectionEvents> {
  readonly profile: H2Profile;
  private readonly setting06: ExporterSetting | undefined;
  private readonly settingClientCerts: CertAuthSetting;
  private readonly draft06: Draft06Client;
  private readonly clientCerts: ClientCertsClient;
  private readonly streams = new Map<number, { stream: Http2Stream; origin: string }>();
  private readonly crypto: CryptoProvider;

  constructor(
    private readonly context: H2ExtensionContext,
    readonly options: ClientAuthOptions,
  ) {
    super();
    const flows = options.flows ?? ALL_FLOWS;
    const maxCredentials = checkMaxCredentials(options.maxCredentials ?? 4);
    const profile = context.profile;
    this.profile = profile;
    this.crypto = options.crypto ?? context.crypto;
    this.settingClientCerts = new CertAuthSetting(profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH, 'flag', 'count');
    const host = this.flowHost();
    this.draft06 = new Draft06Client(host, {
      maxRequests: options.maxRequests ?? 64,
      maxQueued: options.maxQueued ?? 64,
      acceptRequestType17: options.acceptRequestType17 ?? true,
    });
    const setting = this.settingClientCerts;
    this.clientCerts = new ClientCertsClient(
      {
        state: context.state,
        certificates: options.certificates,
        origin: context.origin,
        get closed() {
          return context.closed;
        },
        // One frame per authenticator: it must fit the server's SETTINGS_MAX_FRAME_SIZE.
        get maxAnswerSize() {
          return context.peerMaxFrameSize();
        },
        sendAnswer: (authenticator) => context.sendFrame(profile.frames.CLIENT_CERTIFICATE, 0, encodeClientCertificate({ authenticator })),
        build: host.build,
        report: host.report,
        error: h2Error,
        fail: (e) => context.fail(e instanceof H2ConnectionError ? e : h2Error('internal', String(e), e)),
      },
      () => setting.active,
      () => setting.local,
      options.acceptRequestType17 ?? true,
    );

    // Queued before connect() returns, so before any request. Neither flow runs without TLS 1.3.
    if (context.tlsProtocol === 'TLSv1.3' && !context.closed) {
      const custom: Record<number, number> = {};
      let setting06: ExporterSetting | undefined;
      if (flows.includes('secondary-certs-06')) {
        // The profile's -06 form: the single setting, or -06's SETTINGS_HTTP_CLIENT_CERT_AUTH.
        setting06 = draft06SettingOf(context, 'client', 'client-certs');
        if (setting06) custom[setting06.id] = setting06.local;
      }
      if (flows.includes('secondary-client-certs')) {
        this.settingClientCerts.send(maxCredentials);
        custom[profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH] = maxCredentials;
      }
      if (Object.keys(custom).length > 0) {
        context.sendSettings({ customSettings: custom }, () => {
          if (setting06) setting06.sent = true;
        });
      }
      this.setting06 = setting06;
    }

    context.onPeerSettings((settings) => this.onPeerSettings(settings));
    context.onFrame((header, payload) => this.onFrame(header, payload));
    // CERTIFICATE_NEEDED names a stream by id: remember each request's stream and origin.
    context.onStream((stream, headers) => {
      const id = stream.id;
      if (id === undefined) return;
      this.streams.set(id, { stream, origin: originOfAuthority(headers[':authority'], context.origin) });
      stream.once('close', () => this.streams.delete(id));
    });
    const onCleared = (origin: string | undefined): void => this.onCleared(origin);
    options.certificates.on('cleared', onCleared);
    context.onClose(() => options.certificates.off('cleared', onCleared));
  }

  /** Which flows both sides turned on. */
  get negotiatedFlows(): ClientAuthFlow[] {
    const out: ClientAuthFlow[] = [];
    if (this.setting06?.active) out.push('secondary-certs-06');
    if (this.settingClientCerts.active) out.push('secondary-client-certs');
    return out;
  }

  private flowHost(): ClientFlowHost {
    const context = this.context;
    return {
      profile: context.profile,
      state: context.state,
      certificates: this.options.certificates,
      origin: context.origin,
      get closed() {
        return context.closed;
      },
      get peerMaxFrameSize() {
        return context.peerMaxFrameSize();
      },
      streamIsOpen: (id) => {
        const s = this.streams.get(id)?.stream;
        return s !== undefined && !s.closed && !s.destroyed;
      },
      originOfStream: (id) => this.streams.get(id)?.origin ?? context.origin,
      sendFrame: (type, flags, payload) => context.sendFrame(type, flags, payload),
      build: (identity, request, maxSize) => this.build(identity, request, maxSize),
      report: (answer: ClientCertificateAnswer) => this.emit('answer', answer),
      fail: (error) => context.fail(error),
    };
  }

  private build(identity: LoadedIdentity | null, request: AuthenticatorRequest, maxSize = Infinity): Promise<BuiltAuthenticator> {
    return buildAnswer({ keys: () => this.context.keys(), state: this.context.state, crypto: this.crypto }, identity, request, maxSize);
  }

  private onPeerSettings(settings: ReadonlyMap<number, number>): void {
    this.setting06?.receiveMap(settings);
    try {
      this.settingClientCerts.receiveMap(settings);
    } catch (e) {
      this.context.fail(e as H2ConnectionError);
    }
  }

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    const { frames } = this.profile;
    const options = { profile: this.profile };
    try {
      if (header.type === frames.AUTHENTICATOR_REQUESTS) {
        this.clientCerts.onRequests(() => parseAuthenticatorRequests(header, payload, { profile: this.profile }));
        return;
      }
      // The client's own frame, coming the wrong way: a misuse of the negotiated extension, as a
      // SERVER_CERTIFICATE from a client is (draft section 3.2). Unnegotiated, it is an unknown type.
      if (header.type === frames.CLIENT_CERTIFICATE && this.settingClientCerts.active) {
        throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'CLIENT_CERTIFICATE from the server: only a client sends it');
      }
      // -06 frames before (or without) the negotiation mean nothing to us.
      if (!this.setting06?.active) return;
      if (header.type === frames.CERTIFICATE_REQUEST) this.draft06.onRequest(parseCertificateRequest(header, payload, options));
      else if (header.type === frames.CERTIFICATE_NEEDED) this.draft06.onNeeded(parseCertificateNeeded(header, payload, options));
    } catch (e) {
      this.context.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.INTERNAL_ERROR, String(e), { cause: e }));
    }
  }

  /**
   * A rosomakho answer holds for the whole connection; after the user cleared the decision for this
   * origin, new requests must go on a new connection to be asked again. (-06 asks per request: nothing to do.)
   */
  private onCleared(origin: string | undefined): void {
    if (!this.clientCerts.answered || this.context.closed) return;
    if (origin !== undefined && origin !== originKey(this.context.origin)) return;
    // Retired first, so that pools stop choosing it by the time 'retired' is heard; in-flight streams finish.
    this.context.retire();
    this.emit('retired');
  }
}

/** HTTP/2's code for each kind of rosomakho connection error. */
function h2Error(kind: ClientCertsErrorKind, message: string, cause?: unknown): H2ConnectionError {
  const code = kind === 'excessive' ? H2ErrorCode.ENHANCE_YOUR_CALM : kind === 'internal' ? H2ErrorCode.INTERNAL_ERROR : H2ErrorCode.PROTOCOL_ERROR;
  return new H2ConnectionError(code, message, cause === undefined ? undefined : { cause });
}

export function checkMaxCredentials(maxCredentials: number): number {
  if (!Number.isInteger(maxCredentials) || maxCredentials < 1 || maxCredentials > 0xffffffff) throw new RangeError(`maxCredentials must be a positive 32-bit integer, not ${maxCredentials}`);
  return maxCredentials;
}

/** The origin of a request from its :authority (the connection's origin if it has none usable). */
function originOfAuthority(authority: string | string[] | undefined, fallback: string): string {
  if (typeof authority !== 'string') return fallback;
  try {
    return originKey(`https://${authority}`);
  } catch {
    return fallback;
  }
}
