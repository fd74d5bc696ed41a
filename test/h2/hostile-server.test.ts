// A hostile HTTP/2 client against our server (secondary identities, both client-certificate flows,
// OPTIONS *), one case per test. Each checks three things: (a) the typed error, with its code, that the
// server's API gives (an extension 'protocolError', a 'limit' event, an OPTIONS * answer's error);
// (b) how the connection ends: the GOAWAY code RFC 9113 or the draft names, exactly once, as the hostile
// client sees it (or, for a refused request, that the connection goes on); (c) the server goes on: a
// connection opened before the case still serves, and a fresh one is served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { readdirSync } from 'node:fs';
import { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type * as http2 from 'node:http2';
import { connect, createSecondaryCertServer, H2ErrorCode, type SecondaryCertServer, type SecondaryCertConnection } from '../../src/h2/index.js';
import { H2ConnectionError, type SecondaryCertsError } from '../../src/errors.js';
import type { ConnectionLimitError, ServerExtensionOptions } from '../../src/h2/server.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import { ClientAuthServer } from '../../src/flows/client-auth/server.js';
import { exporterSettingValue } from '../../src/flows/client-auth/negotiation.js';
import { installOptionsStar, type OptionsStarAnswer } from '../../src/flows/options-star/server.js';
import { DEFAULT_OPTIONS_STAR_NAMES } from '../../src/flows/options-star/names.js';
import { createRequest } from '../../src/ea/index.js';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { hpackLiterals, T } from '../../fuzz/h2-raw.js';
import { HostileH2Client, u32 } from '../helpers/hostile-h2-client.js';

const F = DEFAULT_PROFILE.frames;
const S = DEFAULT_PROFILE.settings;
const E = DEFAULT_PROFILE.errors;
const MAX_FRAME_SIZE = 0x5;
const OPTIONS_STAR_CONCURRENCY = 4;

let pki: TestPki;
let a: IssuedIdentity;
let b: IssuedIdentity;

interface Started {
  port: number;
  extension: SecondaryCertServer;
  /** Every 'protocolError' and 'limit' the server's API gave, in order. */
  errors: SecondaryCertsError[];
  answers: OptionsStarAnswer[];
  close(): Promise<void>;
}

/** Our server as an application runs it, with `options` (short bounds for the cases that need them). */
async function startServer(options: Partial<ServerExtensionOptions & { handshakeTimeout: number }> = {}): Promise<Started> {
  const clientAuth = new ClientAuthServer({ trustAnchors: [pki.caPem], timeoutMs: 2000 });
  const { server, extension } = await createSecondaryCertServer({
    key: a.keyPem,
    cert: a.chainPem,
    minVersion: 'TLSv1.3',
    identities: [{ chain: b.chainPem, key: b.keyPem }],
    extensions: [clientAuth],
    ...options,
  });
  const optionsStar = installOptionsStar(server, { extension, maxConcurrentPerConnection: OPTIONS_STAR_CONCURRENCY });
  const errors: SecondaryCertsError[] = [];
  const answers: OptionsStarAnswer[] = [];
  extension.on('protocolError', (e) => errors.push(e));
  extension.on('limit', (e: ConnectionLimitError) => errors.push(e));
  optionsStar.on('answer', (answer) => answers.push(answer));
  server.on('sessionError', () => {});
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/endless') return pumpForever(stream);
    if (headers[':path'] === '/slow') {
      const timer = setTimeout(() => stream.destroyed || (stream.respond({ ':status': 200 }), stream.end('slow')), 900);
      stream.once('close', () => clearTimeout(timer));
      return;
    }
    if (headers[':path'] === '/8mib') {
      // A handler that ignores backpressure: the whole body at once.
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(8 * 1024 * 1024, 0x62));
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    extension,
    errors,
    answers,
    close: () =>
      new Promise((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
}

/** A handler that minds backpressure and never ends: 64 KiB chunks while the stream takes them. */
function pumpForever(stream: http2.ServerHttp2Stream): void {
  stream.respond({ ':status': 200 });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const pump = (): void => {
    while (!stream.destroyed && !stream.closed) if (!stream.write(chunk)) return void stream.once('drain', pump);
  };
  pump();
}

let main: Started;
/** Opened before the cases and kept: it must serve after each one. */
let bystander: SecondaryCertConnection;

before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example'] });
  b = await pki.issue({ dnsNames: ['b.example'] });
  main = await startServer({ idleTimeoutMs: 0 });
  bystander = await connect(`https://a.example:${main.port}/`, { ca: [pki.caPem], lookup: async () => ['127.0.0.1'] });
});

after(async () => {
  await bystander.close();
  await main.close();
});

/** Waits for `p`, at most `ms`: a hang fails the test instead of stalling the suite. */
async function within<T>(p: Promise<T>, ms = 5000, what = 'the connection to close'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** (c): the connection opened before the case still serves, and a fresh connection is served. */
async function serverGoesOn(port = main.port): Promise<void> {
  assert.equal((await within(bystander.request(`https://a.example:${main.port}/`), 5000, 'the bystander')).status, 200);
  const fresh = await connect(`https://a.example:${port}/`, { ca: [pki.caPem], lookup: async () => ['127.0.0.1'] });
  try {
    assert.equal((await within(fresh.request(`https://a.example:${port}/`), 5000, 'a fresh connection')).status, 200);
  } finally {
    await fresh.close();
  }
}

/** (a) and (b) for a connection error: one typed error with `code`, one GOAWAY with it, the connection closed. */
async function closedWithConnectionError(peer: HostileH2Client, server: Started, errorsBefore: number, code: number): Promise<void> {
  await within(peer.closed);
  assert.deepEqual(peer.goaways(), [code], 'exactly one GOAWAY, with the code');
  const got = server.errors.slice(errorsBefore);
  assert.equal(got.length, 1, `one error at the API, got ${got.map((e) => e.code).join(', ')}`);
  assert.ok(got[0] instanceof H2ConnectionError);
  assert.equal(got[0].code, 'ERR_H2_CONNECTION');
  assert.equal(got[0].wireCode, code);
}

/** A client that negotiated both client-certificate flows, once the server's SETTINGS for them are in. */
async function flowsClient(): Promise<HostileH2Client> {
  const peer = await HostileH2Client.connect(main.port, {
    ca: pki.caPem,
    settings: (socket) => [
      [S.SETTINGS_HTTP_SERVER_CERT_AUTH, 1],
      [S.SETTINGS_HTTP_CERT_AUTH, exporterSettingValue(socket, 'client')],
      [S.SETTINGS_HTTP_CLIENT_CERT_AUTH, 1],
    ],
  });
  assert.ok(await peer.until(() => peer.sawSetting(S.SETTINGS_HTTP_CERT_AUTH) && peer.sawSetting(MAX_FRAME_SIZE), 5000), 'the server offered the flows');
  return peer;
}

// ---- connection errors ----

test('to our server: a client sending SERVER_CERTIFICATE gets one GOAWAY(PROTOCOL_ERROR), a typed error, and the server goes on', async () => {
  const before = main.errors.length;
  const peer = await flowsClient();
  peer.send(F.SERVER_CERTIFICATE, 0, 0, Buffer.alloc(200, 7));
  await closedWithConnectionError(peer, main, before, H2ErrorCode.PROTOCOL_ERROR);
  await serverGoesOn();
});

test('to our server: SETTINGS_HTTP_SERVER_CERT_AUTH = 0xffffffff gets one GOAWAY(PROTOCOL_ERROR), a typed error, and the server goes on', async () => {
  const before = main.errors.length;
  const peer = await HostileH2Client.connect(main.port, { ca: pki.caPem, settings: [[S.SETTINGS_HTTP_SERVER_CERT_AUTH, 0xffffffff]] });
  await closedWithConnectionError(peer, main, before, H2ErrorCode.PROTOCOL_ERROR);
  await serverGoesOn();
});

test('to our server: a flood of 5000 SETTINGS frames is ENHANCE_YOUR_CALM after maxSettingsFrames, in one GOAWAY, and the server goes on', async () => {
  const before = main.errors.length;
  const peer = await HostileH2Client.connect(main.port, { ca: pki.caPem });
  const one = peer.encode(T.SETTINGS, 0, 0, Buffer.from([0x00, 0x03, 0x00, 0x00, 0x00, 0x64]));
  peer.write(Buffer.concat(Array.from({ length: 5000 }, () => one)));
  await closedWithConnectionError(peer, main, before, H2ErrorCode.ENHANCE_YOUR_CALM);
  const acks = peer.frames.filter((f) => f.header.type === T.SETTINGS && (f.header.flags & 1) === 1).length;
  assert.ok(acks <= main.extension.limits.maxSettingsFrames + 1, `${acks} SETTINGS ACKs: the flood went past the bound`);
  await serverGoesOn();
});

/** Extension frames a client sends that our server parses, each broken one way, and the code it must get. */
const BROKEN_FRAMES: { name: string; type: number; flags: number; streamId: number; payload: Buffer; code: number }[] = [
  { name: 'a CERTIFICATE of 1 byte (its Cert-ID cut short)', type: F.CERTIFICATE, flags: 0, streamId: 0, payload: Buffer.from([0x00]), code: H2ErrorCode.PROTOCOL_ERROR },
  { name: 'a solicited CERTIFICATE of 2 bytes (no Request-ID)', type: F.CERTIFICATE, flags: 0, streamId: 0, payload: Buffer.from([0x00, 0x01]), code: H2ErrorCode.PROTOCOL_ERROR },
  { name: 'a CERTIFICATE on stream 1', type: F.CERTIFICATE, flags: 0x2, streamId: 1, payload: Buffer.from([0x00, 0x01, 0xde, 0xad]), code: H2ErrorCode.PROTOCOL_ERROR },
  { name: 'an UNSOLICITED CERTIFICATE of garbage', type: F.CERTIFICATE, flags: 0x2, streamId: 0, payload: Buffer.from('00011234deadbeef', 'hex'), code: E.CERTIFICATE_UNREADABLE },
  { name: 'a CERTIFICATE of garbage answering a Request-ID never sent', type: F.CERTIFICATE, flags: 0, streamId: 0, payload: Buffer.from('00010009deadbeef', 'hex'), code: E.CERTIFICATE_UNREADABLE },
  { name: 'a USE_CERTIFICATE of 3 bytes', type: F.USE_CERTIFICATE, flags: 0, streamId: 0, payload: Buffer.from([0, 0, 1]), code: H2ErrorCode.PROTOCOL_ERROR },
  { name: 'a USE_CERTIFICATE of 7 bytes', type: F.USE_CERTIFICATE, flags: 0, streamId: 0, payload: Buffer.from([0, 0, 0, 1, 0, 1, 9]), code: H2ErrorCode.PROTOCOL_ERROR },
  { name: 'an empty CLIENT_CERTIFICATE', type: F.CLIENT_CERTIFICATE, flags: 0, streamId: 0, payload: Buffer.alloc(0), code: H2ErrorCode.PROTOCOL_ERROR },
  { name: 'a CLIENT_CERTIFICATE of garbage with no request outstanding', type: F.CLIENT_CERTIFICATE, flags: 0, streamId: 0, payload: Buffer.from('0b000004deadbeef', 'hex'), code: H2ErrorCode.PROTOCOL_ERROR },
  { name: 'a CLIENT_CERTIFICATE on stream 3', type: F.CLIENT_CERTIFICATE, flags: 0, streamId: 3, payload: Buffer.from('0b000004deadbeef', 'hex'), code: H2ErrorCode.PROTOCOL_ERROR },
  { name: 'a CLIENT_CERTIFICATE of 64 KiB + 1 (over maxAuthenticatorSize)', type: F.CLIENT_CERTIFICATE, flags: 0, streamId: 0, payload: Buffer.alloc(64 * 1024 + 1, 0x0b), code: H2ErrorCode.ENHANCE_YOUR_CALM },
];

for (const c of BROKEN_FRAMES) {
  test(`to our server: ${c.name} gets one GOAWAY(0x${c.code.toString(16)}), a typed error with that code, and the server goes on`, async () => {
    const before = main.errors.length;
    const peer = await flowsClient();
    peer.send(c.type, c.flags, c.streamId, c.payload);
    await closedWithConnectionError(peer, main, before, c.code);
    await serverGoesOn();
  });
}

test('to our server: an extension frame header claiming 16 MB (over our SETTINGS_MAX_FRAME_SIZE) is one GOAWAY(FRAME_SIZE_ERROR)', async () => {
  for (const type of [F.CERTIFICATE, F.USE_CERTIFICATE, F.CLIENT_CERTIFICATE]) {
    const before = main.errors.length;
    const peer = await flowsClient();
    peer.write(Buffer.from([0xff, 0xff, 0xff, type, 0, 0, 0, 0, 0]), Buffer.alloc(64));
    await closedWithConnectionError(peer, main, before, H2ErrorCode.FRAME_SIZE_ERROR);
  }
  await serverGoesOn();
});

test('to our server: frames nghttp2 itself refuses (a 3-byte PING, a 1-byte RST_STREAM) get its one GOAWAY and the same typed error as ours', async () => {
  for (const [frame, code] of [
    [{ type: T.PING, streamId: 0, payload: Buffer.alloc(3) }, H2ErrorCode.FRAME_SIZE_ERROR],
    [{ type: T.RST_STREAM, streamId: 1, payload: Buffer.alloc(1) }, H2ErrorCode.FRAME_SIZE_ERROR],
  ] as const) {
    const before = main.errors.length;
    const peer = await HostileH2Client.connect(main.port, { ca: pki.caPem });
    peer.send(frame.type, 0, frame.streamId, frame.payload);
    await closedWithConnectionError(peer, main, before, code);
  }
  await serverGoesOn();
});

// AUTHENTICATOR_REQUESTS, the rosomakho frame only a server sends, is PROTOCOL_ERROR to a server
// (rosomakho-00 section 4.1.1): test/h2/cert-frame-direction.test.ts.
test('to our server: the -06 frames only a server sends (CERTIFICATE_NEEDED, CERTIFICATE_REQUEST), garbage or not, are ignored as unknown types', async () => {
  const before = main.errors.length;
  const peer = await flowsClient();
  for (const type of [F.CERTIFICATE_NEEDED, F.CERTIFICATE_REQUEST]) {
    peer.send(type, 0, 0, Buffer.from([1, 2, 3]));
    peer.send(type, 0xff, 5, Buffer.alloc(0));
  }
  assert.equal(await peer.ping(), true, 'the connection answers a PING');
  peer.request(1, [[':method', 'GET'], [':scheme', 'https'], [':authority', `a.example:${main.port}`], [':path', '/']]);
  assert.ok(await peer.until(() => peer.statusOf(1) !== undefined, 5000));
  assert.equal(peer.statusOf(1), 200);
  assert.deepEqual(peer.goaways(), []);
  assert.equal(main.errors.length, before, 'no error at the API');
  peer.destroy();
  await serverGoesOn();
});

// ---- OPTIONS * ----

function optionsStar(peer: HostileH2Client, streamId: number, contentType = DEFAULT_OPTIONS_STAR_NAMES.requestMediaType): void {
  const fields: [string, string][] = [[':method', 'OPTIONS'], [':scheme', 'https'], [':authority', `a.example:${main.port}`], [':path', '*'], ['content-type', contentType]];
  peer.request(streamId, fields, { endStream: false });
}

/** (b) for a refused request: the stream gets its answer, the connection goes on (no GOAWAY, a PING answered). */
async function answeredAndConnectionGoesOn(peer: HostileH2Client, streamId: number, status: number): Promise<void> {
  assert.ok(await peer.until(() => peer.statusOf(streamId) !== undefined || peer.isClosed, 5000), 'answered');
  assert.equal(peer.statusOf(streamId), status);
  assert.equal(await peer.ping(), true, 'the connection answers a PING');
  assert.deepEqual(peer.goaways(), []);
}

test('to our server: OPTIONS * with a garbage body is 400 with ERR_MALFORMED at the API, and the connection goes on', async () => {
  const before = main.answers.length;
  const peer = await HostileH2Client.connect(main.port, { ca: pki.caPem });
  optionsStar(peer, 1);
  peer.data(1, Buffer.from('11 not an authenticator request, just bytes'), true);
  await answeredAndConnectionGoesOn(peer, 1, 400);
  const answer = main.answers.slice(before).find((x) => x.status === 400);
  assert.equal(answer?.error?.code, 'ERR_MALFORMED');
  peer.destroy();
  await serverGoesOn();
});

test('to our server: OPTIONS * with a 50 MB body is 413 after at most the 16 KiB bound and a window, the rest refused with RST_STREAM(NO_ERROR)', async () => {
  const before = main.answers.length;
  const peer = await HostileH2Client.connect(main.port, { ca: pki.caPem });
  optionsStar(peer, 1);
  const sent = await within(peer.sendBody(1, 50 * 1024 * 1024), 20_000, 'the body to be refused');
  assert.ok(await peer.until(() => peer.resetCode(1) !== undefined, 5000), 'the stream was reset');
  assert.equal(peer.statusOf(1), 413);
  assert.equal(peer.resetCode(1), H2ErrorCode.NO_ERROR);
  assert.match(peer.bodyOf(1), /larger than 16384 bytes/, 'the 413 answer came whole before the reset');
  // The server stopped reading at its bound: only what its flow-control windows let through was sent.
  assert.ok(sent < 1024 * 1024, `the server let ${sent} bytes of body through`);
  assert.equal(main.answers.slice(before).find((x) => x.status === 413)?.error?.code, 'ERR_BODY_TOO_LARGE');
  assert.equal(await peer.ping(), true);
  assert.deepEqual(peer.goaways(), []);
  peer.destroy();
  await serverGoesOn();
});

test('to our server: OPTIONS * with a body of the wrong media type is 415 with ERR_UNSUPPORTED_MEDIA_TYPE, and the connection goes on', async () => {
  const before = main.answers.length;
  const peer = await HostileH2Client.connect(main.port, { ca: pki.caPem });
  optionsStar(peer, 1, 'text/plain');
  peer.data(1, createRequest({ creator: 'client', serverName: 'b.example' }).bytes, true);
  await answeredAndConnectionGoesOn(peer, 1, 415);
  assert.equal(main.answers.slice(before).find((x) => x.status === 415)?.error?.code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
  peer.destroy();
  await serverGoesOn();
});

test('to our server: 200 OPTIONS * at once on one connection are each answered, those over maxConcurrentPerConnection with 429, none left hanging', async () => {
  const before = main.answers.length;
  const peer = await HostileH2Client.connect(main.port, { ca: pki.caPem });
  const ids = Array.from({ length: 200 }, (_, i) => 1 + 2 * i);
  const burst: Buffer[] = [];
  for (const id of ids) {
    const fields: [string, string][] = [[':method', 'OPTIONS'], [':scheme', 'https'], [':authority', `a.example:${main.port}`], [':path', '*'], ['content-type', DEFAULT_OPTIONS_STAR_NAMES.requestMediaType]];
    burst.push(peer.encode(T.HEADERS, 0x4, id, hpackLiterals(fields)));
    burst.push(peer.encode(T.DATA, 0x1, id, createRequest({ creator: 'client', serverName: 'b.example' }).bytes));
  }
  peer.write(...burst);
  const settled = (id: number): boolean => peer.statusOf(id) !== undefined || peer.resetCode(id) !== undefined;
  assert.ok(await peer.until(() => ids.every(settled) || peer.isClosed, 20_000), `${ids.filter(settled).length} of 200 settled`);
  const statuses = ids.map((id) => peer.statusOf(id));
  assert.deepEqual([...new Set(statuses)].sort(), [200, 429]);
  assert.ok(statuses.filter((s) => s === 200).length >= OPTIONS_STAR_CONCURRENCY);
  const refused = main.answers.slice(before).filter((x) => x.status === 429);
  assert.equal(refused.length, statuses.filter((s) => s === 429).length);
  assert.ok(refused.every((x) => x.error?.code === 'ERR_TOO_MANY_REQUESTS'));
  // The bound is released: the next one is served.
  optionsStar(peer, 401);
  peer.data(401, createRequest({ creator: 'client', serverName: 'b.example' }).bytes, true);
  await answeredAndConnectionGoesOn(peer, 401, 200);
  peer.destroy();
  await serverGoesOn();
});

// ---- stalls and timeouts (servers of their own, with short bounds) ----

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A TLS client whose ClientHello goes out and which then hears nothing: the server waits for its Finished. */
function clientHelloThenSilence(port: number): { tcp: net.Socket; closed: Promise<void>; destroy(): void } {
  const tcp = net.connect(port, '127.0.0.1');
  const closed = new Promise<void>((r) => tcp.once('close', () => r()));
  tcp.on('error', () => {});
  tcp.on('data', () => {}); // the server's flight, never passed to the TLS client
  const half = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      if (!tcp.destroyed) tcp.write(chunk);
      callback();
    },
  });
  const client = tls.connect({ socket: half, servername: 'a.example', ALPNProtocols: ['h2'], ca: pki.caPem });
  client.on('error', () => {});
  return {
    tcp,
    closed,
    destroy: () => {
      client.destroy();
      tcp.destroy();
    },
  };
}

