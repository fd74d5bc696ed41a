import type { CryptoProvider } from '../crypto/provider.js';
import type { ConnectionState } from '../ea/index.js';
import type { AuthenticatorKeys, Role } from '../exporter/keys.js';
import type { ConnectionExtension } from '../http/extension.js';
import type { H3ConnectionError } from '../errors.js';
import type { H3Profile } from './profile.js';
import type { H3Session } from './session.js';

// The surface an HTTP/3 connection (client or server) offers to extensions such as the client-certificate
// flow, the twin of ../h2/extension.ts: settings of their own in our one SETTINGS frame, the peer's SETTINGS,
// the extension frames of the peer's control stream, frames of their own on ours, the connection's RFC 9261
// keys and state, and ending or retiring the connection. It never hands out the session itself.

/** What an HTTP/3 connection offers an extension. */
export interface H3ExtensionContext {
  readonly role: Role;
  readonly profile: H3Profile;
  readonly crypto: CryptoProvider;
  /** Client: the origin the connection was opened for. Server: https:// and the SNI name. */
  readonly origin: string;
  /** RFC 9261 contexts of the connection, shared by every authenticator flow on it. */
  readonly state: ConnectionState;
  /** Closed, failed or retired: takes no new work. */
  readonly closed: boolean;
  /** The peer's SETTINGS, once they arrived (HTTP/3 sends them once, first on the control stream). */
  readonly peerSettings: ReadonlyMap<number, number> | undefined;
  /** The connection's exporter keys for RFC 9261. */
  keys(): AuthenticatorKeys;
  /** The peer's certificate chain from the TLS handshake, leaf first (empty if it gave none). */
  peerCertificateChain(): Uint8Array[];
  /** The peer's SETTINGS frame, once it arrives. */
  onPeerSettings(listener: (settings: ReadonlyMap<number, number>) => void): void;
  /**
   * Each extension frame on the peer's control stream (SERVER_CERTIFICATE, AUTHENTICATOR_REQUESTS,
   * CLIENT_CERTIFICATE), already checked against the stream rules (which side may send which).
   */
  onFrame(listener: (type: number, payload: Uint8Array) => void): void;
  onClose(listener: () => void): void;
  /** Writes a whole frame on our control stream (throws H3ConnectionError once the connection is closed). */
  sendFrame(frame: Uint8Array): void;
  /** A connection error: CONNECTION_CLOSE with the code (RFC 9114 section 8). */
  fail(error: H3ConnectionError): void;
  /** A graceful end: no new requests go on the connection, those in flight finish, then it closes. */
  retire(): void;
}

/** An HTTP/3 extension: the settings it adds to ours, and what it does per connection. */
export interface H3Extension<Connection = unknown> extends ConnectionExtension<H3ExtensionContext, Connection> {
  /**
   * Settings of the extension's own for an endpoint of `role`. HTTP/3 sends SETTINGS once, at the start of
   * the control stream (RFC 9114 section 7.2.4), so they are asked for before the connection starts.
   */
  settings(profile: H3Profile, role: Role): ReadonlyMap<number, number>;
}

/** The settings of every extension, merged (a later one wins for the same id). */
export function extensionSettings(extensions: readonly H3Extension<never>[], profile: H3Profile, role: Role): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of extensions) for (const [id, value] of e.settings(profile, role)) out.set(id, value);
  return out;
}

/** What a connection class supplies to build its context. */
export interface H3ContextParts {
  crypto: CryptoProvider;
  origin: string;
  state: ConnectionState;
  session: H3Session;
  isClosed(): boolean;
  retire(): void;
}

/** The context for one connection. */
export function h3ExtensionContext(parts: H3ContextParts): H3ExtensionContext {
  const { session } = parts;
  const closed = (): boolean => session.closed || parts.isClosed();
  return {
    role: session.role,
    profile: session.profile,
    crypto: parts.crypto,
    origin: parts.origin,
    state: parts.state,
    get closed() {
      return closed();
    },
    get peerSettings() {
      return session.peerSettings;
    },
    keys: () => session.transport.keys,
    peerCertificateChain: () => session.transport.peerCertificates(),
    onPeerSettings: (listener) => void session.on('settings', listener),
    onFrame: (listener) => void session.on('extensionFrame', listener),
    onClose: (listener) => void session.once('close', listener),
    sendFrame: (frame) => session.sendControlFrame(frame),
    fail: (error) => session.fail(error),
    retire: () => {
      if (!closed()) parts.retire();
    },
  };
}
