// Which frames may appear on which HTTP/3 stream (RFC 9114 sections 4.1, 6.2 and 7.2 and the extension
// drafts), and a control stream read end to end: stream type, reader, rules, parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concatBytes } from '../../src/codec/writer.js';
import { H3ConnectionError, H3ErrorCode, h3ErrorName } from '../../src/errors.js';
import { DEFAULT_H3_PROFILE, makeH3Profile } from '../../src/h3/profile.js';
import {
  ControlStreamRules,
  encodeAuthenticatorRequestsFrame,
  encodeFrame,
  encodeGoawayFrame,
  encodeServerCertificateFrame,
  encodeSettingsFrame,
  encodeStreamType,
  FrameReader,
  H3FrameType,
  parseFrame,
  peekStreamType,
  RequestStreamRules,
  UniStreamRules,
  UniStreamType,
  type H3Frame,
  type Receiver,
} from '../../src/h3/wire/index.js';

const RUNS = { numRuns: 300 };
const { DATA, HEADERS, CANCEL_PUSH, SETTINGS, PUSH_PROMISE, GOAWAY, MAX_PUSH_ID } = H3FrameType;
const { SERVER_CERTIFICATE, AUTHENTICATOR_REQUESTS, CLIENT_CERTIFICATE } = DEFAULT_H3_PROFILE.frames;
const GREASE = 0x1f * 7 + 0x21;
const UNKNOWN = 0x4242;

function throwsH3(fn: () => unknown, wireCode: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof H3ConnectionError, `not an H3ConnectionError: ${String(e)}`);
    assert.equal(h3ErrorName(e.wireCode), h3ErrorName(wireCode));
    return true;
  });
}

function control(receiver: Receiver, ...types: number[]): ControlStreamRules {
  const rules = new ControlStreamRules(receiver);
  for (const t of types) rules.check(t);
  return rules;
}

test('control stream: SETTINGS must come first, whatever the first frame is (H3_MISSING_SETTINGS)', () => {
  for (const receiver of ['client', 'server'] as const) {
    for (const first of [DATA, HEADERS, GOAWAY, CANCEL_PUSH, MAX_PUSH_ID, PUSH_PROMISE, SERVER_CERTIFICATE, CLIENT_CERTIFICATE, GREASE, UNKNOWN, 0x02]) {
      throwsH3(() => control(receiver, first), H3ErrorCode.H3_MISSING_SETTINGS);
    }
    const rules = control(receiver, SETTINGS);
    assert.ok(rules.settingsReceived);
  }
  assert.equal(new ControlStreamRules('client').settingsReceived, false);
});

test('control stream: a second SETTINGS, DATA, HEADERS, PUSH_PROMISE and HTTP/2-only types are H3_FRAME_UNEXPECTED', () => {
  for (const receiver of ['client', 'server'] as const) {
    for (const bad of [SETTINGS, DATA, HEADERS, PUSH_PROMISE, 0x02, 0x06, 0x08, 0x09]) {
      throwsH3(() => control(receiver, SETTINGS, bad), H3ErrorCode.H3_FRAME_UNEXPECTED);
    }
    // Allowed both ways, any number of times: GOAWAY, CANCEL_PUSH, unknown and GREASE frames.
    control(receiver, SETTINGS, GREASE, GOAWAY, UNKNOWN, CANCEL_PUSH, GOAWAY, GREASE);
  }
});

test('control stream: each directional frame is refused in the wrong direction', () => {
  // [frame, the receiver that may get it]
  const directional: [number, Receiver][] = [
    [MAX_PUSH_ID, 'server'], // RFC 9114 section 7.2.7
    [SERVER_CERTIFICATE, 'client'], // secondary-server-certs-02 section 3.2
    [AUTHENTICATOR_REQUESTS, 'client'], // rosomakho-00 section 4.1
    [CLIENT_CERTIFICATE, 'server'], // our frame (spec-notes/client-certs-h2.md)
  ];
  for (const [type, allowedAt] of directional) {
    control(allowedAt, SETTINGS, type, type);
    throwsH3(() => control(allowedAt === 'client' ? 'server' : 'client', SETTINGS, type), H3ErrorCode.H3_FRAME_UNEXPECTED);
  }
  // A custom profile moves the rules with the types.
  const profile = makeH3Profile('t', { frames: { SERVER_CERTIFICATE: 0x1234 } });
  const rules = new ControlStreamRules('server', profile);
  rules.check(SETTINGS);
  rules.check(SERVER_CERTIFICATE); // now an unknown type: ignored
  throwsH3(() => rules.check(0x1234), H3ErrorCode.H3_FRAME_UNEXPECTED);
});

