import { StreamAborted, StreamResetByPeer, TransportClosed } from '../errors.js';
import type { TransportStream } from '../transport.js';
import { errorCode, type NativeConnection } from './binding.js';

// One QUIC stream over quiche: web streams whose source and sink are quiche's own stream buffers. Reads
// take from quiche only while the reader's queue has room, so unread data stays in quiche and the peer's
// flow-control window stops moving (backpressure); a write resolves once quiche has taken all its bytes,
// which it does only as the congestion and flow-control windows allow.

/** What a stream needs of its connection. */
export interface StreamHost {
  readonly native: NativeConnection;
  /** A fresh region of at least `size` bytes to receive into; `used` says how much of it was kept. */
  take(size: number): Buffer;
  keep(used: number): void;
  /** Run a flush of the connection soon (new data to send, or a reader that wants more). */
  wantWrite(stream: QuicheStream): void;
  wantRead(stream: QuicheStream): void;
  /** Both halves are done: the connection may forget the stream. */
  done(stream: QuicheStream): void;
  /** The application got a stream's end or a finished write, and may answer within this turn. */
  woke(): void;
}

const READ_CHUNK = 64 * 1024;
/** Reads below this size are copied out of the slab. */
const SMALL_READ = 4096;
/** Bytes a reader's queue holds before we stop taking from quiche. */
const READ_QUEUE_BYTES = 1024 * 1024;
const EMPTY = new Uint8Array(0);
const SHUTDOWN_READ = 0;
const SHUTDOWN_WRITE = 1;
/** The code for a writer that aborts without saying one: H3_REQUEST_CANCELLED. */
const CANCELLED = 0x010c;

interface PendingWrite {
  chunk: Uint8Array;
  offset: number;
  fin: boolean;
  resolve(): void;
  reject(e: unknown): void;
}

export class QuicheStream implements TransportStream {
  readonly bidirectional: boolean;
  readonly readable?: ReadableStream<Uint8Array>;
  readonly writable?: WritableStream<Uint8Array>;
  private reader?: ReadableStreamDefaultController<Uint8Array>;
  private writer?: WritableStreamDefaultController;
  /** The read half is over (end of stream, reset, aborted or never there). */
  private readEnded: boolean;
  private writeEnded: boolean;
  /** Data is waiting in quiche that the reader had no room for. */
  private readBlocked = false;
  private pending: PendingWrite | undefined;
  /** When the pending write last moved (or began): the connection's send-stall bound reads it. */
  lastProgress = 0;
  /** The last offer took nothing: the peer's windows or the congestion window are shut. */
  private blocked = false;

  constructor(
    private readonly host: StreamHost,
    readonly id: number,
    readonly local: boolean,
  ) {
    this.bidirectional = (id & 2) === 0;
    const canRead = this.bidirectional || !local;
    const canWrite = this.bidirectional || local;
    this.readEnded = !canRead;
    this.writeEnded = !canWrite;
    if (canRead) {
      this.readable = new ReadableStream<Uint8Array>(
        {
          start: (c) => void (this.reader = c),
          pull: () => {
            if (this.readBlocked) {
              this.readBlocked = false;
              this.host.wantRead(this);
            }
          },
          cancel: () => this.shutdownRead(CANCELLED),
        },
        { highWaterMark: READ_QUEUE_BYTES, size: (chunk) => chunk.byteLength },
      );
    }
    if (canWrite) {
      this.writable = new WritableStream<Uint8Array>({
        start: (c) => void (this.writer = c),
        write: (chunk) => this.write(chunk, false),
        close: () => this.write(EMPTY, true),
        abort: () => this.shutdownWrite(CANCELLED),
      });
    }
  }

  /** Moves what quiche holds for this stream into the reader's queue, while it has room. */
  deliver(): void {
    const reader = this.reader;
    if (this.readEnded || !reader) return;
    const native = this.host.native;
    while ((reader.desiredSize ?? 0) > 0) {
      const region = this.host.take(READ_CHUNK);
      let result: [number, boolean] | null;
      try {
        result = native.streamRecv(this.id, region);
      } catch (e) {
        const code = errorCode(e, 'StreamReset');
        this.endRead(code !== undefined ? new StreamResetByPeer(code) : new TransportClosed(`stream ${this.id}: ${(e as Error).message}`));
        return;
      }
      if (result === null) return;
      const [length, fin] = result;
      if (length >= SMALL_READ) {
        this.host.keep(length);
        reader.enqueue(region.subarray(0, length));
      } else if (length > 0) {
        // Copied: a small chunk the application keeps must not pin a whole slab.
        reader.enqueue(Buffer.from(region.subarray(0, length)));
      }
      if (fin) {
        this.endRead();
        return;
      }
    }
    this.readBlocked = true;
  }

