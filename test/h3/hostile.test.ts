// Hostile HTTP/3 peers both ways, written with our QUIC transport and HTTP/3 bytes by hand. Each case
// checks three things: the typed error at our API (with its code), the code the connection closes with
// (the one RFC 9114 or the draft names), and that the process goes on: a connection opened before the
// case still serves, and a fresh connection is served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes } from '../../src/codec/writer.js';
import { encodeVarint } from '../../src/codec/varint.js';
import { createAuthenticator } from '../../src/ea/index.js';
import { H3ConnectionError, H3ErrorCode, SecondaryCertsError, FieldSectionTooLarge } from '../../src/errors.js';
import { connectH3, type H3CertificateEvent, type H3SecondaryCertConnection } from '../../src/h3/client.js';
import { DEFAULT_H3_PROFILE } from '../../src/h3/profile.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/server.js';
import { connectQuic, listenQuic, StreamResetByPeer } from '../../src/h3/transport/index.js';
import { binding } from '../../src/h3/transport/quiche/binding.js';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import type { QuicheConnection } from '../../src/h3/transport/quiche/connection.js';
import type { TransportClose, TransportConnection, TransportServer } from '../../src/h3/transport/transport.js';
import { encodeFrame, H3FrameType } from '../../src/h3/wire/frame.js';
import { encodeSettingsFrame } from '../../src/h3/wire/settings.js';
import { loadIdentity, type LoadedIdentity } from '../../src/pki/identity.js';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { answer200, certAuthSettings, closedWithin, controlStream, drain, headersFrame, rawFrame, within } from '../helpers/raw-h3.js';

const P = DEFAULT_H3_PROFILE;
const SERVER_CERTIFICATE_INVALID = P.errors.SERVER_CERTIFICATE_INVALID;
const DAY = 24 * 3600e3;
let pki: TestPki;
let a: IssuedIdentity;
let b: LoadedIdentity;
let expired: LoadedIdentity;
let untrusted: LoadedIdentity;
let server: H3SecondaryCertServer;
const serverErrors: H3ConnectionError[] = [];
const handlerErrors: unknown[] = [];
/** A connection to our server opened before any case: every case must leave it serving. */
let bystander: H3SecondaryCertConnection;

const url = () => `https://a.example:${server.port}/`;
const connectOptions = { connectAddress: '127.0.0.1', lookup: async () => ['127.0.0.1'], requestTimeoutMs: 5000, connectTimeoutMs: 5000 };

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  a = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  const load = (id: IssuedIdentity) => loadIdentity({ chain: id.chainDer, key: id.keyPkcs8Der });
  const bIssued = await pki.issue({ dnsNames: ['b.example'], keyType: 'p256' });
  b = await load(bIssued);
  expired = await load(await pki.issue({ dnsNames: ['b.example'], keyType: 'p256', notBefore: new Date(Date.now() - 3 * DAY), notAfter: new Date(Date.now() - DAY) }));
  untrusted = await load(await (await TestPki.create({ commonName: 'a stranger CA', keyType: 'p256' })).issue({ dnsNames: ['b.example'], keyType: 'p256' }));
  server = await createH3SecondaryCertServer({ cert: a.chainPem, key: a.keyPem, host: '127.0.0.1', handshakeTimeoutMs: 1000, identities: [{ chain: bIssued.chainDer, key: bIssued.keyPkcs8Der }] }, async (req, res) => {
    try {
      if (req.method === 'POST') await req.body();
      await res.end(200, {}, 'ok');
    } catch (e) {
      handlerErrors.push(e);
    }
  });
  server.on('protocolError', (e) => serverErrors.push(e));
  bystander = await connectH3(url(), { ca: [pki.caPem], ...connectOptions });
});

after(async () => {
  await bystander.close();
  await server.close();
});

