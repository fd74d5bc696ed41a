import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHmac, getRandomValues, timingSafeEqual } from 'node:crypto';
import { QUICClient, QUICConnection, QUICServer, QUICStream, native, events as quicEvents, errors as quicErrors } from '@matrixai/quic';
import { startStop } from '@matrixai/async-init';
import { Lock } from '@matrixai/async-locks';
import Logger, { LogLevel } from '@matrixai/logger';
import type { CryptoProvider } from '../../crypto/provider.js';
import { nodeCrypto } from '../../crypto/node.js';
import { ExporterUnavailable } from '../../errors.js';
import { keysFromKeyLog } from '../../exporter/exporter-secret.js';
import type { AuthenticatorKeys } from '../../exporter/keys.js';
import { H3ErrorCode } from '../errors.js';
import type { TransportClose, TransportConnection, TransportServer, TransportStream } from './transport.js';

// The transport over @matrixai/quic 2.0.9 (Cloudflare quiche with BoringSSL, prebuilt in the npm
// registry). Chosen because it is the one QUIC stack that installs and runs here with a TLS key log
// (hence an exporter) and unidirectional streams; see the README. What its JS layer gets wrong, and what
// we do about it (applyWorkarounds unless said otherwise), each shown by a test:
//  1. A peer stream that arrives while the connection is still 'starting' (an HTTP/3 peer's control
//     stream often rides the handshake's last flight) is refused with streamShutdown(Write), which
//     throws on a receive-only stream and kills the process. processStreams() waits while starting
//     (quiche keeps the data; its readable set is level-triggered) and we run it once the connection is
//     ours (test/h3/ngtcp2.test.ts: gtlsclient sends just so; transport.test.ts: early streams kept).
//  2. setKeylog(path) truncates the file for each connection, and a server has one path for all of
//     them. Paths under our marker name become one file per native connection, so each connection
//     reads the EXPORTER_SECRET of its own handshake (transport.test.ts, e2e.test.ts: concurrent ones).
//  3. Past the peer's MAX_STREAMS, newStream() takes the stream id and then fails, and every later
//     stream fails too: openStream() checks the credit first (ngtcp2.test.ts: gtlsserver's 100).
//  4. stop() resets every stream before CONNECTION_CLOSE, our control stream included: close() sends
//     CONNECTION_CLOSE first (errors.test.ts).
//  5. It reads datagrams on the JS thread with the kernel's default receive buffer, which a burst
//     overflows: 4 MiB (enlargeReceiveBuffer; e2e.test.ts, 1000 requests).
// And two costs, each about half of the time per small request: a send pass (at least one datagram)
// for every stream write and every datagram received, now coalesced (e2e.test.ts counts datagrams); and
// a Lock per received datagram that builds a timer, an AbortController and an Error with a stack trace.

import { QuicConnectTimeout, QuicHandshakeFailed, StreamLimitReached, StreamResetByPeer, TransportClosed } from './errors.js';
export { QuicConnectTimeout, QuicHandshakeFailed, StreamLimitReached, StreamResetByPeer, TransportClosed };

/** The reason we give quiche when we abandon a stream, carrying the HTTP/3 code. */
class StreamAbort {
  constructor(readonly h3Code: number) {}
}

const KEYLOG_MARKER = 'per-connection.keylog';
const keylogPaths = new WeakMap<object, string>();
let keylogCounter = 0;

