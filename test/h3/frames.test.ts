// HTTP/3 frame codecs and the streaming FrameReader (RFC 9114 section 7, the extension drafts): round
// trips, hand-built bytes, SETTINGS rules, size limits, chunking independence and random input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concatBytes, fromHex, hex } from '../../src/codec/writer.js';
import { encodeVarint } from '../../src/codec/varint.js';
import { InvalidProfile, SecondaryCertsError, H3ConnectionError, H3ErrorCode, h3ErrorName } from '../../src/errors.js';
import { DEFAULT_H3_PROFILE, isReservedGrease, makeH3Profile } from '../../src/h3/profile.js';
import {
  DEFAULT_MAX_AUTHENTICATOR_SIZE,
  DEFAULT_MAX_PAYLOAD_SIZE,
  encodeDataFrame,
  encodeFrame,
  encodeH3Frame,
  encodeServerCertificateFrame,
  encodeSettingsFrame,
  FrameReader,
  H3FrameType,
  H3SettingId,
  parseAuthenticatorRequests,
  parseFrame,
  parseServerCertificate,
  parseSettings,
  type FrameEvent,
  type FrameReaderOptions,
  type H3Frame,
} from '../../src/h3/wire/index.js';
import { returnsOrThrowsTyped } from '../helpers/assert-typed.js';

const RUNS = { numRuns: 300 };
const P = DEFAULT_H3_PROFILE.frames;
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const id = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.maxSafeNat());

function throwsH3(fn: () => unknown, wireCode: number, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof H3ConnectionError, `not an H3ConnectionError: ${String(e)}`);
    assert.equal(h3ErrorName(e.wireCode) ?? e.wireCode, h3ErrorName(wireCode) ?? wireCode);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Runs bytes through a FrameReader in the given chunk sizes (cycled) and returns every event, DATA pieces merged. */
function readAll(stream: Uint8Array, chunkSizes: number[] = [stream.length || 1], options: FrameReaderOptions = {}): FrameEvent[] {
  const reader = new FrameReader(options);
  const events: FrameEvent[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const n = Math.max(1, chunkSizes[i % chunkSizes.length]!);
    events.push(...reader.push(stream.subarray(at, at + n)));
    at += n;
  }
  reader.end();
  return mergeData(events);
}

function mergeData(events: FrameEvent[]): FrameEvent[] {
  const out: FrameEvent[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (e.kind === 'data' && last?.kind === 'data') out[out.length - 1] = { kind: 'data', chunk: concatBytes(last.chunk, e.chunk) };
    else out.push(e.kind === 'data' ? { kind: 'data', chunk: e.chunk.slice() } : e);
  }
  return out;
}

const settingsArb = fc
  .uniqueArray(fc.tuple(fc.maxSafeNat(), fc.maxSafeNat()), { selector: ([k]) => k, maxLength: 8 })
  .map((pairs) => new Map(pairs.filter(([k]) => k < 2 || k > 5).map(([k, v]) => [k, k === DEFAULT_H3_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH ? v % 2 : v])));

const frameArb: fc.Arbitrary<H3Frame> = fc.oneof(
  record({ kind: fc.constant('HEADERS' as const), fieldSection: bytes(0, 100) }),
  record({ kind: fc.constant('SETTINGS' as const), settings: settingsArb }),
  record({ kind: fc.constant('GOAWAY' as const), id }),
  record({ kind: fc.constant('ORIGIN' as const), origins: fc.array(fc.stringMatching(/^[ -~]{0,40}$/), { maxLength: 4 }) }),
  record({ kind: fc.constant('CANCEL_PUSH' as const), pushId: id }),
  record({ kind: fc.constant('MAX_PUSH_ID' as const), pushId: id }),
  record({ kind: fc.constant('PUSH_PROMISE' as const), pushId: id, fieldSection: bytes(0, 50) }),
  record({ kind: fc.constant('SERVER_CERTIFICATE' as const), authenticator: bytes(1, 300) }),
  record({ kind: fc.constant('AUTHENTICATOR_REQUESTS' as const), requests: fc.array(bytes(1, 80), { minLength: 1, maxLength: 4 }) }),
  record({ kind: fc.constant('CLIENT_CERTIFICATE' as const), authenticator: bytes(1, 300) }),
);

