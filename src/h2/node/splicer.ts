import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { debug, debugging, formatSettings } from '../../debug.js';
import { FrameTooLarge, SendStalled, SocketClosed } from '../../errors.js';
import { DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LENGTH, MAX_ALLOWED_FRAME_SIZE, parseFrameHeader, type FrameHeader } from '../wire/frame-header.js';
import { parseSettingsPayload, SettingId, type Setting } from '../settings.js';

// node:http2 drops frames of unknown types without a trace and has no way to send one. The splicer sits
// between the TLS socket and the session: inbound, it takes out the extension's frames and passes every
// other byte through unchanged; outbound, it follows frame boundaries so it can slip its own frames in
// where that is safe (after our SETTINGS, between frames, never inside a header block). Both directions
// also read SETTINGS, for SETTINGS_MAX_FRAME_SIZE and the extension's own settings.

const CLIENT_PREFACE_LENGTH = 24;
const TYPE = { HEADERS: 0x1, SETTINGS: 0x4, PUSH_PROMISE: 0x5, GOAWAY: 0x7, CONTINUATION: 0x9 } as const;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;

export interface FrameSplicerOptions {
  /** 'client': our side writes the connection preface; 'server': the peer does. */
  role: 'client' | 'server';
  /** Frame types taken out of the inbound stream and emitted as 'frame' events. */
  interceptTypes: ReadonlySet<number>;
}

/** The SETTINGS entries of a payload as id → value (the last entry for an id wins); undefined when malformed. */
function readSettings(payload: Uint8Array): Map<number, number> | undefined {
  let settings: Setting[];
  try {
    settings = parseSettingsPayload(payload);
  } catch {
    return undefined;
  }
  return new Map(settings.map(({ id, value }) => [id, value]));
}

/** The part of a frame stream parser both directions share: where we are, and a header split across chunks. */
class FrameCursor {
  prefaceLeft: number;
  /** Payload bytes of the current frame not yet seen. */
  payloadLeft = 0;
  header: FrameHeader | undefined;
  private readonly partial = Buffer.alloc(FRAME_HEADER_LENGTH);
  partialLength = 0;

  constructor(hasPreface: boolean) {
    this.prefaceLeft = hasPreface ? CLIENT_PREFACE_LENGTH : 0;
  }

  /** True between frames: no preface, payload or header byte pending. */
  get atBoundary(): boolean {
    return this.prefaceLeft === 0 && this.payloadLeft === 0 && this.partialLength === 0;
  }

  /** Passes over up to `available` bytes of the 24-byte client preface; returns how many. */
  skipPreface(available: number): number {
    const n = Math.min(this.prefaceLeft, available);
    this.prefaceLeft -= n;
    return n;
  }

  /** Adds header bytes from a chunk; returns how many were taken and the header once complete. */
  takeHeaderBytes(chunk: Buffer, at: number): { taken: number; header?: FrameHeader; bytes?: Buffer } {
    const taken = Math.min(FRAME_HEADER_LENGTH - this.partialLength, chunk.length - at);
    chunk.copy(this.partial, this.partialLength, at, at + taken);
    this.partialLength += taken;
    if (this.partialLength < FRAME_HEADER_LENGTH) return { taken };
    this.partialLength = 0;
    const bytes = Buffer.from(this.partial);
    return { taken, header: parseFrameHeader(bytes), bytes };
  }
}

/**
 * A Duplex the http2 session reads and writes in place of the TLS socket. Events:
 * - 'frame' (header, payload): an inbound frame of an intercepted type (it never reaches the session);
 * - 'peerSettings' (Map id → value): the entries of each non-ACK SETTINGS frame from the peer;
 * - 'localSettings' (Map id → value): the same for our side's SETTINGS frames;
 * - 'oversizeFrame' (header): an intercepted frame larger than our SETTINGS_MAX_FRAME_SIZE, skipped;
 * - 'sendStalled' (SendStalled): the peer does not take what we send (see limitSend), once;
 * - 'goawaySent' (code): the session wrote a GOAWAY with an error code (ours, or one nghttp2 chose itself).
 */
export class FrameSplicer extends Duplex {
  /** The peer's SETTINGS_MAX_FRAME_SIZE: the largest frame we may send. */
  peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  /** Ours: the largest frame the peer may send us. */
  localMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  /** Whether our first SETTINGS frame has gone out (nothing of ours may precede it). */
  localSettingsSent = false;
  readonly encrypted = true;
  /** Non-ACK SETTINGS frames the peer has sent (for a bound against SETTINGS floods). */
  peerSettingsFrames = 0;

