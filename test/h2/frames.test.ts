// Property tests for the HTTP/2 extension frame codecs: round trip, truncation, random input, wrong
// stream, size limits, and CERTIFICATE fragmentation/reassembly. Plain bytes in, no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FRAME_HEADER_LENGTH, parseFrameHeader, type FrameHeader } from '../../src/h2/wire/frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../../src/errors.js';
import { DEFAULT_PROFILE, makeProfile } from '../../src/h2/profile.js';
import { DEFAULT_MAX_AUTHENTICATOR_SIZE, type FrameParseOptions } from '../../src/h2/wire/common.js';
import { encodeServerCertificate, encodeServerCertificateFrame, parseServerCertificate } from '../../src/h2/wire/server-certificate.js';
import { encodeClientCertificate, encodeClientCertificateFrame, parseClientCertificate } from '../../src/h2/wire/client-certificate.js';
import {
  encodeAuthenticatorRequests,
  encodeAuthenticatorRequestsFrame,
  parseAuthenticatorRequests,
} from '../../src/h2/wire/authenticator-requests.js';
import { encodeCertificateNeeded, encodeCertificateNeededFrame, parseCertificateNeeded } from '../../src/h2/wire/certificate-needed.js';
import { encodeCertificateRequest, encodeCertificateRequestFrame, parseCertificateRequest } from '../../src/h2/wire/certificate-request.js';
import { encodeUseCertificate, encodeUseCertificateFrame, parseUseCertificate, type UseCertificateFields } from '../../src/h2/wire/use-certificate.js';
import {
  CertificateReassembler,
  encodeCertificate,
  encodeCertificateFrame,
  encodeCertificateFrames,
  fragmentCertificate,
  parseCertificate,
  type CertificateAnswer,
  type CertificateFields,
} from '../../src/h2/wire/certificate.js';
import { everyPrefixFails, returnsOrThrowsTyped } from '../helpers/assert-typed.js';

const RUNS = { numRuns: 300 };
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const u16 = fc.integer({ min: 0, max: 0xffff });
const streamId = fc.integer({ min: 0, max: 0x7fffffff });
const answer: fc.Arbitrary<CertificateAnswer> = fc.oneof(
  fc.constant({ unsolicited: true as const }),
  record({ unsolicited: fc.constant(false as const), requestId: u16 }),
);
const P = DEFAULT_PROFILE.frames;

type Parse<T> = (header: FrameHeader, payload: Uint8Array, options?: FrameParseOptions) => T;
const header = (type: number, payload: Uint8Array, flags = 0, stream = 0): FrameHeader => ({ length: payload.length, type, flags, streamId: stream });
/** Splits whole frame bytes and parses them, as the splicer would. */
const parseBytes = <T>(frame: Uint8Array, parse: Parse<T>): T => parse(parseFrameHeader(frame), frame.subarray(FRAME_HEADER_LENGTH));
const payloadParser = <T>(parse: Parse<T>, type: number, flags = 0) => (payload: Uint8Array) => parse(header(type, payload, flags), payload);

function throwsH2(fn: () => unknown, wireCode: number): void {
  assert.throws(fn, (e: unknown) => e instanceof H2ConnectionError && e.code === 'ERR_H2_CONNECTION' && e.wireCode === wireCode);
}

/** Each codec with a valid sample, for the checks every codec shares. */
const codecs: { name: string; type: number; parse: Parse<unknown>; sample: Uint8Array; flags?: number }[] = [
  { name: 'SERVER_CERTIFICATE', type: P.SERVER_CERTIFICATE, parse: parseServerCertificate, sample: new Uint8Array([0x0b, 0, 0, 1, 0]) },
  { name: 'CLIENT_CERTIFICATE', type: P.CLIENT_CERTIFICATE, parse: parseClientCertificate, sample: new Uint8Array([0x14, 0, 0, 0]) },
  { name: 'AUTHENTICATOR_REQUESTS', type: P.AUTHENTICATOR_REQUESTS, parse: parseAuthenticatorRequests, sample: new Uint8Array([2, 0x0d, 0]) },
  { name: 'CERTIFICATE_NEEDED', type: P.CERTIFICATE_NEEDED, parse: parseCertificateNeeded, sample: new Uint8Array([0, 0, 0, 1, 0, 7]) },
  { name: 'CERTIFICATE_REQUEST', type: P.CERTIFICATE_REQUEST, parse: parseCertificateRequest, sample: new Uint8Array([0, 7, 0x0d]) },
  { name: 'CERTIFICATE', type: P.CERTIFICATE, parse: parseCertificate, sample: new Uint8Array([0, 1, 0, 7, 0x0b]) },
  { name: 'USE_CERTIFICATE', type: P.USE_CERTIFICATE, parse: parseUseCertificate, sample: new Uint8Array([0, 0, 0, 3, 0, 1]) },
];