function request(receiver: Receiver, ...types: number[]): RequestStreamRules {
  const rules = new RequestStreamRules(receiver);
  for (const t of types) rules.check(t);
  return rules;
}

test('request stream: HEADERS, DATA*, optional trailing HEADERS; anything out of that order is H3_FRAME_UNEXPECTED', () => {
  for (const receiver of ['client', 'server'] as const) {
    request(receiver, HEADERS);
    request(receiver, HEADERS, DATA, DATA, DATA);
    request(receiver, HEADERS, HEADERS); // no content, trailers
    request(receiver, UNKNOWN, HEADERS, GREASE, DATA, UNKNOWN, DATA, HEADERS, GREASE);
    throwsH3(() => request(receiver, DATA), H3ErrorCode.H3_FRAME_UNEXPECTED);
    throwsH3(() => request(receiver, GREASE, DATA), H3ErrorCode.H3_FRAME_UNEXPECTED);
    throwsH3(() => request(receiver, HEADERS, DATA, HEADERS, DATA), H3ErrorCode.H3_FRAME_UNEXPECTED);
    throwsH3(() => request(receiver, HEADERS, HEADERS, HEADERS), H3ErrorCode.H3_FRAME_UNEXPECTED);
    assert.equal(request(receiver).headersReceived, false);
    assert.equal(request(receiver, HEADERS).headersReceived, true);
  }
});

test('request stream: control-stream frames are H3_FRAME_UNEXPECTED anywhere; PUSH_PROMISE only reaches a client', () => {
  for (const receiver of ['client', 'server'] as const) {
    for (const bad of [SETTINGS, GOAWAY, CANCEL_PUSH, MAX_PUSH_ID, SERVER_CERTIFICATE, AUTHENTICATOR_REQUESTS, CLIENT_CERTIFICATE, 0x02, 0x09]) {
      throwsH3(() => request(receiver, bad), H3ErrorCode.H3_FRAME_UNEXPECTED);
      throwsH3(() => request(receiver, HEADERS, DATA, bad), H3ErrorCode.H3_FRAME_UNEXPECTED);
    }
  }
  request('client', PUSH_PROMISE, HEADERS, PUSH_PROMISE, DATA, PUSH_PROMISE, HEADERS, PUSH_PROMISE);
  throwsH3(() => request('server', PUSH_PROMISE), H3ErrorCode.H3_FRAME_UNEXPECTED);
  throwsH3(() => request('server', HEADERS, PUSH_PROMISE), H3ErrorCode.H3_FRAME_UNEXPECTED);
});

test('request stream: interim responses let a client read further header sections before the final one', () => {
  const rules = request('client', HEADERS);
  rules.interimResponse(); // a 103
  rules.check(HEADERS);
  rules.interimResponse(); // another 1xx
  rules.check(HEADERS); // the final response
  rules.check(DATA);
  rules.check(HEADERS); // trailers
  throwsH3(() => rules.check(HEADERS), H3ErrorCode.H3_FRAME_UNEXPECTED);
  assert.throws(() => request('server', HEADERS).interimResponse(), RangeError);
  assert.throws(() => request('client').interimResponse(), RangeError);
  assert.throws(() => request('client', HEADERS, DATA).interimResponse(), RangeError);
});

/** Valid request-stream type sequences: unknown frames anywhere, HEADERS, DATA*, optional trailers. */
const validRequest = fc
  .tuple(fc.array(fc.constantFrom(DATA, GREASE), { maxLength: 6 }), fc.boolean(), fc.array(fc.constantFrom(UNKNOWN, GREASE), { maxLength: 3 }))
  .map(([body, trailers, noise]) => [...noise, HEADERS, ...body, ...(trailers ? [HEADERS] : []), ...noise]);
const anyType = fc.constantFrom(DATA, HEADERS, CANCEL_PUSH, SETTINGS, PUSH_PROMISE, GOAWAY, MAX_PUSH_ID, SERVER_CERTIFICATE, AUTHENTICATOR_REQUESTS, CLIENT_CERTIFICATE, GREASE, UNKNOWN, 0x02);

