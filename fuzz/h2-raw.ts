// Just enough HTTP/2 to drive a peer by hand: frames with any header field (a length that lies, any
// type, flags or stream id), a parser for what the peer sends back, and literal HPACK for requests and
// responses. Deliberately separate from src/h2: the fuzzer must be able to say things our codecs refuse.

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const T = { DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4, PUSH_PROMISE: 0x5, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9, ORIGIN: 0xc } as const;
/** Largest payload the fuzzer sends to complete a frame whose length field claims more than it carried. */
export const FILL_CAP = 1024 * 1024;

export interface RawFrame {
  /** What the frame started as, for the report ("CERTIFICATE_REQUEST", "PING"). */
  name: string;
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
  /** The length field when it lies about the payload. */
  claimedLength?: number;
  /** Mutations applied, for the report. */
  mutations: string[];
}

export function frame(name: string, type: number, flags: number, streamId: number, payload: Uint8Array): RawFrame {
  return { name, type, flags, streamId, payload, mutations: [] };
}

export function encodeRaw(f: RawFrame): Buffer {
  const length = f.claimedLength ?? f.payload.length;
  const out = Buffer.alloc(9 + f.payload.length);
  out.writeUIntBE(length & 0xffffff, 0, 3);
  out[3] = f.type & 0xff;
  out[4] = f.flags & 0xff;
  out.writeUInt32BE(f.streamId >>> 0, 5);
  out.set(f.payload, 9);
  return out;
}

export function describe(f: RawFrame): string {
  const len = f.claimedLength !== undefined ? `${f.payload.length} bytes, length field ${f.claimedLength}` : `${f.payload.length} bytes`;
  const m = f.mutations.length > 0 ? ` [${f.mutations.join(', ')}]` : ' [valid]';
  return `${f.name} type=0x${f.type.toString(16)} flags=0x${f.flags.toString(16)} stream=${f.streamId} ${len}${m}`;
}

export interface Framing {
  /** Zero bytes that bring the peer's parser back to a frame boundary (empty when already there). */
  padding: Buffer;
  /** True when the last frame, as the peer reads it, claims more than FILL_CAP: no boundary reachable. */
  open: boolean;
  /** Lengths of frames, as the peer reads them, over its SETTINGS_MAX_FRAME_SIZE. */
  oversize: { type: number; length: number }[];
}

/** Reads `bytes` the way the peer will (from a frame boundary) and says how to get back to one. */
export function peerFraming(bytes: Buffer, peerMaxFrameSize: number): Framing {
  const oversize: { type: number; length: number }[] = [];
  let at = 0;
  let padding = 0;
  for (;;) {
    if (at === bytes.length) return { padding: Buffer.alloc(padding), open: false, oversize };
    if (bytes.length - at < 9) {
      // A partial header: complete it with zeros, then its payload too if the claim is small enough.
      const head = Buffer.alloc(9);
      bytes.copy(head, 0, at);
      const length = head.readUIntBE(0, 3);
      if (length > peerMaxFrameSize) oversize.push({ type: head[3]!, length });
      if (length > FILL_CAP) return { padding: Buffer.alloc(9 - (bytes.length - at)), open: true, oversize };
      padding = 9 - (bytes.length - at) + length;
      return { padding: Buffer.alloc(padding), open: false, oversize };
    }
    const length = bytes.readUIntBE(at, 3);
    if (length > peerMaxFrameSize) oversize.push({ type: bytes[at + 3]!, length });
    const end = at + 9 + length;
    if (end <= bytes.length) {
      at = end;
      continue;
    }
    const left = end - bytes.length;
    if (left > FILL_CAP) return { padding: Buffer.alloc(0), open: true, oversize };
    return { padding: Buffer.alloc(left), open: false, oversize };
  }
}

export interface ParsedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Splits the peer's byte stream into frames (after the preface, if it sends one). */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  constructor(
    private readonly onFrame: (f: ParsedFrame) => void,
    private prefaceLeft = 0,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, this.buf.length);
      this.prefaceLeft -= n;
      this.buf = this.buf.subarray(n);
    }
    while (this.buf.length >= 9) {
      const length = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + length) break;
      const f = { type: this.buf[3]!, flags: this.buf[4]!, streamId: this.buf.readUInt32BE(5) & 0x7fffffff, payload: Buffer.from(this.buf.subarray(9, 9 + length)) };
      this.buf = this.buf.subarray(9 + length);
      this.onFrame(f);
    }
  }
}

export function settingsPayload(entries: [number, number][]): Uint8Array {
  const out = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    out.writeUInt16BE(id & 0xffff, i * 6);
    out.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return out;
}

export function readSettings(payload: Uint8Array): Map<number, number> {
  const out = new Map<number, number>();
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  for (let i = 0; i + 6 <= b.length; i += 6) out.set(b.readUInt16BE(i), b.readUInt32BE(i + 2));
  return out;
}

/** HPACK integer with an N-bit prefix (RFC 7541 section 5.1). */
function hpackInt(first: number, prefixBits: number, value: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** A header block of literal fields without indexing (no dynamic table, no Huffman): any peer can read it. */
export function hpackLiterals(fields: [string, string][]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    out.push(0x00, ...hpackInt(0, 7, n.length), ...n, ...hpackInt(0, 7, v.length), ...v);
  }
  return Uint8Array.from(out);
}

/** A 32-bit big-endian integer and friends, for payloads built by hand. */
export function u32(v: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}
