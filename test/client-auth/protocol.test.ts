// The client-certificate frames against peers that misbehave or say just enough, over real TLS and real
// node:http2 sessions: a raw client that writes the frames by hand (to show the USE_CERTIFICATE rule,
// timeouts and protocol errors), a raw server for the rosomakho ordering and outstanding-count rules,
// and a plain client with a TLS client certificate.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { nodeCrypto } from '../../src/crypto/index.js';
import { createAuthenticator, createRequest, validateAuthenticator, type AuthenticatorRequest } from '../../src/ea/index.js';
import { keysFromTlsSocket } from '../../src/exporter/tls-socket.js';
import { connect } from '../../src/h2/client.js';
import { ClientCertificates } from '../../src/flows/client-auth/credentials.js';
import { ClientAuthClient } from '../../src/flows/client-auth/client.js';
import { exporterSettingValue } from '../../src/flows/client-auth/negotiation.js';
import type { FrameHeader } from '../../src/h2/wire/frame-header.js';
import { encodeAuthenticatorRequests } from '../../src/h2/wire/authenticator-requests.js';
import { parseCertificateNeeded } from '../../src/h2/wire/certificate-needed.js';
import { encodeCertificateRequest, parseCertificateRequest } from '../../src/h2/wire/certificate-request.js';
import { CERTIFICATE_UNSOLICITED, certificateFlags, encodeCertificate, fragmentCertificate } from '../../src/h2/wire/certificate.js';
import { encodeClientCertificate, parseClientCertificate } from '../../src/h2/wire/client-certificate.js';
import { encodeUseCertificate } from '../../src/h2/wire/use-certificate.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import { spliceServerSession, type FrameSplicer } from '../../src/h2/node/spliced-session.js';
import type { TLSSocket } from 'node:tls';
import { delay, identity, pkis, rawClient, startServer, until, type Pkis, type RawClient } from './helpers.js';

const f = DEFAULT_PROFILE.frames;
const SETTING_06 = DEFAULT_PROFILE.settings.SETTINGS_HTTP_CERT_AUTH;
const SETTING_CLIENT_CERTS = DEFAULT_PROFILE.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH;
const with06 = (tls: Parameters<typeof exporterSettingValue>[0]) => ({ [SETTING_06]: exporterSettingValue(tls, 'client') });

let p: Pkis;
before(async () => {
  p = await pkis();
});

/** Waits for the server's CERTIFICATE_REQUEST and CERTIFICATE_NEEDED, and checks how they fit together. */
async function question(c: RawClient): Promise<{ requestId: number; request: Uint8Array; streamId: number }> {
  const requestFrame = await c.next(f.CERTIFICATE_REQUEST);
  const neededFrame = await c.next(f.CERTIFICATE_NEEDED);
  const { requestId, request } = parseCertificateRequest(requestFrame.header, requestFrame.payload);
  const needed = parseCertificateNeeded(neededFrame.header, neededFrame.payload);
  assert.equal(needed.requestId, requestId);
  // -06 section 3.3.1: the context begins with the Request-ID and carries at least 96 more bits.
  const context = request.subarray(5, 5 + request[4]!);
  assert.ok(context.length >= 14, `context of ${context.length} bytes`);
  assert.deepEqual([context[0], context[1]], [requestId >> 8, requestId & 0xff]);
  assert.equal(request[0], 13, 'a server-made request is a CertificateRequest (13)');
  return { requestId, request, streamId: needed.streamId };
}

async function sendAuthenticator(c: RawClient, certId: number, requestId: number, request: Uint8Array, who: string): Promise<void> {
  const id = p.ids[who]!;
  const signer = await nodeCrypto.signerFromPrivateKey(id.keyPkcs8Der);
  const authenticator = await createAuthenticator({ keys: keysFromTlsSocket(c.tlsSocket), creator: 'client', request, certificateChain: id.chainDer, signer });
  for (const fr of fragmentCertificate(certId, authenticator, c.splicer.peerMaxFrameSize, { unsolicited: false, requestId })) {
    c.send(f.CERTIFICATE, certificateFlags(fr), encodeCertificate(fr));
  }
}

const use = (streamId: number, certId?: number): Uint8Array => encodeUseCertificate({ streamId, unsolicited: false, ...(certId !== undefined ? { certId } : {}) });

