// The pieces of -06 that need no connection: the Required Domain extension (section 5), the split
// setting values (section 2.1), and the profile choice between the two setting forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { oidText } from '../../src/codec/der.js';
import { CertificateRejected, InvalidProfile } from '../../src/errors.js';
import { DEFAULT_PROFILE, DRAFT_06_PROFILE, makeProfile } from '../../src/h2/profile.js';
import { checkRequiredDomain, encodeRequiredDomain, readRequiredDomain, type RequiredDomain } from '../../src/pki/required-domain.js';
import { settingValueFromExporter, splitSettingValuesFromExporter } from '../../src/flows/client-auth/negotiation.js';
import { pki06 } from './helpers.js';

const OID = DRAFT_06_PROFILE.draft06.requiredDomainOid;

test('Required Domain: dNSName, iPAddress and "*" survive a certificate round trip; a certificate without it has none', async () => {
  const { pki } = await pki06();
  const cases: [RequiredDomain, RequiredDomain][] = [
    [{ type: 'dns', name: 'A.Example' }, { type: 'dns', name: 'a.example' }],
    [{ type: 'ip', address: '192.0.2.7' }, { type: 'ip', address: '192.0.2.7' }],
    [{ type: 'ip', address: '2001:db8::1' }, { type: 'ip', address: '2001:db8::1' }],
    [{ type: 'any' }, { type: 'any' }],
  ];
  for (const [given, read] of cases) {
    const id = await pki.issue({ dnsNames: ['x.example'], extraExtensions: [{ oid: OID, value: encodeRequiredDomain(given) }] });
    assert.deepEqual(readRequiredDomain(id.certDer, OID), read);
  }
  const plain = await pki.issue({ dnsNames: ['x.example'] });
  assert.equal(readRequiredDomain(plain.certDer, OID), undefined);
});

test('Required Domain: an empty GeneralName, a partial wildcard, another GeneralName type or trailing bytes make the certificate invalid (ERR_CERT_REQUIRED_DOMAIN)', async () => {
  const { pki } = await pki06();
  const bad = [
    new Uint8Array([0x82, 0x00]), // empty dNSName
    new Uint8Array([0x82, 0x05, ...Buffer.from('*.com')]),
    new Uint8Array([0x81, 0x03, ...Buffer.from('a@b')]), // rfc822Name
    new Uint8Array([0x87, 0x03, 1, 2, 3]), // a 3-byte address
    new Uint8Array([0x82, 0x01, 0x61, 0x00]), // trailing byte
    new Uint8Array([0x82]), // truncated
  ];
  for (const value of bad) {
    const id = await pki.issue({ dnsNames: ['x.example'], extraExtensions: [{ oid: OID, value }] });
    assert.throws(() => readRequiredDomain(id.certDer, OID), (e: unknown) => e instanceof CertificateRejected && e.code === 'ERR_CERT_REQUIRED_DOMAIN', Buffer.from(value).toString('hex'));
  }
  for (const name of ['', '*.com', 'w*.example.com']) assert.throws(() => encodeRequiredDomain({ type: 'dns', name }), RangeError);
});

test('Required Domain: the check passes only when a certificate already accepted covers the domain, or the domain is "*"', async () => {
  const { pki } = await pki06();
  const named = await pki.issue({ dnsNames: ['b.example'], extraExtensions: [{ oid: OID, value: encodeRequiredDomain({ type: 'dns', name: 'a.example' }) }] });
  const any = await pki.issue({ dnsNames: ['c.example'], extraExtensions: [{ oid: OID, value: encodeRequiredDomain({ type: 'any' }) }] });
  const none = await pki.issue({ dnsNames: ['d.example'] });
  assert.deepEqual(checkRequiredDomain(named.certDer, OID, (h) => h === 'a.example'), { type: 'dns', name: 'a.example' });
  assert.throws(() => checkRequiredDomain(named.certDer, OID, () => false), /covered by no certificate/);
  assert.deepEqual(checkRequiredDomain(any.certDer, OID, () => false), { type: 'any' });
  assert.throws(() => checkRequiredDomain(none.certDer, OID, () => true), /no Required Domain extension/);
  // Another OID (another profile) does not see it.
  assert.throws(() => checkRequiredDomain(named.certDer, '1.3.6.1.4.1.32473.6.2', () => true), /no Required Domain/);
});

