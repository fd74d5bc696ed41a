/**
 * A growable byte buffer for encoders. Length-prefixed vectors are written by reserving the prefix and
 * patching it once the body is known, so nested structures need no second pass.
 */
export class Writer {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
  }

  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.reserve(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u24(v: number): this {
    this.reserve(3);
    this.buf[this.len++] = (v >>> 16) & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.reserve(4);
    this.buf[this.len++] = (v >>> 24) & 0xff;
    this.buf[this.len++] = (v >>> 16) & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /**
   * Writes `body` inside a length prefix of `prefix` bytes. Throws RangeError if the body exceeds what
   * the prefix (or `max`) allows: an encoder must never emit a vector its own parser would refuse.
   */
  vector(prefix: 1 | 2 | 3, body: (w: this) => void, what = 'vector', max = 2 ** (8 * prefix) - 1): this {
    this.reserve(prefix);
    const at = this.len;
    this.len += prefix;
    body(this);
    const n = this.len - at - prefix;
    if (n > max) throw new RangeError(`${what} is ${n} bytes, more than ${max}`);
    for (let i = prefix - 1, v = n; i >= 0; i--, v >>>= 8) this.buf[at + i] = v & 0xff;
    return this;
  }

  /** Shorthand for an opaque vector holding `b`. */
  opaque(prefix: 1 | 2 | 3, b: Uint8Array, what = 'opaque', max?: number): this {
    return this.vector(prefix, (w) => w.bytes(b), what, max);
  }

  /** The bytes written so far (a copy, so the Writer may be reused). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// Plain loops rather than Buffer, so the core runs outside Node too.
export function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new TypeError('not a hex string');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
