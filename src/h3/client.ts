import { EventEmitter } from 'node:events';
import { concatBytes } from '../codec/writer.js';
import { X509Certificate } from 'node:crypto';
import { decideAuthority, defaultLookup, type AuthorityAnswer, type Lookup } from '../authority.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ConnectionState, validateAuthenticator } from '../ea/index.js';
import { RequestTimeout, SecondaryCertsError } from '../errors.js';
import { certificateCovers, derToPem } from '../identity.js';
import { CertificatePolicy, type AcceptedCertificate } from '../pki/policy.js';
import { acceptValidatedChain, type CertificateEvent } from '../pki/accept-chain.js';
import { H3ConnectionError, H3ErrorCode, H3StreamError } from './errors.js';
import { parseServerCertificate } from './frames/certificates.js';
import type { H3Profile } from './profile.js';
import { H3Session, type H3Message } from './session.js';
import { connectQuic } from './transport/index.js';
import type { TransportClose, TransportConnection } from './transport/transport.js';

// The client half of draft-ietf-httpbis-secondary-server-certs over HTTP/3: it advertises
// SETTINGS_HTTP_SERVER_CERT_AUTH, validates each SERVER_CERTIFICATE from the server's control stream
// (RFC 9261, then the certificate policy), and answers which origins the connection may carry, with the
// same rules as HTTP/2 (src/authority.ts).

export interface H3ClientOptions {
  /** Trust anchors (PEM text or DER) for the TLS certificate and for secondary certificates. */
  ca: ReadonlyArray<string | Uint8Array>;
  /** Advertise and use the extension (default true). False gives a plain HTTP/3 client. */
  extension?: boolean;
  profile?: H3Profile;
  crypto?: CryptoProvider;
  lookup?: Lookup;
  /** Secondary certificates kept per connection; more are ignored (default 32). */
  maxCertificates?: number;
  /** Largest SERVER_CERTIFICATE accepted (default 64 KiB); larger is H3_EXCESSIVE_LOAD. */
  maxAuthenticatorSize?: number;
  /** The address to connect to instead of resolving the URL's host (its name is still the SNI). */
  connectAddress?: string;
  now?: () => Date;
  /** Largest response body kept in memory (default 64 MiB). */
  maxBodySize?: number;
  /** A request with no response for this long fails with ERR_REQUEST_TIMEOUT (default 30 s). */
  requestTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Give up on the QUIC handshake after this long (default 10 s): ERR_QUIC_CONNECT_TIMEOUT. */
  connectTimeoutMs?: number;
}

export interface H3RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