test('every codec: a sample parses; any stream but 0 is PROTOCOL_ERROR; a length mismatch is FRAME_SIZE_ERROR; another type is a RangeError', () => {
  for (const c of codecs) {
    assert.doesNotThrow(() => c.parse(header(c.type, c.sample), c.sample), c.name);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (s) => throwsH2(() => c.parse(header(c.type, c.sample, 0, s), c.sample), H2ErrorCode.PROTOCOL_ERROR)),
      { numRuns: 50 },
    );
    throwsH2(() => c.parse({ ...header(c.type, c.sample), length: c.sample.length + 1 }, c.sample), H2ErrorCode.FRAME_SIZE_ERROR);
    assert.throws(() => c.parse(header(0x0, c.sample), c.sample), RangeError);
  }
});

test('every codec: random payloads and flags either parse or throw a typed error', () => {
  for (const c of codecs) {
    fc.assert(
      fc.property(bytes(0, 64), fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0x7fffffff }), (payload, flags, s) => {
        returnsOrThrowsTyped(() => c.parse(header(c.type, payload, flags, s), payload));
        returnsOrThrowsTyped(() => c.parse(header(c.type, payload, flags, 0), payload));
      }),
      { numRuns: 200 },
    );
  }
});

test('every codec honours a custom profile', () => {
  const profile = makeProfile('test', {
    frames: { SERVER_CERTIFICATE: 0x20, AUTHENTICATOR_REQUESTS: 0x21, CLIENT_CERTIFICATE: 0x22, CERTIFICATE_NEEDED: 0x23, CERTIFICATE_REQUEST: 0x24, CERTIFICATE: 0x25, USE_CERTIFICATE: 0x26 },
  });
  for (const c of codecs) {
    const name = c.name as keyof typeof P;
    assert.doesNotThrow(() => c.parse(header(profile.frames[name], c.sample), c.sample, { profile }), c.name);
    assert.throws(() => c.parse(header(P[name], c.sample), c.sample, { profile }), RangeError, c.name);
  }
  const frame = encodeServerCertificateFrame({ authenticator: new Uint8Array([1]) }, profile);
  assert.equal(frame[3], 0x20);
});

test('SERVER_CERTIFICATE round-trips; unknown flags ignored; empty is SERVER_CERTIFICATE_INVALID; oversize is ENHANCE_YOUR_CALM', () => {
  fc.assert(
    fc.property(bytes(1, 2000), (authenticator) => {
      const frame = encodeServerCertificateFrame({ authenticator });
      assert.equal(frame[3], P.SERVER_CERTIFICATE);
      assert.equal(frame[4], 0);
      const back = parseBytes(frame, parseServerCertificate);
      assert.deepEqual(back, { authenticator });
      assert.deepEqual(encodeServerCertificate(back), frame.subarray(FRAME_HEADER_LENGTH));
      assert.deepEqual(parseServerCertificate(header(P.SERVER_CERTIFICATE, authenticator, 0xff), authenticator), { authenticator });
    }),
    RUNS,
  );
  const empty = new Uint8Array(0);
  throwsH2(() => parseServerCertificate(header(P.SERVER_CERTIFICATE, empty), empty), DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID);
  const big = new Uint8Array(DEFAULT_MAX_AUTHENTICATOR_SIZE + 1);
  throwsH2(() => parseServerCertificate(header(P.SERVER_CERTIFICATE, big), big), H2ErrorCode.ENHANCE_YOUR_CALM);
  assert.doesNotThrow(() => parseServerCertificate(header(P.SERVER_CERTIFICATE, big), big, { maxAuthenticatorSize: big.length }));
  const small = new Uint8Array(101);
  throwsH2(() => parseServerCertificate(header(P.SERVER_CERTIFICATE, small), small, { maxAuthenticatorSize: 100 }), H2ErrorCode.ENHANCE_YOUR_CALM);
  // The sender refuses what the peer's SETTINGS_MAX_FRAME_SIZE would refuse, and empty authenticators.
  assert.throws(() => encodeServerCertificateFrame({ authenticator: new Uint8Array(16_385) }), RangeError);
  assert.equal(encodeServerCertificateFrame({ authenticator: new Uint8Array(16_385) }, DEFAULT_PROFILE, 16_385).length, 16_385 + 9);
  assert.throws(() => encodeServerCertificate({ authenticator: empty }), RangeError);
});

