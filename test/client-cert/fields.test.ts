// The RFC 9440 helpers on header records, without sockets: stripping in every spelling, the fields an
// identity gives, reading them back with the rules of section 2, response sanitising, and the origin's
// configuration and peer matching.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { CertificatePolicy } from '../../src/pki/policy.js';
import { encodeClientCertFields, readClientCertFields, hasClientCertFields, fieldLines } from '../../src/flows/client-cert-field/fields.js';
import { forwardClientCert, forwardClientCertRaw, sanitizeResponseHeaders, identityFromAuthenticator } from '../../src/flows/client-cert-field/forward.js';
import { ClientCertOrigin, sendRefusal } from '../../src/flows/client-cert-field/origin.js';
import { serializeBinaryItem } from '../../src/flows/client-cert-field/sf-binary.js';
import { MalformedField } from '../../src/errors.js';

let pki: TestPki;
let alice: IssuedIdentity;
let carol: IssuedIdentity;
before(async () => {
  pki = await TestPki.create();
  alice = await pki.issue({ role: 'client', commonName: 'alice', viaIntermediate: true });
  carol = await pki.issue({ role: 'client', commonName: 'carol' });
});

const clientPolicy = () => new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'client' });

test('forwardClientCert removes the fields in every spelling and adds the identity’s, lowercase', () => {
  const incoming = {
    ':method': 'GET',
    ':path': '/x',
    'Client-Cert': ':AQID:',
    'CLIENT-CERT-CHAIN': [':AQID:', ':AQID:'],
    'client-cert': ':AQID:',
    'cLiEnT-cErT-cHaIn': ':AQID:',
    'client-certificate': 'kept: another field',
    accept: 'text/plain',
    'content-length': 0,
  };
  const stripped = forwardClientCert(incoming, undefined);
  assert.deepEqual(stripped, { ':method': 'GET', ':path': '/x', 'client-certificate': 'kept: another field', accept: 'text/plain', 'content-length': 0 });
  const added = forwardClientCert(incoming, { chain: alice.chainDer });
  assert.equal(added['client-cert'], serializeBinaryItem(alice.certDer));
  assert.equal(added['client-cert-chain'], serializeBinaryItem(alice.chainDer[1]!));
  assert.deepEqual(added, { ...stripped, ...encodeClientCertFields(alice.chainDer) });
  assert.equal(incoming['Client-Cert'], ':AQID:', 'the input is not changed');
  // A leaf alone gives no chain field.
  assert.deepEqual(Object.keys(forwardClientCert({}, { chain: [carol.certDer] })), ['client-cert']);
  assert.throws(() => forwardClientCert({}, { chain: [] }), TypeError);
});

test('forwardClientCertRaw does the same on name/value lists such as rawHeaders', () => {
  const raw = ['Host', 'o.example', 'Client-Cert', ':AQID:', 'client-cert-chain', ':AQID:', 'CLIENT-CERT', ':AQID:', 'Accept', '*/*'];
  assert.deepEqual(forwardClientCertRaw(raw, undefined), ['Host', 'o.example', 'Accept', '*/*']);
  assert.deepEqual(forwardClientCertRaw(raw, { chain: [carol.certDer] }), ['Host', 'o.example', 'Accept', '*/*', 'client-cert', serializeBinaryItem(carol.certDer)]);
  assert.throws(() => forwardClientCertRaw(['Host'], undefined), TypeError);
});

test('sanitizeResponseHeaders drops the fields and turns a Vary naming Client-Cert into *', () => {
  assert.deepEqual(sanitizeResponseHeaders({ 'Client-Cert': ':AQID:', 'content-type': 'text/plain', Vary: 'Accept, client-cert' }), { 'content-type': 'text/plain', Vary: '*' });
  assert.deepEqual(sanitizeResponseHeaders({ vary: ['accept', 'Client-Cert'] }), { vary: '*' });
  assert.deepEqual(sanitizeResponseHeaders({ vary: 'accept, client-certificate' }), { vary: 'accept, client-certificate' });
});