/** Frames a stream can hold, including the ones the reader streams (DATA) or skips (unknown, GREASE, past 2^53). */
const anyFrameBytes = fc.oneof(
  { arbitrary: frameArb.map((f) => encodeH3Frame(f)), weight: 4 },
  { arbitrary: bytes(0, 200).map(encodeDataFrame), weight: 2 },
  { arbitrary: fc.tuple(fc.nat({ max: 1000 }), bytes(0, 40)).map(([n, p]) => encodeFrame(0x1fn * BigInt(n) + 0x21n, p)), weight: 1 },
  { arbitrary: fc.tuple(fc.constantFrom(0x0a, 0x0b, 0x0e, 0x0f, 0x4242, 2 ** 40), bytes(0, 40)).map(([t, p]) => encodeFrame(t, p)), weight: 1 },
  { arbitrary: bytes(0, 20).map((p) => encodeFrame((1n << 62n) - 1n, p)), weight: 1 },
);

test('every frame round-trips: encode, read from bytes, parse', () => {
  fc.assert(
    fc.property(frameArb, (frame) => {
      const encoded = encodeH3Frame(frame);
      const events = readAll(encoded);
      assert.equal(events.length, 1);
      const [event] = events;
      assert.ok(event?.kind === 'frame');
      assert.deepEqual(parseFrame(event.type, event.payload), frame);
      assert.deepEqual(encodeH3Frame(parseFrame(event.type, event.payload)), encoded);
    }),
    RUNS,
  );
});

test('ORIGIN (RFC 9412): entries of a 16-bit length and an ASCII origin; a cut entry is H3_FRAME_ERROR', () => {
  // Type 0x0c, length 0x14, one entry of 0x12 bytes.
  assert.deepEqual(encodeH3Frame({ kind: 'ORIGIN', origins: ['https://b.example'] }), fromHex('0c130011' + Buffer.from('https://b.example').toString('hex')));
  assert.deepEqual(parseFrame(0x0c, fromHex('0011' + Buffer.from('https://b.example').toString('hex') + '0000')), { kind: 'ORIGIN', origins: ['https://b.example', ''] });
  assert.throws(() => parseFrame(0x0c, fromHex('0011' + '6874')), (e: H3ConnectionError) => e.wireCode === H3ErrorCode.H3_FRAME_ERROR);
  assert.throws(() => encodeH3Frame({ kind: 'ORIGIN', origins: ['https://é.example'] }), RangeError);
});

test('hand-built frames: SETTINGS, GOAWAY, SERVER_CERTIFICATE and a DATA frame', () => {
  // SETTINGS: type 0x04, length 10; MAX_FIELD_SECTION_SIZE (0x06) = 65536 (4-byte varint 0x80010000);
  // SETTINGS_HTTP_SERVER_CERT_AUTH (0x5ec0, above 16383 so 4 bytes: 0x80005ec0) = 1.
  const settings = fromHex('040a' + '06' + '80010000' + '80005ec0' + '01');
  assert.equal(hex(encodeSettingsFrame(new Map([[H3SettingId.MAX_FIELD_SECTION_SIZE, 65536], [0x5ec0, 1]]))), hex(settings));
  const [event] = readAll(settings);
  assert.ok(event?.kind === 'frame' && event.type === H3FrameType.SETTINGS);
  assert.deepEqual(parseSettings(event.payload), new Map([[6, 65536], [0x5ec0, 1]]));
  // GOAWAY for stream 4: type 0x07, length 1, id 4.
  assert.deepEqual(readAll(fromHex('070104')), [{ kind: 'frame', type: 7, payload: fromHex('04') }]);
  assert.deepEqual(parseFrame(7, fromHex('04')), { kind: 'GOAWAY', id: 4 });
  // SERVER_CERTIFICATE: type 0x5ec1 as a 4-byte varint, length 3.
  assert.equal(hex(encodeServerCertificateFrame({ authenticator: fromHex('0b0000') })), '80005ec1030b0000');
  // DATA: announced, then its bytes.
  assert.deepEqual(readAll(fromHex('0003616263')), [{ kind: 'data-start', length: 3 }, { kind: 'data', chunk: fromHex('616263') }]);
  assert.deepEqual(readAll(fromHex('0000')), [{ kind: 'data-start', length: 0 }]);
});

