import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { defaultCrypto } from '../crypto/index.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { ConnectionState } from '../ea/index.js';
import { CertificateSender, type CertificateNotSentEvent as NotSentEventOf, type CertificateSentEvent as SentEventOf, type ServerConnectionEventsOf, type ServerEventsOf } from '../http/certificate-sender.js';
import { BodyTooLarge, H3ConnectionError, H3ErrorCode, H3StreamError, FieldSectionTooLarge, SecondaryCertsError, StreamClosed } from '../errors.js';
import { certificateCovers, loadIdentity, type LoadedIdentity, type SecondaryIdentity } from '../pki/identity.js';
import { encodeServerCertificateFrame } from './wire/certificates.js';
import { encodeOriginFrame } from './wire/core.js';
import { DEFAULT_H3_PROFILE, type H3Profile } from './profile.js';
import { H3Session, type H3Message } from './session.js';
import { extensionSettings, h3ExtensionContext, type H3Extension, type H3ExtensionContext } from './extension.js';
import { listenQuic } from './transport/index.js';
import type { TransportClose, TransportConnection, TransportServer, TransportStream } from './transport/transport.js';

// The server half of draft-ietf-httpbis-secondary-server-certs over HTTP/3: once both sides have sent
// SETTINGS_HTTP_SERVER_CERT_AUTH = 1, a spontaneous exported authenticator goes in a SERVER_CERTIFICATE
// frame on our control stream for each secondary identity (draft section 5.2), and more can follow.
// Requests for the proven origins are served on the same connection; others get 421. A peer without the
// extension sees a plain HTTP/3 server.

export interface H3ServerRequest {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  headers: Record<string, string>;
  connection: H3ServerConnection;
  /** The request came in early data (0-RTT): it may be a replay (RFC 8470); answer 425 to have it sent again after the handshake. */
  earlyData: boolean;
  /**
   * The whole request body, bounded by the server's maxBodySize: past it, BodyTooLarge at once, and the
   * rest is refused as by refuseBody().
   */
  body(): Promise<Buffer>;
  /**
   * The request body as it arrives, instead of body(): not bounded by maxBodySize, and read only as fast
   * as it is consumed (the stream's flow control holds the peer). Call it at most once, before body().
   */
  bodyStream(): ReadableStream<Uint8Array>;
  /**
   * The rest of the body is not wanted (a 413, say): nothing more of it is read, and once the response
   * is complete the client is asked to stop sending it (STOP_SENDING with H3_NO_ERROR, RFC 9114 section
   * 4.1). A bodyStream() in progress ends there.
   */
  refuseBody(): void;
}

export interface H3ServerResponse {
  /** Sends the response head, body and end of stream in one go. */
  end(status: number, headers?: Record<string, string>, body?: Uint8Array | string): Promise<void>;
  /**
   * Sends the response head now and resolves with a stream for the body: each chunk written goes out as
   * a DATA frame as the peer's flow control allows; closing it ends the response, aborting it resets the
   * stream. Failures reject with StreamClosed.
   */
  stream(status: number, headers?: Record<string, string>): Promise<WritableStream<Uint8Array>>;
}

export type H3RequestHandler = (req: H3ServerRequest, res: H3ServerResponse) => void | Promise<void>;

export interface H3ServerOptions {
  /** The TLS identity: PEM chain (leaf first) and PEM key. */
  cert: string;
  key: string;
  host?: string;
  port?: number;
  identities?: SecondaryIdentity[];
  profile?: H3Profile;
  crypto?: CryptoProvider;
  /** Advertise the extension (default true). False gives a plain HTTP/3 server. */
  extension?: boolean;
  /** Send every identity once the feature is negotiated (default true). */
  sendOnConnect?: boolean;
  /**
   * Features plugged into each connection (e.g. client certificates, from secondary-certs/client-auth).
   * They run with the extension, so they are left out when `extension` is false.
   */
  extensions?: readonly H3Extension<H3ServerConnection>[];
  /** RFC 9261 contexts a connection remembers before refusing more (default 65,536). */
  maxContexts?: number;
  /**
   * Request body bytes read ahead of a handler that has not asked for the body (default 64 KiB): the rest
   * waits in QUIC's flow control, so unread bodies cannot fill the server's memory.
   */
  bodyReadAhead?: number;
  /** A response write that makes no progress for this long (the client stopped reading) closes the connection with H3_EXCESSIVE_LOAD (default 60 s; 0: no bound). */
  sendTimeoutMs?: number;
  /** Origins announced in an ORIGIN frame (RFC 9412) on every connection, e.g. 'https://b.example:4433'. */
  originFrame?: string[];
  /** Largest authenticator sent (default 64 KiB, what clients accept by default); larger is not sent. */
  maxAuthenticatorSize?: number;
  /** Largest request body read by `req.body()` (default 64 MiB); larger resets the stream. */
  maxBodySize?: number;
  idleTimeoutMs?: number;
  /** A QUIC handshake not done within this is closed (default 10 s). */
  handshakeTimeoutMs?: number;
  /**
   * Accept early data (0-RTT) from clients that resume (default false). In early data no authenticator
   * is sent, and a request for an origin that only a secondary certificate proves, or OPTIONS *, is
   * answered 425 Too Early (RFC 8470); other requests reach the handler with `earlyData` set.
   */
  earlyData?: boolean;
}

