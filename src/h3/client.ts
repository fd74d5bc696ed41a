import { X509Certificate } from 'node:crypto';
import { addressOf } from '../http/authority.js';
import { ClientConnectionBase, type ClientConnectionOptions } from '../http/client-connection.js';
import { debug, debugging } from '../debug.js';
import { BodyTooLarge, RequestTimeout, SecondaryCertsError, UnsupportedScheme, H3ConnectionClosed, H3ConnectionError, H3ErrorCode, H3StreamError } from '../errors.js';
import { derToPem } from '../pki/identity.js';
import { serverNameMismatch } from '../pki/certificate-names.js';
import type { CertificateEvent } from '../pki/accept-chain.js';
import { parseServerCertificate } from './wire/certificates.js';
import { DEFAULT_H3_PROFILE, type H3Profile } from './profile.js';
import { defaultCrypto } from '../crypto/index.js';
import { H3Session, type H3Message } from './session.js';
import { extensionSettings, h3ExtensionContext, type H3Extension, type H3ExtensionContext } from './extension.js';
import { connectQuic, StreamResetByPeer } from './transport/index.js';
import type { TransportClose, TransportConnection } from './transport/transport.js';

// The client half of draft-ietf-httpbis-secondary-server-certs over HTTP/3: it advertises
// SETTINGS_HTTP_SERVER_CERT_AUTH, validates each SERVER_CERTIFICATE from the server's control stream
// (RFC 9261, then the certificate policy), and answers which origins the connection may carry, with the
// same rules as HTTP/2 (src/http/authority.ts).

/** The options of connectH3(); ca, crypto, lookup, maxCertificates, connectAddress and now are the same for HTTP/2. */
export interface H3ClientOptions extends ClientConnectionOptions {
  /** Advertise and use the extension (default true). False gives a plain HTTP/3 client. */
  extension?: boolean;
  profile?: H3Profile;
  /**
   * Features plugged into the connection (e.g. client certificates, from secondary-certs/client-auth).
   * They run with the extension, so they are left out when `extension` is false.
   */
  extensions?: readonly H3Extension<H3SecondaryCertConnection>[];
  /** Largest SERVER_CERTIFICATE accepted (default 64 KiB); larger is H3_EXCESSIVE_LOAD. */
  maxAuthenticatorSize?: number;
  /** Largest response body kept in memory (default 64 MiB). */
  maxBodySize?: number;
  /** A request with no response for this long fails with ERR_REQUEST_TIMEOUT (default 30 s). */
  requestTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Give up on the QUIC handshake after this long (default 10 s): ERR_QUIC_CONNECT_TIMEOUT. */
  connectTimeoutMs?: number;
  /**
   * Session tickets by server (`host:port`): given, the server's ticket is kept here and a later
   * connection resumes with it (one round trip less for the TLS handshake, none for keys).
   */
  sessionTickets?: Map<string, Uint8Array>;
  /**
   * Send early data (0-RTT) when resuming with a ticket from `sessionTickets` (default false). Only GET and
   * HEAD requests for the connection's own origin go in early data; every other request, OPTIONS * and
   * anything that involves an authenticator waits for the handshake (spec-notes: 0-RTT).
   */
  earlyData?: boolean;
}

export interface H3RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** The :path to send instead of the URL's (e.g. '*' for OPTIONS *, RFC 9110 section 9.3.7). */
  path?: string;
  /** This request's own timeout (default: the connection's requestTimeoutMs). */
  timeoutMs?: number;
  /** This request's own largest response body (default: the connection's maxBodySize). */
  maxBodySize?: number;
}

