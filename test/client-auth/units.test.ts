// The pieces of the client-certificate feature that need no connection: the -06 setting value, its
// negotiation state, and the per-origin cache of the client's choices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExporterSetting, settingValueFromExporter } from '../../src/flows/client-auth/negotiation.js';
import { ClientCertificates, originKey } from '../../src/flows/client-auth/credentials.js';
import { identity, pkis } from './helpers.js';

test('SETTINGS_HTTP_CERT_AUTH value: (Exporter & 0x3fffffff) | 0x80000000', () => {
  assert.equal(settingValueFromExporter(new Uint8Array([0, 0, 0, 0])), 0x80000000);
  assert.equal(settingValueFromExporter(new Uint8Array([0xff, 0xff, 0xff, 0xff])), 0xbfffffff);
  assert.equal(settingValueFromExporter(new Uint8Array([0x12, 0x34, 0x56, 0x78])), 0x92345678);
  assert.throws(() => settingValueFromExporter(new Uint8Array(8)), RangeError);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (e) => {
      const v = settingValueFromExporter(e);
      // The top bit always set (never 0, which Node would refuse), bit 30 always clear, the rest the exporter's.
      return v >>> 31 === 1 && ((v >>> 30) & 1) === 0 && (v & 0x3fffffff) === (Buffer.from(e).readUInt32BE(0) & 0x3fffffff);
    }),
    { numRuns: 300 },
  );
});

test('ExporterSetting: on only when we sent ours and the peer sent exactly the expected value; the last value counts', () => {
  const s = new ExporterSetting(0xf5ee, 0x80000001, 0x80000002);
  assert.equal(s.receiveMap(new Map([[0xf5ee, 0x80000002]])), false, 'not sent yet');
  assert.equal(s.active, false);
  s.sent = true;
  assert.equal(s.active, true);
  assert.equal(s.receiveMap(new Map([[0xf5ee, 0x80000003]])), false);
  assert.equal(s.active, false);
  assert.equal(s.mismatched, true);
  assert.equal(s.receiveMap(new Map([[0x5, 16384]])), false, 'other settings change nothing');
  assert.equal(s.receiveMap(new Map([[0xf5ee, 0x80000002]])), true);
  assert.equal(s.mismatched, false);
});

test('ClientCertificates: one question per origin, declines kept too; clear one origin or all; a failing callback declines and is not kept', async () => {
  const { ids } = await pkis();
  const asked: string[] = [];
  let fail = false;
  const certificates = new ClientCertificates((q) => {
    asked.push(q.origin);
    if (fail) throw new Error('the user closed the dialog');
    return q.origin.includes('nobody') ? null : identity(ids['alice']!);
  });
  const errors: unknown[] = [];
  certificates.on('chooseError', (e) => errors.push(e));
  const q = (origin: string) => certificates.select({ origin, flow: 'secondary-certs-06' });
  const a1 = await q('https://a.example');
  const a2 = await q('https://A.example:443/path');
  assert.equal(a1, a2, 'the same origin, written differently, shares the decision');
  assert.match(a1!.leaf.subject, /CN=alice/);
  assert.equal(await q('https://nobody.example'), null);
  assert.equal(await q('https://nobody.example'), null);
  assert.deepEqual(asked, ['https://a.example', 'https://nobody.example']);
  const cleared: unknown[] = [];
  certificates.on('cleared', (o) => cleared.push(o));
  certificates.clear('https://a.example:443');
  assert.equal(certificates.has('https://a.example'), false);
  assert.equal(certificates.has('https://nobody.example'), true);
  certificates.clear();
  assert.equal(certificates.has('https://nobody.example'), false);
  assert.deepEqual(cleared, ['https://a.example', undefined]);
  fail = true;
  assert.equal(await q('https://a.example'), null);
  assert.equal(errors.length, 1);
  assert.equal(certificates.has('https://a.example'), false, 'a failure is not remembered');
  fail = false;
  assert.notEqual(await q('https://a.example'), null);
  assert.throws(() => originKey('not a url'), TypeError);
});

test('ClientCertificates: concurrent questions for one origin share one answer; the oldest origin is forgotten past maxOrigins', async () => {
  const { ids } = await pkis();
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const certificates = new ClientCertificates(
    async () => {
      calls++;
      await gate;
      return identity(ids['bob']!);
    },
    { maxOrigins: 2 },
  );
  const pending = [1, 2, 3].map(() => certificates.select({ origin: 'https://a.example', flow: 'secondary-client-certs' }));
  release();
  const answers = await Promise.all(pending);
  assert.equal(calls, 1);
  assert.ok(answers.every((a) => a === answers[0]));
  await certificates.select({ origin: 'https://b.example', flow: 'secondary-client-certs' });
  await certificates.select({ origin: 'https://c.example', flow: 'secondary-client-certs' });
  assert.equal(certificates.has('https://a.example'), false);
  assert.equal(certificates.has('https://c.example'), true);
});
