// QPACK with a zero-capacity dynamic table (RFC 9204), prefixed integers and Huffman strings (RFC 7541):
// known answers from the RFCs, a field section built by hand, round trips, refusals, random input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reader } from '../../src/codec/reader.js';
import { fromHex, hex, Writer } from '../../src/codec/writer.js';
import { MalformedMessage, SecondaryCertsError, FieldSectionTooLarge, H3ConnectionError, H3ErrorCode } from '../../src/errors.js';
import {
  checkEncoderStreamBytes,
  decodeFieldSection,
  DecoderStreamChecker,
  encodeFieldSection,
  fieldSectionSize,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  latin1Bytes,
  QPACK_STATIC_TABLE,
  readPrefixedInt,
  writePrefixedInt,
  type FieldLine,
  type HuffmanChoice,
} from '../../src/h3/qpack.js';
import { returnsOrThrowsTyped } from '../helpers/assert-typed.js';

const RUNS = { numRuns: 300 };
const ascii = (s: string) => latin1Bytes(s);

function throwsH3(fn: () => unknown, wireCode: number): void {
  assert.throws(fn, (e: unknown) => e instanceof H3ConnectionError && e.code === 'ERR_H3_CONNECTION' && e.wireCode === wireCode);
}
const failsDecompression = (hexBytes: string) => throwsH3(() => decodeFieldSection(fromHex(hexBytes)), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);

test('static table: 99 entries, spot checks against RFC 9204 Appendix A', () => {
  assert.equal(QPACK_STATIC_TABLE.length, 99);
  const expect: [number, string, string][] = [
    [0, ':authority', ''], [1, ':path', '/'], [15, ':method', 'CONNECT'], [17, ':method', 'GET'], [23, ':scheme', 'https'],
    [25, ':status', '200'], [31, 'accept-encoding', 'gzip, deflate, br'], [52, 'content-type', 'text/html; charset=utf-8'],
    [58, 'strict-transport-security', 'max-age=31536000; includesubdomains; preload'], [62, 'x-xss-protection', '1; mode=block'],
    [63, ':status', '100'], [71, ':status', '500'], [72, 'accept-language', ''], [84, 'authorization', ''],
    [85, 'content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"], [95, 'user-agent', ''],
    [97, 'x-frame-options', 'deny'], [98, 'x-frame-options', 'sameorigin'],
  ];
  for (const [i, name, value] of expect) assert.deepEqual(QPACK_STATIC_TABLE[i], [name, value], `index ${i}`);
});

test('prefixed integers: RFC 7541 Appendix C.1 examples, and round trips for every prefix width', () => {
  const enc = (flags: number, bits: number, v: number) => {
    const w = new Writer();
    writePrefixedInt(w, flags, bits, v);
    return hex(w.finish());
  };
  assert.equal(enc(0, 5, 10), '0a'); // C.1.1
  assert.equal(enc(0, 5, 1337), '1f9a0a'); // C.1.2
  assert.equal(enc(0, 8, 42), '2a'); // C.1.3
  assert.equal(enc(0xe0, 5, 1337), 'ff9a0a'); // flags above the prefix are kept
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.maxSafeNat(), (bits, v) => {
      const w = new Writer();
      writePrefixedInt(w, 0, bits, v);
      const r = new Reader(w.finish(), 'int');
      assert.equal(readPrefixedInt(r, r.u8(), bits), v);
      assert.equal(r.remaining, 0);
    }),
    RUNS,
  );
  // Too many continuation bytes is refused rather than read forever.
  const r = new Reader(fromHex('1f' + '80'.repeat(20) + '00'), 'int');
  assert.throws(() => readPrefixedInt(r, r.u8(), 5), MalformedMessage);
});