test('parsed bytes are copies: reusing the frame buffer does not change them', () => {
  const payload = new Uint8Array([1, 2, 3]);
  const parsed = parseServerCertificate(header(P.SERVER_CERTIFICATE, payload), payload);
  payload[0] = 9;
  assert.deepEqual(parsed.authenticator, new Uint8Array([1, 2, 3]));
});

test('CLIENT_CERTIFICATE round-trips; empty is PROTOCOL_ERROR; oversize is ENHANCE_YOUR_CALM', () => {
  fc.assert(
    fc.property(bytes(1, 2000), (authenticator) => {
      const frame = encodeClientCertificateFrame({ authenticator });
      assert.equal(frame[3], P.CLIENT_CERTIFICATE);
      const back = parseBytes(frame, parseClientCertificate);
      assert.deepEqual(back, { authenticator });
      assert.deepEqual(encodeClientCertificate(back), authenticator);
    }),
    RUNS,
  );
  const empty = new Uint8Array(0);
  throwsH2(() => parseClientCertificate(header(P.CLIENT_CERTIFICATE, empty), empty), H2ErrorCode.PROTOCOL_ERROR);
  const big = new Uint8Array(DEFAULT_MAX_AUTHENTICATOR_SIZE + 1);
  throwsH2(() => parseClientCertificate(header(P.CLIENT_CERTIFICATE, big), big), H2ErrorCode.ENHANCE_YOUR_CALM);
});

test('AUTHENTICATOR_REQUESTS round-trips (varint lengths of 1, 2 and 4 bytes); cut anywhere but a request boundary fails', () => {
  const requests = fc.array(fc.oneof(bytes(1, 70), bytes(16_384, 16_400)), { minLength: 1, maxLength: 4 });
  fc.assert(
    fc.property(requests, (reqs) => {
      const frame = encodeAuthenticatorRequestsFrame({ requests: reqs }, DEFAULT_PROFILE, 100_000);
      const back = parseBytes(frame, parseAuthenticatorRequests);
      assert.deepEqual(back, { requests: reqs });
      const payload = encodeAuthenticatorRequests(back);
      assert.deepEqual(payload, frame.subarray(FRAME_HEADER_LENGTH));
      // Ends of each entry: a prefix ending there parses to the leading requests; any other prefix fails.
      const ends = new Map<number, number>();
      let at = 0;
      reqs.forEach((r, i) => {
        at += (r.length < 0x40 ? 1 : r.length < 0x4000 ? 2 : 4) + r.length;
        ends.set(at, i + 1);
      });
      const parse = payloadParser(parseAuthenticatorRequests, P.AUTHENTICATOR_REQUESTS);
      for (const n of [0, 1, 2, 3, 4, 5, payload.length - 2, payload.length - 1, ...ends.keys()]) {
        if (n < 0 || n >= payload.length) continue;
        const count = ends.get(n);
        if (count === undefined) throwsH2(() => parse(payload.subarray(0, n)), H2ErrorCode.PROTOCOL_ERROR);
        else assert.deepEqual(parse(payload.subarray(0, n)), { requests: reqs.slice(0, count) });
      }
    }),
    { numRuns: 200 },
  );
  const one = encodeAuthenticatorRequests({ requests: [new Uint8Array(70).fill(13)] });
  everyPrefixFails(one, payloadParser(parseAuthenticatorRequests, P.AUTHENTICATOR_REQUESTS));
});

