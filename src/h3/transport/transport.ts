import type { AuthenticatorKeys } from '../../exporter/keys.js';

// The QUIC transport HTTP/3 needs, and no more: streams both ways, a connection close with an
// application error code, the peer's certificate chain and the RFC 9261 exporter values. The HTTP/3
// layer (src/h3/session.ts) knows only this interface, so another QUIC stack (node:quic when Node ships
// it) replaces our endpoint over quiche (src/h3/transport/quiche) by implementing it.

/** One QUIC stream. A local unidirectional stream has no `readable`; a peer's has no `writable`. */
export interface TransportStream {
  /** The QUIC stream id: its two low bits say who opened it and whether it is unidirectional. */
  readonly id: number;
  readonly bidirectional: boolean;
  /** True when this endpoint opened the stream. */
  readonly local: boolean;
  readonly readable?: ReadableStream<Uint8Array>;
  readonly writable?: WritableStream<Uint8Array>;
  /**
   * Abandons the stream in both directions with an HTTP/3 error code (RESET_STREAM and STOP_SENDING,
   * RFC 9114 section 4.1.1). Never throws; later reads and writes fail.
   */
  abort(code: number): void;
  /**
   * Stops reading only (STOP_SENDING with `code`): the peer should stop sending, our writes go on. A
   * server that has answered without the rest of a request uses it with H3_NO_ERROR (RFC 9114 section
   * 4.1). Never throws; later reads fail.
   */
  stopSending(code: number): void;
}

/** How a connection ended. */
export interface TransportClose {
  /** Who closed it: 'local', 'peer', or 'idle' for the idle timeout. */
  readonly by: 'local' | 'peer' | 'idle';
  /** True for an application (HTTP/3) error code, false for a QUIC transport code. */
  readonly app: boolean;
  readonly code: number;
  readonly reason: string;
}

export interface TransportConnection {
  readonly role: 'client' | 'server';
  /** The negotiated ALPN protocol ('h3'). */
  readonly alpnProtocol: string;
  /** The server name the client sent (SNI), when there was one. */
  readonly servername: string | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** The peer's certificate chain in DER, leaf first; empty when the peer sent none. */
  peerCertificates(): Uint8Array[];
  /**
   * The RFC 9261 exporter values of this connection (TLS 1.3): known once the handshake is done, which
   * is before the connection is handed over, except for a connection handed over in early data.
   */
  readonly keys: AuthenticatorKeys;
  /**
   * True while the connection carries early data (0-RTT, opted into on both ends): the handshake is not
   * done, so nothing may depend on `keys`, and what is sent may be replayed (RFC 8446 section 8).
   */
  readonly inEarlyData: boolean;
  /** Resolves true once the handshake is done and `keys` known, false if the connection closed first. */
  readonly handshake: Promise<boolean>;
  /**
   * Opens a stream of our own. Throws TransportClosed when the connection is closing or closed, and
   * StreamLimitReached when the peer's MAX_STREAMS allows no more for now.
   */
  openStream(kind: 'bidi' | 'uni'): TransportStream;
  /** Opens a stream once the peer's MAX_STREAMS allows one, waiting up to `timeoutMs` (then StreamLimitReached). */
  openStreamWhenAllowed(kind: 'bidi' | 'uni', timeoutMs: number): Promise<TransportStream>;
  /**
   * Sets the one listener for streams the peer opens, and hands it at once every stream that arrived
   * before it was set (a peer's control stream often comes with the handshake's last flight).
   */
  onStream(listener: (stream: TransportStream) => void): void;
  /** Closes with an HTTP/3 application error code; resolves once closed. Idempotent. */
  close(code: number, reason?: string): Promise<void>;
  /** Datagrams sent, received and declared lost so far, for diagnostics and benchmarks. */
  stats(): { sent: number; received: number; lost: number };
  /** True from the moment the connection starts to close, by either side (before `closed` resolves). */
  readonly closing: boolean;
  /** Resolves (never rejects) when the connection has closed, however it ended. */
  readonly closed: Promise<TransportClose>;
}

/** A listening QUIC endpoint that hands over each connection once its handshake is done. */
export interface TransportServer {
  readonly port: number;
  readonly host: string;
  onConnection(listener: (connection: TransportConnection) => void): void;
  /** Closes every connection with `code` and stops listening. */
  close(code?: number): Promise<void>;
}
