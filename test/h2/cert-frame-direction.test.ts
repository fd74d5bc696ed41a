// The draft's MUSTs on which side may send which certificate frame, over HTTP/2 with raw TLS peers:
// AUTHENTICATOR_REQUESTS sent to a server is PROTOCOL_ERROR (rosomakho-00 section 4.1.1; node:http2 would
// drop the unknown type silently, so the splicer takes it out and the server fails the connection), and a
// SERVER_CERTIFICATE from a server that has not sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1 is PROTOCOL_ERROR
// (rosomakho-00 section 4.2). Each case checks the typed error, one GOAWAY with the code, and that the
// server serves a fresh connection. The HTTP/3 twins are in test/h3/client-certs.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { connect, H2ErrorCode } from '../../src/h2/index.js';
import { H2ConnectionError } from '../../src/errors.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import { encodeSettingsFrame } from '../../src/h2/settings.js';
import { encodeFrame } from '../../src/h2/wire/frame-header.js';
import { encodeAuthenticatorRequests } from '../../src/h2/wire/authenticator-requests.js';
import { createRequest } from '../../src/ea/index.js';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { goawayCodes, headerOnly, rawClient, recordFrames } from '../helpers/raw-h2.js';
import { closedWithin, okH2Server, type OkH2Server } from '../helpers/ok-h2-server.js';

const P = DEFAULT_PROFILE;
let pki: TestPki;
let a: IssuedIdentity;
let port: number;
let ours: OkH2Server;
let errors: H2ConnectionError[];

before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example'] });
  // A server with the extension and no client-certificate flow: the rule holds for it all the same.
  ours = await okH2Server(pki, a, []);
  port = ours.port;
  errors = ours.errors;
});

after(() => ours.stop());

const freshConnectionServed = (): Promise<void> => ours.freshConnectionServed();

const authenticatorRequests = () => encodeFrame(P.frames.AUTHENTICATOR_REQUESTS, 0, 0, encodeAuthenticatorRequests({ requests: [createRequest({ creator: 'server' }).bytes] }));

test('HTTP/2: AUTHENTICATOR_REQUESTS sent to a server is PROTOCOL_ERROR: a typed error and one GOAWAY, not a frame nghttp2 drops; the server serves a fresh connection', async () => {
  for (const client of [
    // With the client-certificate setting and without it: a server never takes the frame.
    [{ id: P.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, value: 1 }, { id: P.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH, value: 1 }],
    [],
  ]) {
    errors.length = 0;
    const raw = await rawClient(port, { ca: pki.caPem, servername: 'a.example', settings: client });
    raw.socket.write(authenticatorRequests());
    const frames = await closedWithin(raw.closed);
    assert.deepEqual(goawayCodes(frames), [H2ErrorCode.PROTOCOL_ERROR]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, 'ERR_H2_CONNECTION');
    assert.equal(errors[0]!.wireCode, H2ErrorCode.PROTOCOL_ERROR);
    assert.match(errors[0]!.message, /AUTHENTICATOR_REQUESTS/);
  }
  await freshConnectionServed();
});

test('HTTP/2: an AUTHENTICATOR_REQUESTS header claiming 16 MB sent to a server is PROTOCOL_ERROR whatever its size', async () => {
  errors.length = 0;
  const raw = await rawClient(port, { ca: pki.caPem, servername: 'a.example' });
  raw.socket.write(headerOnly(P.frames.AUTHENTICATOR_REQUESTS, 0xffffff));
  assert.deepEqual(goawayCodes(await closedWithin(raw.closed)), [H2ErrorCode.PROTOCOL_ERROR]);
  assert.equal(errors[0]?.wireCode, H2ErrorCode.PROTOCOL_ERROR);
  await freshConnectionServed();
});

test('HTTP/2: a client closes with PROTOCOL_ERROR on a SERVER_CERTIFICATE from a server that has not sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1 (rosomakho-00 section 4.2)', async () => {
  for (const serverSettings of [[], [{ id: P.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, value: 0 }]]) {
    const goaways: Promise<number[]>[] = [];
    const server = tls.createServer({ key: a.keyPem, cert: a.chainPem, ALPNProtocols: ['h2'] }, (socket) => {
      const recorded = recordFrames(socket, { ackSettings: true, skipPreface: true });
      socket.write(Buffer.concat([Buffer.from(encodeSettingsFrame(serverSettings)), Buffer.from(encodeFrame(P.frames.SERVER_CERTIFICATE, 0, 0, new Uint8Array(60).fill(1)))]));
      goaways.push(recorded.closed.then(goawayCodes));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = await connect(`https://a.example:${(server.address() as AddressInfo).port}/`, { ca: [pki.caPem], lookup: async () => ['127.0.0.1'] });
      let certificates = 0;
      c.on('certificate', () => certificates++);
      const error = await closedWithin(new Promise<H2ConnectionError>((r) => c.once('protocolError', r)));
      assert.equal(error.code, 'ERR_H2_CONNECTION');
      assert.equal(error.wireCode, H2ErrorCode.PROTOCOL_ERROR);
      assert.match(error.message, /SETTINGS_HTTP_SERVER_CERT_AUTH/);
      assert.deepEqual(await closedWithin(goaways[0]!), [H2ErrorCode.PROTOCOL_ERROR]);
      assert.equal(certificates, 0, 'nothing was validated');
      assert.equal(c.negotiated, false);
    } finally {
      server.close();
    }
  }
});
