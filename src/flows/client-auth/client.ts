import { EventEmitter } from 'node:events';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { createAuthenticator, createEmptyAuthenticator, type AuthenticatorRequest } from '../../ea/index.js';
import { SecondaryCertsError } from '../../errors.js';
import type { AuthenticatorKeys } from '../../exporter/keys.js';
import { keysFromTlsSocket } from '../../exporter/tls-socket.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { defaultCrypto } from '../../crypto/index.js';
import type { SecondaryCertConnection } from '../../h2/client.js';
import { closeWithError } from '../../h2/node/close.js';
import { H2ConnectionError, H2ErrorCode } from '../../h2/errors.js';
import type { FrameHeader } from '../../h2/wire/frame-header.js';
import { parseCertificateNeeded } from '../../h2/wire/certificate-needed.js';
import { parseCertificateRequest } from '../../h2/wire/certificate-request.js';
import { DEFAULT_PROFILE, type H2Profile } from '../../h2/profile.js';
import type { LoadedIdentity } from '../../h2/server.js';
import { CertAuthSetting } from '../../h2/settings.js';
import { ClientCertsClient } from './client-client-certs.js';
import { Draft06Client } from './client-06.js';
import type { BuiltAuthenticator, ClientCertificateAnswer, ClientFlowHost } from './client-flow.js';
import { originKey, type ClientCertificates } from './credentials.js';
import { ALL_FLOWS, clientInterceptTypes, exporterSettingFor, type ExporterSetting, sendFlowSettings, supportsAuthenticators, type ClientAuthFlow } from './negotiation.js';

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
  private readonly streams = new Map<number, ClientHttp2Stream>();
  private readonly crypto: CryptoProvider;
  private keys: AuthenticatorKeys | undefined;

  constructor(
    readonly connection: SecondaryCertConnection,
    readonly options: ClientAuthOptions,
    profile: H2Profile = DEFAULT_PROFILE,
  ) {
    super();
    const { session, splicer, tlsSocket } = connection;
    if (!splicer) throw new TypeError('client certificates need the extension (a spliced connection)');
    const flows = options.flows ?? ALL_FLOWS;
    const maxCredentials = options.maxCredentials ?? 4;
    if (!Number.isInteger(maxCredentials) || maxCredentials < 1 || maxCredentials > 0xffffffff) throw new RangeError(`maxCredentials must be a positive 32-bit integer, not ${maxCredentials}`);
    this.profile = profile;
    this.crypto = options.crypto ?? defaultCrypto;
    this.settingClientCerts = new CertAuthSetting(profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH, 'flag', 'count');
    const host = this.flowHost();
    this.draft06 = new Draft06Client(host, {
      maxRequests: options.maxRequests ?? 64,
      maxQueued: options.maxQueued ?? 64,
      acceptRequestType17: options.acceptRequestType17 ?? true,
    });
    this.clientCerts = new ClientCertsClient(host, this.settingClientCerts, options.acceptRequestType17 ?? true);

    // Queued before connect() returns, so before any request.
    if (supportsAuthenticators(tlsSocket) && !session.destroyed) {
      const custom: Record<number, number> = {};
      let setting06: ExporterSetting | undefined;
      if (flows.includes('secondary-certs-06')) {
        const id = profile.settings.SETTINGS_HTTP_CERT_AUTH;
        setting06 = exporterSettingFor(id, tlsSocket, 'client');
        if (setting06) custom[id] = setting06.local;
      }
      if (flows.includes('secondary-client-certs')) {
        this.settingClientCerts.send(maxCredentials);
        custom[profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH] = maxCredentials;
      }
      if (Object.keys(custom).length > 0) {
        sendFlowSettings(session, splicer, { customSettings: custom }, () => {
          if (setting06) setting06.sent = true;
        });
      }
      this.setting06 = setting06;
    }

    splicer.on('peerSettings', (settings: Map<number, number>) => this.onPeerSettings(settings));
    splicer.on('frame', (header: FrameHeader, payload: Uint8Array) => this.onFrame(header, payload));
    this.trackStreams(session);
    const onCleared = (origin: string | undefined): void => this.onCleared(origin);
    options.certificates.on('cleared', onCleared);
    connection.once('close', () => options.certificates.off('cleared', onCleared));
  }

  /** Frame types the splicer must take out for this feature (CERTIFICATE_REQUEST, CERTIFICATE_NEEDED, AUTHENTICATOR_REQUESTS). */
  static interceptTypes(profile: H2Profile): number[] {
    return clientInterceptTypes(profile);
  }

  /** Which flows both sides turned on. */
  get negotiatedFlows(): ClientAuthFlow[] {
    const out: ClientAuthFlow[] = [];
    if (this.setting06?.active) out.push('secondary-certs-06');
    if (this.settingClientCerts.active) out.push('secondary-client-certs');
    return out;
  }

  /**
   * node:http2 tells a client nothing about its streams by id, and CERTIFICATE_NEEDED names one by id:
   * wrap request() to learn each stream's id (once its HEADERS went out) and origin.
   */
  private trackStreams(session: ClientHttp2Session): void {
    const request = session.request.bind(session);
    session.request = ((...args: Parameters<ClientHttp2Session['request']>) => {
      const stream = request(...args);
      const track = (): void => {
        const id = stream.id;
        if (id === undefined) return;
        this.streams.set(id, stream);
        stream.once('close', () => this.streams.delete(id));
      };
      // On a connected session the id is given inside request() ('ready' has already fired).
      if (stream.id !== undefined) track();
      else stream.once('ready', track);
      return stream;
    }) as ClientHttp2Session['request'];
  }

  private flowHost(): ClientFlowHost {
    const self = this;
    const connection = this.connection;
    return {
      profile: this.profile,
      state: connection.state,
      certificates: this.options.certificates,
      origin: connection.origin,
      get closed() {
        return connection.closed || connection.session.destroyed;
      },
      get peerMaxFrameSize() {
        return connection.splicer!.peerMaxFrameSize;
      },
      streamIsOpen: (id) => {
        const s = this.streams.get(id);
        return s !== undefined && !s.closed && !s.destroyed;
      },
      originOfStream: (id) => {
        const authority = this.streams.get(id)?.sentHeaders[':authority'];
        if (typeof authority !== 'string') return connection.origin;
        try {
          return originKey(`https://${authority}`);
        } catch {
          return connection.origin;
        }
      },
      sendFrame: (type, flags, payload) => connection.splicer!.sendFrame(type, flags, 0, payload),
      build: (identity, request, maxSize) => self.build(identity, request, maxSize),
      report: (answer: ClientCertificateAnswer) => this.emit('answer', answer),
      fail: (error) => this.fail(error),
    };
  }

  private async build(identity: LoadedIdentity | null, request: AuthenticatorRequest, maxSize = Infinity): Promise<BuiltAuthenticator> {
    this.keys ??= keysFromTlsSocket(this.connection.tlsSocket);
    const base = { keys: this.keys, creator: 'client' as const, request, crypto: this.crypto };
    let declined = 'the application declined';
    if (identity) {
      try {
        const authenticator = await createAuthenticator({ ...base, certificateChain: identity.chain, signer: identity.signer, state: this.connection.state });
        if (authenticator.length <= maxSize) return { authenticator };
        // The context is now recorded as answered, so the refusal is built without the state.
        declined = `the authenticator of ${authenticator.length} bytes exceeds the server's SETTINGS_MAX_FRAME_SIZE ${maxSize}`;
        return { authenticator: createEmptyAuthenticator(base), declined };
      } catch (e) {
        if (!(e instanceof SecondaryCertsError)) throw e;
        declined = `${e.code}: ${e.message}`;
      }
    }
    return { authenticator: createEmptyAuthenticator({ ...base, state: this.connection.state }), declined };
  }

  private onPeerSettings(settings: Map<number, number>): void {
    this.setting06?.receiveMap(settings);
    try {
      this.settingClientCerts.receiveMap(settings);
    } catch (e) {
      this.fail(e as H2ConnectionError);
    }
  }

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    const { frames } = this.profile;
    const options = { profile: this.profile };
    try {
      if (header.type === frames.AUTHENTICATOR_REQUESTS) {
        this.clientCerts.onRequests(header, payload);
        return;
      }
      // -06 frames before (or without) the negotiation mean nothing to us.
      if (!this.setting06?.active) return;
      if (header.type === frames.CERTIFICATE_REQUEST) this.draft06.onRequest(parseCertificateRequest(header, payload, options));
      else if (header.type === frames.CERTIFICATE_NEEDED) this.draft06.onNeeded(parseCertificateNeeded(header, payload, options));
    } catch (e) {
      this.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.INTERNAL_ERROR, String(e), { cause: e }));
    }
  }

  /**
   * A rosomakho answer holds for the whole connection; after the user cleared the decision for this
   * origin, new requests must go on a new connection to be asked again. (-06 asks per request: nothing to do.)
   */
  private onCleared(origin: string | undefined): void {
    if (!this.clientCerts.answered || this.connection.closed) return;
    if (origin !== undefined && origin !== originKey(this.connection.origin)) return;
    // Marked closed at once so that pools stop choosing it; in-flight streams finish.
    this.connection.closed = true;
    this.emit('retired');
    this.connection.session.close();
  }

  private fail(error: H2ConnectionError): void {
    if (this.connection.closed || this.connection.session.destroyed) return;
    this.connection.emit('protocolError', error);
    closeWithError(this.connection.session, error.h2Code);
  }
}