test('Huffman: RFC 7541 Appendix C.4 and C.6 strings encode to the bytes given there, and back', () => {
  const vectors: [string, string][] = [
    ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
    ['no-cache', 'a8eb10649cbf'],
    ['custom-key', '25a849e95ba97d7f'],
    ['custom-value', '25a849e95bb8e8b4bf'],
    ['302', '6402'],
    ['307', '640eff'],
    ['private', 'aec3771a4b'],
    ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07abe941054d444a8200595040b8166e082a62d1bff'],
    ['https://www.example.com', '9d29ad171863c78f0b97c8e9ae82ae43d3'],
    ['gzip', '9bd9ab'],
    ['foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1', '94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007'],
  ];
  for (const [text, coded] of vectors) {
    assert.equal(hex(huffmanEncode(ascii(text))), coded, text);
    assert.equal(huffmanEncodedLength(ascii(text)), coded.length / 2, text);
    assert.deepEqual(huffmanDecode(fromHex(coded)), ascii(text), text);
  }
});

test('Huffman: round trip over all byte values; bad padding and EOS are refused', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const coded = huffmanEncode(bytes);
      assert.equal(coded.length, huffmanEncodedLength(bytes));
      assert.deepEqual(huffmanDecode(coded), bytes);
    }),
    RUNS,
  );
  assert.deepEqual(huffmanDecode(fromHex('1f')), ascii('a')); // 'a' = 00011, padded with 111
  assert.throws(() => huffmanDecode(fromHex('18')), /padding is not all ones/); // 'a' padded with 000
  assert.throws(() => huffmanDecode(fromHex('1fff')), /padding of 11 bits/); // 'a' then 11 one-bits
  assert.throws(() => huffmanDecode(fromHex('ffffffff')), /EOS/); // 30 ones are EOS
  assert.throws(() => huffmanDecode(fromHex('ff')), /padding of 8 bits/);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      try {
        huffmanDecode(bytes);
      } catch (e) {
        assert.ok(e instanceof MalformedMessage, String(e));
      }
    }),
    RUNS,
  );
});

test('a field section built by hand from the RFC 9204 formats decodes, and the encoder writes the same bytes', () => {
  const section = fromHex(
    [
      '0000', // Required Insert Count 0; Sign 0, Delta Base 0
      'd1', // indexed, static (T=1): 0b11 + 17 = :method GET
      'd7', // indexed, static: 23 = :scheme https
      'c1', // indexed, static: 1 = :path /
      '500b' + hex(ascii('example.com')), // literal with static name reference 0 (:authority), value of 11 bytes, no Huffman
      '26' + hex(ascii('x-test')) + '01' + hex(ascii('a')), // literal name (001 N=0 H=0, length 6), value of 1 byte
      'ff08', // indexed, static: 63 + 8 = 71 = :status 500 (the index continues past the 6-bit prefix)
      '7f00' + '02' + hex(ascii('ok')), // literal with name reference, N=1, T=1, index 15 + 0 (:method), value "ok"
    ].join(''),
  );
  const fields: FieldLine[] = [
    { name: ':method', value: 'GET', neverIndex: false },
    { name: ':scheme', value: 'https', neverIndex: false },
    { name: ':path', value: '/', neverIndex: false },
    { name: ':authority', value: 'example.com', neverIndex: false },
    { name: 'x-test', value: 'a', neverIndex: false },
    { name: ':status', value: '500', neverIndex: false },
    { name: ':method', value: 'ok', neverIndex: true },
  ];
  assert.deepEqual(decodeFieldSection(section), fields);
  assert.equal(hex(encodeFieldSection(fields, { huffman: 'never' })), hex(section));
  // RFC 9204 Appendix B.1: ":path /index.html" as a literal with a static name reference.
  assert.deepEqual(decodeFieldSection(fromHex('0000510b2f696e6465782e68746d6c')), [{ name: ':path', value: '/index.html', neverIndex: false }]);
  // The same literal, Huffman-coded value (H bit 0x80 on the length byte).
  const coded = huffmanEncode(ascii('/index.html'));
  const withHuffman = fromHex(`000051${(0x80 | coded.length).toString(16)}${hex(coded)}`);
  assert.deepEqual(decodeFieldSection(withHuffman), [{ name: ':path', value: '/index.html', neverIndex: false }]);
  assert.deepEqual(encodeFieldSection([{ name: ':path', value: '/index.html' }]), withHuffman);
});

