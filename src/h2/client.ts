import { EventEmitter } from 'node:events';
import * as http2 from 'node:http2';
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { CryptoProvider } from '../crypto/provider.js';
import { ConnectionState, validateAuthenticator } from '../ea/index.js';
import { addressOf, decideAuthority, defaultLookup, type AuthorityAnswer, type Lookup } from '../http/authority.js';
import { debug, debugging } from '../debug.js';
import { BodyTooLarge, RequestTimeout, SecondaryCertsError, StreamClosed, UnsupportedScheme } from '../errors.js';
import { defaultCrypto } from '../crypto/index.js';
import type { AuthenticatorKeys } from '../exporter/keys.js';
import { keysFromTlsSocket } from '../exporter/tls-socket.js';
import { CertificatePolicy, type AcceptedCertificate } from '../pki/policy.js';
import { acceptValidatedChain, type CertificateEvent } from '../pki/accept-chain.js';
import { derToPem } from '../pki/identity.js';
import { normalizeHost } from '../pki/names.js';
import type { FrameHeader } from './wire/frame-header.js';
import { closeWithError } from './node/close.js';
import { H2ConnectionError, H2ErrorCode } from './errors.js';
import { parseServerCertificate } from './wire/server-certificate.js';
import { DEFAULT_PROFILE, type H2Profile } from './profile.js';
import { CertAuthSetting } from './settings.js';
import { connectSpliced, type FrameSplicer } from './node/spliced-session.js';
import { extensionFrameTypes, h2ExtensionContext, type H2Extension, type H2ExtensionContext } from './extension.js';

// The client half of draft-ietf-httpbis-secondary-server-certs over HTTP/2: it advertises
// SETTINGS_HTTP_SERVER_CERT_AUTH, validates each SERVER_CERTIFICATE (RFC 9261, then the certificate
// policy), and answers which origins the connection is authoritative for (RFC 9110 section 4.3, the
// draft's section 7.1, RFC 8336).

export { defaultLookup, type Lookup, type AuthorityAnswer } from '../http/authority.js';

export interface ClientOptions {
  /** Trust anchors (PEM text or DER) for the TLS certificate and for secondary certificates. */
  ca: ReadonlyArray<string | Uint8Array>;
  /** Advertise and use the extension (default true). False gives a plain HTTP/2 client. */
  extension?: boolean;
  profile?: H2Profile;
  crypto?: CryptoProvider;
  lookup?: Lookup;
  /** Secondary certificates kept per connection; more are ignored (default 32). */
  maxCertificates?: number;
  /** Largest SERVER_CERTIFICATE accepted (default 64 KiB); larger is ENHANCE_YOUR_CALM. */
  maxAuthenticatorSize?: number;
  /** The address to connect to instead of resolving the URL's host (its name is still the SNI). */
  connectAddress?: string;
  /** The clock for certificate validity (default: now). */
  now?: () => Date;
  /** Set by `connect`: the origin the connection was opened for. */
  origin?: string;
  /**
   * Features plugged into each connection (e.g. client certificates, from secondary-certs/client-auth);
   * they run on the extension's frame splicing, so they are left out when `extension` is false.
   */
  extensions?: readonly H2Extension<SecondaryCertConnection>[];
  /** Largest response body `request` keeps in memory (default 64 MiB); larger fails the request. */
  maxBodySize?: number;
  /** A `request` with no activity for this long fails with ERR_REQUEST_TIMEOUT (default 30 s). */
  requestTimeoutMs?: number;
}

/** One request for `SecondaryCertConnection.request`. Pseudo-header fields in `headers` override the URL's. */
export interface H2RequestInit {
  method?: string;
  headers?: http2.OutgoingHttpHeaders;
  body?: Uint8Array | string;
  /** Overrides the connection's `requestTimeoutMs` for this request. */
  timeoutMs?: number;
  /** Overrides the connection's `maxBodySize` for this request. */
  maxBodySize?: number;
}