test('AUTHENTICATOR_REQUESTS: empty list, empty request, non-minimal varints, huge lengths', () => {
  const parse = payloadParser(parseAuthenticatorRequests, P.AUTHENTICATOR_REQUESTS);
  throwsH2(() => parse(new Uint8Array(0)), H2ErrorCode.PROTOCOL_ERROR);
  throwsH2(() => parse(new Uint8Array([0])), H2ErrorCode.PROTOCOL_ERROR);
  throwsH2(() => parse(new Uint8Array([1, 13, 0])), H2ErrorCode.PROTOCOL_ERROR);
  // RFC 9000 section 16 allows a longer encoding than needed: 0x4001 and 0x80000001 both mean 1.
  assert.deepEqual(parse(new Uint8Array([0x40, 1, 13])), { requests: [new Uint8Array([13])] });
  assert.deepEqual(parse(new Uint8Array([0x80, 0, 0, 1, 13])), { requests: [new Uint8Array([13])] });
  throwsH2(() => parse(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1])), H2ErrorCode.PROTOCOL_ERROR);
  assert.throws(() => encodeAuthenticatorRequests({ requests: [] }), RangeError);
  assert.throws(() => encodeAuthenticatorRequests({ requests: [new Uint8Array(0)] }), RangeError);
  assert.throws(() => encodeAuthenticatorRequestsFrame({ requests: [new Uint8Array(16_383)] }), RangeError);
});

test('CERTIFICATE_NEEDED round-trips; every prefix and any other length fails; the reserved bit is ignored', () => {
  fc.assert(
    fc.property(record({ streamId, requestId: u16 }), (f) => {
      const frame = encodeCertificateNeededFrame(f);
      const back = parseBytes(frame, parseCertificateNeeded);
      assert.deepEqual(back, f);
      assert.deepEqual(encodeCertificateNeeded(back), frame.subarray(FRAME_HEADER_LENGTH));
    }),
    RUNS,
  );
  const parse = payloadParser(parseCertificateNeeded, P.CERTIFICATE_NEEDED);
  const sample = encodeCertificateNeeded({ streamId: 5, requestId: 9 });
  everyPrefixFails(sample, parse);
  throwsH2(() => parse(new Uint8Array([...sample, 0])), H2ErrorCode.PROTOCOL_ERROR);
  assert.deepEqual(parse(new Uint8Array([0x80, 0, 0, 5, 0, 9])), { streamId: 5, requestId: 9 });
  assert.throws(() => encodeCertificateNeeded({ streamId: 2 ** 31, requestId: 0 }), RangeError);
  assert.throws(() => encodeCertificateNeeded({ streamId: 1, requestId: 0x10000 }), RangeError);
});

test('CERTIFICATE_REQUEST round-trips; a missing Request-ID or request fails', () => {
  fc.assert(
    fc.property(record({ requestId: u16, request: bytes(1, 500) }), (f) => {
      const frame = encodeCertificateRequestFrame(f);
      const back = parseBytes(frame, parseCertificateRequest);
      assert.deepEqual(back, f);
      assert.deepEqual(encodeCertificateRequest(back), frame.subarray(FRAME_HEADER_LENGTH));
    }),
    RUNS,
  );
  everyPrefixFails(new Uint8Array([0, 7, 13]), payloadParser(parseCertificateRequest, P.CERTIFICATE_REQUEST));
  assert.throws(() => encodeCertificateRequest({ requestId: 1, request: new Uint8Array(0) }), RangeError);
});

test('USE_CERTIFICATE round-trips with and without Cert-ID; lengths other than 4 and 6 fail', () => {
  const arb: fc.Arbitrary<UseCertificateFields> = fc.oneof(
    record({ streamId, unsolicited: fc.boolean() }),
    record({ streamId, certId: u16, unsolicited: fc.boolean() }),
  );
  fc.assert(
    fc.property(arb, (f) => {
      const frame = encodeUseCertificateFrame(f);
      assert.equal(frame[4], f.unsolicited ? 1 : 0);
      const back = parseBytes(frame, parseUseCertificate);
      assert.deepEqual(back, f);
      assert.deepEqual(encodeUseCertificate(back), frame.subarray(FRAME_HEADER_LENGTH));
    }),
    RUNS,
  );
  const parse = payloadParser(parseUseCertificate, P.USE_CERTIFICATE);
  const full = encodeUseCertificate({ streamId: 3, certId: 1, unsolicited: false });
  for (let n = 0; n <= 8; n++) {
    const b = new Uint8Array([...full, 0, 0]).subarray(0, n);
    if (n === 4 || n === 6) assert.doesNotThrow(() => parse(b));
    else throwsH2(() => parse(b), H2ErrorCode.PROTOCOL_ERROR);
  }
  // Flags other than UNSOLICITED are ignored.
  assert.deepEqual(parseUseCertificate(header(P.USE_CERTIFICATE, full, 0xfe), full), { streamId: 3, certId: 1, unsolicited: false });
});