const fieldName = fc.oneof(
  fc.constantFrom(...QPACK_STATIC_TABLE.map(([name]) => name)),
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
);
const fieldValue = fc.oneof(
  fc.constantFrom(...QPACK_STATIC_TABLE.map(([, value]) => value)),
  fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
);
const field: fc.Arbitrary<FieldLine> = fc.record({ name: fieldName, value: fieldValue, neverIndex: fc.boolean() }, { noNullPrototype: true });
const huffmanChoice = fc.constantFrom<HuffmanChoice>('auto', 'always', 'never');

test('field sections round-trip in every Huffman mode; N is kept; a static match is one byte or two', () => {
  fc.assert(
    fc.property(fc.array(field, { maxLength: 12 }), huffmanChoice, (fields, huffman) => {
      const bytes = encodeFieldSection(fields, { huffman });
      assert.deepEqual(decodeFieldSection(bytes), fields);
    }),
    RUNS,
  );
  for (const [i, [name, value]] of QPACK_STATIC_TABLE.entries()) {
    assert.equal(encodeFieldSection([{ name, value }]).length, 2 + (i < 63 ? 1 : 2), `index ${i}`);
  }
});

test('references to the dynamic table, a negative Base and bad static indexes are QPACK_DECOMPRESSION_FAILED', () => {
  failsDecompression('0100'); // Required Insert Count 1
  failsDecompression('ff0000'); // Required Insert Count encoded over two bytes, non-zero
  failsDecompression('0080d1'); // Sign bit set: Base would be negative
  failsDecompression('00ff01d1'); // Sign bit set with a longer Delta Base
  failsDecompression('000080'); // indexed, T=0 (dynamic)
  failsDecompression('000010'); // indexed with post-Base index
  failsDecompression('000040' + '0161'); // literal with name reference, T=0
  failsDecompression('000000' + '0161'); // literal with post-Base name reference
  failsDecompression('0000ff24'); // static index 99: past the table
  assert.deepEqual(decodeFieldSection(fromHex('0000ff23')), [{ name: 'x-frame-options', value: 'sameorigin', neverIndex: false }]); // 98 is the last
  failsDecompression('00'); // truncated prefix
  failsDecompression('00005f'); // name index continues past the end
  failsDecompression('0000500561'); // value of 5 bytes, 1 present
  failsDecompression('00005081' + '18'); // Huffman value with zero padding
  failsDecompression('000050' + '84' + 'ffffffff'); // Huffman value holding EOS
  assert.deepEqual(decodeFieldSection(fromHex('0005d1')), [{ name: ':method', value: 'GET', neverIndex: false }]); // any positive Base is fine
  assert.deepEqual(decodeFieldSection(fromHex('0000')), []);
});

test('the decoded size is bounded (name + value + 32 per field), before the strings are copied', () => {
  const fields = Array.from({ length: 10 }, (_, i) => ({ name: `x-field-${i}`, value: 'v'.repeat(100), neverIndex: false }));
  const bytes = encodeFieldSection(fields);
  const size = fieldSectionSize(fields);
  assert.deepEqual(decodeFieldSection(bytes, { maxFieldSectionSize: size }), fields);
  assert.throws(
    () => decodeFieldSection(bytes, { maxFieldSectionSize: size - 1 }),
    (e: unknown) => e instanceof FieldSectionTooLarge && e.code === 'ERR_FIELD_SECTION_TOO_LARGE' && e.status === 431,
  );
  // A literal claiming a huge length is refused for size before the decoder looks for its bytes.
  const huge = new Writer().u8(0).u8(0).u8(0x50);
  writePrefixedInt(huge, 0, 7, 1_000_000);
  assert.throws(() => decodeFieldSection(huge.finish()), FieldSectionTooLarge);
  // Many empty fields count 32 bytes each.
  const empties = encodeFieldSection(Array.from({ length: 100 }, () => ({ name: 'x', value: '' })));
  assert.throws(() => decodeFieldSection(empties, { maxFieldSectionSize: 99 * 33 }), FieldSectionTooLarge);
});