function applyWorkarounds(): void {
  const proto = QUICConnection.prototype as unknown as Record<string | symbol, unknown>;
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const processStreams = proto.processStreams as (this: unknown) => void;
  proto.processStreams = function (this: Record<symbol, unknown>) {
    if (this[startStop.status] === 'starting') return;
    processStreams.call(this);
  };
  // Coalesce send passes: the library runs one (and writes at least one datagram) for every stream write
  // and every datagram received. Running it once per turn of the event loop lets quiche pack the frames
  // of many streams, and the ACKs for many datagrams, into fewer datagrams.
  const send = proto.send as (this: object) => Promise<void>;
  const pending = new WeakMap<object, Promise<void>>();
  proto.send = function (this: object): Promise<void> {
    let p = pending.get(this);
    if (!p) {
      p = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => {
          pending.delete(this);
          return send.call(this);
        })
        .catch((e: unknown) => {
          // Stopped in the meantime: nothing is left to send.
          if (!(e instanceof quicErrors.ErrorQUICConnectionNotRunning)) throw e;
        });
      pending.set(this, p);
    }
    return p;
  };
  // The library takes a Lock around every datagram it receives (recvLock.withF). Without a context, that
  // Lock builds a never-firing timer, an AbortController and an Error with a stack trace per call: more
  // than the datagram's own processing. A bare withF(f) gets a plain promise queue instead; the library
  // uses withF on no Lock that is also taken another way, so mutual exclusion is kept.
  const lockProto = Lock.prototype as unknown as { withF(...params: unknown[]): Promise<unknown> };
  const withF = lockProto.withF;
  const queues = new WeakMap<object, Promise<unknown>>();
  lockProto.withF = function (this: object, ...params: unknown[]): Promise<unknown> {
    if (params.length !== 1 || typeof params[0] !== 'function') return withF.apply(this, params);
    const f = params[0] as (lock: unknown) => Promise<unknown>;
    const run = (queues.get(this) ?? Promise.resolve()).then(() => f(this));
    queues.set(this, run.catch(() => undefined));
    return run;
  };
  const connProto = (native.quiche.Connection as unknown as { prototype: Record<string, (this: object, p: string) => void> }).prototype;
  const setKeylog = connProto.setKeylog!;
  connProto.setKeylog = function (this: object, file: string) {
    if (path.basename(file) !== KEYLOG_MARKER) return setKeylog.call(this, file);
    const own = path.join(path.dirname(file), `conn-${process.pid}-${++keylogCounter}.keylog`);
    keylogPaths.set(this, own);
    return setKeylog.call(this, own);
  };
}
const PATCHED = Symbol.for('secondary-certs.matrixai-workarounds');

/** A private directory for key logs (they hold secrets): mode 0700, removed when the endpoint closes. */
function keylogDirectory(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'secondary-certs-keylog-'));
}

/** Whole key log text of one connection, waiting briefly in case the last line is not flushed yet. */
async function readKeylog(file: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      /* not created yet */
    }
    if (/^EXPORTER_SECRET /m.test(text) || attempt >= 20) return text;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The RFC 9261 values of one connection from its own key log. The file must name one client random
 * only: the EXPORTER_SECRET of that random is this connection's, which is what binds the exporter to
 * the connection. The file is removed once read.
 */
async function exporterKeys(conn: object, crypto: CryptoProvider): Promise<AuthenticatorKeys> {
  const file = keylogPaths.get(conn);
  if (!file) throw new ExporterUnavailable('this connection has no key log of its own');
  const text = await readKeylog(file);
  fs.rmSync(file, { force: true });
  const randoms = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^[A-Z_0-9]+ ([0-9a-fA-F]{64}) /.exec(line);
    if (m) randoms.add(m[1]!.toLowerCase());
  }
  if (randoms.size !== 1) throw new ExporterUnavailable(`the connection's key log names ${randoms.size} client randoms, not one`);
  const clientRandom = Buffer.from([...randoms][0]!, 'hex');
  return keysFromKeyLog(crypto, text, { clientRandom });
}

/** The library logs at INFO by default; a library of ours stays quiet. */
const silent = () => new Logger('quic', LogLevel.SILENT);

const streamCodes = {
  reasonToCode: (_type: 'read' | 'write', reason?: unknown) => (reason instanceof StreamAbort ? reason.h3Code : H3ErrorCode.H3_REQUEST_CANCELLED),
  codeToReason: (_type: 'read' | 'write', code: number | bigint) => new StreamResetByPeer(Number(code)),
};

function wrapStream(stream: QUICStream): TransportStream {
  const id = Number(stream.streamId);
  const bidirectional = stream.type === 'bidi';
  const local = stream.initiated === 'local';
  return {
    id,
    bidirectional,
    local,
    readable: bidirectional || !local ? (stream.readable as ReadableStream<Uint8Array>) : undefined,
    writable: bidirectional || local ? (stream.writable as WritableStream<Uint8Array>) : undefined,
    abort(code: number) {
      try {
        stream.cancel(new StreamAbort(code));
      } catch {
        /* already gone */
      }
    },
  };
}

function closeInfo(e: unknown): TransportClose {
  if (e instanceof quicErrors.ErrorQUICConnectionIdleTimeout) return { by: 'idle', app: false, code: 0, reason: 'idle timeout' };
  const data = (e as { data?: { isApp?: boolean; errorCode?: number; reason?: Uint8Array } } | undefined)?.data;
  // The library files an application close from the peer whose code lies in 0x100-0x1ff (where TLS
  // alerts sit among transport codes) as ErrorQUICConnectionPeerTLS: still the peer's.
  const by = e instanceof quicErrors.ErrorQUICConnectionPeer || e instanceof quicErrors.ErrorQUICConnectionPeerTLS ? 'peer' : 'local';
  return {
    by,
    app: data?.isApp ?? true,
    code: data?.errorCode ?? 0,
    reason: data?.reason ? Buffer.from(data.reason).toString('utf8') : '',
  };
}