/** The connection opened before the case still serves, and a fresh one is served. */
async function processGoesOn(): Promise<void> {
  assert.equal((await bystander.request(url())).status, 200, 'the connection opened before the case serves');
  const fresh = await connectH3(url(), { ca: [pki.caPem], ...connectOptions });
  try {
    assert.equal((await fresh.request(url())).status, 200, 'a fresh connection is served');
  } finally {
    await fresh.close();
  }
}

const closedBy = (info: TransportClose, by: TransportClose['by'], code: number) => {
  assert.equal(info.by, by, `closed by ${info.by} with 0x${info.code.toString(16)} ${info.reason}`);
  assert.equal(info.code.toString(16), code.toString(16), info.reason);
};

// ---- to our server --------------------------------------------------------------------------------

/** A raw client: our control stream with `control` (SETTINGS first, unless the case says otherwise), then request streams. */
async function rawClient(control: Uint8Array, requests: { bytes: Uint8Array; end?: boolean }[] = []): Promise<{ t: TransportConnection; streams: import('../../src/h3/transport/transport.js').TransportStream[] }> {
  const t = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(drain);
  void t.openStream('uni').writable!.getWriter().write(control).catch(() => undefined);
  const streams = [];
  for (const r of requests) {
    const s = t.openStream('bidi');
    const w = s.writable!.getWriter();
    void w.write(r.bytes).catch(() => undefined);
    if (r.end ?? true) void w.close().catch(() => undefined);
    streams.push(s);
  }
  return { t, streams };
}

/** The server closes the raw client's connection with `code`, says so at its API, and goes on. */
async function serverCloses(control: Uint8Array, requests: { bytes: Uint8Array; end?: boolean }[], code: number): Promise<void> {
  const before = serverErrors.length;
  const { t } = await rawClient(control, requests);
  closedBy(await closedWithin(t), 'peer', code);
  const errors = serverErrors.slice(before);
  assert.equal(errors.length, 1, `one protocolError at the server's API, got ${errors.map(String).join('; ')}`);
  assert.ok(errors[0] instanceof H3ConnectionError && errors[0].code === 'ERR_H3_CONNECTION');
  assert.equal(errors[0].wireCode, code);
  await processGoesOn();
}