test('-06: a certificate counts for a request only when USE_CERTIFICATE names it', async () => {
  const s = await startServer({ flows: ['secondary-certs-06'] });
  const c = await rawClient(s.port, with06);
  try {
    // A valid certificate for alice goes out, but USE_CERTIFICATE names none: it does not count.
    const first = c.request('/protected');
    const q1 = await question(c);
    assert.equal(q1.streamId, first.stream.id);
    await sendAuthenticator(c, 0, q1.requestId, q1.request, 'alice');
    c.send(f.USE_CERTIFICATE, 0, use(q1.streamId));
    const r1 = await first.response;
    assert.equal(r1.status, 403);
    assert.match(r1.body, /refused \(declined\): the client named no certificate/);
    // The same certificate, named for the next request, counts.
    const second = c.request('/protected');
    const q2 = await question(c);
    assert.notEqual(q2.requestId, q1.requestId);
    c.send(f.USE_CERTIFICATE, 0, use(q2.streamId, 0));
    const r2 = await second.response;
    assert.equal(r2.status, 200, r2.body);
    assert.match(JSON.parse(r2.body).subject, /CN=alice/);
    assert.equal(JSON.parse(r2.body).certId, 0);
    assert.deepEqual(s.goaways, []);
  } finally {
    c.close();
    await s.close();
  }
});

test('-06: a client that never answers gets 408 after timeoutMs; too many waiting gets 403 busy; the connection lives on', async () => {
  const s = await startServer({ flows: ['secondary-certs-06'], timeoutMs: 400, maxPendingPerConnection: 2 });
  const c = await rawClient(s.port, with06);
  try {
    const started = Date.now();
    const a = c.request('/protected');
    const b = c.request('/protected');
    await until(() => c.frames.filter((fr) => fr.header.type === f.CERTIFICATE_NEEDED).length === 2);
    const third = await c.request('/protected').response;
    assert.equal(third.status, 403);
    assert.match(third.body, /refused \(busy\)/);
    for (const r of [await a.response, await b.response]) {
      assert.equal(r.status, 408);
      assert.match(r.body, /no certificate within 400 ms/);
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 390 && elapsed < 3000, `answered after ${elapsed} ms`);
    assert.deepEqual(s.rejections.sort(), ['ERR_CLIENT_CERT_REFUSED', 'ERR_CLIENT_CERT_TIMEOUT', 'ERR_CLIENT_CERT_TIMEOUT']);
    assert.equal((await c.request('/open').response).status, 200);
    // A late answer for a stream that timed out is a USE_CERTIFICATE nobody waits for: no harm done.
    c.send(f.USE_CERTIFICATE, 0, use(a.stream.id!));
    assert.equal((await c.request('/open').response).status, 200);
  } finally {
    c.close();
    await s.close();
  }
});

test('-06: USE_CERTIFICATE for a stream not asked about is CERTIFICATE_OVERUSED, an unknown Cert-ID PROTOCOL_ERROR (stream errors)', async () => {
  const s = await startServer({ flows: ['secondary-certs-06'] });
  const c = await rawClient(s.port, with06);
  try {
    const hold = c.request('/hold');
    await delay(100); // the server has the stream, and answers it after 300 ms
    c.send(f.USE_CERTIFICATE, 0, use(hold.stream.id!));
    assert.equal((await hold.response).rstCode, DEFAULT_PROFILE.errors.CERTIFICATE_OVERUSED);
    const asked = c.request('/protected');
    const q = await question(c);
    c.send(f.USE_CERTIFICATE, 0, use(q.streamId, 7));
    assert.equal((await asked.response).rstCode, 0x1);
    assert.deepEqual(s.rejections, ['ERR_CLIENT_CERT_ABORTED']);
    // Stream errors only: the connection still serves.
    assert.equal((await c.request('/open').response).status, 200);
  } finally {
    c.close();
    await s.close();
  }
});

test('-06: an UNSOLICITED CERTIFICATE from a client ends the connection with CERTIFICATE_UNREADABLE', async () => {
  const s = await startServer({ flows: ['secondary-certs-06'] });
  const c = await rawClient(s.port, with06);
  try {
    await c.request('/open').response;
    const goaway = new Promise<number>((r) => c.session.once('goaway', r));
    c.send(f.CERTIFICATE, CERTIFICATE_UNSOLICITED, encodeCertificate({ unsolicited: true, certId: 0, toBeContinued: false, fragment: new Uint8Array([0x14, 0, 0, 0]) }));
    assert.equal(await goaway, DEFAULT_PROFILE.errors.CERTIFICATE_UNREADABLE);
  } finally {
    c.close();
    await s.close();
  }
});