class MatrixaiConnection implements TransportConnection {
  readonly role: 'client' | 'server';
  readonly closed: Promise<TransportClose>;
  private listener: ((s: TransportStream) => void) | undefined;
  private readonly early: TransportStream[] = [];
  private closeInfo: TransportClose | undefined;
  closing = false;

  constructor(
    private readonly quic: QUICConnection,
    readonly keys: AuthenticatorKeys,
    readonly servername: string | undefined,
  ) {
    this.role = quic.type;
    quic.addEventListener(quicEvents.EventQUICConnectionStream.name, (evt: Event) => {
      const stream = wrapStream((evt as quicEvents.EventQUICConnectionStream).detail);
      if (this.listener) this.listener(stream);
      else this.early.push(stream);
    });
    // An error event is the reason of the close that follows; remember the first.
    const remember = (evt: Event) => {
      this.closing = true;
      this.closeInfo ??= closeInfo((evt as Event & { detail?: unknown }).detail);
    };
    quic.addEventListener(quicEvents.EventQUICConnectionError.name, remember);
    quic.addEventListener(quicEvents.EventQUICConnectionClose.name, remember);
    void quic.closedP.finally(() => (this.closing = true));
    this.closed = quic.closedP.then(
      () => this.closeInfo ?? { by: 'local', app: true, code: 0, reason: '' },
      () => this.closeInfo ?? { by: 'local', app: true, code: 0, reason: '' },
    );
    // Streams held back while the connection was starting (workaround 1) are read now.
    const internals = quic as unknown as { processStreams(): void; send(): Promise<void> };
    queueMicrotask(() => {
      if (quic.closed) return;
      try {
        internals.processStreams();
        void internals.send().catch(() => undefined);
      } catch {
        /* the connection is failing; its close event says why */
      }
    });
  }

  get alpnProtocol(): string {
    const proto = (this.quic as unknown as { conn: { applicationProto(): Uint8Array } }).conn.applicationProto();
    return Buffer.from(proto).toString('latin1');
  }
  get remoteAddress(): string {
    return unmapIPv4(this.quic.remoteHost);
  }
  get remotePort(): number {
    return this.quic.remotePort;
  }
  get localAddress(): string {
    return unmapIPv4(this.quic.localHost);
  }
  get localPort(): number {
    return this.quic.localPort;
  }

  stats(): { sent: number; received: number; lost: number } {
    const st = (this.quic as unknown as { conn: { stats(): { sent: number; recv: number; lost: number } } }).conn.stats();
    return { sent: st.sent, received: st.recv, lost: st.lost };
  }

  peerCertificates(): Uint8Array[] {
    return this.quic.getRemoteCertsChain();
  }

  /** Streams of `kind` the peer's MAX_STREAMS still allows us to open. */
  private streamsLeft(kind: 'bidi' | 'uni'): number {
    const conn = (this.quic as unknown as { conn: { peerStreamsLeftBidi(): number; peerStreamsLeftUni(): number } }).conn;
    return kind === 'bidi' ? conn.peerStreamsLeftBidi() : conn.peerStreamsLeftUni();
  }

  openStream(kind: 'bidi' | 'uni'): TransportStream {
    if (this.closing || this.quic.closed) throw new TransportClosed('the QUIC connection is closed');
    // Checked first: past the limit the library fails after taking the stream id, and every later
    // stream of that kind then fails too.
    if (this.streamsLeft(kind) === 0) throw new StreamLimitReached(`the peer allows no more ${kind} streams for now`);
    try {
      return wrapStream(this.quic.newStream(kind));
    } catch (e) {
      throw new TransportClosed(`cannot open a ${kind} stream: ${(e as Error).message}`, { cause: e });
    }
  }

