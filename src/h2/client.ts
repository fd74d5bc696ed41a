import { X509Certificate } from 'node:crypto';
import * as http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { addressOf } from '../http/authority.js';
import { ClientConnectionBase, type ClientConnectionOptions } from '../http/client-connection.js';
import { debug, debugging } from '../debug.js';
import { BodyTooLarge, RequestTimeout, SecondaryCertsError, StreamClosed, UnsupportedScheme, H2ConnectionError, H2ErrorCode } from '../errors.js';
import { defaultCrypto } from '../crypto/index.js';
import type { AuthenticatorKeys } from '../exporter/keys.js';
import { keysFromTlsSocket } from '../exporter/tls-socket.js';
import type { CertificateEvent } from '../pki/accept-chain.js';
import { derToPem } from '../pki/identity.js';
import { normalizeHost } from '../pki/names.js';
import { ExtensionType } from '../tls/extension.js';
import type { FrameHeader } from './wire/frame-header.js';
import { closeWithError } from './node/close.js';
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

/** The options of connect(); ca, crypto, lookup, maxCertificates, maxAuthenticators, connectAddress and now are the same for HTTP/3. */
export interface ClientOptions extends ClientConnectionOptions {
  /** Advertise and use the extension (default true). False gives a plain HTTP/2 client. */
  extension?: boolean;
  profile?: H2Profile;
  /** Largest SERVER_CERTIFICATE accepted (default 64 KiB); larger is ENHANCE_YOUR_CALM. */
  maxAuthenticatorSize?: number;
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
  /**
   * Offer status_request in the TLS ClientHello (node's requestOCSP). A SERVER_CERTIFICATE may then carry an
   * OCSP response for its leaf (RFC 9261 section 5.2.1: a spontaneous authenticator staples only what the
   * ClientHello offered); without it, one that does is invalid. Judge it with `stapling` (default false).
   */
  requestOCSP?: boolean;
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
  /** The server sent GOAWAY (also in `goaway`). */
  goaway: [goaway: ServerGoaway];
  close: [];
}

/** A GOAWAY from the server: its error code and the last stream it will process (RFC 9113 section 6.8). */
export interface ServerGoaway {
  code: number;
  lastStreamId: number;
}

/**
 * One HTTP/2 connection with the extension. Events:
 * - 'negotiated': both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1;
 * - 'certificate' (CertificateEvent): a SERVER_CERTIFICATE validated, accepted or not;
 * - 'protocolError' (H2ConnectionError): the connection was closed for it (e.g. SERVER_CERTIFICATE_INVALID);
 * - 'goaway' (ServerGoaway): the server sent GOAWAY, with its code;
 * - 'close'.
 */
export class SecondaryCertConnection extends ClientConnectionBase<ConnectionEvents> {

  private readonly setting: CertAuthSetting;
  private readonly profile: H2Profile;
  /** Whether any SETTINGS frame came from the server (with or without our setting). */
  private peerSettingsSeen = false;
  /** The server's last GOAWAY, once one came: why it closed, when it says. */
  goaway: ServerGoaway | undefined;