test('the reader gives the same events fed byte by byte, in random chunks, or all at once', () => {
  fc.assert(
    fc.property(fc.array(anyFrameBytes, { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), (frames, sizes) => {
      const stream = concatBytes(...frames);
      const whole = readAll(stream);
      assert.deepEqual(readAll(stream, [1]), whole);
      assert.deepEqual(readAll(stream, sizes), whole);
      // One event (or data-start plus data) per frame.
      assert.equal(whole.filter((e) => e.kind !== 'data').length, frames.length);
    }),
    RUNS,
  );
});

test('SETTINGS: repeated ids (however encoded), HTTP/2-only ids and a bad cert-auth value are H3_SETTINGS_ERROR', () => {
  throwsH3(() => parseSettings(fromHex('0601' + '0602')), H3ErrorCode.H3_SETTINGS_ERROR, /repeats/);
  throwsH3(() => parseSettings(fromHex('0601' + '400602')), H3ErrorCode.H3_SETTINGS_ERROR, /repeats/); // 0x06 again, in two bytes
  for (const h2Only of [2, 3, 4, 5]) throwsH3(() => parseSettings(new Uint8Array([h2Only, 0])), H3ErrorCode.H3_SETTINGS_ERROR, /HTTP\/2-only/);
  throwsH3(() => parseSettings(fromHex('80005ec0' + '02')), H3ErrorCode.H3_SETTINGS_ERROR, /0 or 1/);
  assert.deepEqual(parseSettings(fromHex('80005ec0' + '00')), new Map([[0x5ec0, 0]]));
  // A custom profile moves the rule with the id.
  const profile = makeH3Profile('t', { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 0x1234 } });
  assert.deepEqual(parseSettings(fromHex('80005ec0' + '02'), { profile }), new Map([[0x5ec0, 2]]));
  throwsH3(() => parseSettings(fromHex('5234' + '02'), { profile }), H3ErrorCode.H3_SETTINGS_ERROR);
  // Truncated pairs are H3_FRAME_ERROR.
  throwsH3(() => parseSettings(fromHex('06')), H3ErrorCode.H3_FRAME_ERROR);
  throwsH3(() => parseSettings(fromHex('0680')), H3ErrorCode.H3_FRAME_ERROR);
  // Unknown and GREASE ids are kept for the caller to ignore; ids past 2^53 are dropped, repeats still caught.
  assert.deepEqual(parseSettings(fromHex('2107' + '4040' + '09')), new Map([[0x21, 7], [0x40, 9]]));
  const huge = encodeVarint((1n << 62n) - 1n);
  assert.deepEqual(parseSettings(concatBytes(huge, fromHex('01'), fromHex('0101'))), new Map([[1, 1]]));
  throwsH3(() => parseSettings(concatBytes(huge, fromHex('01'), huge, fromHex('02'))), H3ErrorCode.H3_SETTINGS_ERROR);
  // The encoder refuses what the receiver would reject.
  assert.throws(() => encodeSettingsFrame(new Map([[4, 1]])), RangeError);
});

test('one-varint frames: empty or trailing bytes are H3_FRAME_ERROR; a length over 8 is refused at the header', () => {
  for (const type of [H3FrameType.GOAWAY, H3FrameType.CANCEL_PUSH, H3FrameType.MAX_PUSH_ID]) {
    throwsH3(() => parseFrame(type, new Uint8Array(0)), H3ErrorCode.H3_FRAME_ERROR);
    throwsH3(() => parseFrame(type, fromHex('0400')), H3ErrorCode.H3_FRAME_ERROR, /trailing/);
    throwsH3(() => parseFrame(type, fromHex('40')), H3ErrorCode.H3_FRAME_ERROR, /truncated/);
    throwsH3(() => new FrameReader().push(new Uint8Array([type, 9])), H3ErrorCode.H3_FRAME_ERROR);
  }
  throwsH3(() => parseFrame(H3FrameType.PUSH_PROMISE, new Uint8Array(0)), H3ErrorCode.H3_FRAME_ERROR);
});