test('-06: a SETTINGS_HTTP_CERT_AUTH value that is not this connection\'s exporter turns the flow off (a TLS terminator in the path)', async () => {
  const s = await startServer({ flows: ['secondary-certs-06'] });
  const mismatches: unknown[] = [];
  s.clientAuth.on('settingMismatch', (c: unknown) => mismatches.push(c));
  const c = await rawClient(s.port, (tls) => ({ [SETTING_06]: (exporterSettingValue(tls, 'client') ^ 1) >>> 0 }));
  try {
    const r = await c.request('/protected').response;
    assert.equal(r.status, 403);
    assert.match(r.body, /not-negotiated.*does not match this TLS connection/);
    assert.equal(mismatches.length, 1);
    assert.equal(c.frames.filter((fr) => fr.header.type === f.CERTIFICATE_NEEDED).length, 0);
    // The server's own value is the exporter value for the server side of this TLS connection.
    assert.equal(c.peerSettings.get(SETTING_06), exporterSettingValue(c.tlsSocket, 'server'));
  } finally {
    c.close();
    await s.close();
  }
});

test('rosomakho: a CLIENT_CERTIFICATE with no request outstanding ends the connection with PROTOCOL_ERROR', async () => {
  const s = await startServer({ flows: ['secondary-client-certs'] });
  const c = await rawClient(s.port, () => ({ [SETTING_CLIENT_CERTS]: 1 }));
  try {
    await c.request('/open').response;
    const goaway = new Promise<number>((r) => c.session.once('goaway', r));
    c.send(f.CLIENT_CERTIFICATE, 0, new Uint8Array([0x14, 0, 0, 0x20, ...new Uint8Array(32)]));
    assert.equal(await goaway, 0x1);
  } finally {
    c.close();
    await s.close();
  }
});

interface RawServerPeer {
  splicer: FrameSplicer;
  tlsSocket: TLSSocket;
  session: http2.ServerHttp2Session;
}

/**
 * A bare server with the splicer: sends `settings` (per connection) and calls `ready` once they are on the
 * wire and the client's SETTINGS with `waitFor` arrived; intercepted frames go to `onFrame`. `goaway`
 * resolves with the first GOAWAY code the client sends.
 */
