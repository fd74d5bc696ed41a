// The test CA: what it issues must be usable by node:tls as it is (key and chain PEMs, the CA PEM as a
// trust anchor) for every key type, and must carry the extensions the role asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { TestPki, type IssuedIdentity, type TestKeyType } from '../../src/testing/test-pki.js';

const KEY_TYPES: TestKeyType[] = ['ed25519', 'p256', 'p384', 'rsa2048'];
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

interface Handshake {
  protocol: string | null;
  clientAuthorized: boolean;
  clientError: Error | undefined;
  serverAuthorized: boolean;
}

/**
 * One real TLS 1.3 handshake on 127.0.0.1: a server with `server`'s key and chain, a client that trusts only
 * `caPem`. With `clientId` the server asks for a client certificate and trusts `caPem` for it too.
 */
async function handshake(caPem: string, server: IssuedIdentity, connect: { servername?: string; clientId?: IssuedIdentity }): Promise<Handshake> {
  const tlsServer = tls.createServer({
    key: server.keyPem,
    cert: server.chainPem,
    minVersion: 'TLSv1.3',
    ...(connect.clientId ? { requestCert: true, rejectUnauthorized: false, ca: caPem } : {}),
  });
  const serverSide = new Promise<tls.TLSSocket>((resolve) => tlsServer.once('secureConnection', resolve));
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  try {
    const client = tls.connect({
      host: '127.0.0.1',
      port: (tlsServer.address() as AddressInfo).port,
      ca: caPem,
      minVersion: 'TLSv1.3',
      rejectUnauthorized: false, // so that a failure is reported as authorizationError, not a closed socket
      ...(connect.servername ? { servername: connect.servername } : {}),
      ...(connect.clientId ? { key: connect.clientId.keyPem, cert: connect.clientId.chainPem } : {}),
    });
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    const serverSocket = await serverSide;
    const result: Handshake = {
      protocol: client.getProtocol(),
      clientAuthorized: client.authorized,
      clientError: client.authorizationError,
      serverAuthorized: serverSocket.authorized,
    };
    client.destroy();
    serverSocket.destroy();
    return result;
  } finally {
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
  }
}

test('node:tls completes a TLS 1.3 handshake with each key type, trusting only the CA PEM', async () => {
  for (const keyType of KEY_TYPES) {
    // The root has the same key type, so every CA signature algorithm is exercised too.
    const pki = await TestPki.create({ keyType });
    const id = await pki.issue({ dnsNames: ['a.example'], keyType });
    const result = await handshake(pki.caPem, id, { servername: 'a.example' });
    assert.equal(result.protocol, 'TLSv1.3', keyType);
    assert.equal(result.clientAuthorized, true, `${keyType}: ${String(result.clientError)}`);
  }
});

test('node:tls accepts a chain through an intermediate and checks an IP subjectAltName', async () => {
  const pki = await TestPki.create();
  const id = await pki.issue({ ipAddresses: ['127.0.0.1'], viaIntermediate: true, keyType: 'ed25519' });
  assert.equal(id.chainDer.length, 2);
  // No servername: node:tls checks the certificate against the host, 127.0.0.1.
  const result = await handshake(pki.caPem, id, {});
  assert.equal(result.clientAuthorized, true, String(result.clientError));
});

test('node:tls refuses a leaf from another CA, and a non-CA intermediate', async () => {
  const pki = await TestPki.create();
  const other = await TestPki.create({ commonName: 'another CA' });
  const foreign = await handshake(pki.caPem, await other.issue({ dnsNames: ['a.example'] }), { servername: 'a.example' });
  assert.equal(foreign.clientAuthorized, false);
  const nonCa = await pki.issue({ dnsNames: ['a.example'], viaIntermediate: true, intermediateIsCa: false });
  const refused = await handshake(pki.caPem, nonCa, { servername: 'a.example' });
  assert.equal(refused.clientAuthorized, false);
});

test('a client certificate (role client) is accepted by a node:tls server that trusts the CA', async () => {
  const pki = await TestPki.create();
  const server = await pki.issue({ dnsNames: ['a.example'] });
  const clientId = await pki.issue({ dnsNames: ['client.example'], role: 'client', keyType: 'p384' });
  const result = await handshake(pki.caPem, server, { servername: 'a.example', clientId });
  assert.equal(result.clientAuthorized, true);
  assert.equal(result.serverAuthorized, true);
});

