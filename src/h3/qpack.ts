import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { MalformedMessage, FieldSectionTooLarge, H3ConnectionError, H3ErrorCode } from '../errors.js';

// QPACK (RFC 9204) with the dynamic table capacity at 0, its default: every field line is either a
// static table reference or a literal, so the encoder and decoder streams carry nothing and no
// section ever blocks. Field names and values are byte strings; here they are JavaScript strings with
// one character per byte (Latin-1), as Node's HTTP modules use, so every byte sequence round-trips.

// ---- the static table (RFC 9204 Appendix A), indexed from 0 ----

/** The 99 static entries as [name, value]. */
export const QPACK_STATIC_TABLE: readonly (readonly [string, string])[] = Object.freeze(
  (
    [
      [':authority', ''], [':path', '/'], ['age', '0'], ['content-disposition', ''], ['content-length', '0'],
      ['cookie', ''], ['date', ''], ['etag', ''], ['if-modified-since', ''], ['if-none-match', ''],
      ['last-modified', ''], ['link', ''], ['location', ''], ['referer', ''], ['set-cookie', ''],
      ...['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].map((m) => [':method', m]),
      [':scheme', 'http'], [':scheme', 'https'],
      ...['103', '200', '304', '404', '503'].map((s) => [':status', s]),
      ['accept', '*/*'], ['accept', 'application/dns-message'], ['accept-encoding', 'gzip, deflate, br'],
      ['accept-ranges', 'bytes'], ['access-control-allow-headers', 'cache-control'],
      ['access-control-allow-headers', 'content-type'], ['access-control-allow-origin', '*'],
      ...['max-age=0', 'max-age=2592000', 'max-age=604800', 'no-cache', 'no-store', 'public, max-age=31536000'].map((v) => ['cache-control', v]),
      ['content-encoding', 'br'], ['content-encoding', 'gzip'],
      ...[
        'application/dns-message', 'application/javascript', 'application/json', 'application/x-www-form-urlencoded',
        'image/gif', 'image/jpeg', 'image/png', 'text/css', 'text/html; charset=utf-8', 'text/plain', 'text/plain;charset=utf-8',
      ].map((v) => ['content-type', v]),
      ['range', 'bytes=0-'],
      ...['', '; includesubdomains', '; includesubdomains; preload'].map((v) => ['strict-transport-security', `max-age=31536000${v}`]),
      ['vary', 'accept-encoding'], ['vary', 'origin'], ['x-content-type-options', 'nosniff'], ['x-xss-protection', '1; mode=block'],
      ...['100', '204', '206', '302', '400', '403', '421', '425', '500'].map((s) => [':status', s]),
      ['accept-language', ''], ['access-control-allow-credentials', 'FALSE'], ['access-control-allow-credentials', 'TRUE'],
      ['access-control-allow-headers', '*'],
      ...['get', 'get, post, options', 'options'].map((v) => ['access-control-allow-methods', v]),
      ['access-control-expose-headers', 'content-length'], ['access-control-request-headers', 'content-type'],
      ['access-control-request-method', 'get'], ['access-control-request-method', 'post'], ['alt-svc', 'clear'],
      ['authorization', ''], ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"],
      ['early-data', '1'], ['expect-ct', ''], ['forwarded', ''], ['if-range', ''], ['origin', ''], ['purpose', 'prefetch'],
      ['server', ''], ['timing-allow-origin', '*'], ['upgrade-insecure-requests', '1'], ['user-agent', ''],
      ['x-forwarded-for', ''], ['x-frame-options', 'deny'], ['x-frame-options', 'sameorigin'],
    ] as [string, string][]
  ).map((entry) => Object.freeze(entry)),
);

/** "name\0value" → index, and name → its first index, for the encoder. */
const STATIC_EXACT = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
QPACK_STATIC_TABLE.forEach(([name, value], i) => {
  STATIC_EXACT.set(`${name}\0${value}`, i);
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i);
});

// ---- prefixed integers (RFC 7541 section 5.1, used by RFC 9204 section 4.1.1) ----