async function rawServer(options: {
  settings: (tls: TLSSocket) => Record<number, number>;
  waitFor: number;
  intercept: number[];
  ready(peer: RawServerPeer): void;
  onFrame?(peer: RawServerPeer, header: FrameHeader, payload: Uint8Array): void;
}): Promise<{ port: number; goaway: Promise<number>; close(): Promise<void> }> {
  const server = http2.createSecureServer({ key: p.ids['server']!.keyPem, cert: p.ids['server']!.chainPem, remoteCustomSettings: [] });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  let onGoaway!: (code: number) => void;
  const goaway = new Promise<number>((r) => (onGoaway = r));
  spliceServerSession(server, {
    interceptTypes: new Set(options.intercept),
    onSession(session, splicer, tlsSocket) {
      const peer = { session, splicer, tlsSocket };
      session.on('error', () => {});
      sessions.add(session);
      session.on('goaway', (code: number) => onGoaway(code));
      const custom = options.settings(tlsSocket);
      let theirs = false;
      let ours = false;
      let started = false;
      const start = (): void => {
        if (!theirs || !ours || started) return;
        started = true;
        options.ready(peer);
      };
      splicer.on('peerSettings', (settings: Map<number, number>) => {
        theirs ||= settings.has(options.waitFor);
        start();
      });
      splicer.on('localSettings', (settings: Map<number, number>) => {
        ours ||= Object.keys(custom).some((id) => settings.has(Number(id)));
        queueMicrotask(start); // after the chunk holding our SETTINGS is written (see H2ExtensionContext.sendSettings)
      });
      session.settings({ customSettings: custom });
      splicer.on('frame', (header: FrameHeader, payload: Uint8Array) => options.onFrame?.(peer, header, payload));
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    goaway,
    close: () =>
      new Promise((r) => {
        for (const session of sessions) session.destroy();
        server.close(() => r());
      }),
  };
}

/** A rosomakho server that sends `count` requests in one AUTHENTICATOR_REQUESTS and validates the answers in order. */
async function requestingServer(count: number): Promise<{ port: number; answers: Promise<{ validated: string[]; goaway?: number }>; close(): Promise<void> }> {
  const requests: AuthenticatorRequest[] = [];
  const validated: string[] = [];
  let answered = 0;
  let report!: (r: { validated: string[]; goaway?: number }) => void;
  const answers = new Promise<{ validated: string[]; goaway?: number }>((r) => (report = r));
  const server = await rawServer({
    settings: () => ({ [SETTING_CLIENT_CERTS]: 1 }),
    waitFor: SETTING_CLIENT_CERTS,
    intercept: [f.CLIENT_CERTIFICATE],
    ready({ splicer }) {
      for (let i = 0; i < count; i++) requests.push(createRequest({ creator: 'server' }));
      splicer.sendFrame(f.AUTHENTICATOR_REQUESTS, 0, 0, encodeAuthenticatorRequests({ requests: requests.map((r) => r.bytes) }));
    },
    onFrame({ tlsSocket }, header, payload) {
      const { authenticator } = parseClientCertificate(header, payload);
      // Answers come in the order of the requests: each validates against the request at its position.
      const request = requests[answered++]!;
      void validateAuthenticator({ keys: keysFromTlsSocket(tlsSocket), creator: 'client', authenticator, request }).then(
        (v) => {
          validated.push(Buffer.from(v.context).toString('hex'));
          if (validated.length === count) report({ validated });
        },
        (e: Error) => report({ validated: [...validated, `error: ${e.message}`] }),
      );
    },
  });
  void server.goaway.then((code) => report({ validated, goaway: code }));
  return { port: server.port, answers, close: server.close };
}

test('rosomakho client: one CLIENT_CERTIFICATE per request, in order; more requests than advertised is PROTOCOL_ERROR', async () => {
  const certificates = new ClientCertificates(() => identity(p.ids['alice']!));
  const ok = await requestingServer(2);
  const conn = await connect(`https://a.example:${ok.port}/`, { ca: [p.pki.caPem], connectAddress: '127.0.0.1', extensions: [new ClientAuthClient({ certificates, maxCredentials: 2, flows: ['secondary-client-certs'] })] });
  try {
    const { validated, goaway } = await ok.answers;
    assert.equal(validated.length, 2, `${validated.join(', ')} goaway ${goaway}`);
    assert.ok(validated.every((v) => /^[0-9a-f]{64}$/.test(v)), validated.join(', '));
  } finally {
    await conn.close();
    await ok.close();
  }
  const tooMany = await requestingServer(2);
  const conn2 = await connect(`https://a.example:${tooMany.port}/`, { ca: [p.pki.caPem], connectAddress: '127.0.0.1', extensions: [new ClientAuthClient({ certificates, maxCredentials: 1, flows: ['secondary-client-certs'] })] });
  try {
    const error = await new Promise<{ wireCode: number; message: string }>((r) => conn2.once('protocolError', r));
    assert.equal(error.wireCode, 0x1);
    assert.match(error.message, /2 authenticator requests outstanding; we advertised 1/);
    assert.equal((await tooMany.answers).goaway, 0x1);
  } finally {
    await conn2.close();
    await tooMany.close();
  }
});

test('rosomakho client: a CLIENT_CERTIFICATE from the server, once the flow is negotiated, is PROTOCOL_ERROR (only a client sends it)', async () => {
  const certificates = new ClientCertificates(() => identity(p.ids['alice']!));
  const server = await rawServer({
    settings: () => ({ [SETTING_CLIENT_CERTS]: 1 }),
    waitFor: SETTING_CLIENT_CERTS,
    intercept: [],
    ready({ splicer }) {
      splicer.sendFrame(f.CLIENT_CERTIFICATE, 0, 0, encodeClientCertificate({ authenticator: new Uint8Array([11, 0, 0, 0]) }));
    },
  });
  const conn = await connect(`https://a.example:${server.port}/`, { ca: [p.pki.caPem], connectAddress: '127.0.0.1', extensions: [new ClientAuthClient({ certificates, maxCredentials: 1, flows: ['secondary-client-certs'] })] });
  try {
    const error = await new Promise<{ wireCode: number; message: string }>((r) => conn.once('protocolError', r));
    assert.equal(error.wireCode, 0x1);
    assert.match(error.message, /CLIENT_CERTIFICATE from the server/);
    assert.equal(await server.goaway, 0x1);
  } finally {
    await conn.close();
    await server.close();
  }
});

test('a client certificate from the TLS handshake counts when no HTTP-layer flow was negotiated', async () => {
  const s = await startServer({}, { requestCert: true, rejectUnauthorized: false });
  const alice = p.ids['alice']!;
  const session = http2.connect(s.url('/'), { ca: p.pki.caPem, servername: 'a.example', host: '127.0.0.1', cert: alice.chainPem, key: alice.keyPem } as http2.SecureClientSessionOptions);
  session.on('error', () => {});
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/protected' });
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (data += d));
      req.on('end', () => resolve(data));
      req.on('error', reject);
    });
    const summary = JSON.parse(body) as { flow: string; subject: string };
    assert.equal(summary.flow, 'tls');
    assert.match(summary.subject, /CN=alice/);
  } finally {
    session.close();
    await s.close();
  }
});

