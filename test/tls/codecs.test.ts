// Property tests for the TLS handshake codecs RFC 9261 uses: round trip, truncation, random input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MalformedMessage, UnexpectedMessage } from '../../src/errors.js';
import { encodeCertificate, encodeCertificateList, encodeCertificateWithList, parseCertificateBody, MAX_CERTIFICATE_ENTRIES } from '../../src/tls/certificate.js';
import { encodeCertificateRequest, parseCertificateRequest } from '../../src/tls/certificate-request.js';
import { encodeCertificateVerify, parseCertificateVerifyBody } from '../../src/tls/certificate-verify.js';
import {
  encodeCertificateAuthorities,
  encodeOidFilters,
  encodeServerName,
  encodeSignatureSchemeList,
  parseCertificateAuthorities,
  parseOidFilters,
  parseServerName,
  parseSignatureSchemeList,
} from '../../src/tls/extension.js';
import { readHandshakes } from '../../src/tls/handshake.js';
import { Reader } from '../../src/codec/reader.js';
import { Writer } from '../../src/codec/writer.js';
import { everyPrefixFails, returnsOrThrowsTyped } from '../helpers/assert-typed.js';

// Plain-prototype records, so deepStrictEqual compares them with what the parsers return.
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true });
const RUNS = { numRuns: 300 };
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const u16 = fc.integer({ min: 0, max: 0xffff });
const extension = record({ type: u16, data: bytes(0, 40) });
const uniqueExtensions = (min: number) => fc.uniqueArray(extension, { minLength: min, maxLength: 6, selector: (e) => e.type });
const body = (m: Uint8Array) => readHandshakes(m, 't')[0]!.body;

test('Certificate round-trips, and every prefix fails', () => {
  const arb = record({
    context: bytes(0, 255),
    entries: fc.array(record({ certData: bytes(1, 300), extensions: uniqueExtensions(0) }), { maxLength: 4 }),
  });
  fc.assert(
    fc.property(arb, (c) => {
      const encoded = encodeCertificate(c);
      assert.equal(encoded[0], 11);
      const back = parseCertificateBody(body(encoded));
      assert.deepEqual(back, c);
      assert.deepEqual(encodeCertificate(back), encoded);
    }),
    RUNS,
  );
  const one = encodeCertificate({ context: new Uint8Array([1, 2]), entries: [{ certData: new Uint8Array([0x30, 0]), extensions: [{ type: 5, data: new Uint8Array([1]) }] }] });
  everyPrefixFails(body(one), parseCertificateBody);
});

test('Certificate: empty cert_data, duplicate entry extensions, too many entries, trailing bytes are malformed', () => {
  const ctx = new Uint8Array(0);
  // cert_data<1..2^24-1>: hand-build an entry with zero-length cert_data.
  const zero = new Writer().opaque(1, ctx).vector(3, (w) => w.u24(0).u16(0)).finish();
  assert.throws(() => parseCertificateBody(zero), MalformedMessage);
  const dup = new Writer().opaque(1, ctx).vector(3, (w) => w.opaque(3, new Uint8Array([1])).vector(2, (x) => x.u16(5).u16(0).u16(5).u16(0))).finish();
  assert.throws(() => parseCertificateBody(dup), /appears twice/);
  const many = new Writer()
    .opaque(1, ctx)
    .vector(3, (w) => {
      for (let i = 0; i <= MAX_CERTIFICATE_ENTRIES; i++) w.opaque(3, new Uint8Array([i])).u16(0);
    })
    .finish();
  assert.throws(() => parseCertificateBody(many), /more than/);
  const ok = body(encodeCertificate({ context: ctx, entries: [] }));
  const trailing = new Uint8Array([...ok, 0]);
  assert.throws(() => parseCertificateBody(trailing), /trailing/);
});

test('Certificate and CertificateVerify encoders refuse what their length fields cannot carry', () => {
  const cert = { certData: new Uint8Array([0x30, 0]), extensions: [] };
  assert.throws(() => encodeCertificate({ context: new Uint8Array(256), entries: [cert] }), RangeError);
  assert.throws(() => encodeCertificate({ context: new Uint8Array(0), entries: [{ certData: new Uint8Array(0), extensions: [] }] }), RangeError);
  assert.throws(() => encodeCertificateVerify({ scheme: 0x0807, signature: new Uint8Array(0x10000) }), RangeError);
  // The list encoded once and framed with a context equals the one-call encoding.
  const entries = [cert, { certData: new Uint8Array([1, 2, 3]), extensions: [{ type: 5, data: new Uint8Array([1]) }] }];
  const ctx = new Uint8Array([7, 7, 7]);
  assert.deepEqual(encodeCertificateWithList(ctx, encodeCertificateList(entries)), encodeCertificate({ context: ctx, entries }));
  assert.deepEqual(parseCertificateBody(body(encodeCertificate({ context: ctx, entries }))), { context: ctx, entries });
});

test('CertificateVerify round-trips; prefixes and trailing bytes fail', () => {
  fc.assert(
    fc.property(u16, bytes(0, 600), (scheme, signature) => {
      const m = encodeCertificateVerify({ scheme, signature });
      assert.deepEqual(parseCertificateVerifyBody(body(m)), { scheme, signature });
    }),
    RUNS,
  );
  const b = body(encodeCertificateVerify({ scheme: 0x0807, signature: new Uint8Array(64) }));
  everyPrefixFails(b, parseCertificateVerifyBody);
  assert.throws(() => parseCertificateVerifyBody(new Uint8Array([...b, 9])), /trailing/);
});