export interface H3Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What became of a SERVER_CERTIFICATE that validated (the same event as HTTP/2's). */
export type H3CertificateEvent = CertificateEvent;

/** The events of an H3SecondaryCertConnection and their listeners' arguments. */
export interface H3ConnectionEvents {
  negotiated: [];
  certificate: [event: H3CertificateEvent];
  protocolError: [error: H3ConnectionError];
  close: [info: TransportClose];
}

/**
 * One HTTP/3 connection with the extension. Events: 'negotiated', 'certificate' (H3CertificateEvent),
 * 'protocolError' (H3ConnectionError), 'close' (TransportClose).
 */
export class H3SecondaryCertConnection extends ClientConnectionBase<H3ConnectionEvents> {
  /** How the connection ended, once it has. */
  closeInfo: TransportClose | undefined;
  /** Retired (see retire()): takes no new requests, closes once those in flight are done. */
  private retired = false;
  private inFlight = 0;

  constructor(
    readonly session: H3Session,
    origin: string,
    private readonly options: H3ClientOptions,
  ) {
    const leaf = session.transport.peerCertificates()[0];
    super({
      origin,
      role: 'h3',
      options,
      tlsLeaf: leaf ? new X509Certificate(leaf) : undefined,
      keys: () => session.transport.keys,
      negotiated: () => session.negotiated,
      peerAddress: () => session.transport.remoteAddress,
      // After GOAWAY the server takes no new requests here (RFC 9114 section 5.2).
      refusesRequests: () => session.goawayId !== undefined,
    });
    session.on('negotiated', () => this.emit('negotiated'));
    session.on('protocolError', (e: H3ConnectionError) => this.emit('protocolError', e));
    session.on('extensionFrame', (type: number, payload: Uint8Array) => this.onExtensionFrame(type, payload));
    session.on('origin', (origins: string[]) => this.addOrigins(origins));
    session.on('close', (info: TransportClose) => {
      this.closed = true;
      this.closeInfo = info;
      this.emit('close', info);
    });
  }

  get transport(): TransportConnection {
    return this.session.transport;
  }

  private onExtensionFrame(type: number, payload: Uint8Array): void {
    if (type !== this.session.profile.frames.SERVER_CERTIFICATE) return;
    const frame = `SERVER_CERTIFICATE (0x${type.toString(16)}), length ${payload.length}`;
    // Not negotiated (the server did not send SETTINGS_HTTP_SERVER_CERT_AUTH = 1, which comes first on its
    // control stream): a connection error (rosomakho-00 section 4.2; spec-notes, choice H4).
    if (!this.negotiated) {
      if (debugging) debug('h3 client %s: %s: the extension is not negotiated, closing', this.origin, frame);
      this.session.fail(new H3ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, 'SERVER_CERTIFICATE, but the server did not send SETTINGS_HTTP_SERVER_CERT_AUTH = 1'));
      return;
    }
    let authenticator: Uint8Array;
    try {
      ({ authenticator } = parseServerCertificate(payload, { profile: this.session.profile, maxAuthenticatorSize: this.options.maxAuthenticatorSize ?? 64 * 1024 }));
    } catch (e) {
      if (debugging) debug('h3 client %s: %s: malformed, closing: %s', this.origin, frame, String(e));
      this.session.fail(e instanceof H3ConnectionError ? e : new H3ConnectionError(H3ErrorCode.H3_FRAME_ERROR, String(e)));
      return;
    }
    this.receiveAuthenticator(authenticator, frame);
  }

  protected certificateInvalid(message: string, cause: unknown): void {
    this.session.fail(new H3ConnectionError(this.session.profile.errors.SERVER_CERTIFICATE_INVALID, message, { cause }));
  }

  /** The surface extensions get (see ./extension.ts); connectH3() hands it to each of `options.extensions`. */
  extensionContext(): H3ExtensionContext {
    return h3ExtensionContext({
      crypto: this.options.crypto ?? defaultCrypto(),
      origin: this.origin,
      state: this.state,
      session: this.session,
      isClosed: () => this.closed,
      retire: () => this.retire(),
    });
  }

  /**
   * A graceful end from our side: no new requests (the connection reports closed, so pools skip it),
   * those in flight finish, then it closes with H3_NO_ERROR.
   */
  retire(): void {
    if (this.closed) return;
    this.retired = true;
    this.closed = true;
    if (this.inFlight === 0) void this.session.close();
  }

  /** Sends one request on a new stream and collects the whole response. */
  async request(url: string | URL, init: H3RequestInit = {}): Promise<H3Response> {
    this.inFlight++;
    try {
      return await this.requestOnce(url, init);
    } finally {
      this.inFlight--;
      if (this.retired && this.inFlight === 0) void this.session.close();
    }
  }

  private async requestOnce(url: string | URL, init: H3RequestInit): Promise<H3Response> {
    const target = new URL(url);
    if (this.retired) throw new H3ConnectionClosed(this.closeInfo, undefined, 'the connection was retired');
    if (this.closed || this.session.goawayId !== undefined) throw new H3ConnectionClosed(this.closeInfo, undefined, this.closed ? undefined : 'the server sent GOAWAY');
    const fields = [
      { name: ':method', value: init.method ?? 'GET' },
      { name: ':scheme', value: 'https' },
      { name: ':authority', value: target.host },
      { name: ':path', value: init.path ?? `${target.pathname}${target.search}` },
      ...Object.entries(init.headers ?? {}).map(([name, value]) => ({ name: name.toLowerCase(), value: String(value) })),
    ];
    // Before a stream is opened: a header section the server would refuse is not sent at all.
    const headersFrame = this.session.headersFrame(fields);
    // Early data may be replayed and comes before any authenticator: only safe requests for the origin
    // the TLS certificate proves go in it.
    const method = init.method ?? 'GET';
    if (this.transport.inEarlyData && !((method === 'GET' || method === 'HEAD') && target.origin === this.origin)) {
      if (!(await this.transport.handshake)) throw new H3ConnectionClosed(this.closeInfo, undefined, 'the connection closed before its handshake was done');
    }
    const stream = await this.transport.openStreamWhenAllowed('bidi', this.options.requestTimeoutMs ?? 30_000);
    const writer = stream.writable!.getWriter();
    const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    const sent = (async () => {
      for (const part of H3Session.withData(headersFrame, body ?? new Uint8Array(0))) await writer.write(part);
      await writer.close();
    })().catch((e: unknown) => {
      // A server that answers without the rest of the body stops it with H3_NO_ERROR; its complete
      // response stands (RFC 9114 section 4.1).
      if (e instanceof StreamResetByPeer && e.wireCode === H3ErrorCode.H3_NO_ERROR) return read.then(() => undefined);
      throw e;
    });
    const maxBody = init.maxBodySize ?? this.options.maxBodySize ?? 64 * 1024 * 1024;
    let head: H3Message | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const timeoutMs = init.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        stream.abort(H3ErrorCode.H3_REQUEST_CANCELLED);
        reject(new RequestTimeout(`no response from ${target.origin} in ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const read = this.session.readMessage(stream.readable!, {
      headers: (m, interim) => {
        if (!interim) head = m;
      },
      data: (chunk) => {
        size += chunk.length;
        if (size > maxBody) throw new BodyTooLarge(`response body larger than ${maxBody} bytes`);
        chunks.push(Buffer.from(chunk));
      },
    });
    try {
      await Promise.race([Promise.all([read, sent]), timeout]);
    } catch (e) {
      if (e instanceof H3ConnectionError) this.session.fail(e);
      else if (e instanceof H3StreamError) stream.abort(e.wireCode);
      else stream.abort(H3ErrorCode.H3_REQUEST_CANCELLED);
      if (this.closed && !(e instanceof SecondaryCertsError)) throw new H3ConnectionClosed(this.closeInfo, e);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return { status: Number(head!.pseudo[':status']), headers: head!.headers, body: Buffer.concat(chunks) };
  }

  close(): Promise<void> {
    return this.session.close();
  }

  /** Resolves once the server's SETTINGS arrived. */
  settingsReceived(): Promise<void> {
    if (this.session.peerSettings !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.session.once('settings', () => resolve()));
  }
}



/**
 * Opens an HTTP/3 connection to `url` (an https URL) with the extension unless `options.extension` is
 * false. Resolves once QUIC is up and our control stream is sent; SETTINGS and certificates follow
 * ('negotiated' and 'certificate' events).
 */
export async function connectH3(url: string | URL, options: H3ClientOptions): Promise<H3SecondaryCertConnection> {
  const target = new URL(url);
  if (target.protocol !== 'https:') throw new UnsupportedScheme(`connectH3() speaks https only, not ${target.protocol} (${target.origin})`);
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const port = Number(target.port || 443);
  const ticketKey = `${host}:${port}`;
  const ticket = options.sessionTickets?.get(ticketKey);
  const transport = await connectQuic({
    host: options.connectAddress ?? (await addressOf(host, options.lookup)),
    port,
    servername: host,
    ca: options.ca.map((c) => (typeof c === 'string' ? c : derToPem(c))).join('\n'),
    ...(options.crypto ? { crypto: options.crypto } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.connectTimeoutMs !== undefined ? { timeoutMs: options.connectTimeoutMs } : {}),
    ...(ticket ? { session: ticket, earlyData: options.earlyData ?? false } : {}),
    ...(options.sessionTickets ? { onSession: (t: Uint8Array) => options.sessionTickets!.set(ticketKey, t) } : {}),
  });
  // The QUIC stack checked the chain; the name is checked by the same rule as HTTP/2's handshake.
  const mismatch = serverNameMismatch(transport.peerCertificates()[0], host);
  if (mismatch) {
    // The transport finishes starting in a queued task; closed before that, it hangs until the idle timeout.
    await new Promise((resolve) => setImmediate(resolve));
    await transport.close(H3ErrorCode.H3_NO_ERROR, 'the server certificate does not cover the host');
    throw mismatch;
  }
  const extension = options.extension ?? true;
  const extensions = extension ? (options.extensions ?? []) : [];
  const session = new H3Session(transport, {
    extension,
    settings: extensionSettings(extensions, options.profile ?? DEFAULT_H3_PROFILE, 'client'),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.maxAuthenticatorSize !== undefined ? { maxAuthenticatorSize: options.maxAuthenticatorSize } : {}),
  });
  const connection = new H3SecondaryCertConnection(session, target.origin, options);
  for (const e of extensions) e.attach(connection.extensionContext(), connection);
  session.start();
  return connection;
}