export interface H2Response {
  status: number;
  /** The response's header fields, `:status` included. */
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

export type { CertificateEvent } from '../pki/accept-chain.js';

/** The events of a SecondaryCertConnection and their listeners' arguments. */
export interface ConnectionEvents {
  /** Both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1. */
  negotiated: [];
  /** A SERVER_CERTIFICATE validated, accepted or not. */
  certificate: [event: CertificateEvent];
  /** The connection was closed for it (e.g. SERVER_CERTIFICATE_INVALID). */
  protocolError: [error: H2ConnectionError];
  close: [];
}

/**
 * One HTTP/2 connection with the extension. Events:
 * - 'negotiated': both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1;
 * - 'certificate' (CertificateEvent): a SERVER_CERTIFICATE validated, accepted or not;
 * - 'protocolError' (H2ConnectionError): the connection was closed for it (e.g. SERVER_CERTIFICATE_INVALID);
 * - 'close'.
 */
export class SecondaryCertConnection extends EventEmitter<ConnectionEvents> {
  readonly origin: string;
  readonly certificates: AcceptedCertificate[] = [];
  /** Origins a 421 took away from this connection (RFC 8336 section 2.3 / RFC 9110 section 15.5.20). */
  readonly excluded = new Set<string>();
  /** Origins from ORIGIN frames (RFC 8336); undefined until the first one arrives. */
  originFrameSet: Set<string> | undefined;
  closed = false;

  private readonly setting: CertAuthSetting;
  /** RFC 9261 contexts of this connection, shared by every authenticator flow on it (frames, OPTIONS *). */
  readonly state = new ConnectionState('client');
  private queue: Promise<void> = Promise.resolve();
  private readonly policy: CertificatePolicy;
  private readonly profile: H2Profile;

  constructor(
    readonly session: http2.ClientHttp2Session,
    readonly tlsSocket: TLSSocket,
    readonly splicer: FrameSplicer | undefined,
    private readonly options: ClientOptions,
  ) {
    super();
    // The origin the connection was opened for (its URL), not the SNI name: an IP address sends no SNI.
    this.origin = options.origin ?? new URL(`https://${tlsSocket.servername || tlsSocket.remoteAddress}:${tlsSocket.remotePort ?? 443}`).origin;
    this.profile = options.profile ?? DEFAULT_PROFILE;
    this.setting = new CertAuthSetting(this.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH);
    if (splicer) this.setting.send(1);
    this.policy = new CertificatePolicy({ trustAnchors: options.ca, role: 'server', ...(options.now ? { now: options.now } : {}) });
    session.on('origin', (origins: string[]) => {
      this.originFrameSet ??= new Set([this.origin]);
      for (const o of origins) this.originFrameSet.add(o);
    });
    session.once('close', () => {
      this.closed = true;
      this.emit('close');
    });
    session.on('error', () => {
      // Reported through 'close' and the request that failed; an unhandled 'error' would crash the process.
    });
    splicer?.on('peerSettings', (settings: Map<number, number>) => this.onPeerSettings(settings));
    splicer?.on('frame', (header: FrameHeader, payload: Uint8Array) => this.onFrame(header, payload));
  }

  /** Whether both sides have sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1. */
  get negotiated(): boolean {
    return this.setting.active;
  }

  /** The peer's IP address, for the DNS check. */
  get peerAddress(): string | undefined {
    return this.tlsSocket.remoteAddress;
  }

  /** Resolves once every SERVER_CERTIFICATE received so far has been processed. */
  settled(): Promise<void> {
    return this.queue;
  }