export type H3CertificateSentEvent = SentEventOf<H3ServerConnection>;
export type H3CertificateNotSentEvent = NotSentEventOf<H3ServerConnection>;

/** The events of an H3ServerConnection and their listeners' arguments. */
export interface H3ServerConnectionEvents extends ServerConnectionEventsOf<H3ServerConnection, H3ConnectionError> {
  close: [info: TransportClose];
}

/** The events of an H3SecondaryCertServer: those of every connection, with the connection. */
export type H3ServerEvents = ServerEventsOf<H3ServerConnection, H3ConnectionError>;

/** One QUIC connection on the server. Events: 'negotiated', 'certificateSent', 'certificateNotSent', 'protocolError', 'close'. */
export class H3ServerConnection extends EventEmitter<H3ServerConnectionEvents> {
  readonly sent: LoadedIdentity[];
  /** RFC 9261 contexts used on this connection. */
  readonly state: ConnectionState;
  private readonly sender: CertificateSender<H3ServerConnection>;

  constructor(
    readonly session: H3Session,
    private readonly owner: H3SecondaryCertServer,
  ) {
    super();
    this.sender = new CertificateSender({
      connection: this,
      ...(owner.maxContexts !== undefined ? { maxContexts: owner.maxContexts } : {}),
      crypto: owner.crypto,
      frameType: owner.profile.frames.SERVER_CERTIFICATE,
      name: () => `h3 server ${this.transport.remoteAddress}:${this.transport.remotePort}`,
      keys: () => this.transport.keys,
      negotiated: () => this.negotiated,
      closed: () => session.closed,
      // HTTP/3 has no frame-size setting: a client takes up to 64 KiB by default (ours does), so larger
      // is not sent at all rather than costing the connection.
      maxSize: () => ({ bytes: owner.maxAuthenticatorSize, what: `the ${owner.maxAuthenticatorSize} a client takes` }),
      write: (authenticator) => {
        const frame = encodeServerCertificateFrame({ authenticator }, owner.profile);
        session.sendControlFrame(frame);
        return frame.length;
      },
      emitters: [this, owner],
    });
    this.sent = this.sender.sent;
    this.state = this.sender.state;
    session.on('negotiated', () => {
      this.emit('negotiated');
      owner.emit('negotiated', this);
      // An authenticator needs the exporter, which comes with the handshake: not in early data.
      if (owner.sendOnConnect) void this.transport.handshake.then((done) => done && this.sender.sendEach(owner.identities));
    });
    session.on('protocolError', (e: H3ConnectionError) => {
      this.emit('protocolError', e);
      owner.emit('protocolError', e, this);
    });
    session.on('close', (info) => this.emit('close', info));
    session.on('stream', (stream: TransportStream) => void this.serve(stream));
  }

  get transport(): TransportConnection {
    return this.session.transport;
  }

  get negotiated(): boolean {
    return this.session.negotiated;
  }

  /** Is this connection authoritative for `host`: its TLS certificate or an identity sent on it covers it. */
  covers(host: string): boolean {
    return certificateCovers(this.owner.tlsLeaf, host) || this.sender.covers(host);
  }

  /**
   * Proves `identity` with a SERVER_CERTIFICATE on the control stream. Resolves false (with a
   * 'certificateNotSent' event saying why) when the feature is not negotiated or the connection is closed.
   */
  async sendCertificate(identity: LoadedIdentity): Promise<boolean> {
    await this.transport.handshake;
    return this.sender.send(identity);
  }

