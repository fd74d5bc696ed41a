import { H3ErrorCode } from '../../../errors.js';
import { StreamLimitReached, TransportClosed } from '../errors.js';
import type { AuthenticatorKeys } from '../../../exporter/keys.js';
import type { TransportClose, TransportConnection, TransportStream } from '../transport.js';
import type { NativeConnection, RecvInfo } from './binding.js';
import { QuicheStream, type StreamHost } from './stream.js';

// One QUIC connection over a native quiche Connection. Nothing happens per datagram but quiche's own
// recv(): the endpoint feeds every datagram of a loop turn first, then calls flush() once, which reads
// the streams that became readable, offers pending writes again, wakes openers waiting for MAX_STREAMS,
// drains quiche's send() into the socket and re-arms the one timer from quiche's timeout.

/** What a connection needs of its endpoint. */
export interface ConnectionHost {
  /** Hands one datagram to the socket (the buffer is not reused afterwards). */
  sendDatagram(connection: QuicheConnection, datagram: Buffer): void;
  /** Datagrams still queued in the socket (Node's send queue): flushing pauses above a bound. */
  sendQueueLength(): number;
  /** Run connection.flush() in this loop turn's check phase, once, after all datagrams are fed. */
  schedule(connection: QuicheConnection): void;
}

/** Datagram payload we send and receive (what quiche and the QUIC library use). */
export const DATAGRAM_SIZE = 1350;
/** One flush sends at most this many datagrams, then yields so receiving is not starved. */
const DATAGRAMS_PER_FLUSH = 256;
const SEND_QUEUE_LIMIT = 64;
const SLAB_SIZE = 1024 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * Fresh memory carved in regions: a region handed out is never written again, so one slab serves every
 * connection of the process (all on this thread) and an idle connection holds none.
 */
class Slab {
  private buffer = Buffer.allocUnsafe(SLAB_SIZE);
  private at = 0;
  take(size: number): Buffer {
    if (this.at + size > this.buffer.length) {
      this.buffer = Buffer.allocUnsafe(SLAB_SIZE);
      this.at = 0;
    }
    return this.buffer.subarray(this.at, this.at + size);
  }
  keep(used: number): void {
    // 8-byte aligned, so views over the regions stay cheap.
    this.at += (used + 7) & ~7;
  }
}

const slab = new Slab();

/**
 * What `native` becomes once the connection has ended: quiche's object is let go at once, so that what
 * it holds is freed when it is collected even while the application keeps this connection. Every call
 * fails, as on a closed connection; nothing calls it but guarded paths.
 */
const RELEASED = new Proxy({} as NativeConnection, {
  get: (_target, name) =>
    name === 'isClosed'
      ? () => true
      : () => {
          throw new Error('the QUIC connection is closed');
        },
});

/** What a connection still answers after it ended. */
interface Remains {
  alpn: string;
  certificates: Uint8Array[];
  stats: { sent: number; received: number; lost: number };
}

interface Opener {
  kind: 'bidi' | 'uni';
  resolve(stream: TransportStream): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

export interface ConnectionEvents {
  /** Early data (0-RTT) can flow before the handshake is done: sent (client) or accepted (server). */
  early?(connection: QuicheConnection): void;
  /** The handshake is done (quiche says established); may throw to refuse the connection. */
  established(connection: QuicheConnection): void;
  /** Client: a session ticket to resume with later (once per connection, after the handshake). */
  session?(ticket: Uint8Array): void;
  /** The connection ended (before or after establishment); `info` says how. */
  ended(connection: QuicheConnection, info: TransportClose): void;
}

export class QuicheConnection implements TransportConnection, StreamHost {
  keys!: AuthenticatorKeys;
  readonly closed: Promise<TransportClose>;
  private resolveClosed!: (info: TransportClose) => void;
  private ended: TransportClose | undefined;
  private localClose: TransportClose | undefined;
  established = false;
  readonly handshake: Promise<boolean>;
  private resolveHandshake!: (done: boolean) => void;
  /** events.early was called: the connection was handed over in early data. */
  private announcedEarly = false;
  /** Client: flushes left in which to look for the server's session ticket (it comes just after the handshake). */
  private ticketLooks = 64;
  private readonly streams = new Map<number, QuicheStream>();
  private readonly writers = new Set<QuicheStream>();
  private readonly readers = new Set<QuicheStream>();
  private readonly openers: Opener[] = [];
  private listener: ((s: TransportStream) => void) | undefined;
  private early: TransportStream[] = [];
  /** Datagrams arrived since the last flush, so streams may have become readable. */
  private received = false;
  private nextBidi: number;
  private nextUni: number;
  /** The highest stream id the peer opened, per type: a lower one is old, never new. */
  private peerBidiMax = -1;
  private peerUniMax = -1;
  private readonly skippedPeerStreams = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  /** Armed while a write waits: a peer that stops reading must not hold a stream forever. */
  private stallTimer: NodeJS.Timeout | undefined;
  /** Writes that make no progress for this long close the connection (0: no bound); set by the endpoint. */
  sendTimeoutMs = 0;
  private remains: Remains | undefined;
  /** This flush handed the application something: it may write within this turn of the loop. */
  private appWoken = false;
  /** The last flush held its datagrams back for the application's answer. */
  private heldBack = false;