  /** Offers the pending write to quiche again; true when it is all taken (or failed). */
  push(): boolean {
    const p = this.pending;
    if (!p) return true;
    const native = this.host.native;
    try {
      const rest = p.offset === 0 ? p.chunk : p.chunk.subarray(p.offset);
      // While blocked, offer only once there is room: quiche may queue a STREAM_DATA_BLOCKED for a
      // refused offer, the peer ACKs it, the ACK makes us flush and offer again, a loop at the RTT.
      // Room comes only with a datagram (quiche recomputes it at the end of recv) or a local reset,
      // and each of those runs a flush that offers again.
      if (this.blocked && rest.byteLength > 0 && !this.hasRoom()) return false;
      // quiche takes what the windows allow and sets FIN only with the last byte.
      const taken = native.streamSend(this.id, rest, p.fin);
      this.blocked = !taken && rest.byteLength > 0;
      if (taken === null) return false;
      if (taken > 0) this.lastProgress = performance.now();
      p.offset += taken;
      if (p.offset < p.chunk.byteLength) return false;
    } catch (e) {
      const code = errorCode(e, 'StreamStopped');
      this.pending = undefined;
      this.endWrite();
      p.reject(code !== undefined ? new StreamResetByPeer(code) : new TransportClosed(`stream ${this.id}: ${(e as Error).message}`));
      return true;
    }
    this.pending = undefined;
    if (p.fin) this.endWrite();
    p.resolve();
    this.host.woke();
    return true;
  }

  private hasRoom(): boolean {
    try {
      return this.host.native.streamCapacity(this.id) > 0;
    } catch {
      return true; // a stream quiche no longer knows: streamSend says why
    }
  }

  private write(chunk: Uint8Array, fin: boolean): Promise<void> | void {
    if (this.writeEnded) throw new TransportClosed(`stream ${this.id} can no longer be written`);
    return new Promise<void>((resolve, reject) => {
      this.pending = { chunk, offset: 0, fin, resolve, reject };
      this.lastProgress = performance.now();
      // Offered at once: most writes fit, and the datagrams go out in the connection's next flush.
      this.push();
      this.host.wantWrite(this);
    });
  }

  abort(code: number): void {
    this.shutdownWrite(code);
    this.shutdownRead(code);
  }

  stopSending(code: number): void {
    this.shutdownRead(code);
  }

  /** RESET_STREAM with `code`; a pending or later write fails. */
  private shutdownWrite(code: number): void {
    if (this.writeEnded) return;
    try {
      this.host.native.streamShutdown(this.id, SHUTDOWN_WRITE, code);
    } catch {
      /* already finished or reset */
    }
    const error = new StreamAborted(code);
    this.pending?.reject(error);
    this.pending = undefined;
    try {
      this.writer?.error(error);
    } catch {
      /* already errored */
    }
    this.endWrite();
    this.host.wantWrite(this);
  }

  /** STOP_SENDING with `code`; the reader sees an error. */
  private shutdownRead(code: number): void {
    if (this.readEnded) return;
    try {
      this.host.native.streamShutdown(this.id, SHUTDOWN_READ, code);
    } catch {
      /* already finished */
    }
    this.endRead(new StreamAborted(code));
    this.host.wantWrite(this);
  }

  /** The connection is gone: every open half fails with `error`. */
  fail(error: Error): void {
    if (!this.readEnded) this.endRead(error);
    if (!this.writeEnded) {
      this.pending?.reject(error);
      this.pending = undefined;
      try {
        this.writer?.error(error);
      } catch {
        /* already errored */
      }
      this.endWrite();
    }
  }

  private endRead(error?: Error): void {
    this.readEnded = true;
    this.host.woke();
    try {
      if (error) this.reader?.error(error);
      else this.reader?.close();
    } catch {
      /* cancelled by the reader */
    }
    if (this.writeEnded) this.host.done(this);
  }

  private endWrite(): void {
    this.writeEnded = true;
    if (this.readEnded) this.host.done(this);
  }
}
