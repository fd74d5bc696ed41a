// A hostile HTTP/2 client over real TLS, for the tests of our server: it speaks HTTP/2 by hand (frames of
// any type, flags, stream and length from fuzz/h2-raw.ts), records what the server sends (./raw-h2.ts),
// reads the :status of responses, keeps to the server's flow-control windows when it sends a body, and
// can stop reading altogether. It asks for an HPACK table of size 0, so that a response's :status is
// always a static index or a literal (Huffman-coded digits at most): no HPACK decoder is needed.
import * as tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { encodeRaw, frame, hpackLiterals, settingsPayload, T, u32 } from '../../fuzz/h2-raw.js';
import { PREFACE, recordFrames, goawayCodes, type RawFrame } from './raw-h2.js';

const SETTINGS_HEADER_TABLE_SIZE = 0x1;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const DEFAULT_WINDOW = 65_535;

export interface HostileOptions {
  ca: string;
  servername?: string;
  /**
   * SETTINGS entries sent after the preface, [id, value], or made from the TLS socket (an exporter value);
   * HEADER_TABLE_SIZE = 0 is always added first.
   */
  settings?: [number, number][] | ((socket: tls.TLSSocket) => [number, number][]);
}

export class HostileH2Client {
  readonly frames: RawFrame[];
  /** Resolves with every frame received once the connection is closed. */
  readonly closed: Promise<RawFrame[]>;
  isClosed = false;
  private waiters: (() => void)[] = [];
  /** What the server lets us send: per stream, and on the connection (RFC 9113 section 6.9). */
  private connectionWindow = DEFAULT_WINDOW;
  private initialStreamWindow = DEFAULT_WINDOW;
  private readonly streamWindows = new Map<number, number>();

  private constructor(readonly socket: tls.TLSSocket) {
    const recorded = recordFrames(socket, { ackSettings: true });
    this.frames = recorded.frames;
    this.closed = recorded.closed;
    socket.on('data', () => queueMicrotask(() => this.onFrames()));
    socket.once('close', () => {
      this.isClosed = true;
      this.wake();
    });
  }

  /** TLS with ALPN h2, the preface and our SETTINGS. */
  static async connect(port: number, options: HostileOptions): Promise<HostileH2Client> {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: options.ca, servername: options.servername ?? 'a.example', ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    const client = new HostileH2Client(socket);
    const entries = typeof options.settings === 'function' ? options.settings(socket) : (options.settings ?? []);
    client.write(PREFACE, client.encode(T.SETTINGS, 0, 0, settingsPayload([[SETTINGS_HEADER_TABLE_SIZE, 0], ...entries])));
    return client;
  }

  encode(type: number, flags: number, streamId: number, payload: Uint8Array): Buffer {
    return encodeRaw(frame('test', type, flags, streamId, payload));
  }

  write(...bytes: Uint8Array[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(bytes));
  }

  send(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    this.write(this.encode(type, flags, streamId, payload));
  }

  /** HEADERS with literal fields on `streamId`; END_STREAM unless a body follows. */
  request(streamId: number, fields: [string, string][], options: { endStream?: boolean } = {}): void {
    this.send(T.HEADERS, FLAG_END_HEADERS | (options.endStream === false ? 0 : FLAG_END_STREAM), streamId, hpackLiterals(fields));
  }

  data(streamId: number, payload: Uint8Array, endStream: boolean): void {
    this.send(T.DATA, endStream ? FLAG_END_STREAM : 0, streamId, payload);
  }

  /**
   * Sends up to `total` bytes of body on `streamId`, 16 KiB a frame, only as far as the server's windows
   * allow, until the stream is answered or reset, the connection closes, or no window opens for
   * `stallMs`. Returns the bytes sent.
   */
  async sendBody(streamId: number, total: number, stallMs = 1000): Promise<number> {
    let sent = 0;
    const chunk = Buffer.alloc(16_384, 0x61);
    const room = (): number => Math.min(this.connectionWindow, this.streamWindows.get(streamId) ?? this.initialStreamWindow);
    const over = (): boolean => this.isClosed || this.statusOf(streamId) !== undefined || this.resetCode(streamId) !== undefined;
    while (sent < total && !over()) {
      if (room() <= 0 && !(await this.until(() => room() > 0 || over(), stallMs))) break;
      if (over()) break;
      const n = Math.min(chunk.length, room(), total - sent);
      this.consume(streamId, n);
      sent += n;
      this.data(streamId, chunk.subarray(0, n), sent === total);
      // Let the server's frames in between our writes.
      await new Promise((r) => setImmediate(r));
    }
    return sent;
  }

  /** A PING round trip: true when the server answers it, false when it closes first or `ms` pass. */
  async ping(ms = 5000): Promise<boolean> {
    const payload = randomBytes(8);
    this.send(T.PING, 0, 0, payload);
    const acked = (): boolean => this.frames.some((f) => f.header.type === T.PING && (f.header.flags & 1) === 1 && f.payload.equals(payload));
    return (await this.until(() => acked() || this.isClosed, ms)) && acked();
  }

