import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import type { CryptoProvider } from '../../../crypto/provider.js';
import { nodeCrypto } from '../../../crypto/node.js';
import { H3ErrorCode } from '../../../errors.js';
import { QuicConnectTimeout, QuicHandshakeFailed } from '../errors.js';
import type { TransportClose, TransportConnection, TransportServer } from '../transport.js';
import { binding, type Binding, type HostPort, type NativeConfig } from './binding.js';
import { DATAGRAM_SIZE, QuicheConnection, type ConnectionEvents, type ConnectionHost } from './connection.js';
import { attachKeylog, exporterKeys, keylogDirectory } from './keylog.js';

// A QUIC endpoint of our own over quiche's native binding: one UDP socket, connections found by their
// connection id (we pick 20-byte ids, so a short header's id is bytes 1 to 20), datagrams fed to quiche
// as they arrive and one flush per connection per turn of the event loop, after all of them. A server
// answers an unsupported version with Version Negotiation and accepts every other Initial at once, with
// no Retry round trip. Early data (0-RTT) is off unless both ends opt in (`earlyData`): then a client that
// resumes with a session ticket sends its first streams in 0-RTT, and a server hands the connection over
// as soon as early data arrives, before the handshake is done (see spec-notes on 0-RTT).

export interface QuicFlowControl {
  /** Initial connection window (bytes the peer may send before we say more). */
  maxData: number;
  /** Initial window of a bidirectional stream we opened, of one the peer opened, and of a peer's unidirectional stream. */
  maxStreamDataBidiLocal: number;
  maxStreamDataBidiRemote: number;
  maxStreamDataUni: number;
  /** Streams the peer may open at once, of each kind. */
  maxStreamsBidi: number;
  maxStreamsUni: number;
  /** Upper bounds of quiche's window auto-tuning. */
  maxStreamWindow: number;
  maxConnectionWindow: number;
}

/** Windows generous enough for the benchmarks' bodies at loopback speed. */
export const DEFAULT_FLOW_CONTROL: QuicFlowControl = {
  maxData: 16 * 1024 * 1024,
  maxStreamDataBidiLocal: 4 * 1024 * 1024,
  maxStreamDataBidiRemote: 4 * 1024 * 1024,
  maxStreamDataUni: 1024 * 1024,
  maxStreamsBidi: 1000,
  maxStreamsUni: 16,
  maxStreamWindow: 16 * 1024 * 1024,
  maxConnectionWindow: 24 * 1024 * 1024,
};

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
  flowControl?: Partial<QuicFlowControl>;
  /** Connections held at once; Initials beyond are dropped (default 10,000). */
  maxConnections?: number;
  /**
   * A handshake not done this long after the client's first Initial is closed (CONNECTION_CLOSE with
   * NO_ERROR, reason "handshake timeout"), so a peer that stalls half way holds nothing for long
   * (default 10 s; the idle timeout alone would allow `idleTimeoutMs`).
   */
  handshakeTimeoutMs?: number;
  /** Accept early data (0-RTT) from clients that resume (default false). */
  earlyData?: boolean;
  /** A write that makes no progress for this long closes its connection with H3_EXCESSIVE_LOAD (default 60 s; 0: no bound). */
  sendTimeoutMs?: number;
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
  flowControl?: Partial<QuicFlowControl>;
  /** A session ticket from an earlier connection to the same server (from `onSession`), to resume with. */
  session?: Uint8Array;
  /** Send early data (0-RTT) when resuming: the connection is handed over before its handshake is done. Default false. */
  earlyData?: boolean;
  /** Called with the server's session ticket once it arrives, for a later `session`. */
  onSession?: (ticket: Uint8Array) => void;
  /** A write that makes no progress for this long closes the connection with H3_EXCESSIVE_LOAD (default 60 s; 0: no bound). */
  sendTimeoutMs?: number;
}

const CID_LENGTH = 20;
/** How long a write may make no progress before its connection is closed (as HTTP/2's sendTimeoutMs). */
const DEFAULT_SEND_TIMEOUT_MS = 60_000;
const SOCKET_BUFFER = 4 * 1024 * 1024;
/** BoringSSL's signature algorithms, less the ones it does not implement (RSA-PSS-PSS, Ed448). */
const SIGALGS = [
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'ecdsa_secp256r1_sha256',
  'ecdsa_secp384r1_sha384',
  'ecdsa_secp521r1_sha512',
  'ed25519',
].join(':');