  /** The surface extensions get (see ./extension.ts); the server hands it to each of its `extensions`. */
  extensionContext(): H3ExtensionContext {
    return h3ExtensionContext({
      crypto: this.owner.crypto,
      origin: `https://${this.transport.servername ?? 'unknown'}`,
      state: this.state,
      session: this.session,
      isClosed: () => false,
      retire: () => {
        // GOAWAY: the client opens no new requests here (RFC 9114 section 5.2); those in flight finish.
        try {
          this.session.sendGoaway();
        } catch {
          /* already closing */
        }
      },
    });
  }

  /** Reads one request from a stream and answers it, or 421 when this connection does not serve the authority. */
  private async serve(stream: TransportStream): Promise<void> {
    const maxBody = this.owner.maxBodySize;
    let head: H3Message | undefined;
    let headArrived!: () => void;
    const headReady = new Promise<undefined>((resolve) => (headArrived = () => resolve(undefined)));
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    // Set once the handler asked for bodyStream(): chunks then go to it, with its backpressure.
    let streaming: ReadableStreamDefaultController<Uint8Array> | undefined;
    let pulled: (() => void) | undefined;
    // Until the handler asks for the body, at most bodyReadAhead bytes are read ahead (the rest waits
    // in QUIC's windows); once it has answered without asking, the rest is read only to be judged.
    let wanted = false;
    let discarding = false;
    let resume: (() => void) | undefined;
    // refuseBody(): reading waits (flow control holds the client) until the response is complete, then
    // STOP_SENDING ends the read half.
    let refused = false;
    let responded = false;
    let stopped: (() => void) | undefined;
    const stopReading = (): void => {
      stream.stopSending(H3ErrorCode.H3_NO_ERROR);
      stopped?.();
      stopped = undefined;
    };
    const complete = (): void => {
      responded = true;
      if (refused) stopReading();
    };
    const refuse = (): void => {
      if (refused) return;
      refused = true;
      chunks.length = 0;
      pulled?.();
      pulled = undefined;
      if (responded) stopReading();
    };
    /** What the read loop does with a refused body: waits until the response is out, then reads on (into the stop). */
    const held = (): Promise<void> | undefined => (responded ? undefined : new Promise<void>((r) => (stopped = r)));
    // A body past maxBodySize is refused as soon as it passes: body() rejects at once, not after the upload.
    let passedLimit!: () => void;
    const overLimit = new Promise<undefined>((resolve) => (passedLimit = () => resolve(undefined)));
    const want = (): void => {
      wanted = true;
      resume?.();
      resume = undefined;
    };
    const done = this.session
      .readMessage(stream.readable!, {
        headers: (m) => {
          head = m;
          headArrived();
        },
        data: (chunk) => {
          if (refused) return held();
          if (streaming) {
            streaming.enqueue(Buffer.from(chunk));
            if ((streaming.desiredSize ?? 1) <= 0) return new Promise<void>((resolve) => (pulled = resolve));
            return;
          }
          if (discarding) return;
          size += chunk.length;
          if (size > maxBody) {
            tooLarge = true;
            refuse();
            passedLimit();
            return held();
          }
          chunks.push(Buffer.from(chunk));
          if (!wanted && size >= this.owner.bodyReadAhead) return new Promise<void>((r) => (resume = r));
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const writer = stream.writable!.getWriter();
    // A response that cannot go out (a head over the peer's SETTINGS_MAX_FIELD_SECTION_SIZE, even 0, or a
    // stream or connection that went away) must not leave the stream open for a handler that catches the
    // error: reset it, then throw, in our terms.
    const failed = (e: unknown): never => {
      stream.abort(H3ErrorCode.H3_INTERNAL_ERROR);
      throw e instanceof SecondaryCertsError ? e : new StreamClosed(`the response could not be sent: ${(e as Error).message}`, { cause: e });
    };
    const respond: H3ServerResponse = {
      end: async (status, headers = {}, body) => {
        const bytes = typeof body === 'string' ? Buffer.from(body) : body;
        try {
          for (const part of H3Session.withData(this.session.headersFrame(headFields(status, headers)), bytes ?? new Uint8Array(0))) await writer.write(part);
          await writer.close();
          complete();
        } catch (e) {
          failed(e);
        }
      },
      stream: async (status, headers = {}) => {
        try {
          await writer.write(this.session.headersFrame(headFields(status, headers)));
        } catch (e) {
          failed(e);
        }
        return new WritableStream<Uint8Array>({
          write: async (chunk) => {
            for (const part of H3Session.withData(new Uint8Array(0), chunk)) await writer.write(part).catch(failed);
          },
          close: () => writer.close().then(complete, failed),
          abort: () => stream.abort(H3ErrorCode.H3_INTERNAL_ERROR),
        });
      },
    };
    // The head arrives before the body: wait for either the head or the end of the stream.
    const failure = await Promise.race([done, headReady]);
    if (failure === undefined && head) {
      // What the rest of the request breaks still counts when the handler never reads the body: a frame
      // out of order (DATA or HEADERS after the trailers) closes the connection, malformed trailers reset
      // the stream (RFC 9114 sections 4.1 and 4.1.2).
      void done.then((e) => {
        if (e instanceof H3ConnectionError) this.session.fail(e);
        else if (e instanceof H3StreamError) stream.abort(e.wireCode);
        else if (e instanceof FieldSectionTooLarge) stream.abort(H3ErrorCode.H3_EXCESSIVE_LOAD);
      });
    }
    try {
      if (failure instanceof FieldSectionTooLarge) return await respond.end(431);
      if (failure instanceof H3ConnectionError) return this.session.fail(failure);
      if (failure instanceof H3StreamError) return stream.abort(failure.wireCode);
      if (failure !== undefined || !head) return stream.abort(H3ErrorCode.H3_REQUEST_INCOMPLETE);
      const pseudo = head.pseudo;
      const authority = pseudo[':authority'] ?? head.headers['host'] ?? '';
      const earlyData = this.transport.inEarlyData;
      const request: H3ServerRequest = {
        method: pseudo[':method']!,
        scheme: pseudo[':scheme'] ?? 'https',
        authority,
        path: pseudo[':path'] ?? '',
        headers: head.headers,
        connection: this,
        earlyData,
        body: async () => {
          if (refused && !tooLarge) throw new TypeError('the body was refused (refuseBody())');
          want();
          const e = await Promise.race([done, overLimit]);
          if (e !== undefined) throw e;
          if (streaming) throw new TypeError('the body is being read with bodyStream()');
          if (tooLarge) throw new BodyTooLarge(`request body larger than ${maxBody} bytes`);
          return Buffer.concat(chunks);
        },
        bodyStream: () => {
          if (streaming) throw new TypeError('bodyStream() was already called');
          if (tooLarge) throw new BodyTooLarge(`request body larger than ${maxBody} bytes before it was read`);
          if (refused) throw new TypeError('the body was refused (refuseBody())');
          return new ReadableStream<Uint8Array>(
            {
              start: (controller) => {
                streaming = controller;
                for (const c of chunks.splice(0)) controller.enqueue(c);
                want();
                void done.then((e) => {
                  try {
                    if (e === undefined || refused) controller.close();
                    else controller.error(e);
                  } catch {
                    /* cancelled by the reader */
                  }
                  pulled?.();
                });
              },
              pull: () => {
                pulled?.();
                pulled = undefined;
              },
              cancel: () => {
                pulled?.();
                stream.abort(H3ErrorCode.H3_REQUEST_CANCELLED);
              },
            },
            { highWaterMark: 8 },
          );
        },
        refuseBody: refuse,
      };
      if (earlyData && (!certificateCovers(this.owner.tlsLeaf, hostOf(authority)) || (request.method === 'OPTIONS' && request.path === '*'))) {
        // Only the TLS certificate is proven in early data: a secondary origin, or a request for a proof,
        // must come again once the handshake is done (RFC 8470 section 5.2).
        return await respond.end(425, { 'content-type': 'text/plain' }, `${request.method === 'OPTIONS' ? 'OPTIONS *' : authority} is not served in early data\n`);
      }
      if (!this.covers(hostOf(authority))) {
        // Not authoritative here: the client should try another connection (RFC 9110 section 15.5.20).
        return await respond.end(421, { 'content-type': 'text/plain' }, `this connection does not serve ${authority}\n`);
      }
      await this.owner.handler(request, respond);
    } catch (e) {
      if (e instanceof H3ConnectionError) this.session.fail(e);
      else stream.abort(e instanceof H3StreamError ? e.wireCode : H3ErrorCode.H3_INTERNAL_ERROR);
    } finally {
      if (!wanted && !streaming) {
        // Answered without reading the body: what is left is read to be judged, not kept.
        discarding = true;
        chunks.length = 0;
        want();
      }
    }
  }
}

/** A response head's field lines: :status, then the headers with lowercase names. */
function headFields(status: number, headers: Record<string, string>): { name: string; value: string }[] {
  return [{ name: ':status', value: String(status) }, ...Object.entries(headers).map(([name, value]) => ({ name: name.toLowerCase(), value: String(value) }))];
}

function hostOf(authority: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(authority);
  if (m) return m[1]!;
  return authority.replace(/:\d+$/, '');
}

/**
 * An HTTP/3 server with the extension. Events: 'connection' (H3ServerConnection), 'negotiated',
 * 'certificateSent', 'certificateNotSent', 'protocolError'.
 */
export class H3SecondaryCertServer extends EventEmitter<H3ServerEvents> {
  readonly identities: LoadedIdentity[] = [];
  readonly connections = new Set<H3ServerConnection>();
  readonly profile: H3Profile;
  readonly crypto: CryptoProvider;
  readonly sendOnConnect: boolean;
  readonly maxBodySize: number;
  readonly maxAuthenticatorSize: number;
  readonly maxContexts: number | undefined;
  readonly bodyReadAhead: number;
  readonly tlsLeaf: X509Certificate;
  private transportServer: TransportServer | undefined;

  constructor(
    private readonly options: H3ServerOptions,
    readonly handler: H3RequestHandler,
  ) {
    super();
    this.profile = options.profile ?? DEFAULT_H3_PROFILE;
    this.crypto = options.crypto ?? defaultCrypto();
    this.sendOnConnect = options.sendOnConnect ?? true;
    this.maxBodySize = options.maxBodySize ?? 64 * 1024 * 1024;
    this.maxAuthenticatorSize = options.maxAuthenticatorSize ?? 64 * 1024;
    this.maxContexts = options.maxContexts;
    this.bodyReadAhead = options.bodyReadAhead ?? 64 * 1024;
    this.tlsLeaf = new X509Certificate(options.cert);
  }

  get port(): number {
    return this.transportServer?.port ?? 0;
  }

  async listen(): Promise<this> {
    for (const id of this.options.identities ?? []) this.identities.push(await loadIdentity(id, this.crypto));
    this.transportServer = await listenQuic({
      cert: this.options.cert,
      key: this.options.key,
      crypto: this.crypto,
      ...(this.options.host ? { host: this.options.host } : {}),
      ...(this.options.port !== undefined ? { port: this.options.port } : {}),
      ...(this.options.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.options.idleTimeoutMs } : {}),
      ...(this.options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: this.options.handshakeTimeoutMs } : {}),
      ...(this.options.earlyData ? { earlyData: true } : {}),
      ...(this.options.sendTimeoutMs !== undefined ? { sendTimeoutMs: this.options.sendTimeoutMs } : {}),
    });
    const extension = this.options.extension ?? true;
    const extensions = extension ? (this.options.extensions ?? []) : [];
    this.transportServer.onConnection((transport) => {
      const session = new H3Session(transport, {
        profile: this.profile,
        extension,
        settings: extensionSettings(extensions, this.profile, 'server'),
      });
      const connection = new H3ServerConnection(session, this);
      for (const e of extensions) e.attach(connection.extensionContext(), connection);
      this.connections.add(connection);
      session.on('close', () => this.connections.delete(connection));
      this.emit('connection', connection);
      session.start();
      if (this.options.originFrame && !session.closed) session.sendControlFrame(encodeOriginFrame(this.options.originFrame));
    });
    return this;
  }

  /** Adds an identity; with `sendNow`, proves it at once on every negotiated connection. */
  async addIdentity(identity: SecondaryIdentity, sendNow = false): Promise<LoadedIdentity> {
    const loaded = await loadIdentity(identity, this.crypto);
    this.identities.push(loaded);
    if (sendNow) await Promise.all([...this.connections].filter((c) => c.negotiated).map((c) => c.sendCertificate(loaded)));
    return loaded;
  }

  /**
   * Sends GOAWAY on every connection (RFC 9114 section 5.2), gives requests in flight `graceMs` to
   * finish, then closes everything with H3_NO_ERROR.
   */
  async close(graceMs = 100): Promise<void> {
    let sent = false;
    for (const c of this.connections) {
      try {
        c.session.sendGoaway();
        sent = true;
      } catch {
        /* already closing */
      }
    }
    if (sent && graceMs > 0) await new Promise((r) => setTimeout(r, graceMs));
    await this.transportServer?.close(H3ErrorCode.H3_NO_ERROR);
  }
}

/** Creates an HTTP/3 server with the extension and starts listening. */
export async function createH3SecondaryCertServer(options: H3ServerOptions, handler: H3RequestHandler): Promise<H3SecondaryCertServer> {
  return new H3SecondaryCertServer(options, handler).listen();
}
