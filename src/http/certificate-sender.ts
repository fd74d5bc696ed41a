import type { EventEmitter } from 'node:events';
import type { CryptoProvider } from '../crypto/provider.js';
import { debug, debugging } from '../debug.js';
import { ConnectionState, createAuthenticator } from '../ea/index.js';
import { SecondaryCertsError } from '../errors.js';
import type { AuthenticatorKeys } from '../exporter/keys.js';
import { certificateCovers } from '../pki/certificate-names.js';
import { identityEntryExtensions, type LoadedIdentity } from '../pki/identity.js';

// What a server does to prove its secondary identities on one connection, the same over HTTP/2 and
// HTTP/3: one authenticator at a time, in the order asked for, made with the connection's keys and
// contexts; never larger than the client takes; each outcome reported. The protocol writes the frame.

/** An identity proven on a connection. */
export interface CertificateSentEvent<Connection> {
  connection: Connection;
  names: string[];
  /** Bytes the protocol wrote for it. */
  bytes: number;
}

/** An identity that could not be proven on a connection, and why. */
export interface CertificateNotSentEvent<Connection> {
  connection: Connection;
  names: string[];
  reason: string;
}

/** The events of a server connection, whatever the protocol; `ConnectionError` is the protocol's. */
export interface ServerConnectionEventsOf<Connection, ConnectionError> {
  /** Both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1. */
  negotiated: [];
  certificateSent: [event: CertificateSentEvent<Connection>];
  certificateNotSent: [event: CertificateNotSentEvent<Connection>];
  /** The connection was closed for it. */
  protocolError: [error: ConnectionError];
}

/** The events of a server: those of every connection, with the connection. */
export interface ServerEventsOf<Connection, ConnectionError> {
  connection: [connection: Connection];
  negotiated: [connection: Connection];
  certificateSent: [event: CertificateSentEvent<Connection>];
  certificateNotSent: [event: CertificateNotSentEvent<Connection>];
  protocolError: [error: ConnectionError, connection: Connection];
}

export interface CertificateSenderHooks<Connection> {
  /** The connection, as the events carry it. */
  connection: Connection;
  crypto: CryptoProvider;
  /** The frame type the authenticator goes in, for the debug log. */
  frameType: number;
  /** Who sends, for the debug log (e.g. "h2 server 127.0.0.1:4433"). */
  name(): string;
  /** The connection's RFC 9261 keys. */
  keys(): AuthenticatorKeys;
  negotiated(): boolean;
  closed(): boolean;
  /** The largest authenticator the client takes, and what sets that bound (for the reason). */
  maxSize(): { bytes: number; what: string };
  /**
   * CertificateEntry extension types the client's TLS ClientHello offered: a spontaneous authenticator may
   * staple only those (RFC 9261 section 5.2.1). Default none.
   */
  offeredEntryExtensions?(): readonly number[];
  /** Sends the authenticator in the protocol's frame; returns the bytes written. */
  write(authenticator: Uint8Array): number;
  /** Where 'certificateSent' and 'certificateNotSent' are emitted: the connection, then its server. */
  emitters: readonly EventEmitter[];
  /** RFC 9261 contexts the connection remembers before refusing more (default ConnectionState.MAX_CONTEXTS). */
  maxContexts?: number;
}

export class CertificateSender<Connection> {
  /** RFC 9261 contexts of the connection, shared by every authenticator flow on it (frames, OPTIONS *). */
  readonly state: ConnectionState;
  /** Identities proven on the connection, in the order sent. */
  readonly sent: LoadedIdentity[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly hooks: CertificateSenderHooks<Connection>) {
    this.state = new ConnectionState('server', hooks.maxContexts);
  }

  /**
   * Proves `identity` with a spontaneous authenticator. Resolves false (with a 'certificateNotSent'
   * event saying why) when it cannot be sent: the feature is not negotiated, the connection is closed,
   * or the authenticator is larger than the client takes.
   */
  send(identity: LoadedIdentity): Promise<boolean> {
    // One at a time, so frames leave in the order asked for.
    const result = this.queue.then(() => this.sendNow(identity));
    this.queue = result.then(() => undefined);
    return result;
  }

  /** Sends every identity, in order (once the feature is negotiated). */
  sendEach(identities: readonly LoadedIdentity[]): void {
    for (const identity of identities) void this.send(identity);
  }

  /** Does an identity proven on the connection cover `host`? */
  covers(host: string): boolean {
    return this.sent.some((identity) => certificateCovers(identity.leaf, host));
  }

  private async sendNow(identity: LoadedIdentity): Promise<boolean> {
    const { hooks } = this;
    const notSent = (reason: string): boolean => {
      if (debugging) debug('%s: SERVER_CERTIFICATE for %s not sent: %s', hooks.name(), identity.names.join(', '), reason);
      const event: CertificateNotSentEvent<Connection> = { connection: hooks.connection, names: identity.names, reason };
      for (const emitter of hooks.emitters) emitter.emit('certificateNotSent', event);
      return false;
    };
    if (!hooks.negotiated()) return notSent('the client has not sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1');
    if (hooks.closed()) return notSent('the connection is closed');
    let bytes: number;
    let length: number;
    try {
      const entryExtensions = identityEntryExtensions(identity);
      const authenticator = await createAuthenticator({
        keys: hooks.keys(),
        creator: 'server',
        certificateChain: identity.chain,
        signer: identity.signer,
        state: this.state,
        crypto: hooks.crypto,
        ...(entryExtensions ? { entryExtensions, peerOfferedEntryExtensions: hooks.offeredEntryExtensions?.() ?? [] } : {}),
      });
      length = authenticator.length;
      const max = hooks.maxSize();
      if (length > max.bytes) return notSent(`the authenticator is ${length} bytes, more than ${max.what}`);
      bytes = hooks.write(authenticator);
    } catch (e) {
      return notSent(e instanceof SecondaryCertsError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e));
    }
    this.sent.push(identity);
    if (debugging) debug('%s: sent SERVER_CERTIFICATE (0x%s), length %d, for %s', hooks.name(), hooks.frameType.toString(16), length, identity.names.join(', '));
    const event: CertificateSentEvent<Connection> = { connection: hooks.connection, names: identity.names, bytes };
    for (const emitter of hooks.emitters) emitter.emit('certificateSent', event);
    return true;
  }
}
