// RFC 9261 over real TLS 1.3 connections on loopback: exporter values from each end's own TLSSocket,
// authenticators built on one end and validated on the other, in both directions, for a SHA-256 and a
// SHA-384 cipher suite.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { nodeCrypto } from '../../src/crypto/index.js';
import { ConnectionState, createAuthenticator, createEmptyAuthenticator, createRequest, validateAuthenticator } from '../../src/ea/index.js';
import { keysFromTlsSocket } from '../../src/exporter/tls-socket.js';
import { keysFromKeyLog } from '../../src/exporter/exporter-secret.js';
import type { AuthenticatorKeys } from '../../src/exporter/keys.js';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';

let pki: TestPki;
let tlsId: IssuedIdentity;
let secondary: IssuedIdentity;
let clientId: IssuedIdentity;

before(async () => {
  pki = await TestPki.create();
  tlsId = await pki.issue({ dnsNames: ['a.example'] });
  secondary = await pki.issue({ dnsNames: ['b.example'], keyType: 'ed25519' });
  clientId = await pki.issue({ dnsNames: ['client.example'], keyType: 'p384', role: 'client' });
});

interface Pair {
  server: tls.TLSSocket;
  client: tls.TLSSocket;
  clientKeyLog: string;
  close(): Promise<void>;
}

