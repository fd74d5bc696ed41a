// The splicer between real TLS sockets and real node:http2 sessions: frames in and out at safe points,
// every other byte untouched, and the session still truthful about TLS (these pin Node internals that
// src/h2/node/spliced-session.ts leans on).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { connectSpliced, spliceServerSession, type FrameSplicer } from '../../src/h2/node/spliced-session.js';
import type { FrameHeader } from '../../src/h2/wire/frame-header.js';

let pki: TestPki;
let id: IssuedIdentity;
before(async () => {
  pki = await TestPki.create();
  id = await pki.issue({ dnsNames: ['a.example'] });
});

const EXT = 0xf5;

interface Pair {
  server: http2.Http2SecureServer;
  serverSplicer: Promise<FrameSplicer>;
  sessions: http2.ServerHttp2Session[];
  client: Awaited<ReturnType<typeof connectSpliced>>;
  close(): Promise<void>;
}

async function pair(options: { spliceServer?: boolean; spliceClient?: boolean; clientSettings?: http2.Settings; onStream?: (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void } = {}): Promise<Pair> {
  const server = http2.createSecureServer({ key: id.keyPem, cert: id.chainPem, settings: { maxConcurrentStreams: 1000 } });
  let resolveSplicer!: (s: FrameSplicer) => void;
  const serverSplicer = new Promise<FrameSplicer>((r) => (resolveSplicer = r));
  if (options.spliceServer ?? true) {
    spliceServerSession(server, { interceptTypes: new Set([EXT]), onSession: (_s, splicer) => resolveSplicer(splicer) });
  }
  server.on('stream', options.onStream ?? ((stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  }));
  const sessions: http2.ServerHttp2Session[] = [];
  server.on('session', (s) => sessions.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const client = await connectSpliced(new URL(`https://a.example:${port}`), {
    host: '127.0.0.1',
    servername: 'a.example',
    ca: pki.caPem,
    interceptTypes: new Set([EXT]),
    splice: options.spliceClient ?? true,
    ...(options.clientSettings ? { settings: options.clientSettings } : {}),
  });
  return {
    server,
    serverSplicer,
    sessions,
    client,
    close: () =>
      new Promise((r) => {
        client.session.destroy();
        server.close(() => r());
      }),
  };
}

function get(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders = {}, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/', ':method': body ? 'POST' : 'GET', ...headers });
    const chunks: Buffer[] = [];
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.end(body);
  });
}

const nextFrame = (s: FrameSplicer) => new Promise<{ header: FrameHeader; payload: Uint8Array }>((r) => s.once('frame', (header, payload) => r({ header, payload })));

test('requests pass through spliced server and client, and either side alone', async () => {
  for (const [spliceServer, spliceClient] of [[true, true], [true, false], [false, true]] as const) {
    const p = await pair({ spliceServer, spliceClient });
    try {
      const r = await get(p.client.session);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'ok');
    } finally {
      await p.close();
    }
  }
});

test('an extension frame crosses in both directions and never reaches the session', async () => {
  const p = await pair();
  try {
    await get(p.client.session);
    const serverSplicer = await p.serverSplicer;
    const atServer = nextFrame(serverSplicer);
    p.client.splicer!.sendFrame(EXT, 0, 0, Buffer.from('to the server'));
    const f1 = await atServer;
    assert.equal(Buffer.from(f1.payload).toString(), 'to the server');
    assert.equal(f1.header.streamId, 0);
    const atClient = nextFrame(p.client.splicer!);
    serverSplicer.sendFrame(EXT, 0x3, 0, Buffer.from('to the client'));
    const f2 = await atClient;
    assert.equal(Buffer.from(f2.payload).toString(), 'to the client');
    assert.equal(f2.header.flags, 0x3);
    // The sessions carry on as if nothing happened.
    assert.equal((await get(p.client.session)).status, 200);
  } finally {
    await p.close();
  }
});

