import { executionAsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { createPrivateKey, type X509Certificate } from 'node:crypto';
import { defaultCrypto } from '../crypto/index.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { ConnectionState } from '../ea/index.js';
import { CertificateSender, type CertificateNotSentEvent as NotSentEventOf, type CertificateSentEvent as SentEventOf, type ServerConnectionEventsOf, type ServerEventsOf } from '../http/certificate-sender.js';

export { certificateCovers, loadIdentity, type LoadedIdentity, type SecondaryIdentity } from '../pki/identity.js';
import { debug, debugging } from '../debug.js';
import { keysFromTlsSocket } from '../exporter/tls-socket.js';
import { certificateCovers, derToPem, loadIdentity, type LoadedIdentity, type SecondaryIdentity } from '../pki/identity.js';
import { closeWithError } from './node/close.js';
import type { FrameHeader } from './wire/frame-header.js';
import { H2ConnectionError, H2ErrorCode, h2ErrorName, HandshakeTimeout, IdleTimeout, type SendStalled } from '../errors.js';
import { ExtensionType } from '../tls/extension.js';
import { DEFAULT_PROFILE, type H2Profile } from './profile.js';
import { CertAuthSetting } from './settings.js';
import { spliceServerSession, type FrameSplicer } from './node/spliced-session.js';
import { extensionFrameTypes, h2ExtensionContext, type H2Extension, type H2ExtensionContext } from './extension.js';

// The server half of draft-ietf-httpbis-secondary-server-certs over HTTP/2: once both sides have sent
// SETTINGS_HTTP_SERVER_CERT_AUTH = 1, it sends a spontaneous exported authenticator in a SERVER_CERTIFICATE
// frame for each secondary identity, and can send more later. Peers without the extension see a plain
// HTTP/2 server: the setting is an unknown one to them, and nothing else is sent.

export interface ServerExtensionOptions {
  identities?: SecondaryIdentity[];
  profile?: H2Profile;
  crypto?: CryptoProvider;
  /** Send every identity once the feature is negotiated (default true). */
  sendOnConnect?: boolean;
  /** Features plugged into each spliced connection (e.g. client certificates, from secondary-certs/client-auth). */
  extensions?: readonly H2Extension<ServerConnection>[];
  /**
   * Close a connection with GOAWAY(NO_ERROR) when it has had no open stream and sent nothing for this
   * long (default 120 s; 0: never).
   */
  idleTimeoutMs?: number;
  /** Most SETTINGS frames (not ACKs) a client may send on a connection; one more is ENHANCE_YOUR_CALM (default 100). */
  maxSettingsFrames?: number;
  /** Most bytes waiting in a connection's TLS write buffer; more and the connection is destroyed (default 16 MiB). */
  maxBufferedBytes?: number;
  /** How long writes may wait with nothing drained before the connection is destroyed (default 60 s; 0: no limit). */
  sendTimeoutMs?: number;
  /** RFC 9261 contexts a connection remembers (SERVER_CERTIFICATE, OPTIONS *, client certificates) before refusing more (default 65,536). */
  maxContexts?: number;
}

/** The bounds a server holds each connection to (ServerExtensionOptions), resolved with their defaults. */
export interface ServerLimits {
  maxContexts: number;
  idleTimeoutMs: number;
  maxSettingsFrames: number;
  maxBufferedBytes: number;
  sendTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = {
  maxContexts: 65_536,
  idleTimeoutMs: 120_000,
  maxSettingsFrames: 100,
  maxBufferedBytes: 16 * 1024 * 1024,
  sendTimeoutMs: 60_000,
};

/** The TLS handshake time createSecondaryCertServer allows by default (Node's own default is 120 s). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Why a connection was closed for one of the server's bounds ('limit' events). */
export type ConnectionLimitError = HandshakeTimeout | IdleTimeout | SendStalled;

export type CertificateSentEvent = SentEventOf<ServerConnection>;
export type CertificateNotSentEvent = NotSentEventOf<ServerConnection>;
/** The events of a ServerConnection and their listeners' arguments. */
export type ServerConnectionEvents = ServerConnectionEventsOf<ServerConnection, H2ConnectionError> & {
  /** The connection was closed for one of the server's bounds (idle, a peer that does not read). */
  limit: [error: IdleTimeout | SendStalled];
};
/**
 * The events of a SecondaryCertServer: those of every connection, with the connection; 'limit' also for
 * a TLS handshake that did not finish in time (no connection yet: undefined).
 */
export type ServerEvents = ServerEventsOf<ServerConnection, H2ConnectionError> & {
  limit: [error: ConnectionLimitError, connection: ServerConnection | undefined];
};

/** The SETTINGS a server must be created with for the extension (see node-platform-notes on custom settings). */
export function extensionServerSettings(profile: H2Profile = DEFAULT_PROFILE): Pick<http2.SecureServerOptions, 'settings' | 'remoteCustomSettings'> {
  const id = profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  return { settings: { customSettings: { [id]: 1 } }, remoteCustomSettings: [id] };
}

/**
 * One TLS connection on the server, once spliced. Events: 'negotiated', 'certificateSent',
 * 'certificateNotSent', 'protocolError', 'limit'.
 */
export class ServerConnection extends EventEmitter<ServerConnectionEvents> {
  /** Identities proven on this connection, in the order sent. */
  readonly sent: LoadedIdentity[];
  private readonly setting: CertAuthSetting;
  /** RFC 9261 contexts of this connection, shared by every authenticator flow on it (frames, OPTIONS *). */
  readonly state: ConnectionState;
  private readonly sender: CertificateSender<ServerConnection>;
  private readonly tlsLeaf: X509Certificate | undefined;
  private failed = false;
  private openStreams = 0;
  private lastInbound = Date.now();

  constructor(
    readonly session: http2.ServerHttp2Session,
    readonly tlsSocket: TLSSocket,
    readonly splicer: FrameSplicer,
    private readonly owner: SecondaryCertServer,
  ) {
    super();
    this.setting = new CertAuthSetting(owner.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH);
    this.setting.send(1);
    this.sender = new CertificateSender({
      connection: this,
      maxContexts: owner.limits.maxContexts,
      crypto: owner.crypto,
      frameType: owner.profile.frames.SERVER_CERTIFICATE,
      name: () => `h2 server ${this.peer}`,
      keys: () => keysFromTlsSocket(tlsSocket),
      negotiated: () => this.negotiated,
      closed: () => session.destroyed || session.closed,
      maxSize: () => ({ bytes: splicer.peerMaxFrameSize, what: `the client's SETTINGS_MAX_FRAME_SIZE ${splicer.peerMaxFrameSize}` }),
      write: (authenticator) => {
        splicer.sendFrame(owner.profile.frames.SERVER_CERTIFICATE, 0, 0, authenticator);
        return authenticator.length;
      },
      emitters: [this, owner],
      offeredEntryExtensions: () => (owner.clientHelloOfferedOcsp(tlsSocket) ? [ExtensionType.status_request] : []),
    });
    this.sent = this.sender.sent;
    this.state = this.sender.state;
    this.tlsLeaf = tlsSocket.getX509Certificate();
    splicer.on('peerSettings', (settings: Map<number, number>) => this.onPeerSettings(settings));
    splicer.on('frame', (header: FrameHeader) => this.onFrame(header));
    // An extension frame over our SETTINGS_MAX_FRAME_SIZE: a connection error (RFC 9113 section 4.2), except
    // that a client-sent SERVER_CERTIFICATE or AUTHENTICATOR_REQUESTS is PROTOCOL_ERROR whatever its size
    // (onFrame's rule comes first).
    splicer.on('oversizeFrame', (header: FrameHeader) => {
      if (isServerOnlyFrame(owner.profile, header.type)) this.onFrame(header);
      else this.fail(new H2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, `frame type 0x${header.type.toString(16)} of ${header.length} bytes exceeds our SETTINGS_MAX_FRAME_SIZE`));
    });
    // A connection error nghttp2 found by itself (a 3-byte PING, a bad header block, a flood): it sent the
    // GOAWAY; we give the typed error that our own connection errors give.
    splicer.on('goawaySent', (code: number) => {
      if (this.failed) return;
      this.failed = true;
      splicer.discardInbound();
      const error = new H2ConnectionError(code, `the session sent GOAWAY(${h2ErrorName(code) ?? `0x${code.toString(16)}`}): a connection error nghttp2 found, or the application's own goaway()`);
      queueMicrotask(() => {
        this.emit('protocolError', error);
        this.owner.emit('protocolError', error, this);
      });
    });
    const limits = owner.limits;
    splicer.limitSend({ maxBufferedBytes: limits.maxBufferedBytes, sendTimeoutMs: limits.sendTimeoutMs });
    // The TLS socket first: a session with a write in progress waits for it before it closes, and this one
    // never completes.
    splicer.on('sendStalled', (error: SendStalled) =>
      this.closeForLimit(error, () => {
        tlsSocket.destroy();
        session.destroy();
      }),
    );
    if (limits.idleTimeoutMs > 0) this.watchIdle(limits.idleTimeoutMs);
  }

  /**
   * Idle: no open stream, and nothing from the client, for `ms`. One timer per connection, re-armed for
   * what is left when it fires early (no timer churn per frame).
   */
  private watchIdle(ms: number): void {
    this.tlsSocket.on('data', () => (this.lastInbound = Date.now()));
    this.session.on('stream', (stream: http2.ServerHttp2Stream) => {
      this.openStreams++;
      stream.once('close', () => {
        this.openStreams--;
        this.lastInbound = Date.now();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      if (this.session.closed || this.session.destroyed) return;
      const quiet = Date.now() - this.lastInbound;
      if (this.openStreams === 0 && quiet >= ms) {
        this.closeForLimit(new IdleTimeout(`no stream and nothing received for ${ms} ms`), () => this.session.close());
        return;
      }
      timer = setTimeout(check, this.openStreams > 0 ? ms : ms - quiet).unref();
    };
    timer = setTimeout(check, ms).unref();
    this.session.once('close', () => clearTimeout(timer));
  }

  private closeForLimit(error: IdleTimeout | SendStalled, close: () => void): void {
    if (this.failed || this.session.destroyed) return;
    this.failed = true;
    if (debugging) debug('h2 server %s: closing: %s', this.peer, error.message);
    this.emit('limit', error);
    this.owner.emit('limit', error, this);
    close();
  }

  get negotiated(): boolean {
    return this.setting.active;
  }

  /** The client's address and port, for the debug log. */
  private get peer(): string {
    return `${this.tlsSocket.remoteAddress}:${this.tlsSocket.remotePort}`;
  }

  /** Is this connection authoritative for `host`: its TLS certificate or an identity sent on it covers it. */
  covers(host: string): boolean {
    return certificateCovers(this.tlsLeaf, host) || this.sender.covers(host);
  }

  /**
   * Proves `identity` on this connection with a spontaneous authenticator in a SERVER_CERTIFICATE frame.
   * Resolves false (with a 'certificateNotSent' event saying why) when it cannot be sent: the feature is
   * not negotiated, the connection is closed, or the authenticator exceeds the peer's SETTINGS_MAX_FRAME_SIZE.
   */
  sendCertificate(identity: LoadedIdentity): Promise<boolean> {
    return this.sender.send(identity);
  }

  private onPeerSettings(settings: Map<number, number>): void {
    const max = this.owner.limits.maxSettingsFrames;
    if (this.splicer.peerSettingsFrames > max) {
      this.fail(new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `more than ${max} SETTINGS frames on one connection`));
      return;
    }
    this.setting.receiveFromPeer(settings, { name: `h2 server ${this.peer}`, peer: 'client', negotiated: () => this.onNegotiated(), refused: (e) => this.fail(e) });
  }

  private onNegotiated(): void {
    this.emit('negotiated');
    this.owner.emit('negotiated', this);
    if (this.owner.sendOnConnect) this.sender.sendEach(this.owner.identities);
  }

  private onFrame(header: FrameHeader): void {
    // Frames only a server sends: SERVER_CERTIFICATE (secondary-server-certs-02 section 3.2) and
    // AUTHENTICATOR_REQUESTS (rosomakho-00 section 4.1.1: received by a server on any stream, PROTOCOL_ERROR).
    // node:http2 would drop them as unknown types, so the splicer takes them out and we close here.
    if (isServerOnlyFrame(this.owner.profile, header.type)) {
      const name = header.type === this.owner.profile.frames.SERVER_CERTIFICATE ? 'SERVER_CERTIFICATE' : 'AUTHENTICATOR_REQUESTS';
      if (debugging) debug('h2 server %s: received %s (0x%s), length %d, from a client: PROTOCOL_ERROR', this.peer, name, header.type.toString(16), header.length);
      this.fail(new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `a client sent ${name}`));
    }
  }

  private fail(error: H2ConnectionError): void {
    // One connection error per connection: one event, one GOAWAY; the client's later bytes go nowhere.
    if (this.failed) return;
    this.failed = true;
    this.splicer.discardInbound();
    this.emit('protocolError', error);
    this.owner.emit('protocolError', error, this);
    closeWithError(this.session, error.wireCode, this.splicer !== undefined);
  }

  /** The surface extensions get (see ./extension.ts); the server hands it to each of its `extensions`. */
  extensionContext(): H2ExtensionContext {
    const servername = this.tlsSocket.servername;
    return h2ExtensionContext({
      role: 'server',
      profile: this.owner.profile,
      crypto: this.owner.crypto,
      origin: `https://${servername || 'unknown'}`,
      state: this.state,
      session: this.session,
      splicer: this.splicer,
      tlsSocket: this.tlsSocket,
      isClosed: () => this.session.closed,
      fail: (error) => this.fail(error),
      retire: () => this.session.close(),
    });
  }
}

/** Extension frames only a server may send: a server that receives one closes with PROTOCOL_ERROR. */
function isServerOnlyFrame(profile: H2Profile, type: number): boolean {
  return type === profile.frames.SERVER_CERTIFICATE || type === profile.frames.AUTHENTICATOR_REQUESTS;
}

/**
 * The extension on one `http2.createSecureServer` server. Create the server with
 * `extensionServerSettings()` in its options (or use `createSecondaryCertServer`). Events:
 * 'connection' (ServerConnection), 'negotiated', 'certificateSent', 'certificateNotSent', 'protocolError'.
 */
export class SecondaryCertServer extends EventEmitter<ServerEvents> {
  readonly profile: H2Profile;
  readonly crypto: CryptoProvider;
  readonly sendOnConnect: boolean;
  readonly identities: LoadedIdentity[] = [];
  readonly connections = new Set<ServerConnection>();
  readonly limits: Readonly<ServerLimits>;
  private readonly bySession = new WeakMap<http2.Http2Session, ServerConnection>();
  private readonly extensions: readonly H2Extension<ServerConnection>[];
  /** TLS handles whose ClientHello carried status_request (see watchClientHelloOcsp). */
  private readonly ocspOffered = new WeakSet<object>();

  private constructor(readonly server: http2.Http2SecureServer, options: ServerExtensionOptions) {
    super();
    this.profile = options.profile ?? DEFAULT_PROFILE;
    this.crypto = options.crypto ?? defaultCrypto();
    this.sendOnConnect = options.sendOnConnect ?? true;
    this.extensions = options.extensions ?? [];
    this.limits = {
      maxContexts: atLeast(options.maxContexts ?? DEFAULT_SERVER_LIMITS.maxContexts, 1, 'maxContexts'),
      idleTimeoutMs: atLeast(options.idleTimeoutMs ?? DEFAULT_SERVER_LIMITS.idleTimeoutMs, 0, 'idleTimeoutMs'),
      maxSettingsFrames: atLeast(options.maxSettingsFrames ?? DEFAULT_SERVER_LIMITS.maxSettingsFrames, 1, 'maxSettingsFrames'),
      maxBufferedBytes: atLeast(options.maxBufferedBytes ?? DEFAULT_SERVER_LIMITS.maxBufferedBytes, 1, 'maxBufferedBytes'),
      sendTimeoutMs: atLeast(options.sendTimeoutMs ?? DEFAULT_SERVER_LIMITS.sendTimeoutMs, 0, 'sendTimeoutMs'),
    };
  }

  /** Adds the extension to `server`; identities are loaded before it resolves. */
  static async attach(server: http2.Http2SecureServer, options: ServerExtensionOptions = {}): Promise<SecondaryCertServer> {
    const ext = new SecondaryCertServer(server, options);
    for (const identity of options.identities ?? []) ext.identities.push(await loadIdentity(identity, ext.crypto));
    ext.watchClientHelloOcsp();
    spliceServerSession(server, {
      interceptTypes: new Set([ext.profile.frames.SERVER_CERTIFICATE, ext.profile.frames.AUTHENTICATOR_REQUESTS, ...extensionFrameTypes(ext.extensions, ext.profile)]),
      onSession: (session, splicer, tlsSocket) => ext.onSession(session, splicer, tlsSocket),
    });
    // The handshake bound is the TLS server's own (`handshakeTimeout`); we only say it in our terms.
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') ext.emit('limit', new HandshakeTimeout(`a TLS handshake did not finish in time: ${err.message}`), undefined);
    });
    return ext;
  }

  /**
   * Did this connection's ClientHello offer status_request? Then a spontaneous SERVER_CERTIFICATE may staple
   * an identity's OCSP response (RFC 9261 section 5.2.1). Node shows no ClientHello extensions, but emits
   * 'OCSPRequest' during the handshake of exactly those connections whose ClientHello carried status_request,
   * with the connection's TLS handle as the current async resource; that handle is the socket's `_handle`.
   * (Both facts are pinned by a test.) signed_certificate_timestamp in a ClientHello cannot be seen this way,
   * so spontaneous authenticators never carry SCTs; requests that ask for them get them.
   */
  clientHelloOfferedOcsp(tlsSocket: TLSSocket): boolean {
    const handle = (tlsSocket as unknown as { _handle?: object | null })._handle;
    return handle !== undefined && handle !== null && this.ocspOffered.has(handle);
  }

  private watchClientHelloOcsp(): void {
    this.server.on('OCSPRequest', (certificate: Buffer | null, _issuer: Buffer | null, callback: (err: Error | null, response: Buffer | null) => void) => {
      const handle = executionAsyncResource();
      if (typeof handle === 'object' && handle !== null) this.ocspOffered.add(handle);
      // Node expects exactly one answer: when the application listens too, it staples (or not) for TLS itself.
      // Otherwise a TLS certificate that is one of the identities (served through SNI) gets its OCSP response.
      if (this.server.listenerCount('OCSPRequest') !== 1) return;
      // (node passes null when the context has no certificate; a throw here would escape into the handshake.)
      const served = certificate instanceof Uint8Array ? this.identities.find((id) => id.ocspResponse !== undefined && Buffer.from(id.chain[0]!).equals(certificate)) : undefined;
      callback(null, served?.ocspResponse ? Buffer.from(served.ocspResponse) : null);
    });
  }

  /** The connection a request's session belongs to (undefined for peers that were not spliced). */
  connectionOf(session: http2.Http2Session | undefined): ServerConnection | undefined {
    return session ? this.bySession.get(session) : undefined;
  }

  /** Adds an identity; with `sendNow`, also proves it on every negotiated connection. */
  async addIdentity(identity: SecondaryIdentity, sendNow = false): Promise<LoadedIdentity> {
    const loaded = await loadIdentity(identity, this.crypto);
    this.identities.push(loaded);
    if (sendNow) for (const c of this.connections) if (c.negotiated) void c.sendCertificate(loaded);
    return loaded;
  }

  private onSession(session: http2.ServerHttp2Session, splicer: FrameSplicer, tlsSocket: TLSSocket): void {
    const connection = new ServerConnection(session, tlsSocket, splicer, this);
    this.connections.add(connection);
    this.bySession.set(session, connection);
    session.once('close', () => this.connections.delete(connection));
    for (const e of this.extensions) e.attach(connection.extensionContext(), connection);
    this.emit('connection', connection);
  }
}

