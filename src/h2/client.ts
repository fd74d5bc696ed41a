import * as http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { addressOf } from '../http/authority.js';
import { ClientConnectionBase, type ClientConnectionOptions } from '../http/client-connection.js';
import { debug, debugging } from '../debug.js';
import { UnsupportedScheme } from '../errors.js';
import { keysFromTlsSocket } from '../exporter/tls-socket.js';
import type { CertificateEvent } from '../pki/accept-chain.js';
import { derToPem } from '../pki/identity.js';
import { normalizeHost } from '../pki/names.js';
import type { FrameHeader } from './wire/frame-header.js';
import { closeWithError } from './node/close.js';
import { H2ConnectionError, H2ErrorCode } from './errors.js';
import { parseServerCertificate } from './wire/server-certificate.js';
import { DEFAULT_PROFILE, type H2Profile } from './profile.js';
import { CertAuthSetting } from './settings.js';
import { connectSpliced, type FrameSplicer } from './node/spliced-session.js';
import { ClientAuthConnection, type ClientAuthOptions } from '../flows/client-auth/client.js';

// The client half of draft-ietf-httpbis-secondary-server-certs over HTTP/2: it advertises
// SETTINGS_HTTP_SERVER_CERT_AUTH, validates each SERVER_CERTIFICATE (RFC 9261, then the certificate
// policy), and answers which origins the connection is authoritative for (RFC 9110 section 4.3, the
// draft's section 7.1, RFC 8336).

export { defaultLookup, type Lookup, type AuthorityAnswer } from '../http/authority.js';

/** The options of connect(); ca, crypto, lookup, maxCertificates, connectAddress and now are the same for HTTP/3. */
export interface ClientOptions extends ClientConnectionOptions {
  /** Advertise and use the extension (default true). False gives a plain HTTP/2 client. */
  extension?: boolean;
  profile?: H2Profile;
  /** Largest SERVER_CERTIFICATE accepted (default 64 KiB); larger is ENHANCE_YOUR_CALM. */
  maxAuthenticatorSize?: number;
  /** Set by `connect`: the origin the connection was opened for. */
  origin?: string;
  /** Answer servers that ask for a client certificate at the HTTP layer (issue 4); needs the extension. */
  clientAuth?: ClientAuthOptions;
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
export class SecondaryCertConnection extends ClientConnectionBase<ConnectionEvents> {
  /** Client certificates asked for by the server, when `clientAuth` was given. */
  clientAuth: ClientAuthConnection | undefined;

  private readonly setting: CertAuthSetting;
  private readonly profile: H2Profile;

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
      tlsLeaf: tlsSocket.getPeerX509Certificate(),
      keys: () => keysFromTlsSocket(tlsSocket),
      negotiated: () => setting.active,
      peerAddress: () => tlsSocket.remoteAddress,
    });
    this.profile = profile;
    this.setting = setting;
    if (splicer) this.setting.send(1);
    session.on('origin', (origins: string[]) => this.addOrigins(origins));
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

  private onPeerSettings(settings: Map<number, number>): void {
    this.setting.receiveFromPeer(settings, { name: `h2 client ${this.origin}`, peer: 'server', negotiated: () => this.emit('negotiated'), refused: (e) => this.fail(e) });
  }

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    if (header.type !== this.profile.frames.SERVER_CERTIFICATE) return;
    const frame = `received SERVER_CERTIFICATE (0x${header.type.toString(16)}), length ${header.length}`;
    // Not negotiated: the frame means nothing to us, and is ignored.
    if (!this.setting.active) {
      if (debugging) debug('h2 client %s: %s: ignored, the extension is not negotiated', this.origin, frame);
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
    closeWithError(this.session, error.h2Code);
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
  const settings: http2.Settings = extension
    ? { customSettings: { [id]: 1 }, maxFrameSize: Math.max(16384, (options.maxAuthenticatorSize ?? 64 * 1024) + 1024) }
    : {};
  const clientAuth = extension ? options.clientAuth : undefined;
  const interceptTypes = new Set(extension ? [profile.frames.SERVER_CERTIFICATE, ...(clientAuth ? ClientAuthConnection.interceptTypes(profile) : [])] : []);
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
  if (clientAuth) connection.clientAuth = new ClientAuthConnection(connection, clientAuth, profile);
  return connection;
}

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}