  /** Resolves true once `check` holds (looked at after each read and at close), false after `ms`. */
  async until(check: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0 || (this.isClosed && !check())) return check();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /** The :status of the response on `streamId`, once its HEADERS came. */
  statusOf(streamId: number): number | undefined {
    const headers = this.frames.find((f) => f.header.type === T.HEADERS && f.header.streamId === streamId);
    return headers ? responseStatus(headers) : undefined;
  }

  /** The error code of a RST_STREAM the server sent for `streamId`. */
  resetCode(streamId: number): number | undefined {
    const rst = this.frames.find((f) => f.header.type === T.RST_STREAM && f.header.streamId === streamId);
    return rst ? rst.payload.readUInt32BE(0) : undefined;
  }

  /** The body the server sent on `streamId`, as text. */
  bodyOf(streamId: number): string {
    return Buffer.concat(this.frames.filter((f) => f.header.type === T.DATA && f.header.streamId === streamId).map((f) => f.payload)).toString('utf8');
  }

  /** Whether the server sent a SETTINGS frame carrying `id` (its extensions' SETTINGS come in a frame of their own). */
  sawSetting(id: number): boolean {
    return this.frames.some((f) => {
      if (f.header.type !== T.SETTINGS || (f.header.flags & 1) !== 0) return false;
      for (let i = 0; i + 6 <= f.payload.length; i += 6) if (f.payload.readUInt16BE(i) === id) return true;
      return false;
    });
  }

  goaways(): number[] {
    return goawayCodes(this.frames);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private consume(streamId: number, n: number): void {
    this.connectionWindow -= n;
    this.streamWindows.set(streamId, (this.streamWindows.get(streamId) ?? this.initialStreamWindow) - n);
  }

  private seen = 0;
  private onFrames(): void {
    for (; this.seen < this.frames.length; this.seen++) {
      const f = this.frames[this.seen]!;
      if (f.header.type === T.WINDOW_UPDATE && f.payload.length === 4) {
        const increment = f.payload.readUInt32BE(0) & 0x7fffffff;
        if (f.header.streamId === 0) this.connectionWindow += increment;
        else this.streamWindows.set(f.header.streamId, (this.streamWindows.get(f.header.streamId) ?? this.initialStreamWindow) + increment);
      } else if (f.header.type === T.SETTINGS && (f.header.flags & 1) === 0) {
        for (let i = 0; i + 6 <= f.payload.length; i += 6) {
          if (f.payload.readUInt16BE(i) !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
          const value = f.payload.readUInt32BE(i + 2);
          for (const [id, w] of this.streamWindows) this.streamWindows.set(id, w + value - this.initialStreamWindow);
          this.initialStreamWindow = value;
        }
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Static table entries with the name :status (RFC 7541 Appendix A): index → value. */
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

/**
 * The :status of a response HEADERS frame (no padding or priority: Node sends neither), read from the
 * first field of its block: an indexed static entry, or a literal whose name is a :status entry, its
 * value raw or Huffman-coded digits. Dynamic table size updates before it are skipped.
 */
export function responseStatus(headers: RawFrame): number | undefined {
  const block = headers.payload;
  let i = 0;
  while (i < block.length && (block[i]! & 0xe0) === 0x20) {
    if ((block[i++]! & 0x1f) === 0x1f) while (i < block.length && (block[i++]! & 0x80) !== 0);
  }
  const b = block[i];
  if (b === undefined) return undefined;
  if (b & 0x80) return STATIC_STATUS[b & 0x7f];
  const nameIndex = b & 0x40 ? b & 0x3f : b & 0x0f;
  if (STATIC_STATUS[nameIndex] === undefined) return undefined;
  const lengthByte = block[i + 1] ?? 0;
  const value = block.subarray(i + 2, i + 2 + (lengthByte & 0x7f));
  const text = lengthByte & 0x80 ? huffmanDigits(value) : value.toString('latin1');
  return text === undefined ? undefined : Number(text);
}

/** Huffman-coded digits (RFC 7541 Appendix B: '0'-'2' in 5 bits, '3'-'9' in 6), then all-ones padding. */
function huffmanDigits(bytes: Uint8Array): string | undefined {
  const bits = [...bytes].map((byte) => byte.toString(2).padStart(8, '0')).join('');
  let out = '';
  let at = 0;
  while (at < bits.length) {
    const rest = bits.slice(at);
    if (rest.length < 8 && /^1*$/.test(rest)) return out;
    const five = parseInt(rest.slice(0, 5), 2);
    if (rest.length >= 5 && five <= 2) {
      out += String(five);
      at += 5;
      continue;
    }
    const six = parseInt(rest.slice(0, 6), 2);
    if (rest.length >= 6 && six >= 0x19 && six <= 0x1f) {
      out += String(six - 0x19 + 3);
      at += 6;
      continue;
    }
    return undefined;
  }
  return out;
}

export { u32 };
