import type { Http2Session, Http2Stream, IncomingHttpHeaders, Settings, ClientHttp2Session } from 'node:http2';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { CryptoProvider } from '../crypto/provider.js';
import type { ConnectionState } from '../ea/index.js';
import type { AuthenticatorKeys, Role } from '../exporter/keys.js';
import { keysFromTlsSocket } from '../exporter/tls-socket.js';
import type { ConnectionExtension } from '../http/extension.js';
import type { H2ConnectionError } from '../errors.js';
import type { FrameSplicer } from './node/splicer.js';
import type { H2Profile } from './profile.js';
import type { FrameHeader } from './wire/frame-header.js';

// The surface an HTTP/2 connection (client or server) offers to extensions such as the client-certificate
// flows: the frames they asked to intercept, the peer's SETTINGS, the streams, frames and SETTINGS of
// their own, the connection's RFC 9261 keys and state, and ending the connection. An extension gets it
// through `attach`; it never reaches into the session, the splicer or the TLS socket.

/** What an HTTP/2 connection offers an extension. */
export interface H2ExtensionContext {
  readonly role: Role;
  readonly profile: H2Profile;
  readonly crypto: CryptoProvider;
  /** Client: the origin the connection was opened for. Server: https:// and the SNI name. */
  readonly origin: string;
  /** RFC 9261 contexts of the connection, shared by every authenticator flow on it. */
  readonly state: ConnectionState;
  /** Closed, failed or retired: takes no new work. */
  readonly closed: boolean;
  /** The TLS version ('TLSv1.3', ...); exported authenticators need TLS 1.3. */
  readonly tlsProtocol: string | null;
  /** The SNI name of the TLS connection, if any. */
  readonly servername: string | undefined;
  /** The connection's exporter keys for RFC 9261. */
  keys(): AuthenticatorKeys;
  /** A TLS exporter value (RFC 8446 section 7.5) with an empty context. */
  exportKeyingMaterial(length: number, label: string): Uint8Array;
  /** The peer's certificate chain from the TLS handshake, leaf first (empty if it gave none). */
  peerCertificateChain(): Uint8Array[];
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  peerMaxFrameSize(): number;
  /** Each inbound frame of the types the extension intercepts (`H2Extension.frameTypes`). */
  onFrame(listener: (header: FrameHeader, payload: Uint8Array) => void): void;
  /** Each SETTINGS frame from the peer. */
  onPeerSettings(listener: (settings: ReadonlyMap<number, number>) => void): void;
  /**
   * Each stream: on a client, every request once its id is known, with the headers it sent; on a server,
   * every stream the peer opens, before the application's 'stream' listeners.
   */
  onStream(listener: (stream: Http2Stream, headers: IncomingHttpHeaders) => void): void;
  onClose(listener: () => void): void;
  /** Sends a frame on stream 0 (throws ERR_FRAME_TOO_LARGE beyond the peer's maximum). */
  sendFrame(type: number, flags: number, payload: Uint8Array): void;
  /**
   * Sends SETTINGS of the extension's own, in a frame of their own; `onSent` runs once that frame is on
   * the wire, so that frames sent from then on cannot overtake it.
   */
  sendSettings(settings: Settings, onSent: () => void): void;
  /** A connection error: the connection's 'protocolError', then GOAWAY with the code and close. */
  fail(error: H2ConnectionError): void;
  /** A graceful close: no new requests go on the connection, those in flight finish. */
  retire(): void;
}

/** An HTTP/2 extension: the frame types it takes out of the inbound stream, and what it does per connection. */
export interface H2Extension<Connection = unknown> extends ConnectionExtension<H2ExtensionContext, Connection> {
  frameTypes(profile: H2Profile): readonly number[];
}

/** The frame types to intercept for `extensions`. */
export function extensionFrameTypes(extensions: readonly H2Extension<never>[], profile: H2Profile): number[] {
  return extensions.flatMap((e) => [...e.frameTypes(profile)]);
}