test('the encoder refuses characters that are not bytes', () => {
  assert.throws(() => encodeFieldSection([{ name: 'x', value: 'é€' }]), RangeError);
  assert.throws(() => encodeFieldSection([{ name: 'ü\u0100', value: '' }]), RangeError);
  assert.deepEqual(decodeFieldSection(encodeFieldSection([{ name: 'x', value: 'é' }])), [{ name: 'x', value: 'é', neverIndex: false }]);
});

test('random, truncated and mutated field sections: a value or a typed error, never another exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 60 }), fc.boolean(), (bytes, withPrefix) => {
      const input = withPrefix ? new Uint8Array([0, 0, ...bytes]) : bytes;
      returnsOrThrowsTyped(() => decodeFieldSection(input, { maxFieldSectionSize: 2000 }));
    }),
    RUNS,
  );
  fc.assert(
    fc.property(fc.array(field, { minLength: 1, maxLength: 6 }), huffmanChoice, fc.nat(), fc.integer({ min: 1, max: 255 }), (fields, huffman, at, flip) => {
      const bytes = encodeFieldSection(fields, { huffman });
      for (let n = 0; n < bytes.length; n++) returnsOrThrowsTyped(() => decodeFieldSection(bytes.subarray(0, n)));
      const mutated = bytes.slice();
      mutated[at % bytes.length]! ^= flip;
      returnsOrThrowsTyped(() => decodeFieldSection(mutated));
    }),
    { numRuns: 200 },
  );
});

test('encoder stream: only Set Dynamic Table Capacity 0 is accepted', () => {
  assert.doesNotThrow(() => checkEncoderStreamBytes(fromHex('2020')));
  assert.doesNotThrow(() => checkEncoderStreamBytes(new Uint8Array(0)));
  for (const bad of ['21', '3f01', 'c0', '4000', '00']) {
    throwsH3(() => checkEncoderStreamBytes(fromHex(bad)), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
  }
});

test('decoder stream: Stream Cancellations in any chunking are accepted; acknowledgments and increments are errors', () => {
  // Cancellations of streams 0, 4 and 1000 (6-bit prefix: 0x7f then 1000 - 63 = 937 in 7-bit groups).
  const w = new Writer().u8(0x40).u8(0x44);
  writePrefixedInt(w, 0x40, 6, 1000);
  const bytes = w.finish();
  for (let cut = 0; cut <= bytes.length; cut++) {
    const checker = new DecoderStreamChecker();
    checker.push(bytes.subarray(0, cut));
    checker.push(bytes.subarray(cut));
    checker.push(fromHex('41'));
  }
  throwsH3(() => new DecoderStreamChecker().push(fromHex('81')), H3ErrorCode.QPACK_DECODER_STREAM_ERROR); // Section Acknowledgment
  throwsH3(() => new DecoderStreamChecker().push(fromHex('01')), H3ErrorCode.QPACK_DECODER_STREAM_ERROR); // Insert Count Increment
  throwsH3(() => new DecoderStreamChecker().push(fromHex('7f' + '80'.repeat(12))), H3ErrorCode.QPACK_DECODER_STREAM_ERROR); // endless id
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 30 }), (bytes) => {
      try {
        new DecoderStreamChecker().push(bytes);
      } catch (e) {
        assert.ok(e instanceof SecondaryCertsError);
      }
    }),
    RUNS,
  );
});
