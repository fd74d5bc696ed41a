// -06 frames against peers that break the rules, over real TLS and node:http2 sessions: a raw client
// that writes frames by hand (the server's USE_CERTIFICATE, CERTIFICATE_NEEDED and CERTIFICATE_REQUEST
// rules), and our client facing frames a server injects (the client's USE_CERTIFICATE and CERTIFICATE
// rules). Each bad input gets the typed error or the wire code the draft names.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCrypto } from '../../src/crypto/index.js';
import { createAuthenticator, createRequest } from '../../src/ea/index.js';
import { keysFromTlsSocket } from '../../src/exporter/tls-socket.js';
import { H2ErrorCode } from '../../src/errors.js';
import { DEFAULT_PROFILE, DRAFT_06_PROFILE } from '../../src/h2/profile.js';
import { encodeCertificateNeeded, parseCertificateNeeded } from '../../src/h2/wire/certificate-needed.js';
import { encodeCertificateRequest, parseCertificateRequest } from '../../src/h2/wire/certificate-request.js';
import { CERTIFICATE_UNSOLICITED, certificateFlags, encodeCertificate, fragmentCertificate } from '../../src/h2/wire/certificate.js';
import { encodeUseCertificate, USE_CERTIFICATE_UNSOLICITED } from '../../src/h2/wire/use-certificate.js';
import { exporterSettingValue, splitSettingValues } from '../../src/flows/client-auth/negotiation.js';
import type { ServerCertificate06Event } from '../../src/flows/server-certs-06/client.js';
import { pkis, rawClient, startServer } from '../client-auth/helpers.js';
import { client06, delay, pki06, protocolErrorOf, raw06, start06, until } from './helpers.js';

const f = DEFAULT_PROFILE.frames;
const e06 = DRAFT_06_PROFILE.errors;

before(async () => {
  await pki06();
});

const use = (streamId: number, certId: number | undefined, unsolicited: boolean): Uint8Array => encodeUseCertificate({ streamId, unsolicited, ...(certId !== undefined ? { certId } : {}) });

test('-06: a client names its certificate for a new stream unasked (USE_CERTIFICATE with UNSOLICITED), and the request is served with it without a CERTIFICATE_NEEDED; a second unsolicited USE_CERTIFICATE for a stream is a stream error CERTIFICATE_OVERUSED', async () => {
  const p = await pkis();
  const s = await startServer({ flows: ['secondary-certs-06'] });
  const c = await rawClient(s.port, (tls) => ({ [DEFAULT_PROFILE.settings.SETTINGS_HTTP_CERT_AUTH]: exporterSettingValue(tls, 'client') }));
  try {
    // Present alice once, answering the server's question for stream 1.
    const first = c.request('/protected');
    const q = parseCertificateRequest((await c.next(f.CERTIFICATE_REQUEST)).header, c.frames.find((x) => x.header.type === f.CERTIFICATE_REQUEST)!.payload);
    const needed = parseCertificateNeeded((await c.next(f.CERTIFICATE_NEEDED)).header, c.frames.find((x) => x.header.type === f.CERTIFICATE_NEEDED)!.payload);
    const alice = p.ids['alice']!;
    const authenticator = await createAuthenticator({ keys: keysFromTlsSocket(c.tlsSocket), creator: 'client', request: q.request, certificateChain: alice.chainDer, signer: await nodeCrypto.signerFromPrivateKey(alice.keyPkcs8Der) });
    for (const fr of fragmentCertificate(0, authenticator, c.splicer.peerMaxFrameSize, { unsolicited: false, requestId: q.requestId })) c.send(f.CERTIFICATE, certificateFlags(fr), encodeCertificate(fr));
    c.send(f.USE_CERTIFICATE, 0, use(needed.streamId, 0, false));
    assert.equal((await first.response).status, 200);
    // The next stream (3): named unasked before its request goes out.
    c.send(f.USE_CERTIFICATE, USE_CERTIFICATE_UNSOLICITED, use(3, 0, true));
    const second = c.request('/protected');
    assert.equal(second.stream.id, 3);
    const r = await second.response;
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).certId, 0);
    assert.equal(c.frames.filter((x) => x.header.type === f.CERTIFICATE_NEEDED).length, 1, 'no CERTIFICATE_NEEDED for stream 3');
    // Two unsolicited USE_CERTIFICATE frames for one stream: the second is CERTIFICATE_OVERUSED.
    const held = c.request('/hold');
    await delay(100); // the server has the stream, and answers it after 300 ms
    c.send(f.USE_CERTIFICATE, USE_CERTIFICATE_UNSOLICITED, use(held.stream.id!, 0, true));
    c.send(f.USE_CERTIFICATE, USE_CERTIFICATE_UNSOLICITED, use(held.stream.id!, 0, true));
    assert.equal((await held.response).rstCode, DEFAULT_PROFILE.errors.CERTIFICATE_OVERUSED);
    // A stream error only: the connection still serves, and no GOAWAY went out.
    assert.equal((await c.request('/open').response).status, 200);
    assert.deepEqual(s.goaways, []);
  } finally {
    c.close();
    await s.close();
  }
});