const get = headersFrame([[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/']]);
const post = headersFrame([[':method', 'POST'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/']]);
const trailers = headersFrame([['x-checksum', 'abc']]);
const settings = encodeSettingsFrame(new Map());

test('to our server: garbage and truncated frames of every type it parses on the control stream are H3_FRAME_ERROR', async () => {
  const cases: [string, Uint8Array][] = [
    ['SETTINGS with an identifier and no value', rawFrame(H3FrameType.SETTINGS, encodeVarint(0x21))],
    ['SETTINGS whose varint is cut', rawFrame(H3FrameType.SETTINGS, new Uint8Array([0x40]))],
    ['GOAWAY, empty', rawFrame(H3FrameType.GOAWAY, new Uint8Array(0))],
    ['GOAWAY with a cut varint', rawFrame(H3FrameType.GOAWAY, new Uint8Array([0x80, 0x01]))],
    ['MAX_PUSH_ID with two varints', rawFrame(H3FrameType.MAX_PUSH_ID, new Uint8Array([0x01, 0x02]))],
    ['CANCEL_PUSH, empty', rawFrame(H3FrameType.CANCEL_PUSH, new Uint8Array(0))],
    ['ORIGIN with an entry longer than the frame', rawFrame(H3FrameType.ORIGIN, new Uint8Array([0x00, 0x40, 0x61]))],
  ];
  for (const [name, frame] of cases) {
    await test(name, () => serverCloses(controlStream(name.startsWith('SETTINGS') ? new Uint8Array(0) : settings, frame), [], H3ErrorCode.H3_FRAME_ERROR));
  }
});

test('to our server: AUTHENTICATOR_REQUESTS from a client is H3_FRAME_UNEXPECTED; a CLIENT_CERTIFICATE of garbage is ignored (no client-certificate flow over HTTP/3 here)', async () => {
  await serverCloses(controlStream(settings, rawFrame(P.frames.AUTHENTICATOR_REQUESTS, new Uint8Array([0xff, 0x01]))), [], H3ErrorCode.H3_FRAME_UNEXPECTED);
  const { t, streams } = await rawClient(controlStream(settings, rawFrame(P.frames.CLIENT_CERTIFICATE, new Uint8Array(77).fill(0xa5))), [{ bytes: get }]);
  const first = await within(streams[0]!.readable!.getReader().read(), 5000, 'the response');
  assert.equal(first.done, false, 'the request on it is answered');
  assert.equal(t.closing, false);
  await t.close(H3ErrorCode.H3_NO_ERROR);
  await processGoesOn();
});

test('to our server: a request stream that ends inside a frame, a HEADERS or a DATA, is H3_FRAME_ERROR (RFC 9114 section 7.1)', async () => {
  const cutHeaders = get.subarray(0, 6);
  const cutData = concatBytes(post, rawFrame(H3FrameType.DATA, new Uint8Array(10), 40));
  for (const bytes of [cutHeaders, cutData]) await serverCloses(controlStream(settings), [{ bytes }], H3ErrorCode.H3_FRAME_ERROR);
});

test('to our server: frames out of order on a request stream are H3_FRAME_UNEXPECTED (RFC 9114 section 4.1), even when the handler never reads the body', async () => {
  const cases: [string, Uint8Array][] = [
    ['DATA before HEADERS', concatBytes(encodeFrame(H3FrameType.DATA, new Uint8Array(4)), get)],
    ['HEADERS after the trailers of a GET', concatBytes(get, trailers, trailers)],
    ['DATA after the trailers of a GET', concatBytes(get, trailers, encodeFrame(H3FrameType.DATA, new Uint8Array(4)))],
    ['HEADERS after the trailers of a POST', concatBytes(post, encodeFrame(H3FrameType.DATA, new Uint8Array(4)), trailers, get)],
    ['PUSH_PROMISE from a client', concatBytes(get, encodeFrame(H3FrameType.PUSH_PROMISE, concatBytes(encodeVarint(0), get.subarray(2))))],
    ['SERVER_CERTIFICATE on a request stream', concatBytes(get, encodeFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(20)))],
  ];
  for (const [name, bytes] of cases) {
    await test(name, () => serverCloses(controlStream(settings), [{ bytes }], H3ErrorCode.H3_FRAME_UNEXPECTED));
  }
});

test('to our server: trailers on a GET whose stream never ends are a fair wait: the response is sent and the connection stays open', async () => {
  const { t, streams } = await rawClient(controlStream(settings), [{ bytes: concatBytes(get, trailers), end: false }]);
  const first = await within(streams[0]!.readable!.getReader().read(), 5000, 'the response');
  assert.equal(first.done, false, 'a response arrived');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(t.closing, false);
  await t.close(H3ErrorCode.H3_NO_ERROR);
  await processGoesOn();
});

test('to our server: trailers with a pseudo-header reset the request stream with H3_MESSAGE_ERROR, and the connection lives', async () => {
  const { t, streams } = await rawClient(controlStream(settings), [{ bytes: concatBytes(post, encodeFrame(H3FrameType.DATA, new Uint8Array(3)), headersFrame([[':path', '/x']])) }]);
  const error = await within(
    streams[0]!.readable!.getReader().read().then(
      () => undefined,
      (e: unknown) => e,
    ),
    5000,
    'the reset',
  );
  assert.ok(error instanceof StreamResetByPeer, String(error));
  assert.equal(error.wireCode, H3ErrorCode.H3_MESSAGE_ERROR);
  assert.equal(t.closing, false);
  await t.close(H3ErrorCode.H3_NO_ERROR);
  await processGoesOn();
});

test('to our server: a HEADERS of random bytes, or one whose field section is cut, is a QPACK connection error', async () => {
  for (const bytes of [encodeFrame(H3FrameType.HEADERS, new Uint8Array([0x00, 0x00, 0xff, 0xff, 0xff, 0x7f])), encodeFrame(H3FrameType.HEADERS, get.subarray(2, 8))]) {
    await serverCloses(controlStream(settings), [{ bytes }], H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  }
});

test('to our server: SETTINGS_HTTP_SERVER_CERT_AUTH of 2 or 0xffffffff is H3_SETTINGS_ERROR', async () => {
  for (const value of [2, 0xffffffff]) await serverCloses(controlStream(certAuthSettings(value)), [], H3ErrorCode.H3_SETTINGS_ERROR);
});

test('to our server: a SETTINGS flood: 4000 unknown settings in one frame are ignored, a frame past 64 KiB is H3_EXCESSIVE_LOAD, and a second SETTINGS of many is H3_FRAME_UNEXPECTED once', async () => {
  const many = (n: number) => encodeSettingsFrame(new Map(Array.from({ length: n }, (_, i) => [0x1f * i + 0x21, i] as [number, number])));
  const { t } = await rawClient(controlStream(many(4000)), [{ bytes: get }]);
  const c = t as TransportConnection;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(c.closing, false, 'the connection lives');
  await t.close(H3ErrorCode.H3_NO_ERROR);
  await serverCloses(controlStream(many(20_000)), [], H3ErrorCode.H3_EXCESSIVE_LOAD);
  await serverCloses(controlStream(...Array.from({ length: 1000 }, () => settings)), [], H3ErrorCode.H3_FRAME_UNEXPECTED);
});

test("to our server: a client whose SETTINGS_MAX_FIELD_SECTION_SIZE is 0: the response cannot go out, so the stream is reset with H3_INTERNAL_ERROR and res.end() rejects with ERR_FIELD_SECTION_TOO_LARGE (fuzz h3-server:0x5b32a828)", async () => {
  const before = handlerErrors.length;
  const { t, streams } = await rawClient(controlStream(encodeSettingsFrame(new Map([[0x06, 0]]))), [{ bytes: get }]);
  const error = await within(
    streams[0]!.readable!.getReader().read().then(
      () => undefined,
      (e: unknown) => e,
    ),
    5000,
    'the reset',
  );
  assert.ok(error instanceof StreamResetByPeer, String(error));
  assert.equal(error.wireCode, H3ErrorCode.H3_INTERNAL_ERROR);
  const handed = handlerErrors.slice(before);
  assert.equal(handed.length, 1);
  assert.ok(handed[0] instanceof FieldSectionTooLarge && handed[0].code === 'ERR_FIELD_SECTION_TOO_LARGE');
  assert.equal(t.closing, false, 'the connection lives');
  await t.close(H3ErrorCode.H3_NO_ERROR);
  await processGoesOn();
});

test('to our server: a handshake that stalls half way (the client never sends its Finished) is closed after handshakeTimeoutMs with NO_ERROR "handshake timeout"', async () => {
  // A client of quiche's own that takes the server's first flight and never answers it.
  const b = binding();
  const config = b.Config.withBoringSslCtx(false, false, null, null, null, null);
  config.setApplicationProtos(['h3']);
  config.setMaxIdleTimeout(30_000);
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const local = { host: '127.0.0.1', port: socket.address().port };
  const remote = { host: '127.0.0.1', port: server.port };
  const native = b.Connection.connect('a.example', randomBytes(20), local, remote, config);
  let handedOver = 0;
  const count = () => void handedOver++;
  server.on('connection', count);
  const closed = new Promise<void>((resolve) => {
    socket.on('message', (msg) => {
      try {
        native.recv(msg, { from: remote, to: local });
      } catch {
        /* not for it */
      }
      if (native.peerError()) resolve();
    });
  });
  const out = Buffer.alloc(1350);
  for (let r = native.send(out); r !== null; r = (() => { try { return native.send(out); } catch { return null; } })()) socket.send(out.subarray(0, r[0]), remote.port, remote.host);
  try {
    await within(closed, 5000, 'the server closing the stalled handshake');
    const error = native.peerError()!;
    assert.equal(error.isApp, false);
    assert.equal(error.errorCode, 0);
    assert.equal(Buffer.from(error.reason).toString(), 'handshake timeout');
    // The client is done once it has the server's Finished; the server never was, so never handed it over.
    assert.equal(handedOver, 0);
  } finally {
    server.off('connection', count);
    socket.close();
  }
  await processGoesOn();
});

// ---- to our client --------------------------------------------------------------------------------

interface Hostile {
  raw: TransportServer;
  /** How each connection the raw server accepted closed, as seen by it. */
  closes: Promise<TransportClose>[];
}

/**
 * A raw server that sends SETTINGS (with the extension) on its control stream, then whatever `script`
 * writes there. Request streams get a 200 only when `answer` is set, so a request can be left pending.
 */
async function hostileServer(script: (t: TransportConnection, control: WritableStreamDefaultWriter<Uint8Array>, index: number) => void | Promise<void>, answer: boolean | Uint8Array = false): Promise<Hostile> {
  const raw = await listenQuic({ cert: a.chainPem, key: a.keyPem, host: '127.0.0.1' });
  const closes: Promise<TransportClose>[] = [];
  let index = 0;
  raw.onConnection((t) => {
    t.onStream(answer instanceof Uint8Array ? (st) => respondWith(st, answer) : answer ? answer200 : drain);
    closes.push(closedWithin(t, 8000));
    const control = t.openStream('uni').writable!.getWriter();
    void control.write(controlStream(certAuthSettings(1))).catch(() => undefined);
    void Promise.resolve(script(t, control, index++)).catch(() => undefined);
  });
  return { raw, closes };
}

/** Answers a request stream with `bytes`, then FIN. */
function respondWith(s: import('../../src/h3/transport/transport.js').TransportStream, bytes: Uint8Array): void {
  drain(s);
  if (!s.bidirectional || !s.writable) return;
  const w = s.writable.getWriter();
  void w
    .write(bytes)
    .then(() => w.close())
    .catch(() => undefined);
}

/** Our client's connection to the hostile server, with its protocol errors, certificate events and one request pending. */
async function victim(h: Hostile, options: { idleTimeoutMs?: number } = {}) {
  const c = await connectH3(`https://a.example:${h.raw.port}/`, { ca: [pki.caPem], ...connectOptions, ...options });
  const errors: H3ConnectionError[] = [];
  const certificates: H3CertificateEvent[] = [];
  c.on('protocolError', (e) => errors.push(e));
  c.on('certificate', (e) => certificates.push(e));
  const pending = c.request(`https://a.example:${h.raw.port}/`).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { c, errors, certificates, pending };
}

/** Our client closed with `code`: at its API (protocolError, the pending request's typed error) and on the wire. */
async function clientCloses(h: Hostile, code: number): Promise<void> {
  const v = await victim(h);
  const failure = await within(v.pending, 8000, 'the pending request');
  assert.ok(failure instanceof SecondaryCertsError && typeof failure.code === 'string', `the pending request failed with a typed error, not ${String(failure)}`);
  assert.equal(v.errors.length, 1, `one protocolError, got ${v.errors.map(String).join('; ')}`);
  assert.equal(v.errors[0]!.wireCode.toString(16), code.toString(16), v.errors[0]!.message);
  closedBy(await h.closes[0]!, 'peer', code);
  assert.equal(v.c.closed, true);
  await v.c.close();
  await h.raw.close();
  await processGoesOn();
}

async function authenticatorFor(t: TransportConnection, identity: LoadedIdentity): Promise<Uint8Array> {
  return createAuthenticator({ keys: t.keys, creator: 'server', certificateChain: identity.chain, signer: identity.signer });
}

const serverCertificate = (authenticator: Uint8Array) => encodeFrame(P.frames.SERVER_CERTIFICATE, authenticator);

test('to our client: a SERVER_CERTIFICATE of random bytes is SERVER_CERTIFICATE_INVALID', async () => {
  const random = new Uint8Array(300).map((_, i) => (i * 151 + 7) & 0xff);
  await clientCloses(await hostileServer((_t, control) => control.write(serverCertificate(random))), SERVER_CERTIFICATE_INVALID);
});

test('to our client: a valid SERVER_CERTIFICATE truncated, or with trailing bytes, is SERVER_CERTIFICATE_INVALID', async () => {
  for (const change of [(x: Uint8Array) => x.subarray(0, x.length - 20), (x: Uint8Array) => concatBytes(x, new Uint8Array([1, 2, 3]))]) {
    await clientCloses(await hostileServer(async (t, control) => control.write(serverCertificate(change(await authenticatorFor(t, b))))), SERVER_CERTIFICATE_INVALID);
  }
});

test('to our client: a SERVER_CERTIFICATE replayed from another connection is SERVER_CERTIFICATE_INVALID', async () => {
  let first: Uint8Array | undefined;
  const h = await hostileServer(async (t, control, index) => {
    if (index === 0) {
      first = await authenticatorFor(t, b);
      await control.write(serverCertificate(first));
    } else await control.write(serverCertificate(first!));
  });
  // The first connection accepts it: it was made for that connection.
  const one = await connectH3(`https://a.example:${h.raw.port}/`, { ca: [pki.caPem], ...connectOptions });
  const accepted = await within(new Promise<H3CertificateEvent>((r) => one.once('certificate', r)), 5000, 'the first certificate');
  assert.equal(accepted.accepted, true);
  h.closes.shift();
  await clientCloses(h, SERVER_CERTIFICATE_INVALID);
  await one.close();
});

test('to our client: the same SERVER_CERTIFICATE twice on one connection is SERVER_CERTIFICATE_INVALID (its context is reused)', async () => {
  await clientCloses(
    await hostileServer(async (t, control) => {
      const frame = serverCertificate(await authenticatorFor(t, b));
      await control.write(concatBytes(frame, frame));
    }),
    SERVER_CERTIFICATE_INVALID,
  );
});

test('to our client: a valid SERVER_CERTIFICATE for an expired or untrusted chain is not a connection error: the certificate is not used', async () => {
  for (const identity of [expired, untrusted]) {
    const h = await hostileServer(async (t, control) => control.write(serverCertificate(await authenticatorFor(t, identity))), true);
    const v = await victim(h);
    const event = await within(new Promise<H3CertificateEvent>((r) => (v.certificates.length > 0 ? r(v.certificates[0]!) : v.c.once('certificate', r))), 5000, 'the certificate event');
    assert.equal(event.accepted, false);
    assert.equal(await v.pending, undefined, 'the request on the connection was answered');
    assert.equal(v.errors.length, 0);
    assert.equal(v.c.closed, false);
    assert.equal((await v.c.authorityFor("https://b.example")).ok, false, 'b.example is not served through it');
    await v.c.close();
    await h.raw.close();
  }
  await processGoesOn();
});

test('to our client: a frame header claiming 16 MB on the control stream is H3_EXCESSIVE_LOAD, found from the header alone', async () => {
  await clientCloses(await hostileServer((_t, control) => control.write(rawFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(0), 16 * 1024 * 1024))), H3ErrorCode.H3_EXCESSIVE_LOAD);
});

test('to our client: a server that vanishes mid-frame (no CONNECTION_CLOSE) is timed out: the pending request fails typed and the connection closes', async () => {
  const h = await hostileServer(async (t, control) => {
    await control.write(rawFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(100), 500));
    await new Promise((r) => setTimeout(r, 100));
    (t as QuicheConnection).destroy({ by: 'local', app: false, code: 0, reason: 'vanished' });
  });
  const v = await victim(h, { idleTimeoutMs: 1000 });
  const failure = await within(v.pending, 8000, 'the pending request');
  assert.ok(failure instanceof SecondaryCertsError && typeof failure.code === 'string', `typed, not ${String(failure)}`);
  const info = await within(v.c.transport.closed, 8000, 'the close');
  assert.equal(info.by, 'idle');
  assert.equal(v.c.closed, true);
  await h.raw.close();
  await processGoesOn();
});

test('to our client: garbage, truncated and misplaced frames on the server\'s control stream are H3_FRAME_ERROR or H3_FRAME_UNEXPECTED, and SETTINGS_HTTP_SERVER_CERT_AUTH of 2 or 0xffffffff is H3_SETTINGS_ERROR', async () => {
  const frames: [string, Uint8Array, number][] = [
    ['GOAWAY, empty', rawFrame(H3FrameType.GOAWAY, new Uint8Array(0)), H3ErrorCode.H3_FRAME_ERROR],
    ['GOAWAY with a cut varint', rawFrame(H3FrameType.GOAWAY, new Uint8Array([0x80, 0x01])), H3ErrorCode.H3_FRAME_ERROR],
    ['ORIGIN with an entry longer than the frame', rawFrame(H3FrameType.ORIGIN, new Uint8Array([0x00, 0x40, 0x61])), H3ErrorCode.H3_FRAME_ERROR],
    ['MAX_PUSH_ID from a server', rawFrame(H3FrameType.MAX_PUSH_ID, encodeVarint(4)), H3ErrorCode.H3_FRAME_UNEXPECTED],
    ['a second SETTINGS', certAuthSettings(1), H3ErrorCode.H3_FRAME_UNEXPECTED],
  ];
  for (const [name, frame, code] of frames) await test(name, async () => clientCloses(await hostileServer((_t, control) => control.write(frame)), code));
  for (const value of [2, 0xffffffff]) {
    await test(`SETTINGS_HTTP_SERVER_CERT_AUTH = ${value}`, async () => {
      const raw = await listenQuic({ cert: a.chainPem, key: a.keyPem, host: '127.0.0.1' });
      const closes: Promise<TransportClose>[] = [];
      raw.onConnection((t) => {
        t.onStream(drain);
        closes.push(closedWithin(t, 8000));
        void t.openStream('uni').writable!.getWriter().write(controlStream(certAuthSettings(value))).catch(() => undefined);
      });
      await clientCloses({ raw, closes }, H3ErrorCode.H3_SETTINGS_ERROR);
    });
  }
});

test('to our client: a broken response on a request stream (frames out of order, cut, or a garbage field section) is a connection error with the code RFC 9114 names, and request() rejects typed', async () => {
  const ok = headersFrame([[':status', '200']]);
  const cases: [string, Uint8Array, number][] = [
    ['DATA before HEADERS', concatBytes(encodeFrame(H3FrameType.DATA, new Uint8Array(3)), ok), H3ErrorCode.H3_FRAME_UNEXPECTED],
    ['HEADERS after the trailers', concatBytes(ok, trailers, trailers), H3ErrorCode.H3_FRAME_UNEXPECTED],
    ['SERVER_CERTIFICATE on a request stream', concatBytes(ok, encodeFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(10))), H3ErrorCode.H3_FRAME_UNEXPECTED],
    ['a response that ends inside a DATA frame', concatBytes(ok, rawFrame(H3FrameType.DATA, new Uint8Array(5), 50)), H3ErrorCode.H3_FRAME_ERROR],
    ['a HEADERS of random bytes', encodeFrame(H3FrameType.HEADERS, new Uint8Array([0x00, 0x00, 0xff, 0xff, 0xff, 0x7f])), H3ErrorCode.QPACK_DECOMPRESSION_FAILED],
  ];
  for (const [name, bytes, code] of cases) await test(name, async () => clientCloses(await hostileServer(() => undefined, bytes), code));
});