test('requests (types 13 and 17) round-trip with every extension kind', () => {
  const schemes = fc.array(u16, { minLength: 1, maxLength: 8 });
  const arb = record({
    type: fc.constantFrom(13 as const, 17 as const),
    context: bytes(0, 255),
    schemes,
    cert: fc.option(schemes, { nil: undefined }),
    cas: fc.option(fc.array(bytes(1, 30), { minLength: 1, maxLength: 3 }), { nil: undefined }),
    filters: fc.option(fc.array(record({ oid: bytes(1, 10), values: bytes(0, 20) }), { maxLength: 3 }), { nil: undefined }),
    host: fc.option(fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$/), { nil: undefined }),
    extra: fc.uniqueArray(record({ type: fc.integer({ min: 1000, max: 0xffff }), data: bytes(0, 10) }), { maxLength: 3, selector: (e) => e.type }),
  });
  fc.assert(
    fc.property(arb, (a) => {
      const extensions = [{ type: 13, data: encodeSignatureSchemeList(a.schemes) }, ...a.extra];
      if (a.cert) extensions.push({ type: 50, data: encodeSignatureSchemeList(a.cert) });
      if (a.cas) extensions.push({ type: 47, data: encodeCertificateAuthorities(a.cas) });
      if (a.filters) extensions.push({ type: 48, data: encodeOidFilters(a.filters) });
      if (a.host && a.type === 17) extensions.push({ type: 0, data: encodeServerName(a.host) });
      const encoded = encodeCertificateRequest({ type: a.type, context: a.context, extensions });
      const back = parseCertificateRequest(encoded);
      assert.equal(back.type, a.type);
      assert.deepEqual(back.context, a.context);
      assert.deepEqual(back.extensions, extensions);
      assert.deepEqual(back.parsed.signatureSchemes, a.schemes);
      assert.deepEqual(back.parsed.signatureSchemesCert, a.cert);
      assert.deepEqual(back.parsed.certificateAuthorities, a.cas);
      assert.deepEqual(back.parsed.oidFilters, a.filters);
      if (a.type === 17) assert.equal(back.parsed.serverName, a.host);
      assert.deepEqual(encodeCertificateRequest(back), encoded);
      everyPrefixFails(encoded, parseCertificateRequest);
    }),
    { numRuns: 100 },
  );
});

test('requests: missing signature_algorithms, empty extension list, server_name in type 13, wrong type byte', () => {
  const ctx = new Uint8Array(16);
  const noSigalgs = encodeCertificateRequest({ type: 13, context: ctx, extensions: [{ type: 1000, data: new Uint8Array(0) }] });
  assert.throws(() => parseCertificateRequest(noSigalgs), /signature_algorithms is missing/);
  const emptyList = new Writer().u8(13).vector(3, (w) => w.opaque(1, ctx).u16(0)).finish();
  assert.throws(() => parseCertificateRequest(emptyList), /shorter than 2/);
  const sni13 = encodeCertificateRequest({
    type: 13,
    context: ctx,
    extensions: [{ type: 13, data: encodeSignatureSchemeList([0x0807]) }, { type: 0, data: encodeServerName('a.example') }],
  });
  assert.throws(() => parseCertificateRequest(sni13), /only allowed in a ClientCertificateRequest/);
  const asCertificate = new Uint8Array(sni13);
  asCertificate[0] = 11;
  assert.throws(() => parseCertificateRequest(asCertificate), UnexpectedMessage);
});

test('extension bodies reject what their grammar forbids', () => {
  assert.throws(() => parseSignatureSchemeList(new Uint8Array([0, 0]), 's'), MalformedMessage); // <2..>
  assert.throws(() => parseSignatureSchemeList(new Uint8Array([0, 3, 1, 2, 3]), 's'), /odd length/);
  assert.throws(() => parseServerName(new Uint8Array([0, 4, 1, 0, 1, 0x61])), /unknown name_type/);
  assert.throws(() => parseServerName(new Uint8Array([0, 4, 0, 0, 1, 0x20])), /not printable ASCII/);
  assert.throws(() => parseServerName(new Uint8Array([0, 8, 0, 0, 1, 0x61, 0, 0, 1, 0x62])), /more than one/);
  assert.throws(() => parseCertificateAuthorities(new Uint8Array([0, 0])), MalformedMessage); // <3..>
  assert.throws(() => parseOidFilters(new Uint8Array([0, 3, 0, 0, 0])), MalformedMessage); // empty OID
  assert.throws(() => encodeSignatureSchemeList([]), RangeError);
  assert.throws(() => encodeServerName('bad host'), TypeError);
});

test('random and mutated bytes give a value or a typed error, never a crash', () => {
  const parsers: ((b: Uint8Array) => unknown)[] = [
    parseCertificateBody,
    parseCertificateVerifyBody,
    parseCertificateRequest,
    (b) => readHandshakes(b, 'x'),
    (b) => parseSignatureSchemeList(b, 'x'),
    parseServerName,
    parseCertificateAuthorities,
    parseOidFilters,
  ];
  fc.assert(fc.property(bytes(0, 200), (b) => parsers.forEach((p) => returnsOrThrowsTyped(() => p(b)))), RUNS);
  const seed = encodeCertificateRequest({ type: 17, context: new Uint8Array(20), extensions: [{ type: 13, data: encodeSignatureSchemeList([0x0807, 0x0403]) }, { type: 0, data: encodeServerName('b.example') }] });
  fc.assert(
    fc.property(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
      const m = new Uint8Array(seed);
      m[i] = v;
      returnsOrThrowsTyped(() => parseCertificateRequest(m));
    }),
    RUNS,
  );
});

test('Reader never reads past a length, Writer refuses an over-long vector', () => {
  const r = new Reader(new Uint8Array([0, 5, 1, 2]), 'x');
  assert.throws(() => r.vector(2, 'v'), /truncated/);
  assert.throws(() => new Writer().opaque(1, new Uint8Array(256)), RangeError);
});