/**
 * Writes `value` into the low `prefixBits` bits of a byte whose high bits are `flags`, continuing in
 * 7-bit groups (least significant first) when it does not fit. RangeError for a bad value.
 */
export function writePrefixedInt(w: Writer, flags: number, prefixBits: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value} is not a non-negative integer`);
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    w.u8(flags | value);
    return;
  }
  w.u8(flags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    w.u8(0x80 | rest % 0x80);
    rest = Math.floor(rest / 0x80);
  }
  w.u8(rest);
}

/**
 * Reads the integer whose first byte `first` was already read from `r`. Throws MalformedMessage when it
 * is truncated or larger than 2^53-1 (RFC 7541 section 5.1 lets a decoder refuse what exceeds its limits).
 */
export function readPrefixedInt(r: Reader, first: number, prefixBits: number, what = 'integer'): number {
  const max = (1 << prefixBits) - 1;
  let value = first & max;
  if (value < max) return value;
  for (let shift = 0; ; shift += 7) {
    if (shift > 49) r.fail(`${what}: prefixed integer too long`);
    const b = r.u8(what);
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  if (!Number.isSafeInteger(value)) r.fail(`${what}: prefixed integer too large`);
  return value;
}

// ---- Huffman coding (RFC 7541 section 5.2 and Appendix B) ----

// The code is canonical: within each code length, symbols take consecutive codes in ascending order,
// and each length's first code follows the last of the previous length, shifted. So the code lengths
// below, listed as the symbols (byte values, 256 = EOS) that have each length, define the whole table.
const SYMBOLS_BY_CODE_LENGTH: Record<number, string> = {
  5: '48-50 97 99 101 105 111 115 116',
  6: '32 37 45-47 51-57 61 65 95 98 100 102-104 108-110 112 114 117',
  7: '58 66-87 89 106 107 113 118-122',
  8: '38 42 44 59 88 90',
  10: '33 34 40 41 63',
  11: '39 43 124',
  12: '35 62',
  13: '0 36 64 91 93 126',
  14: '94 125',
  15: '60 96 123',
  19: '92 195 208',
  20: '128 130 131 162 184 194 224 226',
  21: '153 161 167 172 176 177 179 209 216 217 227 229 230',
  22: '129 132-134 136 146 154 156 160 163 164 169 170 173 178 181 185-187 189 190 196 198 228 232 233',
  23: '1 135 137-141 143 147 149-152 155 157 158 165 166 168 174 175 180 182 183 188 191 197 231 239',
  24: '9 142 144 145 148 159 171 206 215 225 236 237',
  25: '199 207 234 235',
  26: '192 193 200-202 205 210 213 218 219 238 240 242 243 255',
  27: '203 204 211 212 214 221-223 241 244-248 250-254',
  28: '2-8 11 12 14-21 23-31 127 220 249',
  30: '10 13 22 256',
};
const EOS = 256;
const MAX_CODE_LENGTH = 30;

/** Per symbol: its code and code length. Per length: the first code, how many codes, where they start in SORTED. */
const CODE = new Array<number>(257);
const CODE_LENGTH = new Array<number>(257);
const FIRST_CODE = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const COUNT = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const OFFSET = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const SORTED: number[] = [];
{
  let code = 0;
  for (let length = 1; length <= MAX_CODE_LENGTH; length++) {
    FIRST_CODE[length] = code;
    OFFSET[length] = SORTED.length;
    for (const symbol of expandSymbols(SYMBOLS_BY_CODE_LENGTH[length] ?? '')) {
      CODE[symbol] = code++;
      CODE_LENGTH[symbol] = length;
      SORTED.push(symbol);
    }
    COUNT[length] = SORTED.length - OFFSET[length]!;
    code *= 2;
  }
  if (SORTED.length !== 257) throw new Error('Huffman table: not 257 symbols');
}

function expandSymbols(list: string): number[] {
  const out: number[] = [];
  for (const item of list.split(' ').filter(Boolean)) {
    const [from, to = from] = item.split('-').map(Number) as [number, number?];
    for (let s = from; s <= to; s++) out.push(s);
  }
  return out;
}

/** Length in bytes of the Huffman coding of `bytes`. */
export function huffmanEncodedLength(bytes: Uint8Array): number {
  let bits = 0;
  for (const b of bytes) bits += CODE_LENGTH[b]!;
  return Math.ceil(bits / 8);
}

/** The Huffman coding of `bytes`, padded to a byte boundary with the high bits of EOS (all ones). */
export function huffmanEncode(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(bytes));
  let at = 0;
  // Pending bits, at most 7 + 30: kept below 2^53 and handled with arithmetic, not 32-bit shifts.
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = acc * 2 ** CODE_LENGTH[b]! + CODE[b]!;
    bits += CODE_LENGTH[b]!;
    while (bits >= 8) {
      bits -= 8;
      const byte = Math.floor(acc / 2 ** bits);
      out[at++] = byte;
      acc -= byte * 2 ** bits;
    }
  }
  if (bits > 0) out[at] = (acc << (8 - bits)) | (0xff >> bits);
  return out;
}

/**
 * Decodes a Huffman-coded string. Throws MalformedMessage for the EOS symbol, padding longer than 7
 * bits, or padding that is not all ones (RFC 7541 section 5.2).
 */
export function huffmanDecode(bytes: Uint8Array): Uint8Array {
  // Every code is at least 5 bits, so this bounds the output.
  const out = new Uint8Array(Math.floor((bytes.length * 8) / 5));
  let n = 0;
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const index = code - FIRST_CODE[length]!;
      if (index < COUNT[length]!) {
        const symbol = SORTED[OFFSET[length]! + index]!;
        if (symbol === EOS) throw new MalformedMessage('Huffman string', 'contains EOS');
        out[n++] = symbol;
        code = 0;
        length = 0;
      }
    }
  }
  // What is left must be a prefix of EOS (all ones) shorter than a byte.
  if (length > 7) throw new MalformedMessage('Huffman string', `padding of ${length} bits`);
  if (code !== 2 ** length - 1) throw new MalformedMessage('Huffman string', 'padding is not all ones');
  return out.slice(0, n);
}

// ---- strings (RFC 9204 section 4.1.2) ----

/** One byte per character; RangeError for a character above 0xff, which no field byte can be. */
export function latin1Bytes(s: string, what = 'field'): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`${what} has a character above 0xff at ${i}`);
    out[i] = c;
  }
  return out;
}

function latin1String(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x2000) s += String.fromCharCode(...b.subarray(i, i + 0x2000));
  return s;
}

export type HuffmanChoice = 'auto' | 'always' | 'never';

/** A string literal: H bit just above the `prefixBits` length prefix, then the (maybe Huffman-coded) bytes. */
function writeString(w: Writer, flags: number, prefixBits: number, raw: Uint8Array, huffman: HuffmanChoice): void {
  const coded = huffman === 'always' || (huffman === 'auto' && huffmanEncodedLength(raw) < raw.length);
  const body = coded ? huffmanEncode(raw) : raw;
  writePrefixedInt(w, flags | (coded ? 1 << prefixBits : 0), prefixBits, body.length);
  w.bytes(body);
}

function readString(r: Reader, first: number, prefixBits: number, what: string, budget: number, limit: number): string {
  const length = readPrefixedInt(r, first, prefixBits, what);
  // Refuse before reading: a plain string is as long as its bytes, a Huffman one decodes to at least
  // one symbol per 30 bits.
  const huffman = (first & (1 << prefixBits)) !== 0;
  if ((huffman ? Math.floor((length * 8) / MAX_CODE_LENGTH) : length) > budget) throw new FieldSectionTooLarge(limit);
  const raw = r.bytes(length, what);
  return latin1String(huffman ? huffmanDecode(raw) : raw);
}

// ---- field sections (RFC 9204 section 4.5) ----

export interface FieldLine {
  name: string;
  value: string;
  /** The 'N' bit: intermediaries must keep this field a literal (RFC 9204 section 4.5.4), e.g. for secrets. */
  neverIndex?: boolean;
}

/** RFC 9114 section 4.2.2: name and value lengths plus 32 per field. */
export function fieldSectionSize(fields: readonly FieldLine[]): number {
  let size = 0;
  for (const f of fields) size += f.name.length + f.value.length + 32;
  return size;
}

/** The default bound on a decoded field section (also a sensible SETTINGS_MAX_FIELD_SECTION_SIZE). */
export const DEFAULT_MAX_FIELD_SECTION_SIZE = 64 * 1024;

export interface QpackEncodeOptions {
  /** Huffman-code string literals: 'auto' (default) when it makes them shorter, 'always', or 'never'. */
  huffman?: HuffmanChoice;
}

/**
 * Encodes a field section with no dynamic table references: the prefix (Required Insert Count 0,
 * Base 0), then per field an indexed static line when name and value match an entry, else a literal
 * with a static name reference, else a literal with a literal name. A `neverIndex` field is always a
 * literal with N set. RangeError for a character above 0xff. Names are not validated or lowercased:
 * HTTP semantics (RFC 9114 section 4.2) are the caller's.
 */
export function encodeFieldSection(fields: readonly FieldLine[], options: QpackEncodeOptions = {}): Uint8Array {
  const huffman = options.huffman ?? 'auto';
  const w = new Writer();
  w.u8(0x00).u8(0x00);
  for (const { name, value, neverIndex = false } of fields) {
    const exact = STATIC_EXACT.get(`${name}\0${value}`);
    if (exact !== undefined && !neverIndex) {
      writePrefixedInt(w, 0b1100_0000, 6, exact); // 1 T=1 index
      continue;
    }
    const nameIndex = STATIC_NAME.get(name);
    if (nameIndex !== undefined) {
      writePrefixedInt(w, 0b0101_0000 | (neverIndex ? 0b0010_0000 : 0), 4, nameIndex); // 01 N T=1 index
    } else {
      writeString(w, 0b0010_0000 | (neverIndex ? 0b0001_0000 : 0), 3, latin1Bytes(name, 'field name'), huffman); // 001 N H length
    }
    writeString(w, 0, 7, latin1Bytes(value, `value of ${name}`), huffman); // H length
  }
  return w.finish();
}

export interface QpackDecodeOptions {
  /** Bound on the decoded size (RFC 9114 section 4.2.2); past it, FieldSectionTooLarge. Default 64 KiB. */
  maxFieldSectionSize?: number;
}

/**
 * Decodes a field section. Anything that references the dynamic table (a non-zero Required Insert
 * Count, a negative Base, a dynamic or post-Base index) and anything malformed (truncation, a static
 * index past 98, bad Huffman) is a connection error QPACK_DECOMPRESSION_FAILED (RFC 9204 sections 2.2.3,
 * 3.1, 4.5.1). A section over the size bound is FieldSectionTooLarge.
 */
export function decodeFieldSection(bytes: Uint8Array, options: QpackDecodeOptions = {}): FieldLine[] {
  const limit = options.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;
  try {
    return readFieldSection(new Reader(bytes, 'QPACK field section'), limit);
  } catch (e) {
    if (e instanceof MalformedMessage) throw new H3ConnectionError(H3ErrorCode.QPACK_DECOMPRESSION_FAILED, e.message, { cause: e });
    throw e;
  }
}

function readFieldSection(r: Reader, limit: number): FieldLine[] {
  const dynamic = (what: string): never => r.fail(`${what} refers to the dynamic table, whose capacity is 0`);
  if (readPrefixedInt(r, r.u8('Required Insert Count'), 8, 'Required Insert Count') !== 0) dynamic('the Required Insert Count');
  const baseByte = r.u8('Base');
  readPrefixedInt(r, baseByte, 7, 'Delta Base'); // any Base is allowed when nothing is referenced...
  if (baseByte & 0x80) r.fail('a negative Base (Sign bit set with Required Insert Count 0)'); // ...but not a negative one (4.5.1.2)
  const fields: FieldLine[] = [];
  let size = 0;
  const add = (name: string, value: string, neverIndex: boolean) => {
    size += name.length + value.length + 32;
    if (size > limit) throw new FieldSectionTooLarge(limit);
    fields.push({ name, value, neverIndex });
  };
  while (r.remaining > 0) {
    const first = r.u8('field line');
    if (first & 0b1000_0000) {
      // Indexed field line: 1 T index(6+)
      const index = readPrefixedInt(r, first, 6, 'index');
      if ((first & 0b0100_0000) === 0) dynamic('an indexed field line');
      const [name, value] = staticEntry(r, index);
      add(name, value, false);
    } else if (first & 0b0100_0000) {
      // Literal with name reference: 01 N T index(4+), then the value
      const index = readPrefixedInt(r, first, 4, 'name index');
      if ((first & 0b0001_0000) === 0) dynamic('a literal field line with name reference');
      const [name] = staticEntry(r, index);
      const value = readString(r, r.u8('value'), 7, 'value', limit - size - name.length - 32, limit);
      add(name, value, (first & 0b0010_0000) !== 0);
    } else if (first & 0b0010_0000) {
      // Literal with literal name: 001 N H length(3+) name, then the value
      const name = readString(r, first, 3, 'name', limit - size - 32, limit);
      const value = readString(r, r.u8('value'), 7, 'value', limit - size - name.length - 32, limit);
      add(name, value, (first & 0b0001_0000) !== 0);
    } else {
      // 0001 (indexed, post-Base) and 0000 (literal with post-Base name reference)
      dynamic('a post-Base field line');
    }
  }
  return fields;
}

function staticEntry(r: Reader, index: number): readonly [string, string] {
  return QPACK_STATIC_TABLE[index] ?? r.fail(`static index ${index} is past the table's 99 entries`);
}