export interface H3Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What became of a SERVER_CERTIFICATE that validated (the same event as HTTP/2's). */
export type H3CertificateEvent = CertificateEvent;

/**
 * One HTTP/3 connection with the extension. Events: 'negotiated', 'certificate' (H3CertificateEvent),
 * 'protocolError' (H3ConnectionError), 'close' (TransportClose).
 */
export class H3SecondaryCertConnection extends EventEmitter {
  readonly certificates: AcceptedCertificate[] = [];
  readonly excluded = new Set<string>();
  /** Origins from ORIGIN frames (RFC 9412); undefined until the first one arrives, and DNS decides until then. */
  originFrameSet: Set<string> | undefined;
  readonly state = new ConnectionState('client');
  closed = false;
  /** How the connection ended, once it has. */
  closeInfo: TransportClose | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly policy: CertificatePolicy;
  private readonly tlsLeaf: X509Certificate | undefined;

  constructor(
    readonly session: H3Session,
    readonly origin: string,
    private readonly options: H3ClientOptions,
  ) {
    super();
    this.policy = new CertificatePolicy({ trustAnchors: options.ca, role: 'server', ...(options.now ? { now: options.now } : {}) });
    const leaf = session.transport.peerCertificates()[0];
    this.tlsLeaf = leaf ? new X509Certificate(leaf) : undefined;
    session.on('negotiated', () => this.emit('negotiated'));
    session.on('protocolError', (e: H3ConnectionError) => this.emit('protocolError', e));
    session.on('extensionFrame', (type: number, payload: Uint8Array) => this.onExtensionFrame(type, payload));
    session.on('origin', (origins: string[]) => {
      // The Origin Set starts with the connection's own origin (RFC 8336 section 2.3), then grows.
      this.originFrameSet ??= new Set([this.origin]);
      for (const o of origins) this.originFrameSet.add(o);
    });
    session.on('close', (info: TransportClose) => {
      this.closed = true;
      this.closeInfo = info;
      this.emit('close', info);
    });
  }

  get transport(): TransportConnection {
    return this.session.transport;
  }

  get negotiated(): boolean {
    return this.session.negotiated;
  }

  get peerAddress(): string | undefined {
    return this.transport.remoteAddress;
  }

  /** Resolves once every SERVER_CERTIFICATE received so far has been processed. */
  settled(): Promise<void> {
    return this.queue;
  }

  private onExtensionFrame(type: number, payload: Uint8Array): void {
    if (type !== this.session.profile.frames.SERVER_CERTIFICATE) return;
    // Not negotiated: the frame means nothing to us (digest 2.3, our choice: ignore).
    if (!this.negotiated) return;
    let authenticator: Uint8Array;
    try {
      ({ authenticator } = parseServerCertificate(payload, { profile: this.session.profile, maxAuthenticatorSize: this.options.maxAuthenticatorSize ?? 64 * 1024 }));
    } catch (e) {
      this.session.fail(e instanceof H3ConnectionError ? e : new H3ConnectionError(H3ErrorCode.H3_FRAME_ERROR, String(e)));
      return;
    }
    this.queue = this.queue.then(() => this.onServerCertificate(authenticator));
  }

  private async onServerCertificate(authenticator: Uint8Array): Promise<void> {
    if (this.closed) return;
    let chain: Uint8Array[];
    try {
      ({ chain } = await validateAuthenticator({
        keys: this.transport.keys,
        creator: 'server',
        authenticator,
        state: this.state,
        ...(this.options.crypto ? { crypto: this.options.crypto } : {}),
      }));
    } catch (e) {
      // Every RFC 9261 failure is SERVER_CERTIFICATE_INVALID (draft section 6).
      const why = e instanceof SecondaryCertsError ? `${e.code}: ${e.message}` : String(e);
      this.session.fail(new H3ConnectionError(this.session.profile.errors.SERVER_CERTIFICATE_INVALID, `SERVER_CERTIFICATE does not validate (${why})`, { cause: e }));
      return;
    }
    await this.acceptChain(chain);
  }

  /** Applies the certificate policy to a validated chain; an unacceptable certificate is ignored, not an error (draft section 6.2). */
  async acceptChain(chain: Uint8Array[]): Promise<H3CertificateEvent> {
    return this.report(await acceptValidatedChain(this.policy, this.certificates, chain, this.options.maxCertificates ?? 32));
  }

  private report(event: H3CertificateEvent): H3CertificateEvent {
    this.emit('certificate', event);
    return event;
  }

  async authorityFor(origin: string | URL): Promise<AuthorityAnswer> {
    return decideAuthority(origin, {
      origin: this.origin,
      // After GOAWAY the server takes no new requests here (RFC 9114 section 5.2).
      closed: this.closed || this.session.goawayId !== undefined,
      excluded: this.excluded,
      originFrameSet: this.originFrameSet,
      coveredByTls: (host) => this.tlsLeaf !== undefined && certificateCovers(this.tlsLeaf, host),
      certificates: this.certificates,
      peerAddress: this.peerAddress,
      lookup: this.options.lookup ?? defaultLookup,
    });
  }

  /** Sends one request on a new stream and collects the whole response. */
  async request(url: string | URL, init: H3RequestInit = {}): Promise<H3Response> {
    const target = new URL(url);
    if (this.closed || this.session.goawayId !== undefined) throw new H3ConnectionClosed(this.closeInfo, undefined, this.closed ? undefined : 'the server sent GOAWAY');
    const fields = [
      { name: ':method', value: init.method ?? 'GET' },
      { name: ':scheme', value: 'https' },
      { name: ':authority', value: target.host },
      { name: ':path', value: `${target.pathname}${target.search}` },
      ...Object.entries(init.headers ?? {}).map(([name, value]) => ({ name: name.toLowerCase(), value: String(value) })),
    ];
    // Before a stream is opened: a header section the server would refuse is not sent at all.
    const headersFrame = this.session.headersFrame(fields);
    const stream = await this.transport.openStreamWhenAllowed('bidi', this.options.requestTimeoutMs ?? 30_000);
    const writer = stream.writable!.getWriter();
    const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    const sent = (async () => {
      await writer.write(body && body.length > 0 ? concatBytes(headersFrame, H3Session.dataFrame(body)) : headersFrame);
      await writer.close();
    })();
    const maxBody = this.options.maxBodySize ?? 64 * 1024 * 1024;
    let head: H3Message | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const timeoutMs = this.options.requestTimeoutMs ?? 30_000;
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
        if (size > maxBody) throw new RangeError(`response body larger than ${maxBody} bytes`);
        chunks.push(Buffer.from(chunk));
      },
    });
    try {
      await Promise.race([Promise.all([read, sent]), timeout]);
    } catch (e) {
      if (e instanceof H3ConnectionError) this.session.fail(e);
      else if (e instanceof H3StreamError) stream.abort(e.h3Code);
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
}

/** The connection closed before a request finished; `info` says how. */
export class H3ConnectionClosed extends SecondaryCertsError {
  readonly code = 'ERR_H3_CONNECTION_CLOSED';
  constructor(
    readonly info: TransportClose | undefined,
    cause?: unknown,
    why?: string,
  ) {
    super(why ?? `the HTTP/3 connection closed${info ? ` (${info.by}, code 0x${info.code.toString(16)})` : ''}`, { cause });
  }
}


/**
 * Opens an HTTP/3 connection to `url` (an https URL) with the extension unless `options.extension` is
 * false. Resolves once QUIC is up and our control stream is sent; SETTINGS and certificates follow
 * ('negotiated' and 'certificate' events).
 */
export async function connectH3(url: string | URL, options: H3ClientOptions): Promise<H3SecondaryCertConnection> {
  const target = new URL(url);
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const transport = await connectQuic({
    host: options.connectAddress ?? host,
    port: Number(target.port || 443),
    servername: host,
    ca: options.ca.map((c) => (typeof c === 'string' ? c : derToPem(c))).join('\n'),
    ...(options.crypto ? { crypto: options.crypto } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.connectTimeoutMs !== undefined ? { timeoutMs: options.connectTimeoutMs } : {}),
  });
  const session = new H3Session(transport, {
    extension: options.extension ?? true,
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.maxAuthenticatorSize !== undefined ? { maxAuthenticatorSize: options.maxAuthenticatorSize } : {}),
  });
  const connection = new H3SecondaryCertConnection(session, target.origin, options);
  session.start();
  return connection;
}
