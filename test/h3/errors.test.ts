// The connection errors of RFC 9114 section 8 (and the draft's own rules), each provoked by a raw peer
// on a real QUIC connection that writes exactly the bytes a broken implementation would, and checked by
// the code of the CONNECTION_CLOSE our side sends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/server.js';
import { connectH3 } from '../../src/h3/client.js';
import { connectQuic, listenQuic, StreamResetByPeer } from '../../src/h3/transport/index.js';
import type { TransportClose, TransportConnection, TransportServer } from '../../src/h3/transport/transport.js';
import { H3ErrorCode } from '../../src/errors.js';
import { DEFAULT_H3_PROFILE } from '../../src/h3/profile.js';
import { encodeFrame, H3FrameType } from '../../src/h3/wire/frame.js';
import { encodeSettingsFrame } from '../../src/h3/wire/settings.js';
import { concatBytes } from '../../src/codec/writer.js';
import { encodeVarint } from '../../src/codec/varint.js';

let pki: TestPki;
let a: IssuedIdentity;
let server: H3SecondaryCertServer;
const P = DEFAULT_H3_PROFILE;
const certAuth = (v: number) => new Map([[P.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, v]]);
const control = (...frames: Uint8Array[]) => concatBytes(encodeVarint(0x00), ...frames);

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  a = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  server = await createH3SecondaryCertServer({ cert: a.chainPem, key: a.keyPem }, (_req, res) => res.end(200, {}, 'ok'));
});

after(async () => {
  await server.close();
});

/** A raw QUIC client to our server: writes `streams` (uni streams, each its bytes) and returns how the connection closed. */
async function rawClient(streams: { kind: 'uni' | 'bidi'; bytes: Uint8Array; end?: boolean }[]): Promise<TransportClose> {
  const t = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(() => undefined);
  for (const s of streams) {
    const stream = t.openStream(s.kind);
    const w = stream.writable!.getWriter();
    await w.write(s.bytes);
    if (s.end) await w.close();
  }
  return withTimeout(t.closed, t);
}

async function withTimeout(closed: Promise<TransportClose>, t: TransportConnection, ms = 5000): Promise<TransportClose> {
  const timer = setTimeout(() => void t.close(H3ErrorCode.H3_NO_ERROR, 'test timeout'), ms);
  try {
    return await closed;
  } finally {
    clearTimeout(timer);
  }
}

const closedBy = (info: TransportClose, code: number) => {
  assert.equal(info.by, 'peer', `closed by ${info.by} with 0x${info.code.toString(16)} ${info.reason}`);
  assert.equal(info.code.toString(16), code.toString(16), info.reason);
};

test('SERVER_CERTIFICATE from a client: H3_FRAME_UNEXPECTED', async () => {
  const info = await rawClient([{ kind: 'uni', bytes: control(encodeSettingsFrame(certAuth(1)), encodeFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(40))) }]);
  closedBy(info, H3ErrorCode.H3_FRAME_UNEXPECTED);
});

test('a second SETTINGS: H3_FRAME_UNEXPECTED', async () => {
  const info = await rawClient([{ kind: 'uni', bytes: control(encodeSettingsFrame(certAuth(1)), encodeSettingsFrame(certAuth(1))) }]);
  closedBy(info, H3ErrorCode.H3_FRAME_UNEXPECTED);
});

test('a control stream that does not start with SETTINGS: H3_MISSING_SETTINGS', async () => {
  const info = await rawClient([{ kind: 'uni', bytes: control(encodeFrame(H3FrameType.GOAWAY, encodeVarint(0))) }]);
  closedBy(info, H3ErrorCode.H3_MISSING_SETTINGS);
});

test('DATA on the control stream: H3_FRAME_UNEXPECTED', async () => {
  const info = await rawClient([{ kind: 'uni', bytes: control(encodeSettingsFrame(new Map()), encodeFrame(H3FrameType.DATA, new Uint8Array(3))) }]);
  closedBy(info, H3ErrorCode.H3_FRAME_UNEXPECTED);
});

test('SETTINGS_HTTP_SERVER_CERT_AUTH other than 0 or 1: H3_SETTINGS_ERROR', async () => {
  const info = await rawClient([{ kind: 'uni', bytes: control(encodeSettingsFrame(certAuth(2))) }]);
  closedBy(info, H3ErrorCode.H3_SETTINGS_ERROR);
});

test('an oversized frame on the control stream: H3_EXCESSIVE_LOAD, found from its header alone', async () => {
  const header = concatBytes(encodeVarint(P.frames.SERVER_CERTIFICATE), encodeVarint(10 * 1024 * 1024));
  const info = await rawClient([{ kind: 'uni', bytes: control(encodeSettingsFrame(new Map()), header) }]);
  closedBy(info, H3ErrorCode.H3_EXCESSIVE_LOAD);
});