  private readonly inbound: FrameCursor;
  private readonly outbound: FrameCursor;
  private inboundMode: 'pass' | 'capture' | 'observe' | 'skip' = 'pass';
  private inboundParts: Buffer[] = [];
  private outboundObserving = false;
  private outboundType = -1;
  private outboundParts: Buffer[] = [];
  private inHeaderBlock = false;
  private scanning = false;
  private readonly queue: Buffer[] = [];
  private readonly interceptTypes: ReadonlySet<number>;
  private pendingWriteCallback: ((error?: Error | null) => void) | undefined;
  private readonly role: 'client' | 'server';
  /** Set by discardInbound: nothing more from the peer reaches the session. */
  private discarding = false;
  private sendLimits: { maxBufferedBytes: number; sendTimeoutMs: number } | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private stalled = false;

  constructor(
    readonly tlsSocket: TLSSocket,
    options: FrameSplicerOptions,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024 });
    this.interceptTypes = options.interceptTypes;
    this.role = options.role;
    this.inbound = new FrameCursor(options.role === 'server');
    this.outbound = new FrameCursor(options.role === 'client');
    // node:http2 turns Nagle off on the socket it is given, which is now us: do it on the real one, or
    // small frames wait for delayed ACKs (40 ms stalls were seen).
    tlsSocket.setNoDelay(true);
    tlsSocket.on('data', (chunk: Buffer) => this.onInbound(chunk));
    tlsSocket.on('end', () => this.push(null));
    tlsSocket.on('drain', () => this.releaseWrite());
    tlsSocket.on('error', (err) => this.destroy(err));
    tlsSocket.on('close', () => {
      this.releaseWrite(new SocketClosed('the TLS socket closed'));
      this.destroy();
    });
  }

  get alpnProtocol(): string | false | null {
    return this.tlsSocket.alpnProtocol ?? null;
  }

  /**
   * Sends a frame at the next safe point of the outbound stream (at once when the session is idle).
   * Throws FrameTooLarge when the payload exceeds the peer's SETTINGS_MAX_FRAME_SIZE.
   */
  sendFrame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    if (payload.length > this.peerMaxFrameSize) {
      throw new FrameTooLarge(`a ${payload.length}-byte frame exceeds the peer's SETTINGS_MAX_FRAME_SIZE of ${this.peerMaxFrameSize}`);
    }
    const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.length);
    frame.writeUIntBE(payload.length, 0, 3);
    frame[3] = type;
    frame[4] = flags;
    frame.writeUInt32BE(streamId & 0x7fffffff, 5);
    frame.set(payload, FRAME_HEADER_LENGTH);
    if (debugging) debug('h2 %s splicer: sending frame type 0x%s, length %d, stream %d (at the next frame boundary)', this.role, type.toString(16), payload.length, streamId);
    this.queue.push(frame);
    // While a chunk is being scanned (a 'localSettings' listener calling us), the scan itself places the
    // frame at the next boundary; writing now would put it ahead of bytes not yet written.
    if (!this.scanning && this.safeToInject()) this.flushQueue();
  }

  /**
   * After a connection error: the peer's further bytes are dropped here, so the session (nghttp2) neither
   * acts on them nor answers them (a flood of SETTINGS behind the offending frame, say).
   */
  discardInbound(): void {
    this.discarding = true;
  }

  /**
   * Bounds what a peer that does not read can make us hold: more than `maxBufferedBytes` waiting in the
   * TLS socket's write buffer, or `sendTimeoutMs` with writes waiting and nothing drained (0: no timeout),
   * emits 'sendStalled' once. What to do then is the caller's (the server destroys the connection).
   */
  limitSend(limits: { maxBufferedBytes: number; sendTimeoutMs: number }): void {
    this.sendLimits = limits;
  }

  private checkBuffered(): void {
    const limits = this.sendLimits;
    if (!limits || this.stalled) return;
    const buffered = this.tlsSocket.writableLength;
    if (buffered > limits.maxBufferedBytes) this.stall(new SendStalled('buffer', `${buffered} bytes wait to be sent, over the bound of ${limits.maxBufferedBytes}: the peer does not read`));
  }

  private stall(error: SendStalled): void {
    if (this.stalled) return;
    this.stalled = true;
    clearTimeout(this.stallTimer);
    if (debugging) debug('h2 %s splicer: %s', this.role, error.message);
    this.emit('sendStalled', error);
  }

  private safeToInject(): boolean {
    return this.localSettingsSent && !this.inHeaderBlock && this.outbound.atBoundary;
  }

  private flushQueue(): void {
    if (this.tlsSocket.destroyed) return;
    for (const frame of this.queue.splice(0)) this.tlsSocket.write(frame);
    this.checkBuffered();
  }

  // ---- inbound: peer → session ----

  private onInbound(chunk: Buffer): void {
    if (this.discarding) return;
    const cur = this.inbound;
    let runStart = 0;
    let i = 0;
    const flush = (end: number): void => {
      if (end > runStart && !this.push(chunk.subarray(runStart, end))) this.tlsSocket.pause();
      runStart = end;
    };
    while (i < chunk.length) {
      // A listener failed the connection: what it has seen so far goes through (it may hold the frame
      // that caused it, for nghttp2 to judge too), nothing after it.
      if (this.discarding) return flush(i);
      if (cur.prefaceLeft > 0) {
        i += cur.skipPreface(chunk.length - i);
        continue;
      }
      if (cur.payloadLeft > 0) {
        const n = Math.min(cur.payloadLeft, chunk.length - i);
        if (this.inboundMode === 'capture' || this.inboundMode === 'observe') this.inboundParts.push(Buffer.from(chunk.subarray(i, i + n)));
        cur.payloadLeft -= n;
        i += n;
        if (this.inboundMode === 'capture' || this.inboundMode === 'skip') runStart = i;
        if (cur.payloadLeft === 0) this.endInboundFrame();
        continue;
      }
      // A frame header: whole in this chunk, or split across chunks.
      let header: FrameHeader;
      let headerStart: number;
      let headerCopy: Buffer | undefined;
      if (cur.partialLength === 0 && chunk.length - i >= FRAME_HEADER_LENGTH) {
        header = parseFrameHeader(chunk.subarray(i, i + FRAME_HEADER_LENGTH));
        headerStart = i;
        i += FRAME_HEADER_LENGTH;
      } else {
        if (cur.partialLength === 0) flush(i);
        const got = cur.takeHeaderBytes(chunk, i);
        i += got.taken;
        runStart = i;
        if (!got.header) continue;
        header = got.header;
        headerStart = i;
        headerCopy = got.bytes;
      }
      cur.header = header;
      cur.payloadLeft = header.length;
      if (this.interceptTypes.has(header.type)) {
        flush(headerStart);
        runStart = i;
        this.inboundMode = header.length > this.localMaxFrameSize ? 'skip' : 'capture';
        if (debugging) debug('h2 %s splicer: received frame type 0x%s, length %d, stream %d: %s', this.role, header.type.toString(16), header.length, header.streamId, this.inboundMode === 'skip' ? `larger than our SETTINGS_MAX_FRAME_SIZE ${this.localMaxFrameSize}, skipped` : 'taken out for the extension');
        if (this.inboundMode === 'skip') this.emit('oversizeFrame', header);
      } else {
        if (headerCopy && !this.push(headerCopy)) this.tlsSocket.pause();
        this.inboundMode = header.type === TYPE.SETTINGS && (header.flags & FLAG_ACK) === 0 && header.streamId === 0 ? 'observe' : 'pass';
      }
      if (cur.payloadLeft === 0) this.endInboundFrame();
    }
    flush(chunk.length);
  }

  private endInboundFrame(): void {
    const header = this.inbound.header as FrameHeader;
    const mode = this.inboundMode;
    const payload = this.inboundParts.length === 1 ? (this.inboundParts[0] as Buffer) : Buffer.concat(this.inboundParts);
    this.inboundParts = [];
    this.inboundMode = 'pass';
    if (mode === 'capture') {
      this.emit('frame', header, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    } else if (mode === 'observe') {
      const settings = readSettings(payload);
      if (!settings) return; // nghttp2 answers a malformed SETTINGS with FRAME_SIZE_ERROR itself
      const max = settings.get(SettingId.MAX_FRAME_SIZE);
      if (max !== undefined && max >= DEFAULT_MAX_FRAME_SIZE && max <= MAX_ALLOWED_FRAME_SIZE) this.peerMaxFrameSize = max;
      this.peerSettingsFrames++;
      if (debugging) debug('h2 %s splicer: received SETTINGS %s', this.role, formatSettings(settings));
      this.emit('peerSettings', settings);
    }
  }

  override _read(): void {
    this.tlsSocket.resume();
  }

  // ---- outbound: session → peer ----

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeOut(this.scanOutbound(chunk), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const pieces: Buffer[] = [];
    for (const { chunk } of chunks) for (const p of this.scanOutbound(chunk)) pieces.push(p);
    this.writeOut(pieces, callback);
  }

  /**
   * Set once the session writes a GOAWAY with an error code (ours from closeWithError, or one nghttp2 sent
   * by itself for a frame it refused): a connection error closes the connection (RFC 9113 section 5.4.1),
   * so the TLS stream ends right after that GOAWAY. That lets it flush, keeps nghttp2 from adding a second
   * GOAWAY (NO_ERROR) when the session is destroyed, and leaves no half-open connection to the peer.
   */
  private endAfterWrite = false;

  private writeOut(pieces: Buffer[], callback: (error?: Error | null) => void): void {
    if (this.tlsSocket.writableEnded) {
      // Ended after a GOAWAY with an error code: what the session writes now (its closing GOAWAY) is dropped.
      callback();
      return;
    }
    if (this.tlsSocket.destroyed) {
      callback(new SocketClosed('the TLS socket is closed'));
      return;
    }
    let ok = true;
    this.tlsSocket.cork();
    for (const p of pieces) ok = this.tlsSocket.write(p);
    this.tlsSocket.uncork();
    if (this.endAfterWrite) this.tlsSocket.end();
    this.checkBuffered();
    if (ok) {
      callback();
      return;
    }
    this.pendingWriteCallback = callback;
    const ms = this.sendLimits?.sendTimeoutMs ?? 0;
    if (ms > 0 && !this.stalled && this.stallTimer === undefined) {
      this.stallTimer = setTimeout(() => this.stall(new SendStalled('timeout', `nothing sent for ${ms} ms with writes waiting: the peer does not read`)), ms);
      this.stallTimer.unref();
    }
  }

  private releaseWrite(error?: Error): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    const cb = this.pendingWriteCallback;
    this.pendingWriteCallback = undefined;
    cb?.(error ?? null);
  }

  /** Follows frame boundaries in what the session writes; returns the bytes to send, our frames slipped in. */
  private scanOutbound(chunk: Buffer): Buffer[] {
    this.scanning = true;
    try {
      return this.scanChunk(chunk);
    } finally {
      this.scanning = false;
    }
  }

  private scanChunk(chunk: Buffer): Buffer[] {
    const cur = this.outbound;
    const out: Buffer[] = [];
    let start = 0;
    let i = 0;
    const boundary = (): void => {
      if (this.queue.length > 0 && this.safeToInject()) {
        out.push(chunk.subarray(start, i));
        start = i;
        for (const frame of this.queue.splice(0)) out.push(frame);
      }
    };
    while (i < chunk.length) {
      if (cur.prefaceLeft > 0) {
        i += cur.skipPreface(chunk.length - i);
        continue;
      }
      if (cur.payloadLeft > 0) {
        const n = Math.min(cur.payloadLeft, chunk.length - i);
        if (this.outboundObserving) this.outboundParts.push(Buffer.from(chunk.subarray(i, i + n)));
        cur.payloadLeft -= n;
        i += n;
        if (cur.payloadLeft === 0) {
          this.endOutboundFrame();
          boundary();
        }
        continue;
      }
      let header: FrameHeader;
      if (cur.partialLength === 0 && chunk.length - i >= FRAME_HEADER_LENGTH) {
        header = parseFrameHeader(chunk.subarray(i, i + FRAME_HEADER_LENGTH));
        i += FRAME_HEADER_LENGTH;
      } else {
        const got = cur.takeHeaderBytes(chunk, i);
        i += got.taken;
        if (!got.header) continue;
        header = got.header;
      }
      cur.header = header;
      cur.payloadLeft = header.length;
      if (header.type === TYPE.HEADERS || header.type === TYPE.PUSH_PROMISE || header.type === TYPE.CONTINUATION) {
        this.inHeaderBlock = (header.flags & FLAG_END_HEADERS) === 0;
      }
      this.outboundObserving = (header.type === TYPE.SETTINGS && (header.flags & FLAG_ACK) === 0 && header.streamId === 0) || header.type === TYPE.GOAWAY;
      this.outboundType = header.type;
      if (cur.payloadLeft === 0) {
        this.endOutboundFrame();
        boundary();
      }
    }
    if (start < chunk.length) out.push(start === 0 ? chunk : chunk.subarray(start));
    return out;
  }

  private endOutboundFrame(): void {
    if (!this.outboundObserving) return;
    const payload = Buffer.concat(this.outboundParts);
    this.outboundParts = [];
    this.outboundObserving = false;
    if (this.outboundType === TYPE.GOAWAY) {
      if (payload.length >= 8 && payload.readUInt32BE(4) !== 0) {
        this.endAfterWrite = true;
        this.emit('goawaySent', payload.readUInt32BE(4));
      }
      return;
    }
    const settings = readSettings(payload) ?? new Map<number, number>();
    const max = settings.get(SettingId.MAX_FRAME_SIZE);
    if (max !== undefined && max >= DEFAULT_MAX_FRAME_SIZE && max <= MAX_ALLOWED_FRAME_SIZE) this.localMaxFrameSize = max;
    this.localSettingsSent = true;
    if (debugging) debug('h2 %s splicer: sent SETTINGS %s', this.role, formatSettings(settings));
    this.emit('localSettings', settings);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.tlsSocket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.releaseWrite(error ?? new SocketClosed('the splicer was destroyed'));
    if (!this.tlsSocket.destroyed) this.tlsSocket.destroy(error ?? undefined);
    callback(error);
  }
}
