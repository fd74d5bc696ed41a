import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import * as http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { defaultCrypto } from '../../crypto/index.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { chooseCandidate, ConnectionState, createAuthenticator, createEmptyAuthenticator, parseRequest, type AuthenticatorRequest } from '../../ea/index.js';
import { BodyTooLarge, ChainSchemeNotOffered, HandshakeIncomplete, MalformedMessage, NoCommonScheme, SecondaryCertsError, TooManyContexts, TooManyRequests, UnsupportedMediaType, UnsupportedTlsVersion } from '../../errors.js';
import { keysFromTlsSocket } from '../../exporter/tls-socket.js';
import { certificateCovers, type LoadedIdentity, type SecondaryCertServer } from '../../h2/server.js';
import type { H3ServerConnection, H3ServerRequest, H3ServerResponse } from '../../h3/server.js';
import type { AuthenticatorKeys } from '../../exporter/keys.js';
import type { X509Certificate } from 'node:crypto';
import { Readable as NodeReadable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { normalizeHost } from '../../pki/names.js';
import { identityEntryExtensions } from '../../pki/identity.js';
import { DEFAULT_OPTIONS_STAR_NAMES, makeOptionsStarNames, mediaTypeOf, parseSfString, SERVER_CAPABILITY, type OptionsStarNames } from './names.js';

// The server side of our OPTIONS * profile (spec-notes/options-star.md): a request to the server as a whole,
// answered here and never routed to a resource. Without content it discovers the capability; with a
// ClientCertificateRequest (type 17) naming a host, it gets an authenticator made with this TLS
// connection's exporter, or an empty authenticator when the server holds no certificate for the host.
// The same code answers HTTP/2 streams, HTTP/1.1 requests over https and HTTP/3 requests.

export interface OptionsStarServerOptions {
  /** Identities the server may prove. With `extension` and no list, the extension's (kept in sync). */
  identities?: readonly LoadedIdentity[];
  /**
   * The HTTP/2 secondary-certificate extension on the same server: its connections' RFC 9261 state is
   * shared (contexts unique across SERVER_CERTIFICATE and OPTIONS *), and proven identities join `sent`.
   */
  extension?: SecondaryCertServer;
  names?: Partial<OptionsStarNames>;
  /**
   * Whether this hop is the client's TLS endpoint. Default: yes when the request came over TLS. Set false
   * behind a TLS-terminating proxy: an authenticator from here would be bound to the wrong connection, so
   * authentication requests get 421.
   */
  tlsEndpoint?: boolean;
  /**
   * Largest request body accepted (default 16 KiB); larger gets 413, and over HTTP/2 the rest of the body
   * is refused with RST_STREAM(NO_ERROR) after the answer (RFC 9113 section 8.1), never read.
   */
  maxRequestSize?: number;
  /** OPTIONS * requests one connection may have in progress at once (default 16); more get 429. */
  maxConcurrentPerConnection?: number;
  crypto?: CryptoProvider;
}

/** What the handler answered, for logs and tests. */
export interface OptionsStarAnswer {
  status: number;
  reason: string;
  /** The host the request asked to prove. */
  serverName?: string;
  /** The subjectAltNames of the identity proven, when one was. */
  proven?: string[];
  /** For a refusal the client caused (400, 413, 415, 429): the typed error, with its code. */
  error?: SecondaryCertsError;
  protocol: 'h2' | 'http/1.1' | 'h3';
}

/** The TLS (or QUIC) connection a request came on, as the handler needs it. */
interface TlsSide {
  /** RFC 9261 exporter keys; throws UnsupportedTlsVersion or HandshakeIncomplete when there are none yet. */
  keys(): AuthenticatorKeys;
  /** The TLS version, for the capability ('TLSv1.3' over QUIC). */
  protocol(): string | null;
  certificate(): X509Certificate | undefined;
}

function tlsSideOf(socket: TLSSocket): TlsSide {
  return { keys: () => keysFromTlsSocket(socket), protocol: () => socket.getProtocol?.() ?? null, certificate: () => socket.getX509Certificate?.() };
}

/** What the handler keeps per TLS connection. */
interface ConnectionRecord {
  tls: TlsSide | undefined;
  state: ConnectionState;
  /** Identities proven on the connection (for HTTP/2 with the extension: ServerConnection.sent). */
  proven: LoadedIdentity[];
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body?: Uint8Array;
  answer: Omit<OptionsStarAnswer, 'protocol'>;
}

export const DEFAULT_MAX_REQUEST_SIZE = 16 * 1024;
export const DEFAULT_MAX_CONCURRENT_PER_CONNECTION = 16;

/** Is this the asterisk-form OPTIONS request (RFC 9110 section 9.3.7)? */
export function isOptionsStar(method: string | undefined, path: string | undefined): boolean {
  return method === 'OPTIONS' && path === '*';
}

/** The events of an OptionsStarHandler and their listeners' arguments. */
export interface OptionsStarHandlerEvents {
  answer: [answer: OptionsStarAnswer];
}

/**
 * Answers OPTIONS * on HTTP/2 and HTTP/1.1 servers. Use `install(server)`, or call `handleStream` /
 * `handleRequest` first thing in your own handler. Event: 'answer' (OptionsStarAnswer).
 */
export class OptionsStarHandler extends EventEmitter<OptionsStarHandlerEvents> {
  readonly names: OptionsStarNames;
  private readonly crypto: CryptoProvider;
  private readonly maxRequestSize: number;
  private readonly byTransport = new WeakMap<object, ConnectionRecord>();
  private readonly maxConcurrent: number;
  /** OPTIONS * in progress, per session or HTTP/1.1 socket. */
  private readonly inProgress = new WeakMap<object, number>();

  constructor(private readonly options: OptionsStarServerOptions = {}) {
    super();
    this.names = options.names ? makeOptionsStarNames(options.names) : DEFAULT_OPTIONS_STAR_NAMES;
    this.crypto = options.crypto ?? options.extension?.crypto ?? defaultCrypto();
    this.maxRequestSize = options.maxRequestSize ?? DEFAULT_MAX_REQUEST_SIZE;
    if (!Number.isInteger(this.maxRequestSize) || this.maxRequestSize < 1) throw new RangeError('maxRequestSize must be a positive integer');
    this.maxConcurrent = options.maxConcurrentPerConnection ?? DEFAULT_MAX_CONCURRENT_PER_CONNECTION;
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 1) throw new RangeError('maxConcurrentPerConnection must be a positive integer');
  }

  private get identities(): readonly LoadedIdentity[] {
    return this.options.identities ?? this.options.extension?.identities ?? [];
  }

  /**
   * Routes every OPTIONS * on `server` (an http2 secure server, an https server, or an http2 server with
   * allowHTTP1) to this handler before any 'stream' or 'request' listener sees it. Node has no way to stop
   * an event's other listeners, so this wraps the server's emit.
   */
  install<S extends EventEmitter>(server: S): S {
    const emit = server.emit;
    const handler = this;
    server.emit = function (this: S, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'stream' && handler.handleStream(args[0] as http2.ServerHttp2Stream, args[1] as http2.IncomingHttpHeaders)) return true;
      if (event === 'request' && handler.handleRequest(args[0] as IncomingMessage, args[1] as ServerResponse)) return true;
      return emit.call(this, event, ...args);
    } as S['emit'];
    return server;
  }

  /** Takes an HTTP/2 stream if it is OPTIONS * for this handler (true), else leaves it alone (false). */
  handleStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean {
    if (!isOptionsStar(headers[':method'], headers[':path'])) return false;
    const session = stream.session;
    if (!session) return false;
    const record = this.recordForSession(session);
    if (!this.takes(record, headers, !stream.endAfterHeaders)) return false;
    void this.serve(session, record, headers, stream, 'h2', (reply) => {
      if (stream.destroyed || stream.closed) return;
      const withBody = reply.body !== undefined && reply.body.length > 0;
      stream.respond({ ':status': reply.status, ...reply.headers, ...(withBody ? { 'content-length': String(reply.body!.length) } : {}) }, { endStream: !withBody });
      if (withBody) stream.end(reply.body);
      // The body we refused to read: the client stops sending it (RFC 9113 section 8.1), once our answer is out.
      if (reply.status === 413 || reply.status === 429) {
        const refuse = (): void => void (stream.closed || stream.close(http2.constants.NGHTTP2_NO_ERROR));
        if (stream.writableFinished || !withBody) setImmediate(refuse);
        else stream.once('finish', () => setImmediate(refuse));
      }
    });
    return true;
  }

  /** Takes an HTTP/1.1 request if it is OPTIONS * for this handler (true), else leaves it alone (false). */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (!isOptionsStar(req.method, req.url)) return false;
    // HTTP/2 compatibility requests were already offered to handleStream through 'stream'.
    if (req.httpVersionMajor >= 2) return false;
    const record = this.recordForSocket(req.socket);
    const hasContent = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!this.takes(record, req.headers, hasContent)) return false;
    void this.serve(req.socket, record, req.headers, req, 'http/1.1', (reply) => {
      if (res.headersSent || res.destroyed) return;
      // After a body we stopped reading, the connection cannot carry another request.
      if (reply.status === 413) res.setHeader('connection', 'close');
      res.writeHead(reply.status, { ...reply.headers, ...(reply.body ? { 'content-length': String(reply.body.length) } : {}) });
      res.end(reply.body);
    });
    return true;
  }

  /**
   * Takes an HTTP/3 request if it is OPTIONS * for this handler (true), else leaves it alone (false): call it
   * first thing in the H3SecondaryCertServer's handler. The connection's RFC 9261 state and proven
   * identities are its own (`connection.state`, `connection.sent`), shared with its SERVER_CERTIFICATE frames,
   * so an origin proven here is served on it. The body is read through `req.bodyStream()`, bounded by this
   * handler's maxRequestSize.
   */
  handleH3(req: H3ServerRequest, res: H3ServerResponse): boolean {
    if (!isOptionsStar(req.method, req.path)) return false;
    const record = this.recordForH3(req.connection);
    const hasContent = Number(req.headers['content-length'] ?? 0) > 0;
    if (!this.takes(record, req.headers, hasContent)) return false;
    // Read as it arrives, so this handler's maxRequestSize bounds it (not the server's maxBodySize).
    const body = NodeReadable.fromWeb(req.bodyStream() as WebReadableStream<Uint8Array>);
    // A reset after the body was judged must not become an unhandled 'error'.
    body.on('error', () => undefined);
    void this.serve(req.connection, record, req.headers, body, 'h3', (reply) => {
      const withBody = reply.body !== undefined && reply.body.length > 0;
      res.end(reply.status, { ...reply.headers, ...(withBody ? { 'content-length': String(reply.body!.length) } : {}) }, withBody ? reply.body : undefined).catch(() => undefined);
      // The body we refused to read: the client stops sending it once our answer is out (RFC 9114 section 4.1).
      if (reply.status === 413 || reply.status === 429) req.refuseBody();
    });
    return true;
  }

  private recordForH3(connection: H3ServerConnection): ConnectionRecord {
    let record = this.byTransport.get(connection);
    if (!record) {
      const transport = connection.transport;
      // QUIC is always TLS 1.3, and its keys exist once the connection is handed over (after the handshake).
      record = { tls: { keys: () => transport.keys, protocol: () => 'TLSv1.3', certificate: () => undefined }, state: connection.state, proven: connection.sent };
      this.byTransport.set(connection, record);
    }
    return record;
  }

  /**
   * Does the connection of `requestOrStream` serve `host`: its TLS certificate, or an identity proven on it
   * (by OPTIONS *, or for HTTP/2 with the extension, by SERVER_CERTIFICATE)?
   */
  covers(from: IncomingMessage | http2.Http2ServerRequest | http2.ServerHttp2Stream, host: string): boolean {
    const record = this.recordOf(from);
    const tlsCert = record.tls?.certificate();
    if (tlsCert && certificateCovers(tlsCert, host)) return true;
    return record.proven.some((id) => certificateCovers(id.leaf, host));
  }

  private recordOf(from: IncomingMessage | http2.Http2ServerRequest | http2.ServerHttp2Stream): ConnectionRecord {
    if ('stream' in from && from.stream.session) return this.recordForSession(from.stream.session);
    if ('session' in from && from.session) return this.recordForSession(from.session);
    return this.recordForSocket((from as IncomingMessage).socket);
  }

  private recordForSession(session: http2.Http2Session): ConnectionRecord {
    const connection = this.options.extension?.connectionOf(session);
    if (connection) return { tls: tlsSideOf(connection.tlsSocket), state: connection.state, proven: connection.sent };
    let record = this.byTransport.get(session);
    if (!record) {
      const socket = session.socket as unknown as TLSSocket | undefined;
      record = { tls: session.encrypted && socket ? tlsSideOf(socket) : undefined, state: new ConnectionState('server'), proven: [] };
      this.byTransport.set(session, record);
    }
    return record;
  }

  private recordForSocket(socket: IncomingMessage['socket']): ConnectionRecord {
    let record = this.byTransport.get(socket);
    if (!record) {
      record = { tls: (socket as TLSSocket).encrypted ? tlsSideOf(socket as TLSSocket) : undefined, state: new ConnectionState('server'), proven: [] };
      this.byTransport.set(socket, record);
    }
    return record;
  }

  private isTlsEndpoint(record: ConnectionRecord): boolean {
    return this.options.tlsEndpoint ?? record.tls !== undefined;
  }

  /**
   * Whether to answer here. A hop that is not the TLS endpoint answers authentication requests (421) and a
   * bodiless OPTIONS * with Max-Forwards: 0 (it must not forward that, RFC 9110 section 7.6.2); any other
   * bodiless OPTIONS * is left to the application, which may forward it.
   */
  private takes(record: ConnectionRecord, headers: IncomingHttpHeaders, hasContent: boolean): boolean {
    if (this.isTlsEndpoint(record)) return true;
    return hasContent || headers['content-type'] !== undefined || String(headers['max-forwards'] ?? '').trim() === '0';
  }

  private async serve(
    transport: object,
    record: ConnectionRecord,
    headers: IncomingHttpHeaders,
    body: Readable,
    protocol: OptionsStarAnswer['protocol'],
    send: (reply: Reply) => void,
  ): Promise<void> {
    let reply: Reply | undefined;
    const running = this.inProgress.get(transport) ?? 0;
    if (running >= this.maxConcurrent) {
      // Refused before its body is read: the work a peer can queue on one connection is bounded.
      reply = problem(429, `${running} OPTIONS * requests are already in progress on this connection (the bound is ${this.maxConcurrent})`, new TooManyRequests(`more than ${this.maxConcurrent} OPTIONS * at once on one connection`));
    } else {
      this.inProgress.set(transport, running + 1);
      try {
        reply = await this.answer(record, headers, body);
      } catch (e) {
        // A signer that failed, say: the server's fault, and still an HTTP answer.
        reply = problem(500, `could not answer: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        this.inProgress.set(transport, (this.inProgress.get(transport) ?? 1) - 1);
      }
    }
    if (!reply) return; // the request went away while its body was read
    send(reply);
    this.emit('answer', { ...reply.answer, protocol } satisfies OptionsStarAnswer);
  }

  private async answer(record: ConnectionRecord, headers: IncomingHttpHeaders, stream: Readable): Promise<Reply | undefined> {
    const maxForwards = headers['max-forwards'];
    if (maxForwards !== undefined && !/^\s*\d+\s*$/.test(String(maxForwards))) return problem(400, 'Max-Forwards is not a number');
    const declared = Number(headers['content-length'] ?? 0);
    const tooLarge = (): Reply => problem(413, `the request body is larger than ${this.maxRequestSize} bytes`, new BodyTooLarge(`an OPTIONS * body over ${this.maxRequestSize} bytes`));
    if (declared > this.maxRequestSize) return tooLarge();
    const body = await readBody(stream, this.maxRequestSize);
    if (body === 'too-large') return tooLarge();
    if (body === 'gone') return undefined;

    const contentType = mediaTypeOf(headers['content-type']);
    const tlsEndpoint = this.isTlsEndpoint(record);
    if (body.length === 0 && contentType === undefined) return this.discovery(record, tlsEndpoint);

    if (!tlsEndpoint) return problem(421, 'this hop is not the TLS endpoint of the connection: an authenticator from here could not be validated');
    if (String(headers['early-data'] ?? '').trim() === '1') return problem(425, 'authenticators are not made for requests sent in early data (RFC 9261 section 9)');
    if (contentType !== this.names.requestMediaType) {
      return problem(415, `the body must be ${this.names.requestMediaType}`, new UnsupportedMediaType(`an OPTIONS * body of type ${contentType ?? '(none)'}`));
    }
    if (!record.tls) return problem(415, 'exported authenticators need a TLS connection');

    let request: AuthenticatorRequest;
    try {
      request = parseRequest(body);
    } catch (e) {
      return problem(400, `the body is not an authenticator request: ${describe(e)}`, e instanceof SecondaryCertsError ? e : new MalformedMessage('ClientCertificateRequest', describe(e)));
    }
    if (request.creator !== 'client') return problem(400, 'the body must be a ClientCertificateRequest (type 17), not a CertificateRequest');
    const serverName = request.serverName === undefined ? undefined : normalizeHost(request.serverName);
    if (serverName === undefined) return problem(400, 'the ClientCertificateRequest must name the host to prove in server_name');
    const originProblem = checkOriginField(headers[this.names.originField], serverName);
    if (originProblem) return problem(400, originProblem);

    let keys;
    try {
      keys = record.tls.keys();
    } catch (e) {
      if (e instanceof UnsupportedTlsVersion) return problem(415, describe(e));
      if (e instanceof HandshakeIncomplete) return problem(425, describe(e));
      throw e;
    }
    // The context must be new on this connection, whichever flow used it (RFC 9261 sections 4 and 5.2).
    if (record.state.hasSeen(request.context)) return problem(400, 'certificate_request_context was already used on this connection');
    try {
      record.state.recordRequest(request.context);
    } catch (e) {
      if (e instanceof TooManyContexts) return problem(429, describe(e));
      throw e;
    }

    // Among the identities for the host, the first whose key and chain fit the request (RFC 9261 section 5.2.1).
    const covering = this.identities.filter((id) => certificateCovers(id.leaf, serverName)).map((id) => ({ id, certificateChain: id.chain, signer: id.signer }));
    let identity: LoadedIdentity | undefined;
    let authenticator: Uint8Array | undefined;
    let why = `no certificate for ${serverName}`;
    if (covering.length > 0) {
      try {
        identity = chooseCandidate(covering, request).id;
        // The identity's OCSP response and SCTs go along when the request asked for them (createAuthenticator keeps only those).
        const entryExtensions = identityEntryExtensions(identity);
        authenticator = await createAuthenticator({
          keys,
          creator: 'server',
          request,
          certificateChain: identity.chain,
          signer: identity.signer,
          state: record.state,
          crypto: this.crypto,
          ...(entryExtensions ? { entryExtensions } : {}),
        });
      } catch (e) {
        if (e instanceof NoCommonScheme) why = `the certificate for ${serverName} can sign with no scheme the request offers`;
        else if (e instanceof ChainSchemeNotOffered) why = `no chain for ${serverName} is signed with schemes the request's signature_algorithms_cert lists`;
        else throw e;
      }
    }
    const okHeaders = { 'content-type': this.names.authenticatorMediaType, 'cache-control': 'no-store' };
    if (identity && authenticator) {
      if (!record.proven.includes(identity)) record.proven.push(identity);
      return { status: 200, headers: okHeaders, body: authenticator, answer: { status: 200, reason: `proved ${serverName}`, serverName, proven: identity.names } };
    }
    const empty = createEmptyAuthenticator({ keys, creator: 'server', request, state: record.state, crypto: this.crypto });
    return { status: 200, headers: okHeaders, body: empty, answer: { status: 200, reason: `empty authenticator: ${why}`, serverName } };
  }

  private discovery(record: ConnectionRecord, tlsEndpoint: boolean): Reply {
    // An absent capability field means "unsupported": off the TLS endpoint, or on a connection that is not TLS 1.3.
    const supported = tlsEndpoint && record.tls?.protocol() === 'TLSv1.3';
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (supported) headers[this.names.capabilityField] = SERVER_CAPABILITY;
    return { status: 204, headers, answer: { status: 204, reason: supported ? 'capability discovery' : 'capability discovery: not supported here' } };
  }
}