test('-06 client: a second unsolicited USE_CERTIFICATE from the server for stream 0 is CERTIFICATE_OVERUSED, and the client closes the connection with it', async () => {
  const s = await start06();
  const { conn, certs } = await client06(s);
  const events: ServerCertificate06Event[] = [];
  certs.on('certificate', (e) => events.push(e));
  try {
    await until(() => events.length === 4);
    const server = [...s.extension.connections][0]!;
    const failed = protocolErrorOf(conn);
    server.splicer.sendFrame(f.USE_CERTIFICATE, USE_CERTIFICATE_UNSOLICITED, 0, use(0, 0, true));
    server.splicer.sendFrame(f.USE_CERTIFICATE, USE_CERTIFICATE_UNSOLICITED, 0, use(0, 0, true));
    assert.equal(await failed, e06.CERTIFICATE_OVERUSED);
    await until(() => s.goaways.length > 0);
    assert.deepEqual(s.goaways, [e06.CERTIFICATE_OVERUSED]);
  } finally {
    await conn.close();
    await s.close();
  }
});

/** Our -06 client on a server that proves b..e unasked, then one frame `inject` writes from the server. */
async function clientAfter(inject: (send: (type: number, flags: number, payload: Uint8Array) => void, tlsKeys: ReturnType<typeof keysFromTlsSocket>) => void | Promise<void>): Promise<{ code: number; goaways: number[] }> {
  const s = await start06();
  const { conn, certs } = await client06(s);
  let seen = 0;
  certs.on('certificate', () => seen++);
  try {
    await until(() => seen === 4);
    const server = [...s.extension.connections][0]!;
    const failed = protocolErrorOf(conn);
    await inject((type, flags, payload) => server.splicer.sendFrame(type, flags, 0, payload), keysFromTlsSocket(server.tlsSocket));
    const code = await failed;
    await until(() => s.goaways.length > 0);
    return { code, goaways: s.goaways };
  } finally {
    await conn.close();
    await s.close();
  }
}

test('-06 client: a USE_CERTIFICATE answering no CERTIFICATE_NEEDED is CERTIFICATE_OVERUSED; one naming an unknown Cert-ID is PROTOCOL_ERROR', async () => {
  assert.equal((await clientAfter((send) => send(f.USE_CERTIFICATE, 0, use(0, 0, false)))).code, e06.CERTIFICATE_OVERUSED);
  assert.equal((await clientAfter((send) => send(f.USE_CERTIFICATE, USE_CERTIFICATE_UNSOLICITED, use(0, 77, true)))).code, H2ErrorCode.PROTOCOL_ERROR);
});

