// SETTINGS payloads, the cert-auth setting rules (secondary-server-certs-02 section 4, rosomakho-00 section 4.1), and the codepoint profile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidProfile, SecondaryCertsError, H2ConnectionError, H2ErrorCode, h2ErrorName } from '../../src/errors.js';
import { FrameType, parseFrameHeader } from '../../src/h2/wire/frame-header.js';
import { DEFAULT_PROFILE, frameNameOf, makeProfile, type H2ProfileOverrides } from '../../src/h2/profile.js';
import {
  CertAuthSetting,
  encodeSettingsAckFrame,
  encodeSettingsFrame,
  encodeSettingsPayload,
  parseSettingsFrame,
  parseSettingsPayload,
  readCertAuthSetting,
  readMaxFrameSize,
  SettingId,
  type Setting,
} from '../../src/h2/settings.js';

const RUNS = { numRuns: 300 };
const setting: fc.Arbitrary<Setting> = fc.record({ id: fc.integer({ min: 0, max: 0xffff }), value: fc.integer({ min: 0, max: 0xffffffff }) }, { noNullPrototype: true });

function throwsH2(fn: () => unknown, wireCode: number): void {
  assert.throws(fn, (e: unknown) => e instanceof H2ConnectionError && e instanceof SecondaryCertsError && e.wireCode === wireCode);
}

test('H2ConnectionError carries a stable code and the GOAWAY code', () => {
  const e = new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, 'x');
  assert.equal(e.code, 'ERR_H2_CONNECTION');
  assert.equal(e.wireCode, 0xb);
  assert.equal(e.name, 'H2ConnectionError');
  assert.equal(h2ErrorName(0xd), 'HTTP_1_1_REQUIRED');
  assert.equal(h2ErrorName(0x5ec0), undefined);
});

test('SETTINGS payload round-trips (duplicates and order kept); other lengths are FRAME_SIZE_ERROR', () => {
  fc.assert(
    fc.property(fc.array(setting, { maxLength: 20 }), (list) => {
      const frame = encodeSettingsFrame(list);
      const h = parseFrameHeader(frame);
      assert.equal(h.type, FrameType.SETTINGS);
      assert.deepEqual(parseSettingsFrame(h, frame.subarray(9)), { ack: false, settings: list });
      const payload = encodeSettingsPayload(list);
      for (let n = 0; n < payload.length; n++) {
        if (n % 6 === 0) assert.deepEqual(parseSettingsPayload(payload.subarray(0, n)), list.slice(0, n / 6));
        else throwsH2(() => parseSettingsPayload(payload.subarray(0, n)), H2ErrorCode.FRAME_SIZE_ERROR);
      }
    }),
    { numRuns: 200 },
  );
  assert.throws(() => encodeSettingsPayload([{ id: 0x10000, value: 0 }]), RangeError);
  assert.throws(() => encodeSettingsPayload([{ id: 1, value: 2 ** 32 }]), RangeError);
});

test('SETTINGS frame: stream 0 only, ACK must be empty, unknown flags ignored', () => {
  const payload = encodeSettingsPayload([{ id: 5, value: 20_000 }]);
  throwsH2(() => parseSettingsFrame({ length: 6, type: 4, flags: 0, streamId: 1 }, payload), H2ErrorCode.PROTOCOL_ERROR);
  throwsH2(() => parseSettingsFrame({ length: 6, type: 4, flags: 1, streamId: 0 }, payload), H2ErrorCode.FRAME_SIZE_ERROR);
  throwsH2(() => parseSettingsFrame({ length: 7, type: 4, flags: 0, streamId: 0 }, payload), H2ErrorCode.FRAME_SIZE_ERROR);
  assert.deepEqual(parseSettingsFrame({ length: 6, type: 4, flags: 0xfe, streamId: 0 }, payload), { ack: false, settings: [{ id: 5, value: 20_000 }] });
  const ack = encodeSettingsAckFrame();
  assert.deepEqual(parseSettingsFrame(parseFrameHeader(ack), ack.subarray(9)), { ack: true, settings: [] });
});