test('extension frames: empty, oversized and malformed payloads get the codes the drafts (or our choices) name', () => {
  throwsH3(() => parseServerCertificate(new Uint8Array(0)), DEFAULT_H3_PROFILE.errors.SERVER_CERTIFICATE_INVALID);
  throwsH3(() => parseFrame(P.CLIENT_CERTIFICATE, new Uint8Array(0)), H3ErrorCode.H3_MESSAGE_ERROR);
  const big = new Uint8Array(DEFAULT_MAX_AUTHENTICATOR_SIZE + 1);
  throwsH3(() => parseServerCertificate(big), H3ErrorCode.H3_EXCESSIVE_LOAD);
  throwsH3(() => parseFrame(P.CLIENT_CERTIFICATE, big), H3ErrorCode.H3_EXCESSIVE_LOAD);
  assert.equal(parseServerCertificate(big, { maxAuthenticatorSize: big.length }).authenticator.length, big.length);
  throwsH3(() => parseServerCertificate(new Uint8Array(11), { maxAuthenticatorSize: 10 }), H3ErrorCode.H3_EXCESSIVE_LOAD);
  throwsH3(() => parseAuthenticatorRequests(new Uint8Array(0)), H3ErrorCode.H3_MESSAGE_ERROR, /no request/);
  throwsH3(() => parseAuthenticatorRequests(fromHex('00')), H3ErrorCode.H3_MESSAGE_ERROR, /empty/);
  throwsH3(() => parseAuthenticatorRequests(fromHex('030d00')), H3ErrorCode.H3_MESSAGE_ERROR, /truncated/);
  throwsH3(() => parseAuthenticatorRequests(fromHex('40')), H3ErrorCode.H3_MESSAGE_ERROR);
  assert.deepEqual(parseAuthenticatorRequests(fromHex('010d' + '02aabb')), { requests: [fromHex('0d'), fromHex('aabb')] });
  // Parsed authenticators are copies: reusing the input buffer does not change them.
  const payload = fromHex('0b0000');
  const parsed = parseServerCertificate(payload);
  payload[0] = 0;
  assert.equal(parsed.authenticator[0], 0x0b);
  // Encoders refuse what the peer would reject.
  assert.throws(() => encodeH3Frame({ kind: 'SERVER_CERTIFICATE', authenticator: new Uint8Array(0) }), RangeError);
  assert.throws(() => encodeH3Frame({ kind: 'CLIENT_CERTIFICATE', authenticator: new Uint8Array(0) }), RangeError);
  assert.throws(() => encodeH3Frame({ kind: 'AUTHENTICATOR_REQUESTS', requests: [] }), RangeError);
  assert.throws(() => encodeH3Frame({ kind: 'AUTHENTICATOR_REQUESTS', requests: [new Uint8Array(0)] }), RangeError);
  assert.throws(() => encodeH3Frame({ kind: 'GOAWAY', id: -1 }), RangeError);
});

test('reader: HTTP/2-only types are H3_FRAME_UNEXPECTED; a declared length over the limit is refused before any payload arrives', () => {
  for (const type of [0x02, 0x06, 0x08, 0x09]) {
    throwsH3(() => new FrameReader().push(new Uint8Array([type, 0])), H3ErrorCode.H3_FRAME_UNEXPECTED, /HTTP\/2-only/);
    throwsH3(() => parseFrame(type, new Uint8Array(0)), H3ErrorCode.H3_FRAME_UNEXPECTED);
  }
  // Only the header of a SERVER_CERTIFICATE claiming 1 MiB: refused at once, nothing allocated.
  const header = concatBytes(encodeVarint(P.SERVER_CERTIFICATE), encodeVarint(1 << 20));
  throwsH3(() => new FrameReader().push(header), H3ErrorCode.H3_EXCESSIVE_LOAD);
  throwsH3(() => new FrameReader({ maxPayloadSize: 100 }).push(fromHex('014065')), H3ErrorCode.H3_EXCESSIVE_LOAD); // HEADERS of 101 bytes
  assert.deepEqual(readAll(encodeFrame(1, new Uint8Array(100)), [7], { maxPayloadSize: 100 }).length, 1);
  assert.equal(DEFAULT_MAX_PAYLOAD_SIZE, 64 * 1024);
  // A length past 2^53 cannot be counted.
  throwsH3(() => new FrameReader().push(fromHex('00ffffffffffffffff')), H3ErrorCode.H3_EXCESSIVE_LOAD);
});