const certificateFields: fc.Arbitrary<CertificateFields> = fc
  .tuple(answer, u16, fc.boolean(), bytes(0, 300))
  .map(([a, certId, toBeContinued, fragment]) => ({ ...a, certId, toBeContinued, fragment }));

test('CERTIFICATE round-trips with both flags; a missing Cert-ID or Request-ID fails; other flags ignored', () => {
  fc.assert(
    fc.property(certificateFields, (f) => {
      const frame = encodeCertificateFrame(f);
      assert.equal(frame[4], (f.toBeContinued ? 1 : 0) | (f.unsolicited ? 2 : 0));
      const back = parseBytes(frame, parseCertificate);
      assert.deepEqual(back, f);
      assert.deepEqual(encodeCertificate(back), frame.subarray(FRAME_HEADER_LENGTH));
      const noisy = new Uint8Array(frame);
      noisy[4] = noisy[4]! | 0xfc;
      assert.deepEqual(parseBytes(noisy, parseCertificate), f);
    }),
    RUNS,
  );
  everyPrefixFails(new Uint8Array([0, 1, 0, 2]), payloadParser(parseCertificate, P.CERTIFICATE, 0));
  everyPrefixFails(new Uint8Array([0, 1]), payloadParser(parseCertificate, P.CERTIFICATE, 2));
});

/** Deterministic filler, cheaper than generating tens of KiB through fast-check. */
function filled(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0, x = seed | 1; i < length; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

test('fragmentCertificate: every frame fits, fragments are non-empty, and they reassemble to the original', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 16_384, max: 40_000 }), answer, u16, (length, maxFrameSize, a, certId) => {
      const authenticator = filled(length, length);
      const frames = encodeCertificateFrames(certId, authenticator, maxFrameSize, a);
      const room = maxFrameSize - (a.unsolicited ? 2 : 4);
      assert.equal(frames.length, Math.ceil(length / room));
      const r = new CertificateReassembler();
      let done;
      frames.forEach((frame, i) => {
        const h = parseFrameHeader(frame);
        assert.ok(h.length <= maxFrameSize && h.length > (a.unsolicited ? 2 : 4));
        const f = parseCertificate(h, frame.subarray(FRAME_HEADER_LENGTH));
        assert.equal(f.toBeContinued, i < frames.length - 1);
        done = r.push(f);
        assert.equal(done === undefined, i < frames.length - 1);
      });
      assert.deepEqual(done, { ...a, certId, authenticator });
      assert.equal(r.pending, 0);
      assert.ok(r.isComplete(certId));
    }),
    { numRuns: 200 },
  );
  assert.throws(() => fragmentCertificate(1, new Uint8Array(0), 16_384, { unsolicited: true }), RangeError);
  assert.throws(() => fragmentCertificate(1, new Uint8Array(1), 16_383, { unsolicited: true }), RangeError);
  assert.throws(() => fragmentCertificate(0x10000, new Uint8Array(1), 16_384, { unsolicited: true }), RangeError);
});

/** Splits `data` at the given cut points (fragments may be empty) into CERTIFICATE fields. */
function split(data: Uint8Array, cuts: number[], certId: number, a: CertificateAnswer): CertificateFields[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((x, y) => x - y);
  const bounds = [0, ...points, data.length];
  const out: CertificateFields[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    out.push({ ...a, certId, toBeContinued: i + 2 < bounds.length, fragment: data.slice(bounds[i], bounds[i + 1]) });
  }
  return out;
}