/** What a connection class supplies to build its context. */
export interface H2ContextParts {
  role: Role;
  profile: H2Profile;
  crypto: CryptoProvider;
  origin: string;
  state: ConnectionState;
  session: Http2Session;
  splicer: FrameSplicer;
  tlsSocket: TLSSocket;
  isClosed(): boolean;
  fail(error: H2ConnectionError): void;
  retire(): void;
}

/** The context for one spliced connection. */
export function h2ExtensionContext(parts: H2ContextParts): H2ExtensionContext {
  const { session, splicer, tlsSocket } = parts;
  let keys: AuthenticatorKeys | undefined;
  const streamListeners: ((stream: Http2Stream, headers: IncomingHttpHeaders) => void)[] = [];
  let failed = false;
  const closed = (): boolean => failed || parts.isClosed() || session.destroyed;
  return {
    role: parts.role,
    profile: parts.profile,
    crypto: parts.crypto,
    origin: parts.origin,
    state: parts.state,
    get closed() {
      return closed();
    },
    get tlsProtocol() {
      return tlsSocket.getProtocol?.() ?? null;
    },
    get servername() {
      return tlsSocket.servername || undefined;
    },
    keys: () => (keys ??= keysFromTlsSocket(tlsSocket)),
    exportKeyingMaterial: (length, label) => new Uint8Array(tlsSocket.exportKeyingMaterial(length, label, Buffer.alloc(0))),
    peerCertificateChain: () => tlsChain(tlsSocket.getPeerCertificate(true)),
    peerMaxFrameSize: () => splicer.peerMaxFrameSize,
    onFrame: (listener) => void splicer.on('frame', listener),
    onPeerSettings: (listener) => void splicer.on('peerSettings', listener),
    onStream: (listener) => {
      if (streamListeners.length === 0) watchStreams(parts.role, session, (stream, headers) => streamListeners.forEach((l) => l(stream, headers)));
      streamListeners.push(listener);
    },
    onClose: (listener) => void session.once('close', listener),
    sendFrame: (type, flags, payload) => splicer.sendFrame(type, flags, 0, payload),
    sendSettings: (settings, onSent) => sendSettings(session, splicer, settings, onSent),
    fail: (error) => {
      if (closed()) return;
      failed = true;
      parts.fail(error);
    },
    retire: () => {
      if (!closed()) parts.retire();
    },
  };
}

function watchStreams(role: Role, session: Http2Session, emit: (stream: Http2Stream, headers: IncomingHttpHeaders) => void): void {
  if (role === 'server') {
    // Before the server's own 'stream' listener, so that a handler can use what the extension learned.
    session.prependListener('stream', emit);
    return;
  }
  // node:http2 tells a client nothing about its streams by id: wrap request() to learn each stream's id
  // (once its HEADERS went out), whoever calls it.
  const client = session as ClientHttp2Session;
  const request = client.request.bind(client);
  client.request = ((...args: Parameters<ClientHttp2Session['request']>) => {
    const stream = request(...args);
    const report = (): void => emit(stream, stream.sentHeaders as IncomingHttpHeaders);
    // On a connected session the id is given inside request() ('ready' has already fired).
    if (stream.id !== undefined) report();
    else stream.once('ready', report);
    return stream;
  }) as ClientHttp2Session['request'];
}

/**
 * SETTINGS in a frame of their own (after the session's first). The splicer reports the frame while it
 * scans the chunk that holds it, before writing that chunk: a frame sent from there would be written
 * ahead of the SETTINGS, so `onSent` waits until the chunk is out.
 */
function sendSettings(session: Http2Session, splicer: FrameSplicer, settings: Settings, onSent: () => void): void {
  const ids = Object.keys(settings.customSettings ?? {}).map(Number);
  const onLocal = (sent: Map<number, number>): void => {
    if (!ids.some((id) => sent.has(id))) return;
    splicer.off('localSettings', onLocal);
    queueMicrotask(onSent);
  };
  splicer.on('localSettings', onLocal);
  session.settings(settings);
}

/** The TLS peer's chain, leaf first, as Node links it (issuerCertificate, self-linked at the root). */
function tlsChain(peer: DetailedPeerCertificate | undefined): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = peer; c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    out.push(new Uint8Array(c.raw));
  }
  return out;
}
