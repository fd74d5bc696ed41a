// QUIC variable-length integers (RFC 9000 section 16): the Appendix A.1 examples, round trips over the
// whole 62-bit range, streaming ("need more bytes"), truncation and random input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reader } from '../../src/codec/reader.js';
import { fromHex, Writer } from '../../src/codec/writer.js';
import {
  decodeVarint,
  encodeVarint,
  MAX_VARINT,
  peekVarint,
  peekVarintBig,
  readVarint,
  readVarintBig,
  varintLength,
  varintLengthOf,
  writeVarint,
} from '../../src/codec/varint.js';
import { everyPrefixFails, returnsOrThrowsTyped } from '../helpers/assert-typed.js';

const RUNS = { numRuns: 300 };

test('RFC 9000 Appendix A.1 examples decode to the values it gives', () => {
  assert.deepEqual(peekVarintBig(fromHex('c2197c5eff14e88c')), { value: 151_288_809_941_952_652n, length: 8 });
  assert.deepEqual(peekVarint(fromHex('9d7f3e7d')), { value: 494_878_333, length: 4 });
  assert.deepEqual(peekVarint(fromHex('7bbd')), { value: 15_293, length: 2 });
  assert.deepEqual(peekVarint(fromHex('25')), { value: 37, length: 1 });
  // The same value in two bytes: not the shortest form, still valid.
  assert.deepEqual(peekVarint(fromHex('4025')), { value: 37, length: 2 });
  // And the encoder writes the shortest form of each.
  assert.deepEqual(encodeVarint(151_288_809_941_952_652n), fromHex('c2197c5eff14e88c'));
  assert.deepEqual(encodeVarint(494_878_333), fromHex('9d7f3e7d'));
  assert.deepEqual(encodeVarint(15_293), fromHex('7bbd'));
  assert.deepEqual(encodeVarint(37), fromHex('25'));
});

test('length boundaries: 63/64, 16383/16384, 2^30-1/2^30, 2^62-1; out of range is a RangeError', () => {
  const cases: [number | bigint, number][] = [
    [0, 1], [63, 1], [64, 2], [16383, 2], [16384, 4], [2 ** 30 - 1, 4], [2 ** 30, 8], [Number.MAX_SAFE_INTEGER, 8], [MAX_VARINT, 8],
  ];
  for (const [v, n] of cases) {
    assert.equal(varintLength(v), n, String(v));
    assert.equal(encodeVarint(v).length, n, String(v));
    assert.equal(varintLengthOf(encodeVarint(v)[0]!), n);
  }
  assert.deepEqual(encodeVarint(MAX_VARINT), fromHex('ffffffffffffffff'));
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53, -1n, MAX_VARINT + 1n]) assert.throws(() => encodeVarint(bad), RangeError, String(bad));
});

test('round trip: bigint over the whole range, number up to 2^53-1, through every decoder', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: MAX_VARINT }), (v) => {
      const bytes = encodeVarint(v);
      assert.equal(bytes.length, varintLength(v));
      assert.deepEqual(peekVarintBig(bytes), { value: v, length: bytes.length });
      assert.equal(readVarintBig(new Reader(bytes, 'v')), v);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(fc.maxSafeNat(), (v) => {
      const bytes = encodeVarint(v);
      assert.deepEqual(peekVarint(bytes), { value: v, length: bytes.length });
      assert.equal(readVarint(new Reader(bytes, 'v')), v);
      assert.equal(decodeVarint(bytes), v);
      assert.deepEqual(writeVarint(new Writer(), v).finish(), bytes);
    }),
    RUNS,
  );
});

test('streaming: a varint at an offset decodes, and every short view asks for more bytes instead of failing', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 8 }), fc.bigInt({ min: 0n, max: MAX_VARINT }), fc.uint8Array({ maxLength: 8 }), (before, v, after) => {
      const bytes = encodeVarint(v);
      const all = new Uint8Array([...before, ...bytes, ...after]);
      assert.deepEqual(peekVarintBig(all, before.length), { value: v, length: bytes.length });
      for (let n = before.length; n < before.length + bytes.length; n++) {
        assert.equal(peekVarintBig(all.subarray(0, n), before.length), undefined);
        assert.equal(peekVarint(all.subarray(0, n), before.length), undefined);
      }
      everyPrefixFails(bytes, (b) => decodeVarint(b));
      everyPrefixFails(bytes, (b) => readVarint(new Reader(b, 'v')));
      assert.throws(() => decodeVarint(new Uint8Array([...bytes, 0])), /trailing/);
    }),
    RUNS,
  );
});

test('random bytes: a value or a typed error, never anything else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
      returnsOrThrowsTyped(() => decodeVarint(bytes));
      returnsOrThrowsTyped(() => readVarintBig(new Reader(bytes, 'v')));
      const peeked = peekVarint(bytes);
      if (peeked) assert.equal(peeked.length, varintLengthOf(bytes[0]!));
    }),
    RUNS,
  );
});