test('-06 settings: each half of the 8-byte exporter with the top bit set (no 0x3fffffff mask, unlike -05\'s single setting)', () => {
  const exporter = new Uint8Array([0x7f, 0xff, 0xff, 0xff, 0x40, 0x00, 0x00, 0x01]);
  assert.deepEqual(splitSettingValuesFromExporter(exporter), { client: 0xffffffff, server: 0xc0000001 });
  assert.equal(settingValueFromExporter(exporter.subarray(0, 4)), 0xbfffffff);
  assert.throws(() => splitSettingValuesFromExporter(new Uint8Array(4)), RangeError);
});

test('the profile: the default keeps the single -02..-05 setting, DRAFT_06_PROFILE the split one; bad draft06 options are InvalidProfile', () => {
  assert.equal(DEFAULT_PROFILE.draft06.settings, 'single');
  assert.equal(DRAFT_06_PROFILE.draft06.settings, 'split');
  assert.deepEqual(DRAFT_06_PROFILE.settings, DEFAULT_PROFILE.settings);
  const custom = makeProfile('peer', { settings: { SETTINGS_HTTP_CLIENT_CERT_AUTH_06: 0xa1a1, SETTINGS_HTTP_SERVER_CERT_AUTH_06: 0xa1a2 }, draft06: { settings: 'split', requiredDomainOid: '2.5.29.99' } });
  assert.equal(custom.draft06.requiredDomainOid, '2.5.29.99');
  assert.ok(Object.isFrozen(custom) && Object.isFrozen(custom.draft06));
  for (const draft06 of [{ settings: 'both' }, { requiredDomainOid: 'not.an.oid' }, { requiredDomainOid: '1' }, { other: 1 }] as never[]) {
    assert.throws(() => makeProfile('bad', { draft06 }), InvalidProfile, JSON.stringify(draft06));
  }
  assert.throws(() => makeProfile('dup', { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH_06: DEFAULT_PROFILE.settings.SETTINGS_HTTP_CERT_AUTH } }), InvalidProfile);
});

test('OBJECT IDENTIFIER arcs beyond 2^53 (UUID arcs under 2.25) decode exactly', () => {
  // 2.25.329800735698586629295641978511506172918 (X.667's example UUID f81d4fae-7dec-11d0-a765-00a0c91e6bf6)
  const uuid = 0xf81d4fae7dec11d0a76500a0c91e6bf6n;
  const arcs: number[] = [];
  for (let v = uuid; v > 0n; v >>= 7n) arcs.unshift(Number(v & 0x7fn));
  const content = new Uint8Array([0x69, ...arcs.map((b, i) => (i < arcs.length - 1 ? b | 0x80 : b))]);
  assert.equal(oidText(content), `2.25.${uuid.toString()}`);
  assert.equal(oidText(new Uint8Array([0x55, 0x1d, 0x11])), '2.5.29.17');
});

test('Required Domain: any bytes as the extension value give a value or CertificateRejected, never another error', () => {
  const der = (tag: number, content: Uint8Array): Uint8Array => {
    const n = content.length;
    const len = n < 0x80 ? [n] : [0x82, n >> 8, n & 0xff];
    return Uint8Array.from([tag, ...len, ...content]);
  };
  const oid = Uint8Array.from([0x2b, 6, 1, 4, 1, 0x81, 0xfd, 0x59, 6, 1]); // 1.3.6.1.4.1.32473.6.1
  assert.equal(oidText(oid), OID);
  const certWith = (value: Uint8Array) => der(0x30, der(0x30, der(0xa3, der(0x30, der(0x30, Uint8Array.from([...der(0x06, oid), ...der(0x04, value)]))))));
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (value) => {
      try {
        readRequiredDomain(certWith(value), OID);
      } catch (e) {
        assert.ok(e instanceof CertificateRejected, String(e));
      }
    }),
    { numRuns: 500 },
  );
  assert.deepEqual(readRequiredDomain(certWith(encodeRequiredDomain({ type: 'dns', name: 'a.example' })), OID), { type: 'dns', name: 'a.example' });
});