test('properties: valid sequences never throw; any sequence passes or fails with a typed connection error', () => {
  fc.assert(fc.property(validRequest, fc.constantFrom<Receiver>('client', 'server'), (types, receiver) => void request(receiver, ...types)), RUNS);
  fc.assert(
    fc.property(fc.array(anyType, { maxLength: 12 }), fc.constantFrom<Receiver>('client', 'server'), (types, receiver) => {
      for (const rules of [new RequestStreamRules(receiver), new ControlStreamRules(receiver)]) {
        try {
          for (const t of types) rules.check(t);
        } catch (e) {
          assert.ok(e instanceof H3ConnectionError);
          assert.ok([H3ErrorCode.H3_FRAME_UNEXPECTED, H3ErrorCode.H3_MISSING_SETTINGS].includes(e.wireCode as never));
        }
      }
    }),
    RUNS,
  );
});

test('unidirectional streams: one control, encoder and decoder stream each; push streams only to clients; unknown types ignored', () => {
  for (const receiver of ['client', 'server'] as const) {
    const uni = new UniStreamRules(receiver);
    assert.equal(uni.open(UniStreamType.CONTROL), 'control');
    assert.equal(uni.open(UniStreamType.QPACK_ENCODER), 'qpack-encoder');
    assert.equal(uni.open(UniStreamType.QPACK_DECODER), 'qpack-decoder');
    for (const t of [UniStreamType.CONTROL, UniStreamType.QPACK_ENCODER, UniStreamType.QPACK_DECODER]) {
      throwsH3(() => uni.open(t), H3ErrorCode.H3_STREAM_CREATION_ERROR);
    }
    for (const t of [GREASE, 0x21, 0x54, (1n << 62n) - 1n, 0x41]) assert.equal(uni.open(t), 'unknown');
  }
  throwsH3(() => new UniStreamRules('server').open(UniStreamType.PUSH), H3ErrorCode.H3_STREAM_CREATION_ERROR);
  const client = new UniStreamRules('client');
  assert.equal(client.open(UniStreamType.PUSH), 'push');
  assert.equal(client.open(UniStreamType.PUSH), 'push');
  // The stream type prefix: one varint, read as it arrives.
  assert.deepEqual(encodeStreamType(UniStreamType.QPACK_DECODER), new Uint8Array([0x03]));
  assert.deepEqual(peekStreamType(new Uint8Array([0x00, 0x04])), { value: 0n, length: 1 });
  assert.equal(peekStreamType(new Uint8Array([0x80, 0x00])), undefined);
  assert.deepEqual(peekStreamType(encodeStreamType(GREASE)), { value: BigInt(GREASE), length: 2 });
});

test('a server control stream read byte by byte: type prefix, SETTINGS, GREASE, SERVER_CERTIFICATE, GOAWAY', () => {
  const stream = concatBytes(
    encodeStreamType(UniStreamType.CONTROL),
    encodeSettingsFrame(new Map([[DEFAULT_H3_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, 1], [GREASE, 99]])),
    encodeFrame(GREASE, new Uint8Array([1, 2, 3])),
    encodeServerCertificateFrame({ authenticator: new Uint8Array([0x0b, 0, 0, 0]) }),
    encodeAuthenticatorRequestsFrame({ requests: [new Uint8Array([0x0d, 0, 0, 1, 0])] }),
    encodeGoawayFrame(8),
  );
  const readAs = (receiver: Receiver): H3Frame[] => {
    const uni = new UniStreamRules(receiver);
    const rules = new ControlStreamRules(receiver);
    const reader = new FrameReader();
    const frames: H3Frame[] = [];
    let prefix: Uint8Array = new Uint8Array(0);
    let kind: string | undefined;
    for (const byte of stream) {
      let chunk: Uint8Array = new Uint8Array([byte]);
      if (kind === undefined) {
        prefix = concatBytes(prefix, chunk);
        const type = peekStreamType(prefix);
        if (!type) continue;
        kind = uni.open(type.value);
        chunk = prefix.subarray(type.length);
      }
      for (const event of reader.push(chunk)) {
        if (event.kind === 'data-start' || event.kind === 'skip') rules.check(event.kind === 'skip' ? event.type : DATA);
        if (event.kind === 'frame') {
          rules.check(event.type);
          frames.push(parseFrame(event.type, event.payload));
        }
      }
    }
    assert.equal(kind, 'control');
    reader.end();
    return frames;
  };
  assert.deepEqual(
    readAs('client').map((f) => f.kind),
    ['SETTINGS', 'SERVER_CERTIFICATE', 'AUTHENTICATOR_REQUESTS', 'GOAWAY'],
  );
  // The same bytes arriving at a server: a client may not send SERVER_CERTIFICATE.
  throwsH3(() => readAs('server'), H3ErrorCode.H3_FRAME_UNEXPECTED);
});
