// The TLS certificate's name check is one rule for both clients: the subjectAltName covers the host or
// the connection is refused, and a subject common name alone never counts. Real servers on loopback: an
// HTTP/2 server and an HTTP/3 (QUIC) server whose TLS certificate names a.example only in its subject CN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { connect, createSecondaryCertServer } from '../../src/h2/index.js';
import { connectH3, createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/index.js';
import { SecondaryCertsError } from '../../src/errors.js';

let pki: TestPki;
let cnOnly: IssuedIdentity;
let h2Port: number;
let closeH2: () => void;
let h3: H3SecondaryCertServer;
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  cnOnly = await pki.issue({ commonName: 'a.example', keyType: 'p256' });
  const { server } = await createSecondaryCertServer({ key: cnOnly.keyPem, cert: cnOnly.chainPem });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('served');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  h2Port = (server.address() as AddressInfo).port;
  closeH2 = () => server.close();
  h3 = await createH3SecondaryCertServer({ cert: cnOnly.chainPem, key: cnOnly.keyPem }, (_req, res) => res.end(200, {}, 'served'));
});

after(async () => {
  closeH2();
  await h3.close();
});

test('the test certificate has a.example only as its subject CN: no subjectAltName at all', async () => {
  const { X509Certificate } = await import('node:crypto');
  const cert = new X509Certificate(cnOnly.certDer);
  assert.match(cert.subject, /CN=a\.example/);
  assert.equal(cert.subjectAltName, undefined);
});

test('a TLS certificate with only a subject CN for a.example: connect() and connectH3() both refuse it with ERR_CERT_NAME_MISMATCH', async () => {
  const refusals: { code: string; message: string }[] = [];
  const refused = (e: unknown): boolean => {
    assert.ok(e instanceof SecondaryCertsError, `not a typed error: ${String(e)}`);
    refusals.push({ code: e.code, message: e.message });
    return true;
  };
  await assert.rejects(connect(`https://a.example:${h2Port}/`, { ca: [pki.caPem], lookup }), refused);
  await assert.rejects(connectH3(`https://a.example:${h3.port}/`, { ca: [pki.caPem], lookup, connectTimeoutMs: 5000 }), refused);
  assert.deepEqual(
    refusals.map((r) => r.code),
    ['ERR_CERT_NAME_MISMATCH', 'ERR_CERT_NAME_MISMATCH'],
  );
  for (const r of refusals) assert.match(r.message, /does not cover a\.example \(its subjectAltName: none\)/);
});
