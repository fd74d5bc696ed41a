// The judges shared by the HTTP/2 and HTTP/3 checkers, fed protocol-neutral records directly (the live
// servers are in check.test.ts and h3.test.ts): one function per check, the protocol's terms deciding only
// where the rule is written, the code a client closes with, and the rules that really differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as check from '../../src/cli/check/index.js';
import { h2Terms } from '../../src/cli/check/h2/terms.js';
import { h3Terms } from '../../src/cli/check/h3/terms.js';
import { CertificateJudge, clientCloseCode, judgeFrames, judgeSettings, type FrameSeen, type WireRecord } from '../../src/cli/check/judges/index.js';
import { startReport } from '../../src/cli/check/common.js';
import { judgeProbe } from '../../src/cli/check/probes.js';
import type { CheckReport } from '../../src/cli/check/report.js';
import { keysFromValues } from '../../src/exporter/keys.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import { DEFAULT_H3_PROFILE } from '../../src/h3/profile.js';

const h2 = h2Terms(DEFAULT_PROFILE);
const h3 = h3Terms(DEFAULT_H3_PROFILE);
const H2_SETTING = DEFAULT_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
const H3_SETTING = DEFAULT_H3_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;

const emptyReport = (): CheckReport => startReport<CheckReport>('h2', new URL('https://a.example'), undefined, { setting: 0, frame: 0, errorCode: 0 }).report;
const wire = (settings: [number, number][][], frames: FrameSeen[] = []): WireRecord => {
  const seen = settings.map((entries, i) => ({ at: 100 + i, entries }));
  const value1 = seen.find((s) => s.entries.some(([, v]) => v === 1));
  return { t0: seen[0]?.at, settings: seen, value1At: value1?.at, frames, closed: false };
};
const find = (r: CheckReport, id: string) => r.checks.find((c) => c.id === id);

test('settings.value: one judge for both; the close code named is the protocol\'s', () => {
  for (const [terms, id, code] of [[h2, H2_SETTING, 'PROTOCOL_ERROR'], [h3, H3_SETTING, 'H3_SETTINGS_ERROR']] as const) {
    const r = emptyReport();
    judgeSettings(r, wire([[[id, 2]]]), terms, id, 1000);
    assert.equal(find(r, 'settings.value')?.status, 'fail');
    assert.match(find(r, 'settings.value')!.detail, new RegExp(`2 \\(a client closes with ${code}\\)`));
    assert.equal(find(r, 'settings.advertised')?.status, 'skip');
    assert.equal(r.extension, 'not-supported');
  }
});

test('settings: a repeat in one SETTINGS fails only over HTTP/3; 1 then 0 fails only over HTTP/2, which may send SETTINGS again', () => {
  const repeated3 = emptyReport();
  judgeSettings(repeated3, wire([[[H3_SETTING, 1], [H3_SETTING, 1]]]), h3, H3_SETTING, 1000);
  assert.equal(find(repeated3, 'settings.value')?.status, 'fail');
  assert.match(find(repeated3, 'settings.value')!.detail, /appears 2 times/);
  assert.equal(find(repeated3, 'settings.not-lowered'), undefined);

  const lowered2 = emptyReport();
  judgeSettings(lowered2, wire([[[H2_SETTING, 1]], [[H2_SETTING, 0]]]), h2, H2_SETTING, 1000);
  assert.equal(find(lowered2, 'settings.value')?.status, 'pass');
  assert.equal(find(lowered2, 'settings.not-lowered')?.status, 'fail');
  assert.equal(find(lowered2, 'settings.received')?.detail, '2 SETTINGS frame(s)');
  assert.equal(lowered2.extension, 'supported');
});