test('to our server: handshakes that stall (a TCP connect with nothing, a ClientHello then silence) end at handshakeTimeout with ERR_HANDSHAKE_TIMEOUT, descriptors freed', async () => {
  const server = await startServer({ handshakeTimeout: 300 });
  try {
    const fdsBefore = openDescriptors();
    const silent = net.connect(server.port, '127.0.0.1');
    silent.on('error', () => {});
    const silentClosed = new Promise<void>((r) => silent.once('close', () => r()));
    const hello = clientHelloThenSilence(server.port);
    await within(Promise.all([silentClosed, hello.closed]), 5000, 'the server to close both');
    hello.destroy();
    await within(
      (async () => {
        while (server.errors.length < 2) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
      'two limit events',
    );
    assert.deepEqual(server.errors.map((e) => e.code), ['ERR_HANDSHAKE_TIMEOUT', 'ERR_HANDSHAKE_TIMEOUT']);
    await new Promise((r) => setImmediate(r));
    assert.ok(openDescriptors() <= fdsBefore, `${openDescriptors()} descriptors open, ${fdsBefore} before`);
    await serverGoesOn(server.port);
  } finally {
    await server.close();
  }
});

test('to our server: a client that never reads is cut off at sendTimeoutMs with ERR_SEND_STALLED (timeout), its connection closed', async () => {
  const server = await startServer({ sendTimeoutMs: 300 });
  try {
    const peer = await HostileH2Client.connect(server.port, { ca: pki.caPem, settings: [[0x4, 0x7fffffff]] });
    peer.send(T.WINDOW_UPDATE, 0, 0, u32(0x7fff0000));
    peer.request(1, [[':method', 'GET'], [':scheme', 'https'], [':authority', `a.example:${server.port}`], [':path', '/endless']]);
    await peer.until(() => peer.statusOf(1) !== undefined, 5000);
    peer.socket.pause();
    await within(
      (async () => {
        while (server.errors.length === 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
      'the limit event',
    );
    assert.equal(server.errors[0]?.code, 'ERR_SEND_STALLED');
    assert.equal((server.errors[0] as { reason?: string }).reason, 'timeout');
    await within(
      (async () => {
        while (server.extension.connections.size > 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
      'the server to let go of the connection',
    );
    // What was already in the kernel's buffers still arrives, then the end.
    peer.socket.resume();
    await within(peer.closed, 10_000);
    // GOAWAY cannot reach a peer that reads nothing: none is owed, at most the one Node writes on destroy.
    assert.ok(peer.goaways().length <= 1);
    await serverGoesOn(server.port);
  } finally {
    await server.close();
  }
});

test('to our server: a client that never reads a response written all at once is cut off at maxBufferedBytes with ERR_SEND_STALLED (buffer)', async () => {
  const server = await startServer({ maxBufferedBytes: 1024 * 1024 });
  try {
    const peer = await HostileH2Client.connect(server.port, { ca: pki.caPem, settings: [[0x4, 0x7fffffff]] });
    peer.send(T.WINDOW_UPDATE, 0, 0, u32(0x7fff0000));
    peer.socket.pause();
    peer.request(1, [[':method', 'GET'], [':scheme', 'https'], [':authority', `a.example:${server.port}`], [':path', '/8mib']]);
    await within(
      (async () => {
        while (server.errors.length === 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
      'the limit event',
    );
    assert.equal(server.errors[0]?.code, 'ERR_SEND_STALLED');
    assert.equal((server.errors[0] as { reason?: string }).reason, 'buffer');
    peer.socket.resume();
    await within(peer.closed, 10_000);
    assert.ok(peer.goaways().length <= 1);
    await serverGoesOn(server.port);
  } finally {
    await server.close();
  }
});

test('to our server: a connection silent for idleTimeoutMs is closed with one GOAWAY(NO_ERROR) and ERR_IDLE_TIMEOUT at the API', async () => {
  const server = await startServer({ idleTimeoutMs: 300 });
  try {
    const peer = await HostileH2Client.connect(server.port, { ca: pki.caPem });
    await within(peer.closed);
    assert.deepEqual(peer.goaways(), [H2ErrorCode.NO_ERROR]);
    assert.deepEqual(server.errors.map((e) => e.code), ['ERR_IDLE_TIMEOUT']);
    await serverGoesOn(server.port);
  } finally {
    await server.close();
  }
});

test('to our server: an extension frame cut short (its header claims 100 bytes, 10 come, then silence) is closed by the idle timeout', async () => {
  const server = await startServer({ idleTimeoutMs: 300 });
  try {
    const peer = await HostileH2Client.connect(server.port, { ca: pki.caPem });
    peer.write(Buffer.from([0, 0, 100, F.CLIENT_CERTIFICATE, 0, 0, 0, 0, 0]), Buffer.alloc(10));
    await within(peer.closed);
    assert.deepEqual(peer.goaways(), [H2ErrorCode.NO_ERROR]);
    assert.deepEqual(server.errors.map((e) => e.code), ['ERR_IDLE_TIMEOUT']);
    await serverGoesOn(server.port);
  } finally {
    await server.close();
  }
});

test('to our server: a stream in progress keeps a silent connection from the idle timeout; once it ends, the idle close follows', async () => {
  const server = await startServer({ idleTimeoutMs: 300 });
  try {
    const peer = await HostileH2Client.connect(server.port, { ca: pki.caPem });
    peer.request(1, [[':method', 'GET'], [':scheme', 'https'], [':authority', `a.example:${server.port}`], [':path', '/slow']]);
    await within(peer.closed);
    assert.equal(peer.statusOf(1), 200, 'the slow answer came before the close');
    assert.equal(peer.bodyOf(1), 'slow');
    assert.deepEqual(peer.goaways(), [H2ErrorCode.NO_ERROR]);
    assert.deepEqual(server.errors.map((e) => e.code), ['ERR_IDLE_TIMEOUT']);
  } finally {
    await server.close();
  }
});

test('to our server: with idleTimeoutMs 0 a silent connection is kept (the idle timeout is off)', async () => {
  const server = await startServer({ idleTimeoutMs: 0 });
  try {
    const peer = await HostileH2Client.connect(server.port, { ca: pki.caPem });
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(await peer.ping(), true);
    assert.deepEqual(peer.goaways(), []);
    peer.destroy();
  } finally {
    await server.close();
  }
});