  private onPeerSettings(settings: Map<number, number>): void {
    let negotiatedNow: boolean;
    try {
      negotiatedNow = this.setting.receiveMap(settings);
    } catch (e) {
      if (debugging) debug('h2 client %s: SETTINGS from the server refused: %s', this.origin, (e as Error).message);
      this.fail(e as H2ConnectionError);
      return;
    }
    if (debugging) debug('h2 client %s: SETTINGS_HTTP_SERVER_CERT_AUTH: we sent %d, the server sent %s: %s', this.origin, this.setting.local, this.setting.received ? this.setting.remote : 'nothing', this.setting.active ? 'negotiated' : 'not negotiated');
    if (negotiatedNow) this.emit('negotiated');
  }

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    if (header.type !== this.profile.frames.SERVER_CERTIFICATE) return;
    // Not negotiated: the frame means nothing to us (digest 2.3 "OUR choice: ignore").
    if (!this.setting.active) {
      if (debugging) debug('h2 client %s: received SERVER_CERTIFICATE (0x%s), length %d: ignored, the extension is not negotiated', this.origin, header.type.toString(16), header.length);
      return;
    }
    let authenticator: Uint8Array;
    try {
      ({ authenticator } = parseServerCertificate(header, payload, { profile: this.profile, maxAuthenticatorSize: this.options.maxAuthenticatorSize ?? 64 * 1024 }));
    } catch (e) {
      if (debugging) debug('h2 client %s: received SERVER_CERTIFICATE (0x%s), length %d: malformed, closing: %s', this.origin, header.type.toString(16), header.length, String(e));
      this.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, String(e)));
      return;
    }
    // Validation is asynchronous; frames are handled one at a time, in arrival order.
    this.queue = this.queue.then(() => this.onServerCertificate(authenticator, header));
  }

  private async onServerCertificate(authenticator: Uint8Array, header: FrameHeader): Promise<void> {
    if (this.closed) return;
    let chain: Uint8Array[];
    try {
      const keys = keysFromTlsSocket(this.tlsSocket);
      ({ chain } = await validateAuthenticator({ keys, creator: 'server', authenticator, state: this.state, ...(this.options.crypto ? { crypto: this.options.crypto } : {}) }));
    } catch (e) {
      // Every RFC 9261 failure, the empty authenticator included, is SERVER_CERTIFICATE_INVALID (draft section 6).
      const why = e instanceof SecondaryCertsError ? `${e.code}: ${e.message}` : String(e);
      if (debugging) debug('h2 client %s: received SERVER_CERTIFICATE (0x%s), length %d: invalid (%s), closing with SERVER_CERTIFICATE_INVALID', this.origin, header.type.toString(16), header.length, why);
      this.fail(new H2ConnectionError(this.profile.errors.SERVER_CERTIFICATE_INVALID, `SERVER_CERTIFICATE does not validate (${why})`, { cause: e }));
      return;
    }
    const event = await this.acceptChain(chain);
    if (debugging) debug('h2 client %s: received SERVER_CERTIFICATE (0x%s), length %d: valid (RFC 9261), %s for %s', this.origin, header.type.toString(16), header.length, event.accepted ? 'accepted' : `not used (${event.reason})`, event.names.join(', '));
  }

  /**
   * Applies the certificate policy to a chain that an authenticator validated on this connection (a
   * SERVER_CERTIFICATE, or an answer to our own request such as OPTIONS *). An accepted chain joins the
   * certificates the connection is authoritative through; either way a 'certificate' event says what
   * happened. A valid authenticator whose certificate is not acceptable is not an error (draft section 6.2).
   */
  async acceptChain(chain: Uint8Array[]): Promise<CertificateEvent> {
    return this.report(await acceptValidatedChain(this.policy, this.certificates, chain, this.options.maxCertificates ?? 32));
  }

  private report(event: CertificateEvent): CertificateEvent {
    this.emit('certificate', event);
    return event;
  }

  /** A connection error: GOAWAY with the code, then close (RFC 9113 section 5.4.1). */
  private fail(error: H2ConnectionError): void {
    if (this.closed) return;
    this.emit('protocolError', error);
    closeWithError(this.session, error.h2Code);
  }

  /**
   * May a request for `origin` go on this connection? The certificate (the TLS one, or an accepted
   * secondary one) must cover the host; the port must be the connection's; an origin a 421 excluded is
   * refused; once ORIGIN frames arrived, only listed origins count (RFC 8336 section 2.4) and DNS is not
   * consulted; otherwise DNS for the host must include the peer's address (draft section 7.1).
   */
  async authorityFor(origin: string | URL): Promise<AuthorityAnswer> {
    return decideAuthority(origin, {
      origin: this.origin,
      closed: this.closed,
      excluded: this.excluded,
      originFrameSet: this.originFrameSet,
      coveredByTls: (host) => coveredByTls(this.tlsSocket.getPeerCertificate(), host),
      certificates: this.certificates,
      peerAddress: this.peerAddress,
      lookup: this.options.lookup ?? defaultLookup,
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    // Not session.close(callback): once a connection error has started closing the session, close() is a
    // no-op that never calls its callback. The 'close' event comes either way.
    return new Promise((resolve) => {
      this.session.once('close', () => resolve());
      this.session.close();
    });
  }

  /** The connection's exporter keys for RFC 9261 (for flows of its own, such as OPTIONS *). */
  keys(): AuthenticatorKeys {
    return keysFromTlsSocket(this.tlsSocket);
  }

  /** Resolves once the server's SETTINGS arrived (never without the extension, which reads them off the wire). */
  settingsReceived(): Promise<void> {
    const splicer = this.splicer;
    if (!splicer) return new Promise(() => {});
    if (this.setting.received) return Promise.resolve();
    return new Promise((resolve) => splicer.once('peerSettings', () => resolve()));
  }

  /** Sends one request on a new stream and collects the whole response. */
  request(url: string | URL, init: H2RequestInit = {}): Promise<H2Response> {
    const target = new URL(url);
    const maxBody = init.maxBodySize ?? this.options.maxBodySize ?? 64 * 1024 * 1024;
    const timeoutMs = init.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    return new Promise((resolve, reject) => {
      const stream = this.session.request(
        { ':method': init.method ?? 'GET', ':scheme': 'https', ':authority': target.host, ':path': `${target.pathname}${target.search}`, ...init.headers },
        { endStream: body === undefined },
      );
      let headers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('response', (h) => (headers = h));
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) stream.destroy(new BodyTooLarge(`response body larger than ${maxBody} bytes`));
        else chunks.push(chunk);
      });
      stream.on('error', reject);
      stream.setTimeout(timeoutMs, () => {
        reject(new RequestTimeout(`no response from ${target.origin} in ${timeoutMs} ms`));
        stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.on('close', () => reject(new StreamClosed(`the stream closed before the response ended (code ${stream.rstCode ?? 'none'})`)));
      stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }));
      if (body !== undefined) stream.end(body);
    });
  }

  /** The surface extensions get (see ./extension.ts); connect() hands it to each of `options.extensions`. */
  extensionContext(): H2ExtensionContext {
    if (!this.splicer) throw new TypeError('extensions need the extension (a spliced connection)');
    return h2ExtensionContext({
      role: 'client',
      profile: this.profile,
      crypto: this.options.crypto ?? defaultCrypto,
      origin: this.origin,
      state: this.state,
      session: this.session,
      splicer: this.splicer,
      tlsSocket: this.tlsSocket,
      isClosed: () => this.closed,
      fail: (error) => this.fail(error),
      retire: () => {
        // Marked closed at once so that pools stop choosing it; in-flight streams finish.
        this.closed = true;
        this.session.close();
      },
    });
  }
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function coveredByTls(cert: PeerCertificate, host: string): boolean {
  return cert !== undefined && Object.keys(cert).length > 0 && checkServerIdentity(host, cert) === undefined;
}


