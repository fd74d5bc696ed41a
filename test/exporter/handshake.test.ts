// keysFromTlsSocket refuses, with the library's own HandshakeIncomplete, on real sockets whose TLS 1.3
// handshake is under way: on the server at every key-log line (getProtocol() already says TLSv1.3 there,
// and at the last line both Finished messages have crossed) and on the client the same way; once each
// side's handshake event has fired, the values come and agree.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { HandshakeIncomplete } from '../../src/errors.js';
import { keysFromTlsSocket } from '../../src/exporter/tls-socket.js';
import type { AuthenticatorKeys } from '../../src/exporter/keys.js';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';

let pki: TestPki;
let id: IssuedIdentity;

before(async () => {
  pki = await TestPki.create();
  id = await pki.issue({ dnsNames: ['a.example'] });
});

interface Attempt {
  moment: string;
  protocol: string | null;
  outcome: 'keys' | 'HandshakeIncomplete' | string;
  keys?: AuthenticatorKeys;
}

function attempt(moment: string, socket: tls.TLSSocket): Attempt {
  const protocol = socket.getProtocol();
  try {
    return { moment, protocol, outcome: 'keys', keys: keysFromTlsSocket(socket) };
  } catch (e) {
    if (e instanceof HandshakeIncomplete) {
      assert.equal(e.code, 'ERR_HANDSHAKE_INCOMPLETE');
      return { moment, protocol, outcome: 'HandshakeIncomplete' };
    }
    return { moment, protocol, outcome: `other error: ${(e as Error).name} ${(e as { code?: string }).code} ${(e as Error).message}` };
  }
}

test('keysFromTlsSocket throws HandshakeIncomplete on a server and a client socket mid-handshake, and gives the same keys once each side is established', { timeout: 10_000 }, async () => {
  const server = tls.createServer({ key: id.keyPem, cert: id.chainPem, minVersion: 'TLSv1.3' });
  const serverAttempts: Attempt[] = [];
  const clientAttempts: Attempt[] = [];
  server.on('keylog', (line, socket) => serverAttempts.push(attempt(`server keylog ${line.toString().split(' ')[0]}`, socket)));
  const serverDone = new Promise<tls.TLSSocket>((resolve) =>
    server.once('secureConnection', (socket) => {
      serverAttempts.push(attempt('server secureConnection', socket));
      resolve(socket);
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'a.example', ca: pki.caPem });
  try {
    client.on('keylog', (line) => clientAttempts.push(attempt(`client keylog ${line.toString().split(' ')[0]}`, client)));
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    clientAttempts.push(attempt('client secureConnect', client));
    const serverSocket = await serverDone;

    const midServer = serverAttempts.slice(0, -1);
    const midClient = clientAttempts.slice(0, -1);
    // The moments that fooled the old check: the server already reports TLS 1.3.
    assert.ok(midServer.length >= 4, `server key-log moments: ${midServer.map((a) => a.moment).join(', ')}`);
    assert.ok(midServer.some((a) => a.moment.endsWith('CLIENT_TRAFFIC_SECRET_0')), 'the last server moment: both Finished messages crossed');
    for (const a of [...midServer, ...midClient]) {
      assert.equal(a.protocol, 'TLSv1.3', a.moment);
      assert.equal(a.outcome, 'HandshakeIncomplete', a.moment);
    }
    const [serverEnd, clientEnd] = [serverAttempts.at(-1)!, clientAttempts.at(-1)!];
    assert.equal(serverEnd.outcome, 'keys');
    assert.equal(clientEnd.outcome, 'keys');
    assert.deepEqual(serverEnd.keys, clientEnd.keys);
    serverSocket.destroy();
  } finally {
    client.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('keysFromTlsSocket throws HandshakeIncomplete on a closed socket', { timeout: 10_000 }, async () => {
  const server = tls.createServer({ key: id.keyPem, cert: id.chainPem, minVersion: 'TLSv1.3' });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'a.example', ca: pki.caPem });
  try {
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    client.destroy();
    await new Promise((r) => client.once('close', r));
    assert.throws(() => keysFromTlsSocket(client), HandshakeIncomplete);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