test('reassembly: random fragment sizes and interleaved Cert-IDs give back every original', () => {
  const cert = record({ data: bytes(1, 3000), cuts: fc.array(fc.nat(), { maxLength: 12 }), answer });
  fc.assert(
    fc.property(fc.uniqueArray(u16, { minLength: 1, maxLength: 4 }), fc.array(cert, { minLength: 4, maxLength: 4 }), fc.array(fc.nat(), { minLength: 60 }), (ids, certs, picks) => {
      const queues = ids.map((id, i) => split(certs[i]!.data, certs[i]!.cuts, id, certs[i]!.answer));
      const r = new CertificateReassembler();
      const results = new Map<number, unknown>();
      let k = 0;
      for (let open = queues.filter((q) => q.length > 0); open.length > 0; open = queues.filter((q) => q.length > 0)) {
        const q = open[(picks[k++ % picks.length] ?? 0) % open.length]!;
        const done = r.push(q.shift()!);
        if (done) results.set(done.certId, done);
      }
      assert.equal(results.size, ids.length);
      ids.forEach((id, i) => assert.deepEqual(results.get(id), { ...certs[i]!.answer, certId: id, authenticator: certs[i]!.data }));
    }),
    { numRuns: 300 },
  );
});

test('reassembly errors: Cert-ID reuse, disagreeing fragments, limits, empty authenticator', () => {
  const f = (certId: number, toBeContinued: boolean, fragment: number[], a: CertificateAnswer = { unsolicited: true }): CertificateFields => ({
    ...a,
    certId,
    toBeContinued,
    fragment: new Uint8Array(fragment),
  });
  let r = new CertificateReassembler();
  assert.deepEqual(r.push(f(1, false, [1])), { unsolicited: true, certId: 1, authenticator: new Uint8Array([1]) });
  throwsH2(() => r.push(f(1, false, [1])), H2ErrorCode.PROTOCOL_ERROR);
  throwsH2(() => r.push(f(1, true, [1])), H2ErrorCode.PROTOCOL_ERROR);

  r = new CertificateReassembler();
  r.push(f(2, true, [1], { unsolicited: false, requestId: 5 }));
  throwsH2(() => r.push(f(2, false, [1])), H2ErrorCode.PROTOCOL_ERROR);
  r = new CertificateReassembler();
  r.push(f(2, true, [1], { unsolicited: false, requestId: 5 }));
  throwsH2(() => r.push(f(2, false, [1], { unsolicited: false, requestId: 6 })), H2ErrorCode.PROTOCOL_ERROR);
  r = new CertificateReassembler();
  r.push(f(2, true, [1]));
  throwsH2(() => r.push(f(2, false, [1], { unsolicited: false, requestId: 5 })), H2ErrorCode.PROTOCOL_ERROR);

  r = new CertificateReassembler({ maxPending: 2 });
  r.push(f(1, true, [1]));
  r.push(f(2, true, [1]));
  throwsH2(() => r.push(f(3, true, [1])), H2ErrorCode.ENHANCE_YOUR_CALM);

  r = new CertificateReassembler({ maxAuthenticatorSize: 4 });
  r.push(f(1, true, [1, 2, 3]));
  throwsH2(() => r.push(f(1, false, [4, 5])), H2ErrorCode.ENHANCE_YOUR_CALM);
  r = new CertificateReassembler();
  r.push(f(9, true, new Array(DEFAULT_MAX_AUTHENTICATOR_SIZE).fill(0)));
  throwsH2(() => r.push(f(9, false, [1])), H2ErrorCode.ENHANCE_YOUR_CALM);

  r = new CertificateReassembler({ maxFragments: 3 });
  r.push(f(1, true, []));
  r.push(f(1, true, []));
  r.push(f(1, true, []));
  throwsH2(() => r.push(f(1, true, [])), H2ErrorCode.ENHANCE_YOUR_CALM);

  r = new CertificateReassembler();
  r.push(f(4, true, []));
  throwsH2(() => r.push(f(4, false, [])), DEFAULT_PROFILE.errors.CERTIFICATE_UNREADABLE);
  throwsH2(() => r.push(f(4, false, [1])), H2ErrorCode.PROTOCOL_ERROR); // the Cert-ID is used up even so
  assert.throws(() => r.isComplete(0x10000), RangeError);
});