function buildConfig(
  b: Binding,
  o: { verifyPeer: boolean; ca?: string; cert?: string; key?: string; alpn?: string[]; idleTimeoutMs?: number; flowControl?: Partial<QuicFlowControl>; earlyData?: boolean },
): NativeConfig {
  const config = b.Config.withBoringSslCtx(
    o.verifyPeer,
    false,
    o.ca ? Buffer.from(o.ca) : null,
    o.key ? [Buffer.from(o.key)] : null,
    o.cert ? [Buffer.from(o.cert)] : null,
    SIGALGS,
  );
  const f = { ...DEFAULT_FLOW_CONTROL, ...o.flowControl };
  config.logKeys();
  config.grease(true);
  config.setMaxIdleTimeout(o.idleTimeoutMs ?? 30_000);
  config.setMaxRecvUdpPayloadSize(DATAGRAM_SIZE);
  config.setMaxSendUdpPayloadSize(DATAGRAM_SIZE);
  config.setInitialMaxData(f.maxData);
  config.setInitialMaxStreamDataBidiLocal(f.maxStreamDataBidiLocal);
  config.setInitialMaxStreamDataBidiRemote(f.maxStreamDataBidiRemote);
  config.setInitialMaxStreamDataUni(f.maxStreamDataUni);
  config.setInitialMaxStreamsBidi(f.maxStreamsBidi);
  config.setInitialMaxStreamsUni(f.maxStreamsUni);
  config.setMaxStreamWindow(f.maxStreamWindow);
  config.setMaxConnectionWindow(f.maxConnectionWindow);
  config.setDisableActiveMigration(true);
  config.setApplicationProtos(o.alpn ?? ['h3']);
  if (o.earlyData) config.enableEarlyData();
  return config;
}

function enlargeBuffers(socket: Socket): void {
  try {
    // The kernel caps these at net.core.rmem_max / wmem_max.
    socket.setRecvBufferSize(SOCKET_BUFFER);
    socket.setSendBufferSize(SOCKET_BUFFER);
  } catch {
    /* not allowed here: keep the defaults */
  }
}

/** Closes the socket once Node's send queue is empty, so a last CONNECTION_CLOSE still leaves. */
function closeSocket(socket: Socket, tries = 20): void {
  if (socket.getSendQueueCount() > 0 && tries > 0) {
    setTimeout(() => closeSocket(socket, tries - 1), 5);
    return;
  }
  try {
    socket.close();
  } catch {
    /* already closed */
  }
}

/** What a server endpoint needs to accept connections. */
interface Acceptor {
  sendTimeoutMs: number;
  config: NativeConfig;
  keylogDir: string;
  crypto: CryptoProvider;
  local: HostPort;
  maxConnections: number;
  handshakeTimeoutMs: number;
  onConnection(connection: QuicheConnection): void;
}

class Endpoint implements ConnectionHost {
  /** Server: connections by the latin1 text of each connection id that routes to them. */
  private readonly byId = new Map<string, QuicheConnection>();
  readonly connections = new Set<QuicheConnection>();
  /** Client: its one connection. */
  single: QuicheConnection | undefined;
  acceptor: Acceptor | undefined;
  private readonly dirty = new Set<QuicheConnection>();
  private scheduled = false;
  private readonly connected: boolean;

  constructor(
    readonly socket: Socket,
    private readonly b: Binding,
    connected: boolean,
  ) {
    this.connected = connected;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // Send errors (ENOBUFS, an unreachable port) are losses QUIC repairs; nothing to raise.
    socket.on('error', () => undefined);
  }