/** A handler installed on `server` (see OptionsStarHandler.install). */
export function installOptionsStar<S extends EventEmitter>(server: S, options: OptionsStarServerOptions = {}): OptionsStarHandler {
  const handler = new OptionsStarHandler(options);
  handler.install(server);
  return handler;
}

function problem(status: number, reason: string, error?: SecondaryCertsError): Reply {
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    body: new TextEncoder().encode(`${reason}\n`),
    answer: { status, reason, ...(error ? { error } : {}) },
  };
}

function describe(e: unknown): string {
  return e instanceof SecondaryCertsError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
}

/** The origin field is optional; when sent it must be an https origin for the host server_name names. */
function checkOriginField(value: string | string[] | undefined, serverName: string): string | undefined {
  if (value === undefined) return undefined;
  const text = parseSfString(Array.isArray(value) ? value.join(',') : value);
  if (text === undefined) return 'the origin field is not a structured-field String';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'the origin field is not an origin';
  }
  // An origin only: no path, query or user; the default port may be written out.
  const isOrigin = url.origin === text || url.origin === text.replace(/:443$/, '');
  if (url.protocol !== 'https:' || !isOrigin) return 'the origin field is not an https origin';
  if (normalizeHost(url.hostname) !== serverName) return 'the origin field names another host than server_name';
  return undefined;
}

/** Reads a request body up to `limit` bytes. */
function readBody(stream: Readable, limit: number): Promise<Uint8Array | 'too-large' | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: Uint8Array | 'too-large' | 'gone'): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onGone);
      stream.off('close', onGone);
      // HTTP/1.1: drain what comes before the connection closes. HTTP/2 resets the stream instead
      // (handleStream), HTTP/3 stops it (handleH3), so what is drained there is only what was queued.
      if (result === 'too-large') {
        if (isH2Stream(stream)) stream.pause();
        else stream.resume();
      }
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) finish('too-large');
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(new Uint8Array(Buffer.concat(chunks)));
    const onGone = (): void => finish('gone');
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onGone);
    stream.once('close', onGone);
  });
}

function isH2Stream(stream: Readable): boolean {
  return 'session' in stream && 'respond' in stream;
}