// ---- the encoder and decoder streams (RFC 9204 section 4.3 and 4.4) ----

/**
 * Checks bytes from the peer's QPACK encoder stream. With our dynamic table capacity at 0 the only
 * instruction a peer may send is Set Dynamic Table Capacity 0, the single byte 0x20; any other byte
 * (a larger capacity, an insertion, a duplicate) is QPACK_ENCODER_STREAM_ERROR (RFC 9204 section 4.3.1).
 */
export function checkEncoderStreamBytes(chunk: Uint8Array): void {
  for (const b of chunk) {
    if (b !== 0x20) {
      throw new H3ConnectionError(H3ErrorCode.QPACK_ENCODER_STREAM_ERROR, `encoder stream instruction 0x${b.toString(16)} with a table capacity of 0`);
    }
  }
}

/**
 * Checks the peer's QPACK decoder stream, fed in any chunking. Our sections never reference the
 * dynamic table, so the only instruction a peer may send is Stream Cancellation (RFC 9204 section
 * 4.4.2), which is ignored. Section Acknowledgment and Insert Count Increment are
 * QPACK_DECODER_STREAM_ERROR (sections 4.4.1 and 4.4.3: nothing to acknowledge, nothing inserted).
 */
export class DecoderStreamChecker {
  /** Continuation bytes of the current stream id still being read, or -1 between instructions. */
  private continuation = -1;

  push(chunk: Uint8Array): void {
    for (const b of chunk) {
      if (this.continuation >= 0) {
        // The stream id of a Stream Cancellation runs on while the high bit is set; 8 bytes hold any QUIC stream id.
        if (++this.continuation > 9) throw this.error('a stream id that is too long');
        if ((b & 0x80) === 0) this.continuation = -1;
        continue;
      }
      if (b & 0x80) throw this.error('Section Acknowledgment, but no section referenced the dynamic table');
      if ((b & 0x40) === 0) throw this.error('Insert Count Increment, but nothing was inserted');
      if ((b & 0x3f) === 0x3f) this.continuation = 0;
    }
  }

  private error(problem: string): H3ConnectionError {
    return new H3ConnectionError(H3ErrorCode.QPACK_DECODER_STREAM_ERROR, problem);
  }
}