  schedule(connection: QuicheConnection): void {
    this.dirty.add(connection);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushAll);
    }
  }

  private readonly flushAll = (): void => {
    this.scheduled = false;
    const due = [...this.dirty];
    this.dirty.clear();
    for (const c of due) if (c.flush()) this.schedule(c);
  };

  sendDatagram(connection: QuicheConnection, datagram: Buffer): void {
    if (this.connected) this.socket.send(datagram);
    else this.socket.send(datagram, connection.recvInfo.from.port, connection.recvInfo.from.host);
  }

  sendQueueLength(): number {
    return this.socket.getSendQueueCount();
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.single) {
      this.single.receive(msg);
      return;
    }
    if (msg.length < 1 + CID_LENGTH) return;
    if ((msg[0]! & 0x80) === 0) {
      this.byId.get(msg.toString('latin1', 1, 1 + CID_LENGTH))?.receive(msg);
      return;
    }
    let header;
    try {
      header = this.b.Header.fromSlice(msg, CID_LENGTH);
    } catch {
      return; // not QUIC
    }
    const known = this.byId.get(Buffer.from(header.dcid).toString('latin1'));
    if (known) {
      known.receive(msg);
      return;
    }
    if (this.acceptor && header.ty === this.b.Type.Initial) this.accept(header, msg, rinfo, this.acceptor);
  }

  private accept(header: { version: number; dcid: Uint8Array; scid: Uint8Array }, msg: Buffer, rinfo: RemoteInfo, acceptor: Acceptor): void {
    if (!this.b.versionIsSupported(header.version)) {
      const out = Buffer.allocUnsafe(DATAGRAM_SIZE);
      const length = this.b.negotiateVersion(header.scid, header.dcid, out);
      this.socket.send(out.subarray(0, length), rinfo.port, rinfo.address);
      return;
    }
    if (this.connections.size >= acceptor.maxConnections) return;
    const scid = randomBytes(CID_LENGTH);
    const remote = { host: rinfo.address, port: rinfo.port };
    let native;
    try {
      native = this.b.Connection.accept(scid, null, acceptor.local, remote, acceptor.config);
    } catch {
      return;
    }
    const keylog = attachKeylog(native, acceptor.keylogDir);
    const ids = [scid.toString('latin1'), Buffer.from(header.dcid).toString('latin1')];
    const handshakeTimer = setTimeout(() => void connection.close(0x0, 'handshake timeout', false), acceptor.handshakeTimeoutMs);
    let handedOver = false;
    const events: ConnectionEvents = {
      // Early data accepted: the connection is handed over now; its keys follow with the handshake.
      early: (c) => {
        c.servername = native.serverName() ?? undefined;
        handedOver = true;
        acceptor.onConnection(c);
      },
      established: (c) => {
        clearTimeout(handshakeTimer);
        c.servername = native.serverName() ?? undefined;
        try {
          c.keys = exporterKeys(keylog, acceptor.crypto);
        } catch (e) {
          void c.close(H3ErrorCode.H3_INTERNAL_ERROR, 'no exporter');
          throw e;
        }
        if (!handedOver) acceptor.onConnection(c);
      },
      ended: (c) => {
        clearTimeout(handshakeTimer);
        for (const id of ids) this.byId.delete(id);
        this.connections.delete(c);
        fs.rmSync(keylog, { force: true });
      },
    };
    const connection = new QuicheConnection(this, native, 'server', { from: remote, to: acceptor.local }, events, undefined);
    connection.sendTimeoutMs = acceptor.sendTimeoutMs;
    for (const id of ids) this.byId.set(id, connection);
    this.connections.add(connection);
    connection.receive(msg);
  }
}

/** A send path with no DNS step per datagram: the address is always an IP here. */
function literalLookup(family: 4 | 6) {
  return (address: string, _options: unknown, callback: (err: Error | null, address: string, family: number) => void) => callback(null, address, family);
}