/** One real TLS connection on 127.0.0.1; both ends once the handshake is complete on each. */
async function connect(options: { ciphersuites?: string; maxVersion?: tls.SecureVersion } = {}): Promise<Pair> {
  const server = tls.createServer({ key: tlsId.keyPem, cert: tlsId.chainPem, minVersion: 'TLSv1.2', ...(options.ciphersuites ? { ciphers: options.ciphersuites } : {}) });
  const serverSide = new Promise<tls.TLSSocket>((resolve) => {
    server.once('secureConnection', resolve);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let clientKeyLog = '';
  const client = tls.connect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    servername: 'a.example',
    ca: pki.caPem,
    minVersion: 'TLSv1.2',
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    ...(options.ciphersuites ? { ciphers: options.ciphersuites } : {}),
  });
  client.on('keylog', (line) => (clientKeyLog += line.toString('latin1')));
  await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
  const serverSocket = await serverSide;
  return {
    server: serverSocket,
    client,
    get clientKeyLog() {
      return clientKeyLog;
    },
    async close() {
      client.destroy();
      serverSocket.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const suites = [
  { suite: 'TLS_AES_128_GCM_SHA256', hash: 'sha256', length: 32 },
  { suite: 'TLS_AES_256_GCM_SHA384', hash: 'sha384', length: 48 },
] as const;

for (const { suite, hash, length } of suites) {
  test(`${suite}: both ends derive the same ${length}-byte values, and authenticators cross in both directions`, async () => {
    const pair = await connect({ ciphersuites: suite });
    try {
      const serverKeys = keysFromTlsSocket(pair.server);
      const clientKeys = keysFromTlsSocket(pair.client);
      assert.equal(serverKeys.hash, hash);
      assert.equal(serverKeys.server.handshakeContext.length, length);
      assert.deepEqual(serverKeys, clientKeys);
      // The key log's EXPORTER_SECRET gives the same values as exportKeyingMaterial.
      assert.deepEqual(keysFromKeyLog(nodeCrypto, pair.clientKeyLog), clientKeys);

      const serverSigner = await nodeCrypto.signerFromPrivateKey(secondary.keyPem);
      const clientSigner = await nodeCrypto.signerFromPrivateKey(clientId.keyPem);
      const serverState = new ConnectionState('server');
      const clientState = new ConnectionState('client');

      // Spontaneous server authenticator: built by the server, validated by the client.
      const spontaneous = await createAuthenticator({ keys: serverKeys, creator: 'server', certificateChain: secondary.chainDer, signer: serverSigner, state: serverState });
      const v1 = await validateAuthenticator({ keys: clientKeys, creator: 'server', authenticator: spontaneous, state: clientState });
      assert.deepEqual(v1.chain, secondary.chainDer);

      // The client asks (type 17) and the server answers.
      const ask = createRequest({ creator: 'client', serverName: 'b.example', state: clientState });
      const answer = await createAuthenticator({ keys: serverKeys, creator: 'server', request: ask.bytes, certificateChain: secondary.chainDer, signer: serverSigner, state: serverState });
      await validateAuthenticator({ keys: clientKeys, creator: 'server', request: ask, authenticator: answer, state: clientState });

      // The server asks (type 13) and the client answers; then a refusal (empty authenticator).
      const ask13 = createRequest({ creator: 'server', state: serverState });
      const clientAuth = await createAuthenticator({ keys: clientKeys, creator: 'client', request: ask13.bytes, certificateChain: clientId.chainDer, signer: clientSigner, state: clientState });
      const v2 = await validateAuthenticator({ keys: serverKeys, creator: 'client', request: ask13, authenticator: clientAuth, state: serverState });
      assert.deepEqual(v2.chain, clientId.chainDer);
      const ask13b = createRequest({ creator: 'server', state: serverState });
      const refusal = createEmptyAuthenticator({ keys: clientKeys, creator: 'client', request: ask13b.bytes });
      await assert.rejects(validateAuthenticator({ keys: serverKeys, creator: 'client', request: ask13b, authenticator: refusal, state: serverState }), { code: 'ERR_EMPTY_AUTHENTICATOR' });

      // A replayed authenticator: its context was already validated on this connection.
      await assert.rejects(validateAuthenticator({ keys: clientKeys, creator: 'server', authenticator: spontaneous, state: clientState }), { code: 'ERR_CONTEXT_REUSED' });
    } finally {
      await pair.close();
    }
  });
}

test('an authenticator made on one connection is rejected on another', async () => {
  const a = await connect();
  const b = await connect();
  try {
    const signer = await nodeCrypto.signerFromPrivateKey(secondary.keyPkcs8Der);
    const made = await createAuthenticator({ keys: keysFromTlsSocket(a.server), creator: 'server', certificateChain: secondary.chainDer, signer });
    await validateAuthenticator({ keys: keysFromTlsSocket(a.client), creator: 'server', authenticator: made });
    await assert.rejects(validateAuthenticator({ keys: keysFromTlsSocket(b.client), creator: 'server', authenticator: made }), { code: 'ERR_BAD_FINISHED' });
  } finally {
    await a.close();
    await b.close();
  }
});

test('TLS 1.2 is refused with ERR_TLS_VERSION', async () => {
  const pair = await connect({ maxVersion: 'TLSv1.2' });
  try {
    assert.equal(pair.client.getProtocol(), 'TLSv1.2');
    assert.throws(() => keysFromTlsSocket(pair.client), { code: 'ERR_TLS_VERSION' });
    assert.throws(() => keysFromTlsSocket(pair.server), { code: 'ERR_TLS_VERSION' });
  } finally {
    await pair.close();
  }
});

test('a handshake not yet complete, or a closed socket, is refused with ERR_HANDSHAKE_INCOMPLETE', async () => {
  const server = tls.createServer({ key: tlsId.keyPem, cert: tlsId.chainPem });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'a.example', ca: pki.caPem });
  try {
    assert.throws(() => keysFromTlsSocket(client), { code: 'ERR_HANDSHAKE_INCOMPLETE' });
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    assert.equal(keysFromTlsSocket(client).hash.length > 0, true);
    client.destroy();
    await new Promise((r) => setImmediate(r));
    assert.throws(() => keysFromTlsSocket(client), { code: 'ERR_HANDSHAKE_INCOMPLETE' });
  } finally {
    client.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('keysFromKeyLog picks the line of the right connection by client random', async () => {
  const a = await connect();
  const b = await connect();
  try {
    const log = a.clientKeyLog + b.clientKeyLog;
    const random = (p: Pair): Uint8Array => {
      const m = /^EXPORTER_SECRET ([0-9a-f]{64}) /m.exec(p.clientKeyLog);
      assert.ok(m);
      return new Uint8Array(Buffer.from(m[1]!, 'hex'));
    };
    const keysA: AuthenticatorKeys = keysFromKeyLog(nodeCrypto, log, { clientRandom: random(a) });
    assert.deepEqual(keysA, keysFromTlsSocket(a.client));
    assert.deepEqual(keysFromKeyLog(nodeCrypto, log, { clientRandom: random(b) }), keysFromTlsSocket(b.client));
    assert.throws(() => keysFromKeyLog(nodeCrypto, log, { clientRandom: new Uint8Array(32) }), { code: 'ERR_EXPORTER_UNAVAILABLE' });
  } finally {
    await a.close();
    await b.close();
  }
});