/**
 * `http2.createSecureServer` with the extension's settings, and the extension attached. Clients without the
 * extension (curl, browsers today) ask for the other names through SNI, so the TLS handshake serves the
 * certificate of the identity that covers the SNI name; an `SNICallback` given in the options is asked
 * first, and identities are the fallback when it gives no context. Identities given as { chain, signer }
 * (no private key, e.g. one held in an HSM) cannot serve TLS and are only proven with SERVER_CERTIFICATE.
 * Identities added later with `addIdentity` are not served through SNI. The TLS handshake must finish within
 * `handshakeTimeout` (Node's option; default here DEFAULT_HANDSHAKE_TIMEOUT_MS, 10 s, not Node's 120 s).
 */
export async function createSecondaryCertServer(
  options: http2.SecureServerOptions & ServerExtensionOptions,
): Promise<{ server: http2.Http2SecureServer; extension: SecondaryCertServer }> {
  const { identities, profile, crypto, sendOnConnect, extensions, idleTimeoutMs, maxSettingsFrames, maxBufferedBytes, sendTimeoutMs, maxContexts, ...serverOptions } = options;
  const ext = extensionServerSettings(profile);
  const sniContexts: { identity: LoadedIdentity; context: tls.SecureContext }[] = [];
  const userSni = serverOptions.SNICallback;
  const server = http2.createSecureServer({
    ...serverOptions,
    handshakeTimeout: serverOptions.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    SNICallback: (servername, callback) => {
      const fromIdentities = (): void => callback(null, sniContexts.find((c) => certificateCovers(c.identity.leaf, servername))?.context);
      if (!userSni) return fromIdentities();
      userSni(servername, (err, context) => (err ? callback(err) : context ? callback(null, context) : fromIdentities()));
    },
    settings: { ...serverOptions.settings, ...ext.settings, customSettings: { ...serverOptions.settings?.customSettings, ...ext.settings?.customSettings } },
    remoteCustomSettings: [...(serverOptions.remoteCustomSettings ?? []), ...(ext.remoteCustomSettings ?? [])],
  });
  const extension = await SecondaryCertServer.attach(server, {
    ...(identities ? { identities } : {}),
    ...(profile ? { profile } : {}),
    ...(crypto ? { crypto } : {}),
    ...(sendOnConnect !== undefined ? { sendOnConnect } : {}),
    ...(extensions ? { extensions } : {}),
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    ...(maxSettingsFrames !== undefined ? { maxSettingsFrames } : {}),
    ...(maxBufferedBytes !== undefined ? { maxBufferedBytes } : {}),
    ...(sendTimeoutMs !== undefined ? { sendTimeoutMs } : {}),
    ...(maxContexts !== undefined ? { maxContexts } : {}),
  });
  (identities ?? []).forEach((identity, i) => {
    if (identity.key === undefined) return;
    const loaded = extension.identities[i]!;
    const key = typeof identity.key === 'string' ? identity.key : createPrivateKey({ key: Buffer.from(identity.key), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' });
    const context = tls.createSecureContext({ key, cert: loaded.chain.map(derToPem).join('') });
    sniContexts.push({ identity: loaded, context });
  });
  return { server, extension };
}

function atLeast(v: number, min: number, name: string): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer of at least ${min}, not ${v}`);
  return v;
}