/** Opens a connection to `url` (an https URL), with the extension unless `options.extension` is false. */
export async function connect(url: string | URL, options: ClientOptions): Promise<SecondaryCertConnection> {
  const target = new URL(url);
  if (target.protocol !== 'https:') throw new UnsupportedScheme(`connect() speaks https only, not ${target.protocol} (${target.origin})`);
  const host = hostOf(target);
  const address = options.connectAddress ?? (await addressOf(host, options.lookup));
  const extension = options.extension ?? true;
  const profile = options.profile ?? DEFAULT_PROFILE;
  const id = profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const settings: http2.Settings = extension
    ? { customSettings: { [id]: 1 }, maxFrameSize: Math.max(16384, (options.maxAuthenticatorSize ?? 64 * 1024) + 1024) }
    : {};
  const extensions = extension ? (options.extensions ?? []) : [];
  const interceptTypes = new Set(extension ? [profile.frames.SERVER_CERTIFICATE, ...extensionFrameTypes(extensions, profile)] : []);
  const { session, splicer, tlsSocket } = await connectSpliced(target, {
    host: address,
    servername: normalizeHost(host) && !isIp(host) ? host : undefined,
    ca: options.ca.map((c) => (typeof c === 'string' ? c : derToPem(c))),
    settings,
    remoteCustomSettings: extension ? [id] : [],
    splice: extension,
    interceptTypes,
  });
  const connection = new SecondaryCertConnection(session, tlsSocket, splicer, { ...options, origin: target.origin });
  for (const e of extensions) e.attach(connection.extensionContext(), connection);
  return connection;
}

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}