test('readClientCertFields: chain order, absent fields, the section 2 rules', () => {
  const fields = encodeClientCertFields(alice.chainDer);
  assert.deepEqual(readClientCertFields(fields), alice.chainDer);
  assert.deepEqual(readClientCertFields({ 'Client-Cert': fields['client-cert'], 'Client-Cert-Chain': fields['client-cert-chain'] }), alice.chainDer);
  // The chain split over several lines, as section 2.3 allows.
  assert.deepEqual(readClientCertFields({ 'client-cert': ':AQ==:', 'client-cert-chain': [':Ag==:', ':Aw==:, :BA==:'] }), [1, 2, 3, 4].map((b) => new Uint8Array([b])));
  assert.equal(readClientCertFields({}), undefined);
  assert.equal(readClientCertFields({ 'client-cert-chain': '' }), undefined, 'an empty chain List counts as absent');
  assert.throws(() => readClientCertFields({ 'client-cert-chain': ':AQ==:' }), (e: unknown) => e instanceof MalformedField && e.field === 'Client-Cert-Chain');
  assert.throws(() => readClientCertFields({ 'client-cert': [':AQ==:', ':AQ==:'] }), /one field line, not 2/);
  assert.throws(() => readClientCertFields({ 'client-cert': ':AQ==:', 'Client-Cert': ':AQ==:' }), /one field line, not 2/);
  assert.throws(() => readClientCertFields({ 'client-cert': ':AQ==:', 'client-cert-chain': ':Ag==:, :Ag==:' }, { maxChainLength: 1 }), { code: 'ERR_FIELD_TOO_LARGE' });
  assert.throws(() => readClientCertFields({ 'client-cert': fields['client-cert'] }, { maxFieldSize: 100 }), { code: 'ERR_FIELD_TOO_LARGE' });
  assert.equal(hasClientCertFields({ 'Client-Cert-Chain': '' }), true);
  assert.equal(hasClientCertFields({ 'client-cert': undefined, accept: '*/*' }), false);
  assert.deepEqual(fieldLines({ 'X-N': 5, 'x-n': ['a', 'b'] }, 'x-n'), ['5', 'a', 'b']);
});

test('identityFromAuthenticator judges the proven chain with the policy and drops the anchor', async () => {
  // A ValidatedAuthenticator is plain data; its chain is all this helper reads. (The whole exchange over a
  // real TLS connection is in proxy-origin.test.ts.)
  const identity = await identityFromAuthenticator({ chain: [...alice.chainDer, pki.caDer] }, clientPolicy());
  assert.deepEqual(identity.chain, alice.chainDer);
  const other = await TestPki.create({ commonName: 'another CA' });
  const stranger = await other.issue({ role: 'client' });
  await assert.rejects(identityFromAuthenticator({ chain: stranger.chainDer }, clientPolicy()), { code: 'ERR_CERT_UNTRUSTED' });
  // A pinned leaf (the leaf is the anchor) is forwarded as itself.
  const pinned = new CertificatePolicy({ trustAnchors: [carol.certDer], role: 'client' });
  assert.deepEqual((await identityFromAuthenticator({ chain: [carol.certDer] }, pinned)).chain, [carol.certDer]);
});

test('ClientCertOrigin: trusted peers by address (IPv4-mapped too) or predicate; configuration errors are TypeErrors', async () => {
  const origin = new ClientCertOrigin({ trustedProxies: ['10.0.0.1', '2001:db8::1'], policy: clientPolicy() });
  assert.equal(origin.isTrustedPeer({ remoteAddress: '10.0.0.1' }), true);
  assert.equal(origin.isTrustedPeer({ remoteAddress: '::ffff:10.0.0.1' }), true);
  assert.equal(origin.isTrustedPeer({ remoteAddress: '2001:DB8:0:0::1' }), true);
  assert.equal(origin.isTrustedPeer({ remoteAddress: '10.0.0.2' }), false);
  assert.equal(origin.isTrustedPeer({ remoteAddress: undefined }), false, 'a socket that has gone has no address');
  assert.equal(origin.isTrustedPeer({ remoteAddress: 'not an address' }), false);

  const byPredicate = new ClientCertOrigin({ trustedProxies: (s) => s.remoteAddress === 'unix', policy: clientPolicy() });
  const fields = encodeClientCertFields(alice.chainDer);
  const verdict = await byPredicate.verifyFields(fields, { remoteAddress: 'unix' });
  assert.equal(verdict.identity?.leaf.subject, 'CN=alice');
  assert.equal(verdict.identity?.proxyAddress, 'unix');
  assert.deepEqual(verdict.identity?.emails, []);
  assert.equal((await byPredicate.verifyFields(fields, { remoteAddress: '127.0.0.1' })).refusal?.code, 'ERR_UNTRUSTED_PROXY');
  assert.deepEqual(await byPredicate.verifyFields({ accept: '*/*' }, {}), { identity: undefined });

  assert.throws(() => new ClientCertOrigin({ trustedProxies: ['proxy.example'], policy: clientPolicy() }), TypeError);
  assert.throws(() => new ClientCertOrigin({ trustedProxies: '10.0.0.1' as unknown as string[], policy: clientPolicy() }), TypeError);
  const serverPolicy = new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'server' });
  assert.throws(() => new ClientCertOrigin({ trustedProxies: [], policy: serverPolicy }), /role 'client'/);
});

test('sendRefusal writes the status, no-store and a body with the code and reason', () => {
  const written: unknown[] = [];
  // A stand-in for ServerResponse: only the two calls sendRefusal makes are recorded.
  sendRefusal({ writeHead: (...a: unknown[]) => written.push(a), end: (b: string) => written.push(b) }, { status: 403, code: 'ERR_CERT_EXPIRED', reason: 'client certificate refused: it expired' });
  assert.deepEqual(written, [[403, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }], 'ERR_CERT_EXPIRED: client certificate refused: it expired\n']);
});