  constructor(
    private readonly host: ConnectionHost,
    public native: NativeConnection,
    readonly role: 'client' | 'server',
    readonly recvInfo: RecvInfo,
    private events: ConnectionEvents | undefined,
    /** The client's SNI: known at once to a client, once established to a server. */
    public servername: string | undefined,
  ) {
    this.nextBidi = role === 'client' ? 0 : 1;
    this.nextUni = role === 'client' ? 2 : 3;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.handshake = new Promise((resolve) => (this.resolveHandshake = resolve));
  }

  get inEarlyData(): boolean {
    return !this.established && !this.ended && this.native.isInEarlyData();
  }

  /** Streams may be used: after the handshake, or before it in early data. */
  private get open(): boolean {
    return this.established || this.native.isInEarlyData();
  }

  get alpnProtocol(): string {
    if (this.remains) return this.remains.alpn;
    return Buffer.from(this.native.applicationProto()).toString('latin1');
  }
  get remoteAddress(): string {
    return unmapIPv4(this.recvInfo.from.host);
  }
  get remotePort(): number {
    return this.recvInfo.from.port;
  }
  get localAddress(): string {
    return unmapIPv4(this.recvInfo.to.host);
  }
  get localPort(): number {
    return this.recvInfo.to.port;
  }
  get closing(): boolean {
    return this.ended !== undefined || this.localClose !== undefined || this.native.isDraining() || this.native.isClosed();
  }

  peerCertificates(): Uint8Array[] {
    if (this.remains) return this.remains.certificates;
    return this.native.peerCertChain() ?? [];
  }

  stats(): { sent: number; received: number; lost: number } {
    if (this.remains) return this.remains.stats;
    const s = this.native.stats();
    return { sent: s.sent, received: s.recv, lost: s.lost };
  }

  /** Feeds one datagram to quiche. A datagram quiche refuses is dropped; if it closed the connection, flush() sees it. */
  receive(datagram: Buffer): void {
    if (this.ended) return;
    try {
      this.native.recv(datagram, this.recvInfo);
    } catch {
      /* undecryptable, a duplicate, or fatal: the connection's state says which */
    }
    this.received = true;
    this.host.schedule(this);
  }

  openStream(kind: 'bidi' | 'uni'): TransportStream {
    if (this.closing || !this.open) throw new TransportClosed('the QUIC connection is closed');
    const id = kind === 'bidi' ? this.nextBidi : this.nextUni;
    try {
      // An empty write makes quiche take the id now, within the peer's MAX_STREAMS, or refuse it.
      this.native.streamSend(id, EMPTY, false);
    } catch (e) {
      const message = (e as Error).message;
      if (message === 'StreamLimit') throw new StreamLimitReached(`the peer allows no more ${kind} streams for now`);
      if (message !== 'Done') throw new TransportClosed(`cannot open a ${kind} stream: ${message}`, { cause: e });
    }
    if (kind === 'bidi') this.nextBidi += 4;
    else this.nextUni += 4;
    const stream = new QuicheStream(this, id, true);
    this.streams.set(id, stream);
    return stream;
  }

  private streamsLeft(kind: 'bidi' | 'uni'): number {
    return kind === 'bidi' ? this.native.peerStreamsLeftBidi() : this.native.peerStreamsLeftUni();
  }