test('an authenticator that fails RFC 9261 validation: 403 invalid by default, CERTIFICATE_UNREADABLE when the server follows -06 strictly', async () => {
  const alice = p.ids['alice']!;
  const real = await nodeCrypto.signerFromPrivateKey(alice.keyPkcs8Der);
  const badSigner = {
    schemes: real.schemes,
    sign: async (scheme: number, m: Uint8Array) => {
      const sig = await real.sign(scheme, m);
      sig[sig.length - 1]! ^= 1;
      return sig;
    },
  };
  for (const strict of [false, true]) {
    const s = await startServer({ flows: ['secondary-certs-06'], closeOnInvalidAuthenticator: strict });
    const certificates = new ClientCertificates(() => ({ chain: alice.chainDer, signer: badSigner }));
    const conn = await connect(s.url('/'), { ca: [p.pki.caPem], connectAddress: '127.0.0.1', extensions: [new ClientAuthClient({ certificates })] });
    const goaways: number[] = [];
    conn.session.on('goaway', (code: number) => goaways.push(code));
    try {
      const response = await new Promise<{ status: number; body: string }>((resolve) => {
        const stream = conn.session.request({ ':path': '/protected' });
        let status = 0;
        let body = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (body += d));
        stream.on('error', () => {});
        stream.on('close', () => resolve({ status, body }));
        stream.end();
      });
      if (strict) {
        await until(() => goaways.length > 0);
        assert.deepEqual(goaways, [DEFAULT_PROFILE.errors.CERTIFICATE_UNREADABLE]);
        assert.notEqual(response.status, 200);
      } else {
        assert.equal(response.status, 403);
        assert.match(response.body, /refused \(invalid\): the authenticator does not validate: ERR_BAD_SIGNATURE/);
      }
    } finally {
      await conn.close();
      await s.close();
    }
  }
});

test('-06 client: a CERTIFICATE_REQUEST whose context does not begin with its Request-ID, or a reused Request-ID, is PROTOCOL_ERROR', async () => {
  const certificates = new ClientCertificates(() => identity(p.ids['alice']!));
  const scenarios: [string, (send: (requestId: number, context: Uint8Array) => void) => void][] = [
    ['context without the Request-ID', (send) => send(7, new Uint8Array(32).fill(0xaa))],
    [
      'a Request-ID used twice',
      (send) => {
        const context = (id: number): Uint8Array => {
          const c = nodeCrypto.randomBytes(32);
          c[0] = id >> 8;
          c[1] = id & 0xff;
          return c;
        };
        send(5, context(5));
        send(5, context(5));
      },
    ],
  ];
  for (const [name, scenario] of scenarios) {
    const server = await rawServer({
      settings: (tls) => ({ [SETTING_06]: exporterSettingValue(tls, 'server') }),
      waitFor: SETTING_06,
      intercept: [f.CERTIFICATE, f.USE_CERTIFICATE],
      ready({ splicer }) {
        scenario((requestId, context) => {
          const request = createRequest({ creator: 'server', context }).bytes;
          splicer.sendFrame(f.CERTIFICATE_REQUEST, 0, 0, encodeCertificateRequest({ requestId, request }));
        });
      },
    });
    const conn = await connect(`https://a.example:${server.port}/`, { ca: [p.pki.caPem], connectAddress: '127.0.0.1', extensions: [new ClientAuthClient({ certificates, flows: ['secondary-certs-06'] })] });
    try {
      const error = await new Promise<{ wireCode: number; message: string }>((r) => conn.once('protocolError', r));
      assert.equal(error.wireCode, 0x1, name);
      assert.match(error.message, name.startsWith('context') ? /must begin with the Request-ID/ : /Request-ID 5 was already used/);
      assert.equal(await server.goaway, 0x1);
    } finally {
      await conn.close();
      await server.close();
    }
  }
});