test('a SERVER_CERTIFICATE on the wrong stream: both fail .stream; HTTP/2 still checks the authenticator, HTTP/3 skips it', async () => {
  const v = (n: number): Uint8Array => new Uint8Array(32).fill(n);
  const keys = keysFromValues('sha256', { client: { handshakeContext: v(1), finishedKey: v(2) }, server: { handshakeContext: v(3), finishedKey: v(4) } });
  const payload = new Uint8Array([11, 0, 0, 9, 1, 2]);
  for (const [terms, type, name] of [[h2, DEFAULT_PROFILE.frames.SERVER_CERTIFICATE, 'h2'], [h3, DEFAULT_H3_PROFILE.frames.SERVER_CERTIFICATE, 'h3']] as const) {
    const frame: FrameSeen = { type, flags: 0, streamId: 4, length: payload.length, payload, at: 120, afterValue1: true, oversize: false, rightStream: false, stream: 'stream 4', wire: payload };
    const r = emptyReport();
    const certificates = new CertificateJudge({ ca: [] }, () => undefined);
    const found = await judgeFrames(r, wire([[[1, 1]]], [frame]), { terms, settingId: 1, serverCertificateType: type, keys, certificates }, new Set());
    assert.equal(found.wrongStream, true, name);
    assert.equal(found.judged, 1, name);
    assert.equal(find(r, 'frame1.stream')?.status, 'fail', name);
    assert.equal(r.frames.length, 1, name);
    if (name === 'h2') {
      assert.equal(find(r, 'frame1.structure')?.status, 'fail');
      assert.equal(found.invalidAuthenticator, true);
      assert.match(find(r, 'frame1.stream')!.detail, /PROTOCOL_ERROR/);
    } else {
      assert.equal(find(r, 'frame1.structure'), undefined);
      assert.match(find(r, 'frame1.authenticator')!.detail, /H3_FRAME_UNEXPECTED/);
      assert.equal(found.invalidAuthenticator, false);
    }
    const close = clientCloseCode(terms, found);
    assert.equal(close.name, name === 'h2' ? 'SERVER_CERTIFICATE_INVALID' : 'H3_FRAME_UNEXPECTED');
  }
});

test("the package's ./check surface keeps its exports", () => {
  for (const name of ['checkServer', 'checkH3Server', 'formatReport', 'formatH3Report', 'checkSpontaneousAuthenticator']) {
    assert.equal(typeof (check as Record<string, unknown>)[name], 'function', name);
  }
  assert.deepEqual(check.EXIT_STATUS, { conforms: 0, 'does-not-conform': 1, 'no-extension': 3, unreachable: 4 });
});

test('judgeProbe: with the extension only a close with the named code passes; without it, ignoring or that close pass; no SETTINGS is a skip unless the server closed with the code', () => {
  const rule = { name: 'setting-value-2', section: 'S', title: 'T', expectedCode: 0x1, expectedName: 'PROTOCOL_ERROR', ignoreSection: 'I', ignoreTitle: 'IT' } as const;
  const name = (code: number): string => (code === 1 ? 'PROTOCOL_ERROR' : `0x${code.toString(16)}`);
  const judge = (o: Parameters<typeof judgeProbe>[2]) => judgeProbe(rule, { what: 'w', bytes: 'ab' }, o, name);
  const on = { serverSupports: true, closed: true, stillServes: false };
  assert.equal(judge({ ...on, errorCode: 1 }).check.status, 'pass');
  assert.match(judge({ ...on, errorCode: 2 }).check.detail, /with 0x2 \(0x2\), not PROTOCOL_ERROR/);
  assert.match(judge({ ...on, closed: false, errorCode: 1 }).check.detail, /sent PROTOCOL_ERROR but kept the connection open/);
  assert.match(judge({ ...on }).check.detail, /without an error code \(PROTOCOL_ERROR expected\)/);
  assert.match(judge({ serverSupports: true, closed: false, stillServes: true }).check.detail, /stayed open and still serves/);
  for (const o of [{ ...on, errorCode: 2 }, { ...on, closed: false, errorCode: 1 }, on, { serverSupports: true, closed: false, stillServes: true }]) {
    const r = judge(o);
    assert.equal(r.check.status, 'fail');
    assert.equal(r.check.evidence, 'ab');
    assert.equal(r.check.section, 'S');
  }
  const off = { serverSupports: false, closed: false, stillServes: true };
  assert.deepEqual([judge(off).check.status, judge(off).check.section], ['pass', 'I; S']);
  assert.equal(judge({ serverSupports: false, closed: true, errorCode: 1, stillServes: false }).check.status, 'pass');
  assert.equal(judge({ serverSupports: false, closed: true, errorCode: 2, stillServes: false }).check.status, 'fail');
  assert.equal(judge({ serverSupports: false, closed: false, stillServes: false }).check.status, 'fail');
  assert.equal(judge({ serverSupports: undefined, closed: true, errorCode: 1, stillServes: false }).check.status, 'pass');
  assert.equal(judge({ serverSupports: undefined, closed: false, stillServes: false }).check.status, 'skip');
  assert.equal(judge({ serverSupports: true, closed: false, stillServes: false, error: 'e' }).check.status, 'skip');
  assert.equal(judge(off).record.serverSupports, false);
  assert.equal(judge({ serverSupports: undefined, closed: false, stillServes: false }).record.serverSupports, null);
});