  openStreamWhenAllowed(kind: 'bidi' | 'uni', timeoutMs: number): Promise<TransportStream> {
    // Openers waiting already go first, in order.
    if (this.closing || !this.open || (this.streamsLeft(kind) > 0 && !this.openers.some((o) => o.kind === kind))) {
      try {
        return Promise.resolve(this.openStream(kind));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    // quiche raises the limit itself as streams end, with no event: each flush looks again.
    return new Promise((resolve, reject) => {
      const opener: Opener = {
        kind,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.openers.splice(this.openers.indexOf(opener), 1);
          reject(new StreamLimitReached(`the peer allowed no more ${kind} streams within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.openers.push(opener);
    });
  }

  onStream(listener: (stream: TransportStream) => void): void {
    this.listener = listener;
    const early = this.early;
    this.early = [];
    for (const s of early) listener(s);
  }

  /** Closes with an application (HTTP/3) code, or with a QUIC transport code when `app` is false. */
  async close(code: number, reason = '', app = true): Promise<void> {
    if (!this.ended && !this.localClose) {
      this.localClose = { by: 'local', app, code, reason };
      try {
        // CONNECTION_CLOSE goes out in the next flush, before anything else; streams are not reset one by one.
        // The reason is for people; a long one would not fit the packet.
        this.native.close(app, code, Buffer.from(reason).subarray(0, 512));
      } catch {
        /* already closing */
      }
      this.host.schedule(this);
    }
    await this.closed;
  }

  /** Drops the connection without a word to the peer (the endpoint is going away, or the handshake timed out). */
  destroy(info: TransportClose): void {
    try {
      this.native.close(false, 0, EMPTY);
    } catch {
      /* already closing */
    }
    this.finish(info);
  }

  // StreamHost
  take(size: number): Buffer {
    return slab.take(size);
  }
  keep(used: number): void {
    slab.keep(used);
  }
  wantWrite(stream: QuicheStream): void {
    this.writers.add(stream);
    this.host.schedule(this);
  }
  wantRead(stream: QuicheStream): void {
    this.readers.add(stream);
    this.host.schedule(this);
  }
  done(stream: QuicheStream): void {
    this.streams.delete(stream.id);
  }
  woke(): void {
    this.appWoken = true;
  }

  /** Runs every step that input (datagrams, a timer, a write) may have made due. True when sending was cut short. */
  flush(): boolean {
    const native = this.native;
    if (this.ended) return false;
    this.announceEarly();
    if (!this.established && native.isEstablished()) {
      this.established = true;
      try {
        this.events?.established(this);
        this.resolveHandshake(true);
      } catch {
        /* refused: the handler closed the connection */
      }
    }
    if (this.established && this.ticketLooks > 0 && this.received && this.events?.session) {
      this.ticketLooks--;
      const ticket = native.session();
      if (ticket) {
        this.ticketLooks = 0;
        this.events?.session?.(ticket);
      }
    }
    if (this.open && !this.closing) {
      if (this.received) this.readStreams();
      for (const s of this.readers) s.deliver();
      this.readers.clear();
      for (const s of this.writers) if (s.push()) this.writers.delete(s);
      if (this.writers.size > 0 && this.sendTimeoutMs > 0 && !this.stallTimer) this.armStallTimer(this.sendTimeoutMs);
      this.wakeOpeners();
    }
    this.received = false;
    // What the application was just handed (a request, the end of a body) it often answers at once, in
    // microtasks after this flush: its bytes, its FIN and our ACK then share one datagram if the send
    // waits for the next flush. Only one flush in two waits, so ACKs never stall.
    if (this.appWoken && !this.heldBack && !this.localClose) {
      this.appWoken = false;
      this.heldBack = true;
      this.host.schedule(this);
      return false;
    }
    this.appWoken = false;
    this.heldBack = false;
    let more = false;
    for (let n = 0; ; n++) {
      if (n >= DATAGRAMS_PER_FLUSH || ((n & 15) === 15 && this.host.sendQueueLength() > SEND_QUEUE_LIMIT)) {
        more = true;
        break;
      }
      const region = slab.take(DATAGRAM_SIZE);
      let result: [number, unknown] | null;
      try {
        result = native.send(region);
      } catch {
        break;
      }
      if (result === null) break;
      const length = result[0];
      slab.keep(length);
      this.host.sendDatagram(this, length === region.length ? region : region.subarray(0, length));
    }
    if (native.isClosed() || native.isDraining() || (this.localClose && !more)) this.finish(this.closeInfo());
    else this.armTimer();
    // A client is in early data once its first flight (the ClientHello with early_data) is out.
    if (this.announceEarly()) this.host.schedule(this);
    return more;
  }

  /** Hands the connection over in early data, once (events.early). True when it did so now. */
  private announceEarly(): boolean {
    if (this.established || this.announcedEarly || this.ended || !this.events?.early || !this.native.isInEarlyData()) return false;
    this.announcedEarly = true;
    try {
      this.events?.early?.(this);
    } catch {
      /* refused: the handler closed the connection */
    }
    return true;
  }

  /** New peer streams are announced; streams with data are delivered to their readers. */
  private readStreams(): void {
    // Unidirectional streams first: what a control stream says (SETTINGS, certificates) arrived before
    // the responses that came in the same batch, and readers should see it in that order.
    const ids = [...this.native.readable()];
    if (ids.length > 1) ids.sort((x, y) => (y & 2) - (x & 2) || x - y);
    for (const id of ids) {
      let stream = this.streams.get(id);
      if (!stream) {
        if (!this.isNewPeerStream(id)) {
          this.discard(id);
          continue;
        }
        stream = new QuicheStream(this, id, false);
        this.streams.set(id, stream);
        if (this.listener) this.listener(stream);
        else this.early.push(stream);
      }
      stream.deliver();
    }
  }

  /**
   * Streams may arrive out of order (the peer's 6 before its 2), but never twice: ids below the highest
   * seen count as new only if they were skipped over and not seen since.
   */
  private isNewPeerStream(id: number): boolean {
    const peerOpened = ((id & 1) === 1) === (this.role === 'client');
    if (!peerOpened) return false;
    const uni = (id & 2) !== 0;
    const max = uni ? this.peerUniMax : this.peerBidiMax;
    if (id <= max) return this.skippedPeerStreams.delete(id);
    for (let skipped = max < 0 ? id & 3 : max + 4; skipped < id; skipped += 4) this.skippedPeerStreams.add(skipped);
    if (uni) this.peerUniMax = id;
    else this.peerBidiMax = id;
    return true;
  }

  /** Data (or a reset) for a stream we already let go of: taken out of quiche and dropped. */
  private discard(id: number): void {
    const scratch = slab.take(64 * 1024);
    try {
      while (this.native.streamRecv(id, scratch) !== null);
    } catch {
      /* reset or finished */
    }
  }

  private wakeOpeners(): void {
    while (this.openers.length > 0) {
      const opener = this.openers[0]!;
      if (this.streamsLeft(opener.kind) === 0) {
        // A bidirectional opener must not hold up a unidirectional one, and the other way round.
        const other = this.openers.find((o) => o.kind !== opener.kind && this.streamsLeft(o.kind) > 0);
        if (!other) return;
        this.openers.splice(this.openers.indexOf(other), 1);
        this.resolveOpener(other);
        continue;
      }
      this.openers.shift();
      this.resolveOpener(opener);
    }
  }

  private resolveOpener(opener: Opener): void {
    clearTimeout(opener.timer);
    try {
      opener.resolve(this.openStream(opener.kind));
    } catch (e) {
      opener.reject(e);
    }
  }

  private armTimer(): void {
    const ms = this.native.timeout();
    if (ms === null) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    const at = performance.now() + ms;
    if (this.timer && Math.abs(at - this.timerAt) < 1) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.native.onTimeout();
      this.host.schedule(this);
    }, ms);
  }

  /**
   * Closes the connection with H3_EXCESSIVE_LOAD when a write has waited `sendTimeoutMs` without quiche
   * taking a byte (the peer's windows stay shut: it stopped reading), as HTTP/2's sendTimeoutMs does.
   */
  private armStallTimer(ms: number): void {
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.ended || this.writers.size === 0) return;
      const oldest = Math.min(...[...this.writers].map((s) => s.lastProgress));
      const waited = performance.now() - oldest;
      if (waited < this.sendTimeoutMs) return this.armStallTimer(this.sendTimeoutMs - waited + 1);
      void this.close(H3ErrorCode.H3_EXCESSIVE_LOAD, `send stalled: the peer took nothing for ${this.sendTimeoutMs} ms`);
    }, ms);
    this.stallTimer.unref?.();
  }

  private closeInfo(): TransportClose {
    const native = this.native;
    if (native.isTimedOut()) return { by: 'idle', app: false, code: 0, reason: 'idle timeout' };
    if (this.localClose) return this.localClose;
    const peer = native.peerError();
    if (peer) return { by: 'peer', app: peer.isApp, code: peer.errorCode, reason: Buffer.from(peer.reason).toString('utf8') };
    const local = native.localError();
    if (local) return { by: 'local', app: local.isApp, code: local.errorCode, reason: Buffer.from(local.reason).toString('utf8') };
    return { by: 'local', app: false, code: 0, reason: '' };
  }

  private finish(info: TransportClose): void {
    if (this.ended) return;
    this.ended = info;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    const error = new TransportClosed(`the QUIC connection closed (${info.by}, code 0x${info.code.toString(16)})`);
    for (const s of [...this.streams.values()]) s.fail(error);
    this.streams.clear();
    this.writers.clear();
    this.readers.clear();
    for (const o of this.openers.splice(0)) {
      clearTimeout(o.timer);
      o.reject(error);
    }
    this.events?.ended(this, info);
    this.resolveHandshake(false);
    this.resolveClosed(info);
    // quiche's connection holds the key log file it was given (src/h3/transport/quiche/keylog.ts) until
    // it is collected: let go of it, and of the handlers that may hold it too.
    const native = this.native;
    try {
      this.remains = { alpn: Buffer.from(native.applicationProto()).toString('latin1'), certificates: native.peerCertChain() ?? [], stats: this.stats() };
    } catch {
      this.remains = { alpn: '', certificates: [], stats: { sent: 0, received: 0, lost: 0 } };
    }
    this.native = RELEASED;
    this.events = undefined;
  }
}

/** A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; callers compare with DNS answers. */
function unmapIPv4(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}
