import { MalformedMessage } from '../errors.js';

/**
 * A cursor over bytes that never trusts a length: every read checks what is left and fails with
 * MalformedMessage naming the structure. Sub-readers share the buffer (no copies).
 */
export class Reader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    readonly structure: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  fail(problem: string, structure = this.structure): never {
    throw new MalformedMessage(structure, problem);
  }

  private need(n: number, what: string): void {
    if (n > this.buf.length - this.pos) {
      this.fail(`truncated: ${what} needs ${n} bytes, ${this.buf.length - this.pos} left`);
    }
  }

  u8(what = 'uint8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'uint16'): number {
    this.need(2, what);
    const b = this.buf;
    const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u24(what = 'uint24'): number {
    this.need(3, what);
    const b = this.buf;
    const v = (b[this.pos]! << 16) | (b[this.pos + 1]! << 8) | b[this.pos + 2]!;
    this.pos += 3;
    return v;
  }

  u32(what = 'uint32'): number {
    this.need(4, what);
    const b = this.buf;
    const v = ((b[this.pos]! << 24) >>> 0) + ((b[this.pos + 1]! << 16) | (b[this.pos + 2]! << 8) | b[this.pos + 3]!);
    this.pos += 4;
    return v;
  }

  /** The next n bytes, as a view into the buffer. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Everything left. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** A TLS vector `opaque x<min..max>` with a 1, 2 or 3 byte length prefix. */
  vector(prefix: 1 | 2 | 3, what: string, min = 0, max = prefix === 1 ? 0xff : prefix === 2 ? 0xffff : 0xffffff): Uint8Array {
    const len = prefix === 1 ? this.u8(what) : prefix === 2 ? this.u16(what) : this.u24(what);
    if (len < min) this.fail(`${what} is ${len} bytes, shorter than ${min}`);
    if (len > max) this.fail(`${what} is ${len} bytes, longer than ${max}`);
    return this.bytes(len, what);
  }

  /** A Reader over a length-prefixed vector, for parsing a list inside it. */
  sub(prefix: 1 | 2 | 3, what: string, min = 0, max?: number): Reader {
    return new Reader(this.vector(prefix, what, min, max), `${this.structure}.${what}`);
  }

  /** Fails unless every byte was consumed. */
  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing bytes`);
  }
}

/**
 * Runs `parse` over the whole of `bytes`, which it must consume. A truncated or over-long input (a
 * MalformedMessage) becomes the error `malformed` makes of it: each protocol names its own code.
 */
export function readWhole<T>(bytes: Uint8Array, structure: string, parse: (r: Reader) => T, malformed: (e: MalformedMessage) => Error): T {
  try {
    const r = new Reader(bytes, structure);
    const out = parse(r);
    r.end();
    return out;
  } catch (e) {
    if (e instanceof MalformedMessage) throw malformed(e);
    throw e;
  }
}