  async openStreamWhenAllowed(kind: 'bidi' | 'uni', timeoutMs: number): Promise<TransportStream> {
    // quiche has no event for a raised MAX_STREAMS, so look again every few ms (only while at the limit).
    const end = Date.now() + timeoutMs;
    while (!this.closing && !this.quic.closed && this.streamsLeft(kind) === 0) {
      if (Date.now() >= end) throw new StreamLimitReached(`the peer allowed no more ${kind} streams within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.openStream(kind);
  }

  onStream(listener: (stream: TransportStream) => void): void {
    this.listener = listener;
    for (const s of this.early.splice(0)) listener(s);
  }

  async close(code: number, reason = ''): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.closeInfo ??= { by: 'local', app: true, code, reason };
      // CONNECTION_CLOSE first: stop() alone resets every stream before it closes, and a peer may read
      // the reset of our control stream as H3_CLOSED_CRITICAL_STREAM. Once the close is sent, the
      // connection is draining, and stop() only cleans up.
      // stop() then skips its own close, so we raise the event it would have raised: the library's
      // close handling (the client's socket among it) hangs on that event.
      const internals = this.quic as unknown as {
        conn: { close(app: boolean, code: number, reason: Uint8Array): void; isDraining(): boolean; isClosed(): boolean; localError(): unknown };
        send(): Promise<void>;
      };
      try {
        if (!internals.conn.isDraining() && !internals.conn.isClosed()) {
          internals.conn.close(true, code, Buffer.from(reason));
          const error = new quicErrors.ErrorQUICConnectionLocal(`Locally closed with application code ${code}`, { data: internals.conn.localError() as never });
          this.quic.dispatchEvent(new quicEvents.EventQUICConnectionError({ detail: error }));
          await internals.send();
        }
      } catch {
        /* already closing */
      }
      await this.quic.stop({ isApp: true, errorCode: code, reason: Buffer.from(reason), force: true }).catch(() => undefined);
    }
    await this.closed;
  }
}

/**
 * A bigger kernel receive buffer for the endpoint's UDP socket. The library reads datagrams on the JS
 * thread; at the default (about 208 KiB) a burst of packets while that thread is busy overflows it, and
 * the library's loss recovery is slow to repair a lost tail. The kernel caps the size at net.core.rmem_max.
 */
function enlargeReceiveBuffer(endpoint: QUICServer | QUICClient): void {
  const socket = (endpoint as unknown as { socket?: { socket?: { setRecvBufferSize(n: number): void } } }).socket?.socket;
  try {
    socket?.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    /* not allowed here: keep the default */
  }
}

/** The client's socket is dual-stack, so IPv4 peers show as ::ffff:a.b.c.d; callers compare with DNS answers. */
function unmapIPv4(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

function serverCrypto() {
  const key = getRandomValues(new Uint8Array(32));
  return {
    key: key.buffer as ArrayBuffer,
    ops: {
      sign: async (k: ArrayBuffer, data: ArrayBuffer) => {
        const mac = createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
        return mac.buffer.slice(mac.byteOffset, mac.byteOffset + mac.byteLength) as ArrayBuffer;
      },
      verify: async (k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer) => {
        const mac = createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
        return sig.byteLength === mac.length && timingSafeEqual(mac, Buffer.from(sig));
      },
    },
  };
}

const clientCrypto = { ops: { randomBytes: async (data: ArrayBuffer) => void getRandomValues(new Uint8Array(data)) } };

export interface QuicListenOptions {
  host?: string;
  port?: number;
  /** PEM certificate chain and key of the server's TLS identity. */
  cert: string;
  key: string;
  alpn?: string[];
  /** Idle timeout in ms (default 30 s). */
  idleTimeoutMs?: number;
  crypto?: CryptoProvider;
}

export interface QuicConnectOptions {
  host: string;
  port: number;
  /** SNI and the name the server certificate must cover. */
  servername: string;
  /** PEM trust anchors for the server certificate. */
  ca: string;
  alpn?: string[];
  idleTimeoutMs?: number;
  crypto?: CryptoProvider;
  /** Give up on the handshake after this many ms (default 10 s). */
  timeoutMs?: number;
}

/** Largest streams and flow-control windows: generous enough for the benchmarks' bodies. */
const WINDOWS = {
  initialMaxData: 16 * 1024 * 1024,
  initialMaxStreamDataBidiLocal: 4 * 1024 * 1024,
  initialMaxStreamDataBidiRemote: 4 * 1024 * 1024,
  initialMaxStreamDataUni: 1024 * 1024,
  initialMaxStreamsBidi: 1000,
  initialMaxStreamsUni: 16,
};

/** Starts a QUIC server; each connection is handed over once its handshake is done and its exporter known. */
export async function listenQuic(options: QuicListenOptions): Promise<TransportServer> {
  applyWorkarounds();
  const dir = keylogDirectory();
  const crypto = options.crypto ?? nodeCrypto;
  const server = new QUICServer({
    crypto: serverCrypto(),
    config: {
      cert: options.cert,
      key: options.key,
      applicationProtos: options.alpn ?? ['h3'],
      verifyPeer: false,
      logKeys: path.join(dir, KEYLOG_MARKER),
      maxIdleTimeout: options.idleTimeoutMs ?? 30_000,
      ...WINDOWS,
    },
    ...streamCodes,
    logger: silent(),
  });
  let listener: ((c: TransportConnection) => void) | undefined;
  const open = new Set<MatrixaiConnection>();
  server.addEventListener(quicEvents.EventQUICServerConnection.name, (evt: Event) => {
    const quic = (evt as quicEvents.EventQUICServerConnection).detail;
    exporterKeys((quic as unknown as { conn: object }).conn, crypto).then(
      (keys) => {
        const sni = (quic as unknown as { conn: { serverName(): string | null } }).conn.serverName() ?? undefined;
        const connection = new MatrixaiConnection(quic, keys, sni);
        open.add(connection);
        void connection.closed.then(() => open.delete(connection));
        if (listener) listener(connection);
        else void connection.close(H3ErrorCode.H3_INTERNAL_ERROR, 'no listener');
      },
      () => void quic.stop({ isApp: true, errorCode: H3ErrorCode.H3_INTERNAL_ERROR, force: true }).catch(() => undefined),
    );
  });
  // Errors of single connections are reported on the connection; keep them off the server's target.
  server.addEventListener(quicEvents.EventQUICServerError.name, () => undefined);
  await server.start({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  enlargeReceiveBuffer(server);
  return {
    get port() {
      return server.port;
    },
    get host() {
      return server.host;
    },
    onConnection(l) {
      listener = l;
    },
    async close(code = H3ErrorCode.H3_NO_ERROR) {
      await Promise.all([...open].map((c) => c.close(code)));
      await server.stop({ isApp: true, errorCode: code, force: true }).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** QUICClient.createQUICClient with its errors turned into ours. */
async function createClient(options: object, ctx: { timer: number }): Promise<QUICClient> {
  const timeoutMs = ctx.timer;
  try {
    return await QUICClient.createQUICClient(options as Parameters<typeof QUICClient.createQUICClient>[0], ctx);
  } catch (e) {
    if (e instanceof quicErrors.ErrorQUICClientCreateTimeout) throw new QuicConnectTimeout(`no QUIC handshake within ${timeoutMs} ms`, { cause: e });
    const tls = e instanceof quicErrors.ErrorQUICConnectionLocalTLS || e instanceof quicErrors.ErrorQUICConnectionPeerTLS;
    throw new QuicHandshakeFailed(tls ? 'the TLS handshake failed (the server certificate does not verify for this name, or the peer refused ours)' : `the QUIC handshake failed: ${(e as Error).message}`, { cause: e });
  }
}

/** Opens a QUIC connection; resolves once the handshake is done (the server certificate verified by quiche) and the exporter known. */
export async function connectQuic(options: QuicConnectOptions): Promise<TransportConnection> {
  applyWorkarounds();
  const dir = keylogDirectory();
  const crypto = options.crypto ?? nodeCrypto;
  try {
    const client = await createClient(
      {
        host: options.host,
        port: options.port,
        serverName: options.servername,
        crypto: clientCrypto,
        config: {
          ca: options.ca,
          verifyPeer: true,
          applicationProtos: options.alpn ?? ['h3'],
          logKeys: path.join(dir, KEYLOG_MARKER),
          maxIdleTimeout: options.idleTimeoutMs ?? 30_000,
          ...WINDOWS,
        },
        ...streamCodes,
        logger: silent(),
      },
      { timer: options.timeoutMs ?? 10_000 },
    );
    const quic = client.connection;
    enlargeReceiveBuffer(client);
    client.addEventListener(quicEvents.EventQUICClientError.name, () => undefined);
    let keys: AuthenticatorKeys;
    try {
      keys = await exporterKeys((quic as unknown as { conn: object }).conn, crypto);
    } catch (e) {
      await client.destroy({ isApp: true, errorCode: H3ErrorCode.H3_INTERNAL_ERROR, force: true }).catch(() => undefined);
      throw e;
    }
    const connection = new MatrixaiConnection(quic, keys, options.servername);
    // The QUICClient owns the socket: destroy it too when the connection ends.
    void connection.closed.then(() => client.destroy({ force: true }).catch(() => undefined));
    return connection;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