test('readMaxFrameSize: the last entry wins; outside 16384..16777215 is PROTOCOL_ERROR', () => {
  const M = SettingId.MAX_FRAME_SIZE;
  assert.equal(readMaxFrameSize([]), 16_384);
  assert.equal(readMaxFrameSize([{ id: 1, value: 1 }], 20_000), 20_000);
  assert.equal(readMaxFrameSize([{ id: M, value: 16_384 }]), 16_384);
  assert.equal(readMaxFrameSize([{ id: M, value: 20_000 }, { id: M, value: 16_777_215 }]), 16_777_215);
  throwsH2(() => readMaxFrameSize([{ id: M, value: 16_383 }]), H2ErrorCode.PROTOCOL_ERROR);
  throwsH2(() => readMaxFrameSize([{ id: M, value: 16_777_216 }]), H2ErrorCode.PROTOCOL_ERROR);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
      const ok = v >= 16_384 && v <= 16_777_215;
      if (ok) assert.equal(readMaxFrameSize([{ id: M, value: v }]), v);
      else throwsH2(() => readMaxFrameSize([{ id: M, value: v }]), H2ErrorCode.PROTOCOL_ERROR);
    }),
    RUNS,
  );
});

test('cert-auth flag setting: 0/1 only, never 0 after 1, usable only once both sides sent 1', () => {
  const id = DEFAULT_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const s = new CertAuthSetting(id);
  assert.equal(s.active, false);
  s.receive([{ id: 3, value: 100 }]);
  assert.equal(s.received, false);
  s.receive([{ id, value: 1 }]);
  assert.equal(s.active, false); // we have not sent 1
  s.send(1);
  assert.equal(s.active, true);
  s.receive([{ id, value: 1 }]); // repeating 1 is fine
  throwsH2(() => s.receive([{ id, value: 0 }]), H2ErrorCode.PROTOCOL_ERROR);
  assert.throws(() => s.send(0), RangeError);
  throwsH2(() => new CertAuthSetting(id).receive([{ id, value: 2 }]), H2ErrorCode.PROTOCOL_ERROR);
  throwsH2(() => new CertAuthSetting(id).receive([{ id, value: 1 }, { id, value: 0 }]), H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(readCertAuthSetting([{ id, value: 0 }, { id, value: 1 }], id), 1);
  assert.equal(readCertAuthSetting([{ id: 5, value: 16_384 }], id), undefined);
  throwsH2(() => readCertAuthSetting([{ id, value: 7 }], id), H2ErrorCode.PROTOCOL_ERROR);
});

test('cert-auth settings: any sequence of SETTINGS frames is accepted exactly when the model says so', () => {
  const id = DEFAULT_PROFILE.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH;
  const value = fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 0xffffffff }));
  const frames = fc.array(fc.array(fc.oneof(fc.record({ id: fc.constant(id), value }), setting), { maxLength: 4 }), { maxLength: 5 });
  fc.assert(
    fc.property(fc.constantFrom('flag' as const, 'count' as const), frames, (kind, list) => {
      const s = new CertAuthSetting(id, kind);
      let model = 0;
      for (const frame of list) {
        let ok = true;
        let next = model;
        for (const e of frame) {
          if (e.id !== id) continue;
          if ((kind === 'flag' && e.value > 1) || e.value < next) ok = false;
          if (ok) next = e.value;
        }
        if (ok) {
          s.receive(frame);
          model = next;
          assert.equal(s.remote, model);
        } else {
          throwsH2(() => s.receive(frame), H2ErrorCode.PROTOCOL_ERROR);
          return; // the connection is gone
        }
      }
    }),
    RUNS,
  );
});

