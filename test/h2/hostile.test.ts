// Hostile HTTP/2 peers, written with raw TLS and frames: each case checks the typed error at the API,
// the code the connection closes with (once: one GOAWAY), and that the process serves a fresh connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { connect, H2ErrorCode } from '../../src/h2/index.js';
import { H2ConnectionError } from '../../src/errors.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { goawayCodes, headerOnly, rawClient, recordFrames } from '../helpers/raw-h2.js';
import { closedWithin, okH2Server, type OkH2Server } from '../helpers/ok-h2-server.js';

const SETTING = DEFAULT_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
const SERVER_CERTIFICATE = DEFAULT_PROFILE.frames.SERVER_CERTIFICATE;
let pki: TestPki;
let a: IssuedIdentity;
let port: number;
let ours: OkH2Server;
let errors: H2ConnectionError[];

before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example'] });
  const b = await pki.issue({ dnsNames: ['b.example'] });
  ours = await okH2Server(pki, a, [b]);
  port = ours.port;
  errors = ours.errors;
});

after(() => ours.stop());

const freshConnectionServed = (): Promise<void> => ours.freshConnectionServed();

test('to our server: SETTINGS_HTTP_SERVER_CERT_AUTH = 2 closes with one GOAWAY(PROTOCOL_ERROR), a typed error, and the server goes on', async () => {
  const before = errors.length;
  const peer = await rawClient(port, { ca: pki.caPem, servername: 'a.example', settings: [{ id: SETTING, value: 2 }] });
  const frames = await closedWithin(peer.closed);
  assert.deepEqual(goawayCodes(frames), [H2ErrorCode.PROTOCOL_ERROR]);
  assert.equal(errors.length, before + 1);
  assert.equal(errors.at(-1)?.code, 'ERR_H2_CONNECTION');
  assert.equal(errors.at(-1)?.wireCode, H2ErrorCode.PROTOCOL_ERROR);
  await freshConnectionServed();
});

test('to our server: a SERVER_CERTIFICATE header claiming 16 MB is a client-sent SERVER_CERTIFICATE: one GOAWAY(PROTOCOL_ERROR)', async () => {
  const before = errors.length;
  const peer = await rawClient(port, { ca: pki.caPem, servername: 'a.example', settings: [{ id: SETTING, value: 1 }] });
  peer.socket.write(headerOnly(SERVER_CERTIFICATE, 0xffffff));
  const frames = await closedWithin(peer.closed);
  assert.deepEqual(goawayCodes(frames), [H2ErrorCode.PROTOCOL_ERROR]);
  assert.equal(errors.at(-1)?.wireCode, H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(errors.length, before + 1);
  await freshConnectionServed();
});

test('to our server: a frame nghttp2 itself refuses (a 3-byte PING) gets its GOAWAY, and the connection is closed, not left half-open', async () => {
  const peer = await rawClient(port, { ca: pki.caPem, servername: 'a.example', settings: [{ id: SETTING, value: 1 }] });
  peer.socket.write(Buffer.concat([headerOnly(0x6, 3), Buffer.alloc(3)]));
  const frames = await closedWithin(peer.closed);
  assert.deepEqual(goawayCodes(frames), [H2ErrorCode.FRAME_SIZE_ERROR]);
  await freshConnectionServed();
});

test('our client asks for no server push (SETTINGS_ENABLE_PUSH = 0): a broken PUSH_PROMISE cannot reach node:http2', async () => {
  const settings = new Promise<Buffer>((resolve) => {
    const server = tls.createServer({ key: a.keyPem, cert: a.chainPem, ALPNProtocols: ['h2'] }, (socket) => {
      const recorded = recordFrames(socket, { skipPreface: true });
      socket.on('data', () => {
        const first = recorded.frames.find((f) => f.header.type === 0x4 && (f.header.flags & 1) === 0);
        if (first) {
          resolve(first.payload);
          socket.destroy();
          server.close();
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      void connect(`https://a.example:${(server.address() as AddressInfo).port}/`, { ca: [pki.caPem], lookup: async () => ['127.0.0.1'] }).catch(() => {});
    });
  });
  const payload = await closedWithin(settings);
  const entries = new Map<number, number>();
  for (let i = 0; i + 6 <= payload.length; i += 6) entries.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
  assert.equal(entries.get(0x2), 0);
});