test('reader: DATA and unknown frames of any size pass through without being buffered', () => {
  const reader = new FrameReader({ maxPayloadSize: 1000 });
  const size = 5 * 1024 * 1024;
  assert.deepEqual(reader.push(concatBytes(encodeVarint(0), encodeVarint(size))), [{ kind: 'data-start', length: size }]);
  const block = new Uint8Array(64 * 1024);
  let seen = 0;
  for (let sent = 0; sent < size; sent += block.length) {
    for (const e of reader.push(block)) if (e.kind === 'data') seen += e.chunk.length;
  }
  assert.equal(seen, size);
  assert.ok(reader.atFrameBoundary);
  // An unknown type announced as 5 MiB is skipped the same way.
  assert.deepEqual(reader.push(concatBytes(encodeVarint(0x4242), encodeVarint(size))), [{ kind: 'skip', type: 0x4242, length: size }]);
  for (let sent = 0; sent < size; sent += block.length) assert.deepEqual(reader.push(block), []);
  assert.deepEqual(reader.push(fromHex('070100')), [{ kind: 'frame', type: 7, payload: fromHex('00') }]);
  reader.end();
});

test('reader: ending inside a frame is H3_FRAME_ERROR; after an error every call repeats it', () => {
  fc.assert(
    fc.property(frameArb, (frame) => {
      const encoded = encodeH3Frame(frame);
      for (let n = 1; n < encoded.length; n++) {
        const reader = new FrameReader();
        assert.deepEqual(reader.push(encoded.subarray(0, n)), []);
        assert.equal(reader.atFrameBoundary, false);
        throwsH3(() => reader.end(), H3ErrorCode.H3_FRAME_ERROR);
      }
    }),
    { numRuns: 100 },
  );
  const reader = new FrameReader();
  throwsH3(() => reader.push(fromHex('0200')), H3ErrorCode.H3_FRAME_UNEXPECTED);
  throwsH3(() => reader.push(fromHex('070100')), H3ErrorCode.H3_FRAME_UNEXPECTED);
  throwsH3(() => reader.end(), H3ErrorCode.H3_FRAME_UNEXPECTED);
  new FrameReader().end(); // an empty stream ends cleanly
});

test('random and mutated streams: events or a typed error from the reader, then a frame or a typed error from parseFrame', () => {
  const parseEvents = (events: FrameEvent[]) => {
    for (const e of events) if (e.kind === 'frame') returnsOrThrowsTyped(() => parseFrame(e.type, e.payload));
  };
  const feed = (stream: Uint8Array, sizes: number[]) =>
    returnsOrThrowsTyped(() => {
      const reader = new FrameReader({ maxPayloadSize: 4096 });
      for (let at = 0, i = 0; at < stream.length; i++) {
        const n = sizes[i % sizes.length]!;
        parseEvents(reader.push(stream.subarray(at, at + n)));
        at += n;
      }
      reader.end();
    });
  const sizes = fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 5 });
  fc.assert(fc.property(bytes(0, 120), sizes, feed), RUNS);
  fc.assert(
    fc.property(fc.array(anyFrameBytes, { minLength: 1, maxLength: 5 }), fc.nat(), fc.integer({ min: 1, max: 255 }), sizes, (frames, at, flip, chunks) => {
      const stream = concatBytes(...frames);
      const mutated = stream.slice();
      mutated[at % stream.length]! ^= flip;
      feed(mutated, chunks);
      feed(stream.subarray(0, at % stream.length), chunks);
    }),
    RUNS,
  );
});

