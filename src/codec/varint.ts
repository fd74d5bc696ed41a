import type { Reader } from './reader.js';
import type { Writer } from './writer.js';
import { MalformedMessage } from '../errors.js';

// QUIC variable-length integers (RFC 9000 section 16). The two high bits of the first byte give the
// length (1, 2, 4 or 8 bytes); the other bits hold a big-endian value of 6, 14, 30 or 62 bits. RFC 9000
// does not require the shortest form, so decoders accept longer ones; encoders write the shortest.
//
// Values travel as `number` where that is exact (up to 2^53-1, beyond any length or id this library
// acts on) and as `bigint` where the whole 62-bit range matters (frame types, setting ids).

/** The largest value a varint holds: 2^62-1. */
export const MAX_VARINT = (1n << 62n) - 1n;

/** A decoded varint and how many bytes it took. */
export interface VarintAt<T> {
  value: T;
  length: 1 | 2 | 4 | 8;
}

/** The encoded length a first byte announces. */
export function varintLengthOf(firstByte: number): 1 | 2 | 4 | 8 {
  return (1 << (firstByte >> 6)) as 1 | 2 | 4 | 8;
}

/** How many bytes the shortest encoding of `v` takes. RangeError for a negative, fractional or too large value. */
export function varintLength(v: number | bigint): 1 | 2 | 4 | 8 {
  const n = checkVarint(v);
  if (n < 0x40n) return 1;
  if (n < 0x4000n) return 2;
  if (n < 0x40000000n) return 4;
  return 8;
}

/** The two length bits of the first byte, by encoded length. */
const LENGTH_BITS = { 1: 0x00, 2: 0x40, 4: 0x80, 8: 0xc0 } as const;

/** The shortest encoding of `v` as bytes. */
export function encodeVarint(v: number | bigint): Uint8Array {
  const n = checkVarint(v);
  const length = varintLength(n);
  const out = new Uint8Array(length);
  let rest = n;
  for (let i = length - 1; i >= 0; i--, rest >>= 8n) out[i] = Number(rest & 0xffn);
  out[0]! |= LENGTH_BITS[length];
  return out;
}

/** Appends the shortest encoding of `v`. */
export function writeVarint(w: Writer, v: number | bigint): Writer {
  return w.bytes(encodeVarint(v));
}

/**
 * Decodes the varint starting at `offset` without copying. Returns `undefined` when `bytes` ends first,
 * so a streaming caller can wait for more bytes and try again; never throws for short input.
 * Values above 2^53-1 come back rounded to the nearest double: use peekVarintBig where that matters.
 */
export function peekVarint(bytes: Uint8Array, offset = 0): VarintAt<number> | undefined {
  if (offset >= bytes.length) return undefined;
  const first = bytes[offset]!;
  const length = varintLengthOf(first);
  if (offset + length > bytes.length) return undefined;
  let value = first & 0x3f;
  // Multiplication, not shifts: 32-bit bitwise arithmetic would wrap past 2^31.
  for (let i = 1; i < length; i++) value = value * 256 + bytes[offset + i]!;
  return { value, length };
}

/** As peekVarint, with the exact value as a bigint. */
export function peekVarintBig(bytes: Uint8Array, offset = 0): VarintAt<bigint> | undefined {
  if (offset >= bytes.length) return undefined;
  const first = bytes[offset]!;
  const length = varintLengthOf(first);
  if (offset + length > bytes.length) return undefined;
  let value = BigInt(first & 0x3f);
  for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(bytes[offset + i]!);
  return { value, length };
}

/** Reads one varint from `r`. Throws MalformedMessage (from the Reader) if it is truncated. */
export function readVarint(r: Reader, what = 'varint'): number {
  const first = r.u8(what);
  let value = first & 0x3f;
  for (let i = 1; i < varintLengthOf(first); i++) value = value * 256 + r.u8(what);
  return value;
}

/** As readVarint, exact. */
export function readVarintBig(r: Reader, what = 'varint'): bigint {
  const first = r.u8(what);
  let value = BigInt(first & 0x3f);
  for (let i = 1; i < varintLengthOf(first); i++) value = (value << 8n) | BigInt(r.u8(what));
  return value;
}

/** Decodes `bytes` as exactly one varint (no bytes missing, none left over); else MalformedMessage. */
export function decodeVarint(bytes: Uint8Array, structure = 'varint'): number {
  const v = peekVarint(bytes);
  if (v === undefined) throw new MalformedMessage(structure, `truncated: ${bytes.length} bytes`);
  if (v.length !== bytes.length) throw new MalformedMessage(structure, `${bytes.length - v.length} trailing bytes`);
  return v.value;
}

function checkVarint(v: number | bigint): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${v} is not a varint: need an integer in 0..2^53-1 (or a bigint up to 2^62-1)`);
    return BigInt(v);
  }
  if (typeof v !== 'bigint' || v < 0n || v > MAX_VARINT) throw new RangeError(`${String(v)} is not a varint: need 0..2^62-1`);
  return v;
}