  constructor(
    readonly session: http2.ClientHttp2Session,
    readonly tlsSocket: TLSSocket,
    readonly splicer: FrameSplicer | undefined,
    private readonly options: ClientOptions,
  ) {
    const profile = options.profile ?? DEFAULT_PROFILE;
    const setting = new CertAuthSetting(profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH);
    super({
      // The origin the connection was opened for (its URL), not the SNI name: an IP address sends no SNI.
      origin: options.origin ?? new URL(`https://${tlsSocket.servername || tlsSocket.remoteAddress}:${tlsSocket.remotePort ?? 443}`).origin,
      role: 'h2',
      options,
      tlsLeaf: peerLeaf(tlsSocket),
      keys: () => keysFromTlsSocket(tlsSocket),
      negotiated: () => setting.active,
      peerAddress: () => tlsSocket.remoteAddress,
      offeredEntryExtensions: options.requestOCSP ? [ExtensionType.status_request] : [],
    });
    this.profile = profile;
    this.setting = setting;
    if (splicer) this.setting.send(1);
    session.on('origin', (origins: string[]) => this.addOrigins(origins));
    session.on('goaway', (code: number, lastStreamId: number) => {
      this.goaway = { code, lastStreamId };
      this.emit('goaway', this.goaway);
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
    // An extension frame over our SETTINGS_MAX_FRAME_SIZE: a connection error (RFC 9113 section 4.2).
    splicer?.on('oversizeFrame', (header: FrameHeader) =>
      this.fail(new H2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, `frame type 0x${header.type.toString(16)} of ${header.length} bytes exceeds our SETTINGS_MAX_FRAME_SIZE`)),
    );
  }

  private onPeerSettings(settings: Map<number, number>): void {
    this.peerSettingsSeen = true;
    this.setting.receiveFromPeer(settings, { name: `h2 client ${this.origin}`, peer: 'server', negotiated: () => this.emit('negotiated'), refused: (e) => this.fail(e) });
  }

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    // The server's connection preface is a SETTINGS frame, first (RFC 9113 section 3.4). The splicer took
    // this frame out before node:http2 could see it come first, so the rule is kept here.
    if (!this.peerSettingsSeen) {
      if (debugging) debug('h2 client %s: frame type 0x%s before the server\'s SETTINGS, closing', this.origin, header.type.toString(16));
      this.fail(new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `frame type 0x${header.type.toString(16)} before the server's SETTINGS: not a valid connection preface (RFC 9113 section 3.4)`));
      return;
    }
    if (header.type !== this.profile.frames.SERVER_CERTIFICATE) return;
    const frame = `received SERVER_CERTIFICATE (0x${header.type.toString(16)}), length ${header.length}`;
    // Not negotiated (the server has not sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1): a connection error
    // (rosomakho-00 section 4.2; spec-notes/secondary-server-certs-h2.md, C3).
    if (!this.setting.active) {
      if (debugging) debug('h2 client %s: %s: the extension is not negotiated, PROTOCOL_ERROR', this.origin, frame);
      this.fail(new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'SERVER_CERTIFICATE, but the server has not sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1'));
      return;
    }
    let authenticator: Uint8Array;
    try {
      ({ authenticator } = parseServerCertificate(header, payload, { profile: this.profile, maxAuthenticatorSize: this.options.maxAuthenticatorSize ?? 64 * 1024 }));
    } catch (e) {
      if (debugging) debug('h2 client %s: %s: malformed, closing: %s', this.origin, frame, String(e));
      this.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, String(e)));
      return;
    }
    this.receiveAuthenticator(authenticator, frame);
  }

  protected certificateInvalid(message: string, cause: unknown): void {
    this.fail(new H2ConnectionError(this.profile.errors.SERVER_CERTIFICATE_INVALID, message, { cause }));
  }

  /** A connection error: GOAWAY with the code, then close (RFC 9113 section 5.4.1). */
  private fail(error: H2ConnectionError): void {
    if (this.closed) return;
    this.emit('protocolError', error);
    closeWithError(this.session, error.wireCode, this.splicer !== undefined);
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
    if (this.peerSettingsSeen) return Promise.resolve();
    return new Promise((resolve) => splicer.once('peerSettings', () => resolve()));
  }

  /** Sends one request on a new stream and collects the whole response. */
  request(url: string | URL, init: H2RequestInit = {}): Promise<H2Response> {
    const target = new URL(url);
    const maxBody = init.maxBodySize ?? this.options.maxBodySize ?? 64 * 1024 * 1024;
    const timeoutMs = init.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session.request(
          { ':method': init.method ?? 'GET', ':scheme': 'https', ':authority': target.host, ':path': `${target.pathname}${target.search}`, ...init.headers },
          { endStream: body === undefined },
        );
      } catch (e) {
        // Headers node:http2 refuses are the caller's to fix; a closed session is the connection's fate.
        if (!this.session.closed && !this.session.destroyed) {
          reject(e);
          return;
        }
        reject(new StreamClosed(`no request on this connection to ${this.origin}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        return;
      }
      let headers: http2.IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('response', (h) => (headers = h));
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) stream.destroy(new BodyTooLarge(`response body larger than ${maxBody} bytes`));
        else chunks.push(chunk);
      });
      // node:http2's own errors (a refused or reset stream, a session error) become typed ones.
      stream.on('error', (e) => reject(e instanceof SecondaryCertsError ? e : new StreamClosed(`the stream failed before the response ended: ${e.message}`, { cause: e })));
      stream.setTimeout(timeoutMs, () => {
        reject(new RequestTimeout(`no response from ${target.origin} in ${timeoutMs} ms`));
        stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.on('close', () => reject(new StreamClosed(`the stream closed before the response ended (code ${stream.rstCode ?? 'none'})`)));
      // A stream also ends without a response when the connection goes away under it.
      stream.on('end', () => (headers ? resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }) : reject(new StreamClosed(`the stream ended without a response (code ${stream.rstCode ?? 'none'})`))));
      if (body !== undefined) stream.end(body);
    });
  }

  /** The surface extensions get (see ./extension.ts); connect() hands it to each of `options.extensions`. */
  extensionContext(): H2ExtensionContext {
    if (!this.splicer) throw new TypeError('extensions need the extension (a spliced connection)');
    return h2ExtensionContext({
      role: 'client',
      profile: this.profile,
      crypto: this.options.crypto ?? defaultCrypto(),
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

/**
 * The server's TLS leaf. Not getPeerX509Certificate(): on Node 20 (20.20.2) the first call to it leaves
 * both it and getPeerCertificate() empty from then on, which hid the TLS chain from extensions
 * (H2ExtensionContext.peerCertificateChain). getPeerCertificate() can be asked again and again.
 */
function peerLeaf(tlsSocket: TLSSocket): X509Certificate | undefined {
  const raw = tlsSocket.getPeerCertificate(false)?.raw;
  return raw ? new X509Certificate(raw) : undefined;
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
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
  // No server push: nothing here uses it, and a PUSH_PROMISE whose header block fails to decode crashed
  // node:http2 (an uncaught NghttpError, found by the fuzzer).
  const settings: http2.Settings = extension
    ? { enablePush: false, customSettings: { [id]: 1 }, maxFrameSize: Math.max(16384, (options.maxAuthenticatorSize ?? 64 * 1024) + 1024) }
    : { enablePush: false };
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
    ...(options.requestOCSP ? { requestOCSP: true } : {}),
  });
  const connection = new SecondaryCertConnection(session, tlsSocket, splicer, { ...options, origin: target.origin });
  for (const e of extensions) e.attach(connection.extensionContext(), connection);
  return connection;
}

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}