test('issued certificates: leaf constraints, EKU per role, names, dates, random serials, PEM forms', async () => {
  const pki = await TestPki.create({ commonName: 'CA, with a comma' });
  const ca = new X509Certificate(pki.caPem);
  assert.equal(ca.ca, true);
  assert.equal(ca.subject, 'CN=CA\\, with a comma'); // node escapes the comma when printing
  assert.equal(ca.verify(ca.publicKey), true);
  assert.deepEqual(new Uint8Array(ca.raw), pki.caDer);

  const ekuByRole = { server: [SERVER_AUTH], client: [CLIENT_AUTH], both: [SERVER_AUTH, CLIENT_AUTH] };
  const serials = new Set<string>();
  for (const role of ['server', 'client', 'both'] as const) {
    const id = await pki.issue({ dnsNames: ['a.example', 'b.example'], ipAddresses: ['127.0.0.1', '::1'], role });
    const leaf = new X509Certificate(id.certPem);
    assert.equal(leaf.ca, false);
    assert.equal(leaf.checkIssued(ca), true);
    assert.deepEqual([...(leaf.keyUsage ?? [])].sort(), ekuByRole[role].sort(), role); // node names the EKU list keyUsage
    assert.equal(leaf.subjectAltName, 'DNS:a.example, DNS:b.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(leaf.subject, 'CN=a.example');
    serials.add(leaf.serialNumber);
    assert.deepEqual(id.chainDer, [id.certDer]);
    assert.equal(id.chainPem, id.certPem);
    // The default validity: an hour ago to a day from now.
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    assert.ok(Math.abs(from - (Date.now() - 3600e3)) < 60e3 && Math.abs(to - (Date.now() + 864e5)) < 60e3);
  }
  assert.equal(serials.size, 3);

  const custom = await pki.issue({ ekuOids: ['1.3.6.1.5.5.7.3.4'], commonName: 'custom', notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-01-02T00:00:00Z') });
  const leaf = new X509Certificate(custom.certPem);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.4']);
  assert.equal(leaf.subject, 'CN=custom');
  assert.equal(leaf.subjectAltName, undefined);
  assert.equal(Date.parse(leaf.validTo), Date.parse('2020-01-02T00:00:00Z'));
  // An empty EKU list means no extension at all.
  assert.equal(new X509Certificate((await pki.issue({ ekuOids: [] })).certPem).keyUsage, undefined);

  const chained = await pki.issue({ dnsNames: ['a.example'], viaIntermediate: true });
  const [leafDer, intermediateDer] = chained.chainDer;
  const intermediate = new X509Certificate(intermediateDer!);
  assert.equal(intermediate.ca, true);
  assert.equal(intermediate.checkIssued(ca), true);
  assert.equal(new X509Certificate(leafDer!).checkIssued(intermediate), true);
  assert.equal(chained.chainPem, chained.certPem + intermediate.toString());
  const notCa = await pki.issue({ dnsNames: ['a.example'], viaIntermediate: true, intermediateIsCa: false });
  assert.equal(new X509Certificate(notCa.chainDer[1]!).ca, false);
});

test('the PKCS#8 keys load in node:crypto as the key type asked for, and match the certificate', async () => {
  const pki = await TestPki.create();
  const expected = { ed25519: ['ed25519', undefined], p256: ['ec', 'prime256v1'], p384: ['ec', 'secp384r1'], rsa2048: ['rsa', undefined] };
  for (const keyType of KEY_TYPES) {
    const id = await pki.issue({ dnsNames: ['a.example'], keyType });
    const fromDer = createPrivateKey({ key: Buffer.from(id.keyPkcs8Der), format: 'der', type: 'pkcs8' });
    const fromPem = createPrivateKey(id.keyPem);
    assert.equal(fromDer.asymmetricKeyType, expected[keyType][0], keyType);
    assert.equal(fromDer.asymmetricKeyDetails?.namedCurve, expected[keyType][1], keyType);
    if (keyType === 'rsa2048') assert.equal(fromDer.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(fromDer.equals(fromPem));
    assert.equal(new X509Certificate(id.certPem).checkPrivateKey(fromPem), true, keyType);
  }
});
