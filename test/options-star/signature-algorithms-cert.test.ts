// RFC 9261 section 5.2.1 through OPTIONS * over real node:http2 on loopback TLS 1.3: a server holding two
// chains for b.example, one signed by a P-256 CA and one by an Ed25519 CA, answers with the chain whose
// signatures fit the request's signature_algorithms_cert, and with an empty authenticator when none does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer, type SecondaryCertServer } from '../../src/h2/server.js';
import { connect } from '../../src/h2/client.js';
import { installOptionsStar, type OptionsStarAnswer } from '../../src/flows/options-star/server.js';
import { proveOrigin } from '../../src/flows/options-star/client.js';
import { SignatureScheme as S } from '../../src/tls/signature-scheme.js';

let p256Ca: TestPki;
let ed25519Ca: TestPki;
let tlsId: IssuedIdentity;
let byP256: IssuedIdentity;
let byEd25519: IssuedIdentity;
let extension: SecondaryCertServer;
let port = 0;
let closeServer: () => Promise<void>;
const answers: OptionsStarAnswer[] = [];
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

before(async () => {
  p256Ca = await TestPki.create({ keyType: 'p256' });
  ed25519Ca = await TestPki.create({ keyType: 'ed25519' });
  tlsId = await p256Ca.issue({ dnsNames: ['a.example'] });
  // The names tell the two apart in the answer.
  byP256 = await p256Ca.issue({ dnsNames: ['b.example'] });
  byEd25519 = await ed25519Ca.issue({ dnsNames: ['b.example', 'b2.example'] });
  const created = await createSecondaryCertServer({
    key: tlsId.keyPem,
    cert: tlsId.chainPem,
    minVersion: 'TLSv1.3',
    identities: [byP256, byEd25519].map((id) => ({ chain: id.chainDer, key: id.keyPkcs8Der })),
    sendOnConnect: false,
  });
  extension = created.extension;
  installOptionsStar(created.server, { extension }).on('answer', (a: OptionsStarAnswer) => answers.push(a));
  created.server.on('sessionError', () => {});
  await new Promise<void>((r) => created.server.listen(0, '127.0.0.1', r));
  port = (created.server.address() as AddressInfo).port;
  closeServer = () =>
    new Promise((r) => {
      for (const c of extension.connections) c.session.destroy();
      created.server.close(() => r());
    });
});

after(async () => closeServer?.());

test("OPTIONS *: the server proves b.example with the chain whose signatures fit the request's signature_algorithms_cert, and refuses when none fits", { timeout: 20_000 }, async () => {
  const conn = await connect(`https://a.example:${port}`, { ca: [p256Ca.caPem, ed25519Ca.caPem], lookup, connectAddress: '127.0.0.1' });
  try {
    const url = `https://b.example:${port}`;
    const ed = await proveOrigin(conn, url, { signatureSchemesCert: [S.ed25519] });
    assert.equal(ed.outcome, 'proven', JSON.stringify(ed));
    assert.ok(ed.outcome === 'proven');
    assert.deepEqual(ed.names, ['b.example', 'b2.example'], 'the Ed25519-signed chain, though listed second');

    const ecdsa = await proveOrigin(conn, url, { signatureSchemesCert: [S.ecdsa_secp256r1_sha256] });
    assert.ok(ecdsa.outcome === 'proven', JSON.stringify(ecdsa));
    assert.deepEqual(ecdsa.names, ['b.example']);

    // Without the extension the first identity for the host answers.
    const any = await proveOrigin(conn, url);
    assert.ok(any.outcome === 'proven');
    assert.deepEqual(any.names, ['b.example']);

    const none = await proveOrigin(conn, url, { signatureSchemesCert: [S.ecdsa_secp384r1_sha384] });
    assert.equal(none.outcome, 'refused');
    assert.match(answers.at(-1)!.reason, /empty authenticator: no chain for b\.example is signed with schemes the request's signature_algorithms_cert lists/);
  } finally {
    await conn.close();
  }
});