/** Starts a QUIC server; each connection is handed over once its handshake is done and its exporter known. */
export async function listenQuic(options: QuicListenOptions): Promise<TransportServer> {
  const b = binding();
  const host = options.host ?? '127.0.0.1';
  const family = isIP(host) === 6 ? 6 : 4;
  const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: literalLookup(family) as never });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  enlargeBuffers(socket);
  const port = socket.address().port;
  const endpoint = new Endpoint(socket, b, false);
  const keylogDir = keylogDirectory();
  let listener: ((c: TransportConnection) => void) | undefined;
  endpoint.acceptor = {
    config: buildConfig(b, { verifyPeer: false, cert: options.cert, key: options.key, earlyData: options.earlyData ?? false, ...pick(options) }),
    keylogDir,
    crypto: options.crypto ?? nodeCrypto,
    local: { host, port },
    maxConnections: options.maxConnections ?? 10_000,
    sendTimeoutMs: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    onConnection: (c) => {
      if (listener) listener(c);
      else void c.close(H3ErrorCode.H3_INTERNAL_ERROR, 'no listener');
    },
  };
  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    onConnection(l) {
      listener = l;
    },
    close(code = H3ErrorCode.H3_NO_ERROR) {
      closing ??= (async () => {
        endpoint.acceptor = undefined;
        await Promise.all([...endpoint.connections].map((c) => c.close(code)));
        closeSocket(socket);
        fs.rmSync(keylogDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

function pick(o: { alpn?: string[]; idleTimeoutMs?: number; flowControl?: Partial<QuicFlowControl> }) {
  return {
    ...(o.alpn ? { alpn: o.alpn } : {}),
    ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    ...(o.flowControl ? { flowControl: o.flowControl } : {}),
  };
}

/** Why a handshake ended before it was done, as our error. */
function handshakeError(info: TransportClose): Error {
  if (info.by === 'idle') return new QuicConnectTimeout('the QUIC handshake timed out');
  const tls = !info.app && info.code >= 0x100 && info.code <= 0x1ff;
  const why = tls
    ? `the TLS handshake failed (${info.by === "peer" ? "the peer sent" : "we sent"} alert ${info.code - 0x100}: the server certificate does not verify for this name, or the peer refused ours)`
    : `the QUIC handshake failed (${info.by}, code 0x${info.code.toString(16)}${info.reason ? ` ${info.reason}` : ''})`;
  return new QuicHandshakeFailed(why);
}

/** Opens a QUIC connection; resolves once the handshake is done (the server certificate verified by quiche) and the exporter known. */
export async function connectQuic(options: QuicConnectOptions): Promise<TransportConnection> {
  const b = binding();
  const address = isIP(options.host) ? options.host : (await lookup(options.host)).address;
  const socket = createSocket({ type: isIP(address) === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(options.port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  enlargeBuffers(socket);
  const local = { host: socket.address().address, port: socket.address().port };
  const remote = { host: address, port: options.port };
  const crypto = options.crypto ?? nodeCrypto;
  const keylogDir = keylogDirectory();
  const removeKeylogs = () => fs.rmSync(keylogDir, { recursive: true, force: true });
  let native;
  try {
    const config = buildConfig(b, { verifyPeer: true, ca: options.ca, earlyData: options.earlyData ?? false, ...pick(options) });
    native = b.Connection.connect(options.servername, randomBytes(CID_LENGTH), local, remote, config);
    if (options.session) native.setSession(options.session);
  } catch (e) {
    removeKeylogs();
    socket.close();
    throw new QuicHandshakeFailed(`cannot start a QUIC connection: ${(e as Error).message}`, { cause: e });
  }
  const keylog = attachKeylog(native, keylogDir);
  const endpoint = new Endpoint(socket, b, true);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<TransportConnection>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (!settled) reject(new QuicConnectTimeout(`no QUIC handshake within ${timeoutMs} ms`));
      settled = true;
      connection.destroy({ by: 'local', app: false, code: 0, reason: 'handshake timeout' });
    }, timeoutMs);
    const events: ConnectionEvents = {
      // Resumed with early data: handed over at once; the handshake timer still runs.
      early: (c) => {
        settled = true;
        resolve(c);
      },
      established: (c) => {
        clearTimeout(timer);
        try {
          c.keys = exporterKeys(keylog, crypto);
        } catch (e) {
          if (!settled) reject(e);
          settled = true;
          void c.close(H3ErrorCode.H3_INTERNAL_ERROR, 'no exporter');
          throw e;
        } finally {
          removeKeylogs();
        }
        if (!settled) resolve(c);
        settled = true;
      },
      ...(options.onSession ? { session: options.onSession } : {}),
      ended: (_c, info) => {
        clearTimeout(timer);
        removeKeylogs();
        closeSocket(socket);
        if (!settled) {
          settled = true;
          reject(handshakeError(info));
        }
      },
    };
    const connection = new QuicheConnection(endpoint, native, 'client', { from: remote, to: local }, events, options.servername);
    connection.sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
    endpoint.single = connection;
    endpoint.schedule(connection);
  });
}
