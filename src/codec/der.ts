import { Reader } from './reader.js';

// The little DER needed to read the certificate fields node:crypto's X509Certificate does not expose
// (names as bytes, extensions, key identifiers). Every read goes through Reader, so no length is trusted:
// anything short or over-long fails with MalformedMessage.

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
} as const;

/** One tag-length-value: `content` is the value, `whole` the encoding with its header. */
export interface Tlv {
  tag: number;
  content: Uint8Array;
  whole: Uint8Array;
}

/** A cursor over concatenated DER values. */
export class DerReader {
  private readonly r: Reader;
  private readonly buf: Uint8Array;
  constructor(buf: Uint8Array, readonly structure: string) {
    this.buf = buf;
    this.r = new Reader(buf, structure);
  }

  get remaining(): number {
    return this.r.remaining;
  }

  /** The tag of the next value, without consuming it; undefined at the end. */
  peekTag(): number | undefined {
    return this.r.remaining > 0 ? this.buf[this.r.offset] : undefined;
  }

  next(what: string): Tlv {
    const start = this.r.offset;
    const tag = this.r.u8(`${what} tag`);
    // Multi-byte tags (low five bits all set) occur nowhere in the fields read here.
    if ((tag & 0x1f) === 0x1f) this.r.fail(`${what}: a multi-byte tag`);
    const first = this.r.u8(`${what} length`);
    let length = first;
    if (first >= 0x80) {
      const octets = first & 0x7f;
      // 0x80 is BER's indefinite length, which DER forbids; four octets are more than any certificate needs.
      if (octets < 1 || octets > 4) this.r.fail(`${what}: a length of ${octets} octets`);
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + this.r.u8(`${what} length`);
    }
    const content = this.r.bytes(length, what);
    return { tag, content, whole: this.buf.subarray(start, this.r.offset) };
  }

  /** The next value, which must have `tag`. */
  expect(tag: number, what: string): Tlv {
    const tlv = this.next(what);
    if (tlv.tag !== tag) this.r.fail(`${what}: tag 0x${tlv.tag.toString(16)} where 0x${tag.toString(16)} was expected`);
    return tlv;
  }

  /** A reader over the content of the next value, which must have `tag`. */
  enter(tag: number, what: string): DerReader {
    return new DerReader(this.expect(tag, what).content, `${this.structure}.${what}`);
  }

  /** The next value if it has `tag`, else undefined (for OPTIONAL and DEFAULT fields). */
  optional(tag: number, what: string): Tlv | undefined {
    return this.peekTag() === tag ? this.next(what) : undefined;
  }

  end(): void {
    this.r.end();
  }
}

/** Dotted text of an OBJECT IDENTIFIER's content. */
export function oidText(content: Uint8Array): string {
  if (content.length === 0) throw new RangeError('an empty OBJECT IDENTIFIER');
  const arcs: (number | bigint)[] = [];
  // A number while it is exact; a bigint beyond (UUID arcs under 2.25, X.667, are 128 bits).
  let value: number | bigint = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (typeof value === 'number' && value > Number.MAX_SAFE_INTEGER / 128) value = BigInt(value);
    value = typeof value === 'number' ? value * 128 + (b & 0x7f) : value * 128n + BigInt(b & 0x7f);
    if (b & 0x80) {
      if (i === content.length - 1) throw new RangeError('an OBJECT IDENTIFIER ends inside an arc');
      continue;
    }
    if (arcs.length === 0) {
      const small = typeof value === 'number' && value < 80;
      arcs.push(small ? Math.floor((value as number) / 40) : 2, small ? (value as number) % 40 : typeof value === 'number' ? value - 80 : value - 80n);
    } else arcs.push(value);
    value = 0;
  }
  return arcs.join('.');
}

/** A UTCTime or GeneralizedTime in the form RFC 5280 section 4.1.2.5 requires (seconds, "Z"). */
export function derTime(tlv: Tlv): Date {
  if (tlv.content.length > 15) throw new RangeError('a time longer than any RFC 5280 time');
  const text = String.fromCharCode(...tlv.content);
  const m = tlv.tag === TAG.utcTime ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : tlv.tag === TAG.generalizedTime ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!m) throw new RangeError(`not a UTCTime or GeneralizedTime: ${JSON.stringify(text)}`);
  let year = Number(m[1]);
  // RFC 5280: two-digit years 50 to 99 are 19xx, 00 to 49 are 20xx.
  if (tlv.tag === TAG.utcTime) year += year >= 50 ? 1900 : 2000;
  const date = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a valid time: ${text}`);
  return date;
}

/** The bits of a BIT STRING's content as flags: the first named bit (bit 0, the high bit) is 1, bit 1 is 2, ... */
export function bitFlags(content: Uint8Array): number {
  if (content.length === 0) throw new RangeError('an empty BIT STRING');
  const unused = content[0]!;
  if (unused > 7 || (content.length === 1 && unused !== 0)) throw new RangeError('a BIT STRING with a bad unused-bits count');
  let flags = 0;
  // Only the first 32 bits can matter (keyUsage names 9).
  for (let i = 1; i < content.length && i <= 4; i++) {
    for (let bit = 0; bit < 8; bit++) if (content[i]! & (0x80 >> bit)) flags |= 1 << ((i - 1) * 8 + bit);
  }
  return flags >>> 0;
}

/** The value of a small non-negative INTEGER's content. */
export function smallInteger(content: Uint8Array): number {
  if (content.length === 0 || content.length > 6 || content[0]! & 0x80) throw new RangeError('not a small non-negative INTEGER');
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}