test('a second control stream: H3_STREAM_CREATION_ERROR', async () => {
  const settings = control(encodeSettingsFrame(new Map()));
  const info = await rawClient([
    { kind: 'uni', bytes: settings },
    { kind: 'uni', bytes: settings },
  ]);
  closedBy(info, H3ErrorCode.H3_STREAM_CREATION_ERROR);
});

test('the client closes its control stream: H3_CLOSED_CRITICAL_STREAM', async () => {
  const info = await rawClient([{ kind: 'uni', bytes: control(encodeSettingsFrame(new Map())), end: true }]);
  closedBy(info, H3ErrorCode.H3_CLOSED_CRITICAL_STREAM);
});

test('SERVER_CERTIFICATE on a request stream: H3_FRAME_UNEXPECTED', async () => {
  const info = await rawClient([
    { kind: 'uni', bytes: control(encodeSettingsFrame(certAuth(1))) },
    { kind: 'bidi', bytes: encodeFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(10)), end: true },
  ]);
  closedBy(info, H3ErrorCode.H3_FRAME_UNEXPECTED);
});

test('unknown stream types and reserved frame types are ignored', async () => {
  const t = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(() => undefined);
  const grease = 0x1f * 3 + 0x21;
  for (const bytes of [control(encodeSettingsFrame(new Map()), encodeFrame(grease, new Uint8Array(7))), concatBytes(encodeVarint(grease), new Uint8Array(20))]) {
    const w = t.openStream('uni').writable!.getWriter();
    await w.write(bytes);
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(t.closing, false);
  await t.close(H3ErrorCode.H3_NO_ERROR);
});

/** A raw server: sends `bytes` on a control stream of its own to whoever connects, and reports the close. */
async function rawServer(bytes: Uint8Array, extra?: (t: TransportConnection) => void): Promise<{ server: TransportServer; closed: Promise<TransportClose> }> {
  const raw = await listenQuic({ cert: a.chainPem, key: a.keyPem });
  const closed = new Promise<TransportClose>((resolve) => {
    raw.onConnection((t) => {
      t.onStream(() => undefined);
      void t.openStream('uni').writable!.getWriter().write(bytes);
      extra?.(t);
      void withTimeout(t.closed, t).then(resolve);
    });
  });
  return { server: raw, closed };
}

test('client side: SETTINGS missing from the server, a push stream, and a bidirectional stream from the server', async () => {
  const cases: [Uint8Array, ((t: TransportConnection) => void) | undefined, number][] = [
    [control(encodeFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(30))), undefined, H3ErrorCode.H3_MISSING_SETTINGS],
    [control(encodeSettingsFrame(certAuth(1))), (t) => void t.openStream('uni').writable!.getWriter().write(encodeVarint(0x01)), H3ErrorCode.H3_ID_ERROR],
    [control(encodeSettingsFrame(certAuth(1))), (t) => void t.openStream('bidi').writable!.getWriter().write(new Uint8Array([0x01, 0x00])), H3ErrorCode.H3_STREAM_CREATION_ERROR],
  ];
  for (const [bytes, extra, code] of cases) {
    const { server: raw, closed } = await rawServer(bytes, extra);
    const c = await connectH3(`https://a.example:${raw.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
    closedBy(await closed, code);
    await c.close();
    await raw.close();
  }
});

test('closing a connection sends CONNECTION_CLOSE without first resetting our control stream', async () => {
  const raw = await listenQuic({ cert: a.chainPem, key: a.keyPem });
  const outcome = new Promise<unknown>((resolve) => {
    raw.onConnection((t) => {
      t.onStream(async (s) => {
        const reader = s.readable!.getReader();
        try {
          while (!(await reader.read()).done);
          resolve('ended');
        } catch (e) {
          resolve(e);
        }
      });
    });
  });
  const c = await connectH3(`https://a.example:${raw.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  await new Promise((r) => setTimeout(r, 100));
  await c.close();
  const seen = await outcome;
  // A reset would reach the peer as StreamResetByPeer(H3_REQUEST_CANCELLED), which a strict peer takes
  // for H3_CLOSED_CRITICAL_STREAM; what it must see is the connection closing.
  assert.ok(!(seen instanceof StreamResetByPeer), `the control stream was reset: ${String(seen)}`);
  await raw.close();
});

test("a header section larger than the peer's SETTINGS_MAX_FIELD_SECTION_SIZE is refused before a stream is opened", async () => {
  const small = new Map([[0x06, 200]]);
  let requestStreams = 0;
  const { server: raw } = await rawServer(control(encodeSettingsFrame(small)), (t) => t.onStream((s) => void (s.bidirectional && requestStreams++)));
  const c = await connectH3(`https://a.example:${raw.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  while (!c.session.peerSettings) await new Promise((r) => setTimeout(r, 10));
  await assert.rejects(c.request(`https://a.example:${raw.port}/`, { headers: { 'x-big': 'y'.repeat(300) } }), (e: Error & { code?: string }) => e.code === 'ERR_FIELD_SECTION_TOO_LARGE');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(requestStreams, 0);
  await c.close();
  await raw.close();
});

test('push IDs we never allowed: PUSH_PROMISE on a response, CANCEL_PUSH to a client, and a GOAWAY that names no request stream are H3_ID_ERROR', async () => {
  const { encodePushPromiseFrame, encodeCancelPushFrame, encodeGoawayFrame } = await import('../../src/h3/wire/core.js');
  const { encodeFieldSection } = await import('../../src/h3/qpack.js');
  const promise = encodePushPromiseFrame({ pushId: 0, fieldSection: encodeFieldSection([{ name: ':method', value: 'GET' }]) });
  const cases: [Uint8Array, ((t: TransportConnection) => void) | undefined, boolean, number][] = [
    [control(encodeSettingsFrame(new Map())), (t) => t.onStream((s) => void (s.bidirectional && s.writable!.getWriter().write(promise))), true, H3ErrorCode.H3_ID_ERROR],
    [control(encodeSettingsFrame(new Map()), encodeCancelPushFrame(0)), undefined, false, H3ErrorCode.H3_ID_ERROR],
    [control(encodeSettingsFrame(new Map()), encodeGoawayFrame(1)), undefined, false, H3ErrorCode.H3_ID_ERROR],
  ];
  for (const [bytes, extra, request, code] of cases) {
    const { server: raw, closed } = await rawServer(bytes, extra);
    const c = await connectH3(`https://a.example:${raw.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
    if (request) void c.request(`https://a.example:${raw.port}/`).catch(() => undefined);
    closedBy(await closed, code);
    await c.close();
    await raw.close();
  }
});

test('a GOAWAY whose id grows past an earlier one is H3_ID_ERROR (RFC 9114 section 5.2)', async () => {
  const { encodeGoawayFrame } = await import('../../src/h3/wire/core.js');
  const { server: raw, closed } = await rawServer(control(encodeSettingsFrame(new Map()), encodeGoawayFrame(8), encodeGoawayFrame(12)));
  const c = await connectH3(`https://a.example:${raw.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  closedBy(await closed, H3ErrorCode.H3_ID_ERROR);
  await c.close();
  await raw.close();
});

test('server side: MAX_PUSH_ID that goes down, and CANCEL_PUSH beyond it, are H3_ID_ERROR', async () => {
  const { encodeMaxPushIdFrame, encodeCancelPushFrame } = await import('../../src/h3/wire/core.js');
  closedBy(await rawClient([{ kind: 'uni', bytes: control(encodeSettingsFrame(new Map()), encodeMaxPushIdFrame(5), encodeMaxPushIdFrame(3)) }]), H3ErrorCode.H3_ID_ERROR);
  closedBy(await rawClient([{ kind: 'uni', bytes: control(encodeSettingsFrame(new Map()), encodeMaxPushIdFrame(2), encodeCancelPushFrame(3)) }]), H3ErrorCode.H3_ID_ERROR);
});

test('with the extension off, SERVER_CERTIFICATE is an unknown frame type: ignored, not an error', async () => {
  const plain = await createH3SecondaryCertServer({ cert: a.chainPem, key: a.keyPem, extension: false }, (_req, res) => res.end(200, {}, 'ok'));
  const t = await connectQuic({ host: '127.0.0.1', port: plain.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(() => undefined);
  await t.openStream('uni').writable!.getWriter().write(control(encodeSettingsFrame(certAuth(1)), encodeFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(40))));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(t.closing, false);
  await t.close(H3ErrorCode.H3_NO_ERROR);
  await plain.close();
});

test('with the extension off, SETTINGS_HTTP_SERVER_CERT_AUTH of any value is a setting it does not know: ignored (RFC 9114 section 7.2.4)', async () => {
  const plain = await createH3SecondaryCertServer({ cert: a.chainPem, key: a.keyPem, extension: false }, (_req, res) => res.end(200, {}, 'ok'));
  const t = await connectQuic({ host: '127.0.0.1', port: plain.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(() => undefined);
  await t.openStream('uni').writable!.getWriter().write(control(encodeSettingsFrame(certAuth(0xffffffff))));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(t.closing, false);
  await t.close(H3ErrorCode.H3_NO_ERROR);
  await plain.close();
});

test('a control stream reset, or a QPACK stream ended, is H3_CLOSED_CRITICAL_STREAM', async () => {
  const t = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(() => undefined);
  const ctl = t.openStream('uni');
  await ctl.writable!.getWriter().write(control(encodeSettingsFrame(new Map())));
  await new Promise((r) => setTimeout(r, 50));
  ctl.abort(H3ErrorCode.H3_NO_ERROR);
  closedBy(await withTimeout(t.closed, t), H3ErrorCode.H3_CLOSED_CRITICAL_STREAM);
  const info = await rawClient([
    { kind: 'uni', bytes: control(encodeSettingsFrame(new Map())) },
    { kind: 'uni', bytes: encodeVarint(0x02), end: true },
  ]);
  closedBy(info, H3ErrorCode.H3_CLOSED_CRITICAL_STREAM);
});

test('a malformed request (an uppercase field name) resets only its stream with H3_MESSAGE_ERROR', async () => {
  const { encodeFieldSection } = await import('../../src/h3/qpack.js');
  const { encodeHeadersFrame } = await import('../../src/h3/wire/core.js');
  const t = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(() => undefined);
  await t.openStream('uni').writable!.getWriter().write(control(encodeSettingsFrame(new Map())));
  const fields = [':method GET', ':scheme https', ':authority a.example', ':path /'].map((f) => ({ name: f.split(' ')[0]!, value: f.split(' ')[1]! }));
  const stream = t.openStream('bidi');
  const w = stream.writable!.getWriter();
  await w.write(encodeHeadersFrame(encodeFieldSection([...fields, { name: 'X-Upper', value: '1' }])));
  await w.close().catch(() => undefined);
  const error = await stream.readable!.getReader().read().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof StreamResetByPeer, String(error));
  assert.equal(error.wireCode, H3ErrorCode.H3_MESSAGE_ERROR);
  assert.equal(t.closing, false, 'the connection lives on');
  await t.close(H3ErrorCode.H3_NO_ERROR);
});

test('a client closes with H3_FRAME_UNEXPECTED on a SERVER_CERTIFICATE from a server that did not send the setting (rosomakho-00 section 4.2)', async () => {
  const { server: raw, closed } = await rawServer(control(encodeSettingsFrame(new Map()), encodeFrame(P.frames.SERVER_CERTIFICATE, new Uint8Array(60))));
  const c = await connectH3(`https://a.example:${raw.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  let certificates = 0;
  c.on('certificate', () => certificates++);
  closedBy(await closed, H3ErrorCode.H3_FRAME_UNEXPECTED);
  assert.equal(c.negotiated, false);
  assert.equal(certificates, 0);
  await c.close();
  await raw.close();
});

test('a request stream that ends before a whole request resets with H3_REQUEST_INCOMPLETE; 150 requests at once are all served', async () => {
  const t = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(() => undefined);
  await t.openStream('uni').writable!.getWriter().write(control(encodeSettingsFrame(new Map())));
  const stream = t.openStream('bidi');
  const w = stream.writable!.getWriter();
  await w.write(encodeFrame(0x21, new Uint8Array(3))); // a reserved frame, then FIN: no HEADERS at all
  await w.close();
  const error = await stream.readable!.getReader().read().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof StreamResetByPeer, String(error));
  assert.equal(error.wireCode, H3ErrorCode.H3_REQUEST_INCOMPLETE);
  await t.close(H3ErrorCode.H3_NO_ERROR);
  // RFC 9114 section 6.1: a server should allow at least 100 concurrent requests.
  const c = await connectH3(`https://a.example:${server.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  const statuses = await Promise.all(Array.from({ length: 150 }, (_, i) => c.request(`https://a.example:${server.port}/${i}`).then((r) => r.status)));
  assert.deepEqual(new Set(statuses), new Set([200]));
  await c.close();
});

test('our side opens one control, one QPACK encoder and one QPACK decoder stream; the QPACK ones carry their type only', async () => {
  const t = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  const seen: { first: number; bytes: number }[] = [];
  t.onStream(async (s) => {
    const reader = s.readable!.getReader();
    let first = -1;
    let bytes = 0;
    const timer = setTimeout(() => reader.cancel().catch(() => undefined), 300);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (first < 0) first = value[0]!;
        bytes += value.length;
      }
    } catch {
      /* cancelled */
    }
    clearTimeout(timer);
    seen.push({ first, bytes });
  });
  await t.openStream('uni').writable!.getWriter().write(control(encodeSettingsFrame(new Map())));
  await new Promise((r) => setTimeout(r, 500));
  const byType = new Map(seen.map((s) => [s.first, s.bytes]));
  assert.equal(seen.length, 3);
  assert.ok((byType.get(0x00) ?? 0) > 1, 'the control stream carries SETTINGS');
  assert.equal(byType.get(0x02), 1);
  assert.equal(byType.get(0x03), 1);
  await t.close(H3ErrorCode.H3_NO_ERROR);
});