test('parseFrame refuses types the reader does not buffer (a caller bug, RangeError)', () => {
  assert.throws(() => parseFrame(H3FrameType.DATA, new Uint8Array(0)), RangeError);
  assert.throws(() => parseFrame(0x21, new Uint8Array(0)), RangeError);
});

test('profile: the provisional defaults; GREASE, standard and duplicate codepoints are refused; custom types dispatch', () => {
  assert.deepEqual(DEFAULT_H3_PROFILE.frames, { SERVER_CERTIFICATE: 0x5ec1, AUTHENTICATOR_REQUESTS: 0x5ec4, CLIENT_CERTIFICATE: 0x5ec5 });
  assert.deepEqual(DEFAULT_H3_PROFILE.settings, { SETTINGS_HTTP_SERVER_CERT_AUTH: 0x5ec0, SETTINGS_HTTP_CLIENT_CERT_AUTH: 0x5ec3 });
  assert.deepEqual(DEFAULT_H3_PROFILE.errors, { SERVER_CERTIFICATE_INVALID: 0x5ec2 });
  assert.ok(Object.isFrozen(DEFAULT_H3_PROFILE) && Object.isFrozen(DEFAULT_H3_PROFILE.frames));
  for (const v of [0x21, 0x40, 0x5f, 0x1f * 1000 + 0x21]) assert.ok(isReservedGrease(v), String(v));
  for (const v of [0, 0x20, 0x22, 0x41, 0x5ec0, 0x5ec1, 0x5ec2, 0x5ec3, 0x5ec4, 0x5ec5]) assert.ok(!isReservedGrease(v), String(v));
  const bad: Parameters<typeof makeH3Profile>[1][] = [
    { frames: { SERVER_CERTIFICATE: 0x21 } }, // GREASE
    { frames: { SERVER_CERTIFICATE: 0x04 } }, // SETTINGS
    { frames: { SERVER_CERTIFICATE: 0x0c } }, // ORIGIN
    { frames: { SERVER_CERTIFICATE: 0xf0700 } }, // PRIORITY_UPDATE
    { frames: { SERVER_CERTIFICATE: 0x5ec4 } }, // the same as AUTHENTICATOR_REQUESTS
    { frames: { SERVER_CERTIFICATE: -1 } },
    { frames: { SERVER_CERTIFICATE: 1.5 } },
    { frames: { SERVER_CERTIFICATE: 2 ** 53 } },
    { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 0x06 } },
    { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 0x33 } },
    { settings: { SETTINGS_HTTP_CLIENT_CERT_AUTH: 0x1f * 3 + 0x21 } },
    { errors: { SERVER_CERTIFICATE_INVALID: 0x0105 } },
    { errors: { SERVER_CERTIFICATE_INVALID: 0x0200 } },
    { frames: { NOT_A_FRAME: 0x99 } as never },
  ];
  for (const overrides of bad) assert.throws(() => makeH3Profile('bad', overrides), InvalidProfile, JSON.stringify(overrides));
  assert.throws(() => makeH3Profile(''), InvalidProfile);
  const profile = makeH3Profile('custom', { frames: { SERVER_CERTIFICATE: 0x1234 } });
  const frame = encodeServerCertificateFrame({ authenticator: fromHex('0b') }, profile);
  const [event] = readAll(frame, [1], { profile });
  assert.ok(event?.kind === 'frame');
  assert.deepEqual(parseFrame(event.type, event.payload, { profile }), { kind: 'SERVER_CERTIFICATE', authenticator: fromHex('0b') });
  // Under the default profile the same bytes are an unknown frame, skipped.
  assert.deepEqual(readAll(frame), [{ kind: 'skip', type: 0x1234, length: 1 }]);
});

test('errors carry the wire code and its name', () => {
  const e = new H3ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, 'x');
  assert.ok(e instanceof SecondaryCertsError);
  assert.equal(e.code, 'ERR_H3_CONNECTION');
  assert.equal(e.wireCode, 0x105);
  assert.match(e.message, /^H3_FRAME_UNEXPECTED \(0x105\): x$/);
  assert.equal(h3ErrorName(0x0200), 'QPACK_DECOMPRESSION_FAILED');
  assert.equal(h3ErrorName(0x5ec2), undefined);
});