test('DEFAULT_PROFILE has the provisional values and is frozen', () => {
  const p = DEFAULT_PROFILE;
  assert.equal(p.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, 0xf5ec);
  assert.equal(p.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH, 0xf5ed);
  assert.equal(p.frames.SERVER_CERTIFICATE, 0xf5);
  assert.equal(p.frames.AUTHENTICATOR_REQUESTS, 0xf6);
  assert.equal(p.frames.CLIENT_CERTIFICATE, 0xf7);
  assert.equal(p.errors.SERVER_CERTIFICATE_INVALID, 0x5ec0);
  // -06 picks avoid proxygen's deployed frame types and our own.
  for (const name of ['CERTIFICATE_NEEDED', 'CERTIFICATE_REQUEST', 'CERTIFICATE', 'USE_CERTIFICATE'] as const) {
    assert.ok(![0xf0, 0xf1, 0xf2, 0xf3, 0xfb, 0xf5, 0xf6, 0xf7].includes(p.frames[name]), name);
  }
  assert.ok(Object.isFrozen(p) && Object.isFrozen(p.frames) && Object.isFrozen(p.settings) && Object.isFrozen(p.errors));
  assert.throws(() => {
    (p.frames as { SERVER_CERTIFICATE: number }).SERVER_CERTIFICATE = 1;
  }, TypeError);
  assert.equal(frameNameOf(p, 0xf5), 'SERVER_CERTIFICATE');
  assert.equal(frameNameOf(p, 0x0), undefined);
});

test('makeProfile refuses standard, out-of-range, duplicate and unknown codepoints', () => {
  const bad: H2ProfileOverrides[] = [
    { frames: { SERVER_CERTIFICATE: 0x4 } },
    { frames: { SERVER_CERTIFICATE: 0x9 } },
    { frames: { SERVER_CERTIFICATE: 0xa } },
    { frames: { SERVER_CERTIFICATE: 0xc } },
    { frames: { SERVER_CERTIFICATE: 0x10 } },
    { frames: { SERVER_CERTIFICATE: 0x100 } },
    { frames: { SERVER_CERTIFICATE: 0xf6 } },
    { frames: { SERVER_CERTIFICATE: 1.5 } },
    { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 3 } },
    { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 6 } },
    { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 8 } },
    { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 0x10000 } },
    { settings: { SETTINGS_HTTP_CLIENT_CERT_AUTH: 0xf5ec } },
    { errors: { SERVER_CERTIFICATE_INVALID: 0x1 } },
    { errors: { SERVER_CERTIFICATE_INVALID: 2 ** 32 } },
    { errors: { SERVER_CERTIFICATE_INVALID: 0x5ec1 } },
    { frames: { SERVER_CERTIFCATE: 0x20 } as never },
    { frames: { SERVER_CERTIFICATE: '0x20' as never } },
  ];
  for (const o of bad) {
    assert.throws(() => makeProfile('bad', o), (e: unknown) => e instanceof InvalidProfile && e.code === 'ERR_INVALID_PROFILE', JSON.stringify(o));
  }
  assert.throws(() => makeProfile(''), InvalidProfile);
  const ok = makeProfile('ok', { frames: { SERVER_CERTIFICATE: 0x0b }, settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 7 }, errors: { SERVER_CERTIFICATE_INVALID: 0xffffffff } });
  assert.equal(ok.name, 'ok');
  assert.equal(ok.frames.SERVER_CERTIFICATE, 0x0b);
  assert.equal(ok.frames.CERTIFICATE, DEFAULT_PROFILE.frames.CERTIFICATE);
});

test('makeProfile on random overrides: either a valid profile or InvalidProfile', () => {
  const frameOverride = fc.dictionary(fc.constantFrom(...Object.keys(DEFAULT_PROFILE.frames)), fc.integer({ min: 0, max: 0x1ff }), { maxKeys: 3 });
  const settingOverride = fc.dictionary(fc.constantFrom(...Object.keys(DEFAULT_PROFILE.settings)), fc.integer({ min: 0, max: 0x1ffff }), { maxKeys: 2 });
  fc.assert(
    fc.property(frameOverride, settingOverride, (frames, settings) => {
      try {
        const p = makeProfile('random', { frames, settings });
        const types = Object.values(p.frames);
        assert.equal(new Set(types).size, types.length);
        for (const t of types) assert.ok(t > 0xa && t <= 0xff && t !== 0xc && t !== 0x10);
        for (const s of Object.values(p.settings)) assert.ok(s >= 7 && s <= 0xffff && s !== 8 && s !== 9);
      } catch (e) {
        assert.ok(e instanceof InvalidProfile, String(e));
      }
    }),
    RUNS,
  );
});