test('a frame asked for before our SETTINGS went out is held until after it', async () => {
  const server = http2.createSecureServer({ key: id.keyPem, cert: id.chainPem });
  const order: string[] = [];
  spliceServerSession(server, {
    interceptTypes: new Set([EXT]),
    onSession: (_session, splicer) => {
      // Called before the server session has written anything.
      assert.equal(splicer.localSettingsSent, false);
      splicer.sendFrame(EXT, 0, 0, Buffer.from('early'));
      splicer.once('localSettings', () => order.push('settings'));
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const client = await connectSpliced(new URL(`https://a.example:${port}`), { host: '127.0.0.1', servername: 'a.example', ca: pki.caPem, interceptTypes: new Set([EXT]) });
  try {
    const settingsFirst = new Promise<void>((r) => client.splicer!.once('peerSettings', () => r()));
    const frame = await nextFrame(client.splicer!);
    await settingsFirst;
    assert.equal(Buffer.from(frame.payload).toString(), 'early');
    assert.deepEqual(order, ['settings']);
  } finally {
    client.session.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('a frame injected while a large header block (HEADERS + CONTINUATION) is written lands after END_HEADERS', async () => {
  const p = await pair({ clientSettings: { maxHeaderListSize: 1 << 20 } });
  try {
    await get(p.client.session);
    const serverSplicer = await p.serverSplicer;
    // 30 KB of incompressible header values: more than one 16 KB frame, so nghttp2 writes CONTINUATION.
    const big: http2.OutgoingHttpHeaders = {};
    for (let i = 0; i < 30; i++) big[`x-big-${i}`] = randomBytes(500).toString('hex');
    const received = nextFrame(serverSplicer);
    const splicer = p.client.splicer!;
    const original = splicer._writev!.bind(splicer);
    let sawOpenHeaderBlock = false;
    splicer._writev = (chunks, cb) => {
      const all = Buffer.concat(chunks.map((c) => c.chunk as Buffer));
      // The first frame written is a HEADERS without END_HEADERS: hand the splicer its first 20 bytes,
      // ask for a frame in the middle of the block, then give it the rest.
      if (!sawOpenHeaderBlock && all[3] === 0x1 && (all[4]! & 0x4) === 0) {
        sawOpenHeaderBlock = true;
        original([{ chunk: all.subarray(0, 20) }], () => {});
        splicer.sendFrame(EXT, 0, 0, Buffer.from('between'));
        original([{ chunk: all.subarray(20) }], cb);
        return;
      }
      original(chunks, cb);
    };
    const r = await get(p.client.session, big);
    assert.equal(sawOpenHeaderBlock, true, 'the header block did not span frames');
    // Had the frame gone inside the block, the server would have ended the connection (RFC 9113 6.10).
    assert.equal(r.status, 200);
    assert.equal(Buffer.from((await received).payload).toString(), 'between');
  } finally {
    await p.close();
  }
});

test("the peer's SETTINGS_MAX_FRAME_SIZE is respected: ERR_FRAME_TOO_LARGE, and larger once the peer allows it", async () => {
  const p = await pair({ clientSettings: { maxFrameSize: 65536 } });
  try {
    await get(p.client.session);
    const serverSplicer = await p.serverSplicer;
    assert.equal(p.client.splicer!.peerMaxFrameSize, 16384);
    assert.throws(() => p.client.splicer!.sendFrame(EXT, 0, 0, new Uint8Array(16385)), { code: 'ERR_FRAME_TOO_LARGE' });
    assert.equal(serverSplicer.peerMaxFrameSize, 65536);
    const received = nextFrame(p.client.splicer!);
    serverSplicer.sendFrame(EXT, 0, 0, new Uint8Array(60000).fill(7));
    assert.equal((await received).payload.length, 60000);
  } finally {
    await p.close();
  }
});

test('200 concurrent streams with large bodies both ways, hashes checked', async () => {
  const p = await pair({
    onStream: (stream) => {
      const h = createHash('sha256');
      let n = 0;
      stream.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      stream.on('end', () => {
        const reply = randomBytes(200_000 + (n % 1000));
        stream.respond({ ':status': 200, 'x-request-sha256': h.digest('hex'), 'x-reply-sha256': createHash('sha256').update(reply).digest('hex') });
        stream.end(reply);
      });
    },
  });
  try {
    const one = async (i: number) => {
      const body = randomBytes(100_000 + i);
      const expect = createHash('sha256').update(body).digest('hex');
      return new Promise<void>((resolve, reject) => {
        const req = p.client.session.request({ ':path': '/', ':method': 'POST' });
        let headers: http2.IncomingHttpHeaders = {};
        const h = createHash('sha256');
        req.on('response', (hd) => (headers = hd));
        req.on('data', (c: Buffer) => h.update(c));
        req.on('end', () => {
          try {
            assert.equal(headers['x-request-sha256'], expect);
            assert.equal(headers['x-reply-sha256'], h.digest('hex'));
            resolve();
          } catch (e) {
            reject(e);
          }
        });
        req.on('error', reject);
        req.end(body);
      });
    };
    const serverSplicer = await p.serverSplicer.catch(() => undefined);
    // Extension frames interleaved with the traffic must not disturb it.
    const ticker = setInterval(() => serverSplicer?.sendFrame(EXT, 0, 0, Buffer.from('tick')), 2);
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => one(i)));
    } finally {
      clearInterval(ticker);
    }
  } finally {
    await p.close();
  }
});

test('the sessions tell the truth about TLS: encrypted, h2, certificates, exporter, ORIGIN', async () => {
  const p = await pair({
    onStream: (stream) => {
      const sock = stream.session!.socket as unknown as import('node:tls').TLSSocket;
      stream.respond({ ':status': 200 });
      stream.end(JSON.stringify({ encrypted: stream.session!.encrypted, alpn: stream.session!.alpnProtocol, servername: sock.servername, protocol: sock.getProtocol(), ekm: sock.exportKeyingMaterial(32, 'EXPORTER-test', Buffer.alloc(0)).toString('hex') }));
    },
  });
  try {
    const { session, tlsSocket } = p.client;
    const origins = new Promise<string[]>((r) => session.once('origin', r));
    const r = JSON.parse((await get(session)).body.toString());
    assert.deepEqual(r, { encrypted: true, alpn: 'h2', servername: 'a.example', protocol: 'TLSv1.3', ekm: tlsSocket.exportKeyingMaterial(32, 'EXPORTER-test', Buffer.alloc(0)).toString('hex') });
    assert.equal(session.encrypted, true);
    assert.equal(session.alpnProtocol, 'h2');
    const sock = session.socket as unknown as import('node:tls').TLSSocket;
    assert.equal(sock.getPeerCertificate().subjectaltname, 'DNS:a.example');
    assert.equal(sock.authorized, true);
    // ORIGIN frames (RFC 8336) still reach a spliced client: Node ignores them on cleartext sessions.
    p.sessions[0]!.origin('https://b.example');
    assert.deepEqual(await origins, ['https://b.example']);
    assert.ok(session.originSet?.includes('https://b.example'));
  } finally {
    await p.close();
  }
});

test('a TLS socket that dies ends the session: no hang', async () => {
  const p = await pair();
  try {
    await get(p.client.session);
    const closed = new Promise((r) => p.client.session.once('close', r));
    p.client.tlsSocket.destroy();
    await closed;
    assert.equal(p.client.session.destroyed, true);
  } finally {
    await p.close();
  }
});