test('-06 client: a CERTIFICATE answering a Request-ID it never sent, or an authenticator that does not validate, is CERTIFICATE_UNREADABLE', async () => {
  const bogus = (certId: number, unsolicited: boolean) =>
    encodeCertificate(unsolicited ? { unsolicited: true, certId, toBeContinued: false, fragment: new Uint8Array([0x14, 0, 0, 32, ...new Uint8Array(32)]) } : { unsolicited: false, requestId: 9, certId, toBeContinued: false, fragment: new Uint8Array([0x14, 0, 0, 0]) });
  const never = await clientAfter((send) => send(f.CERTIFICATE, 0, bogus(100, false)));
  assert.deepEqual([never.code, never.goaways], [e06.CERTIFICATE_UNREADABLE, [e06.CERTIFICATE_UNREADABLE]]);
  const invalid = await clientAfter((send) => send(f.CERTIFICATE, CERTIFICATE_UNSOLICITED, bogus(101, true)));
  assert.equal(invalid.code, e06.CERTIFICATE_UNREADABLE);
  // A well-made authenticator with a wrong signature key (the TLS key is not the certificate's) is refused the same way.
  const wrongKey = await clientAfter(async (send, keys) => {
    const { ids } = await pki06();
    const auth = await createAuthenticator({ keys, creator: 'server', certificateChain: ids['b.example']!.chainDer, signer: await nodeCrypto.signerFromPrivateKey(ids['a.example']!.keyPkcs8Der) });
    send(f.CERTIFICATE, CERTIFICATE_UNSOLICITED, encodeCertificate({ unsolicited: true, certId: 102, toBeContinued: false, fragment: auth }));
  });
  assert.equal(wrongKey.code, e06.CERTIFICATE_UNREADABLE);
});

/** A raw client on the -06 server: sends the -06 server setting (or not) and then `frames`; resolves with the server's GOAWAY code. */
async function serverAnswers(frames: (tls: import('node:tls').TLSSocket) => [number, number, Uint8Array][], settings = true): Promise<number> {
  const s = await start06({ sendUnsolicited: false, maxRequestsPerConnection: 2 });
  const raw = await raw06(s.port, [f.CERTIFICATE, f.USE_CERTIFICATE], (tls) => (settings ? { [DRAFT_06_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH_06]: splitSettingValues(tls, 'client').server } : {}));
  try {
    await until(() => raw.peerSettings.has(DRAFT_06_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH_06));
    for (const [type, flags, payload] of frames(raw.tlsSocket)) raw.send(type, flags, payload);
    return await Promise.race([raw.goaway, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no GOAWAY')), 5000))]);
  } finally {
    raw.close();
    await s.close();
  }
}

/** A client-made request whose context is the Request-ID then 30 bytes (or `context` as given). */
function request17(requestId: number, context?: Uint8Array, creator: 'client' | 'server' = 'client'): Uint8Array {
  const ctx = context ?? new Uint8Array([requestId >> 8, requestId & 0xff, ...nodeCrypto.randomBytes(30)]);
  return encodeCertificateRequest({ requestId, request: createRequest({ creator, context: ctx, ...(creator === 'client' ? { serverName: 'b.example' } : {}) }).bytes });
}

test('-06 server: CERTIFICATE_NEEDED before the settings is CERTIFICATE_WITHOUT_CONSENT; for a stream other than 0, for a Request-ID never sent, or of a wrong length, PROTOCOL_ERROR', async () => {
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_NEEDED, 0, encodeCertificateNeeded({ streamId: 0, requestId: 0 })]], false), e06.CERTIFICATE_WITHOUT_CONSENT);
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_REQUEST, 0, request17(0)], [f.CERTIFICATE_NEEDED, 0, encodeCertificateNeeded({ streamId: 1, requestId: 0 })]]), H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_NEEDED, 0, encodeCertificateNeeded({ streamId: 0, requestId: 5 })]]), H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_NEEDED, 0, new Uint8Array(5)]]), H2ErrorCode.PROTOCOL_ERROR);
});

test('-06 server: a CERTIFICATE_REQUEST whose context does not begin with its Request-ID, that is a CertificateRequest (13), or reuses a Request-ID is PROTOCOL_ERROR; more than maxRequestsPerConnection is ENHANCE_YOUR_CALM', async () => {
  const wrongStart = new Uint8Array([0, 9, ...nodeCrypto.randomBytes(30)]);
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_REQUEST, 0, request17(1, wrongStart)]]), H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_REQUEST, 0, request17(1, undefined, 'server')]]), H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_REQUEST, 0, request17(1)], [f.CERTIFICATE_REQUEST, 0, request17(1)]]), H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_REQUEST, 0, request17(1)], [f.CERTIFICATE_REQUEST, 0, request17(2)], [f.CERTIFICATE_REQUEST, 0, request17(3)]]), H2ErrorCode.ENHANCE_YOUR_CALM);
  assert.equal(await serverAnswers(() => [[f.CERTIFICATE_REQUEST, 0, new Uint8Array([0, 1, 17, 0, 0])]]), H2ErrorCode.PROTOCOL_ERROR);
});
