// Client certificates over HTTP/3 (draft-rosomakho-httpbis-secondary-client-certs-00), over real QUIC on
// loopback with this library on both sides, and raw QUIC peers that write the frames by hand for the
// draft's connection errors: SETTINGS_HTTP_CLIENT_CERT_AUTH in each side's SETTINGS, AUTHENTICATOR_REQUESTS
// from the server and CLIENT_CERTIFICATE from the client on the control streams, the handler's per-request
// identity or refusal (403, the connection goes on), and the cache's clear() asking again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/server.js';
import { connectH3, type H3SecondaryCertConnection } from '../../src/h3/client.js';
import { connectQuic, listenQuic } from '../../src/h3/transport/index.js';
import type { TransportClose, TransportConnection, TransportServer } from '../../src/h3/transport/transport.js';
import { H3ErrorCode } from '../../src/errors.js';
import { DEFAULT_H3_PROFILE } from '../../src/h3/profile.js';
import { encodeFrame } from '../../src/h3/wire/frame.js';
import { encodeSettingsFrame } from '../../src/h3/wire/settings.js';
import { encodeAuthenticatorRequestsFrame, encodeClientCertificateFrame } from '../../src/h3/wire/certificates.js';
import { createRequest } from '../../src/ea/index.js';
import { concatBytes } from '../../src/codec/writer.js';
import { encodeVarint } from '../../src/codec/varint.js';
import { ClientCertificates, type ClientCertificateQuestion } from '../../src/flows/client-auth/credentials.js';
import type { ClientCertificateAnswer } from '../../src/flows/client-auth/client-flow.js';
import { H3ClientAuthClient, H3ClientAuthServer } from '../../src/flows/client-auth/h3.js';
import { SecondaryCertAgent } from '../../src/pool/agent.js';

const P = DEFAULT_H3_PROFILE;
const CLIENT_CERT_AUTH = P.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH;
const control = (...frames: Uint8Array[]) => concatBytes(encodeVarint(0x00), ...frames);

let pki: TestPki;
let otherPki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
let server: H3SecondaryCertServer;
let clientAuth: H3ClientAuthServer;
/** Codes of the refusals the server gave, in order. */
const refusals: string[] = [];

before(async () => {
  pki = await TestPki.create({ keyType: 'p256' });
  otherPki = await TestPki.create({ keyType: 'p256', commonName: 'a stranger CA' });
  ids['server'] = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  ids['alice'] = await pki.issue({ role: 'client', commonName: 'alice', keyType: 'p256' });
  ids['bob'] = await pki.issue({ role: 'client', commonName: 'bob', viaIntermediate: true });
  ids['mallory'] = await otherPki.issue({ role: 'client', commonName: 'mallory', keyType: 'p256' });
  clientAuth = new H3ClientAuthServer({ trustAnchors: [pki.caPem], timeoutMs: 3000 });
  clientAuth.on('refused', (e) => refusals.push(e.code));
  server = await createH3SecondaryCertServer({ cert: ids['server']!.chainPem, key: ids['server']!.keyPem, extensions: [clientAuth] }, async (req, res) => {
    if (req.path !== '/protected') return res.end(200, {}, 'open');
    const identity = await clientAuth.authenticate(req, res);
    if (!identity) return;
    const summary = { subject: identity.certificate.leaf.subject, flow: identity.flow, origin: identity.origin, chainLength: identity.chain.length, sameConnection: identity.connection === req.connection, sameAsLookup: clientAuth.clientIdentityOf(req) === identity };
    await res.end(200, { 'content-type': 'application/json' }, JSON.stringify(summary));
  });
});

after(async () => {
  await server.close();
});

const url = (path: string) => `https://a.example:${server.port}${path}`;
const identity = (id: IssuedIdentity) => ({ chain: id.chainDer, key: id.keyPkcs8Der });

/** A chooser that answers with whatever `pick` says now, and records every question. */
function chooser(pick: () => IssuedIdentity | null): { certificates: ClientCertificates; questions: ClientCertificateQuestion[] } {
  const questions: ClientCertificateQuestion[] = [];
  const certificates = new ClientCertificates((q) => {
    questions.push(q);
    const id = pick();
    return id ? identity(id) : null;
  });
  return { certificates, questions };
}

async function connectWith(certificates: ClientCertificates): Promise<{ c: H3SecondaryCertConnection; answers: ClientCertificateAnswer[]; auth: H3ClientAuthClient }> {
  const auth = new H3ClientAuthClient({ certificates });
  const c = await connectH3(url('/'), { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [auth] });
  const answers: ClientCertificateAnswer[] = [];
  auth.of(c)!.on('answer', (a) => answers.push(a));
  return { c, answers, auth };
}

const json = (body: Buffer) => JSON.parse(body.toString()) as Record<string, unknown>;

test('HTTP/3 client certificates: an accepted certificate gives the handler the identity of the request, its origin and connection; the next request uses it without asking again', async () => {
  const { certificates, questions } = chooser(() => ids['bob']!);
  const { c, answers, auth } = await connectWith(certificates);
  try {
    const first = await c.request(url('/protected'));
    assert.equal(first.status, 200, first.body.toString());
    assert.deepEqual(json(first.body), { subject: 'CN=bob', flow: 'secondary-client-certs', origin: `https://a.example:${server.port}`, chainLength: 2, sameConnection: true, sameAsLookup: true });
    assert.deepEqual(auth.of(c)!.negotiatedFlows, ['secondary-client-certs']);
    const second = await c.request(url('/protected'));
    assert.equal(second.status, 200);
    assert.equal(questions.length, 1, 'the user is asked once');
    assert.equal(answers.length, 1, 'one CLIENT_CERTIFICATE for the connection');
    assert.equal(answers[0]!.flow, 'secondary-client-certs');
    assert.equal(c.closed, false);
  } finally {
    await c.close();
  }
});

test('HTTP/3 client certificates: an untrusted certificate is refused with 403 (rejected) and the connection serves the next request', async () => {
  const { certificates } = chooser(() => ids['mallory']!);
  const { c } = await connectWith(certificates);
  try {
    refusals.length = 0;
    const r = await c.request(url('/protected'));
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /client certificate refused \(rejected\)/);
    assert.deepEqual(refusals, ['ERR_CLIENT_CERT_REFUSED']);
    const next = await c.request(url('/open'));
    assert.equal(next.status, 200);
    assert.equal(next.body.toString(), 'open');
    assert.equal(c.closed, false);
  } finally {
    await c.close();
  }
});

test('HTTP/3 client certificates: a client that declines (an empty authenticator) gets 403 declined, and the connection goes on', async () => {
  const { certificates } = chooser(() => null);
  const { c, answers } = await connectWith(certificates);
  try {
    const r = await c.request(url('/protected'));
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /\(declined\)/);
    assert.equal(answers[0]!.declined, 'the application declined');
    assert.equal((await c.request(url('/'))).status, 200);
  } finally {
    await c.close();
  }
});

test('HTTP/3 client certificates: after clear() the connection retires, and the next request, on a new connection, is asked again and switches identity', async () => {
  let who = 'alice';
  const { certificates, questions } = chooser(() => ids[who]!);
  const auth = new H3ClientAuthClient({ certificates });
  const open = () => connectH3(url('/'), { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [auth] });
  const c1 = await open();
  let retired = false;
  auth.of(c1)!.on('retired', () => (retired = true));
  assert.equal(json((await c1.request(url('/protected'))).body)['subject'], 'CN=alice');
  who = 'bob';
  certificates.clear(url('/'));
  assert.equal(retired, true);
  assert.equal(c1.closed, true, 'a retired connection takes no new requests');
  await assert.rejects(c1.request(url('/protected')), { code: 'ERR_H3_CONNECTION_CLOSED' });
  const c2 = await open();
  try {
    assert.equal(json((await c2.request(url('/protected'))).body)['subject'], 'CN=bob');
    assert.equal(questions.length, 2, 'asked again after clear()');
  } finally {
    await c2.close();
    await c1.close();
  }
});

test('HTTP/3 client certificates through the agent: after clear(), the next request goes on a new connection and is asked again', async () => {
  let who = 'alice';
  const { certificates, questions } = chooser(() => ids[who]!);
  const auth = new H3ClientAuthClient({ certificates });
  const agent = new SecondaryCertAgent({ protocol: 'h3', ca: [pki.caPem], lookup: async () => ['127.0.0.1'], h3Extensions: [auth] });
  try {
    const first = await agent.request(url('/protected'));
    assert.equal(json(first.body)['subject'], 'CN=alice');
    const again = await agent.request(url('/protected'));
    assert.deepEqual([again.connectionId, again.reused, questions.length], [first.connectionId, true, 1]);
    who = 'bob';
    certificates.clear();
    const switched = await agent.request(url('/protected'));
    assert.equal(json(switched.body)['subject'], 'CN=bob');
    assert.notEqual(switched.connectionId, first.connectionId, 'a new connection');
    assert.equal(questions.length, 2);
  } finally {
    await agent.close();
  }
});

test('HTTP/3 client certificates: a client without the flow is refused 403 not-negotiated, and no AUTHENTICATOR_REQUESTS is sent to it', async () => {
  const c = await connectH3(url('/'), { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  let frames = 0;
  c.session.on('extensionFrame', (type: number) => (type === P.frames.AUTHENTICATOR_REQUESTS ? frames++ : undefined));
  try {
    const r = await c.request(url('/protected'));
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /\(not-negotiated\)/);
    assert.equal(frames, 0);
    assert.equal((await c.request(url('/'))).status, 200);
  } finally {
    await c.close();
  }
});

test('HTTP/3 client certificates: a client that advertises the setting but never answers gets 408 after timeoutMs, and the connection stays up', async () => {
  // An extension that only advertises SETTINGS_HTTP_CLIENT_CERT_AUTH: nothing answers AUTHENTICATOR_REQUESTS.
  const mute = { settings: () => new Map([[CLIENT_CERT_AUTH, 1]]), attach: () => undefined };
  const c = await connectH3(url('/'), { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [mute] });
  let requests = 0;
  c.session.on('extensionFrame', (type: number) => (type === P.frames.AUTHENTICATOR_REQUESTS ? requests++ : undefined));
  try {
    refusals.length = 0;
    const r = await c.request(url('/protected'));
    assert.equal(r.status, 408);
    assert.match(r.body.toString(), /no certificate within 3000 ms/);
    assert.deepEqual(refusals, ['ERR_CLIENT_CERT_TIMEOUT']);
    assert.equal(requests, 1, 'the server asked once');
    assert.equal((await c.request(url('/'))).status, 200);
  } finally {
    await c.close();
  }
});

// ---- the draft's connection errors, with raw peers ----

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

/** A raw QUIC client to our server: writes its control stream, then `after` runs; returns how the connection closed. */
async function rawClient(bytes: Uint8Array, after?: (t: TransportConnection) => Promise<void>): Promise<TransportClose> {
  const t = await connectQuic({ host: '127.0.0.1', port: server.port, servername: 'a.example', ca: pki.caPem });
  t.onStream(() => undefined);
  await t.openStream('uni').writable!.getWriter().write(bytes);
  await after?.(t);
  return withTimeout(t.closed, t);
}

/** A raw QUIC server: writes `bytes` on its control stream to each client; resolves how the first connection closed. */
async function rawServer(bytes: Uint8Array): Promise<{ raw: TransportServer; closed: Promise<TransportClose> }> {
  const raw = await listenQuic({ cert: ids['server']!.chainPem, key: ids['server']!.keyPem });
  const closed = new Promise<TransportClose>((resolve) => {
    raw.onConnection((t) => {
      t.onStream(() => undefined);
      void t.openStream('uni').writable!.getWriter().write(bytes);
      void withTimeout(t.closed, t).then(resolve);
    });
  });
  return { raw, closed };
}

test('HTTP/3: AUTHENTICATOR_REQUESTS sent to a server is a connection error H3_FRAME_UNEXPECTED (rosomakho-00 section 4.1.2)', async () => {
  const request = createRequest({ creator: 'server' });
  closedBy(await rawClient(control(encodeSettingsFrame(new Map([[CLIENT_CERT_AUTH, 1]])), encodeAuthenticatorRequestsFrame({ requests: [request.bytes] }))), H3ErrorCode.H3_FRAME_UNEXPECTED);
  // The server goes on: a fresh connection is served.
  const c = await connectH3(url('/'), { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  assert.equal((await c.request(url('/'))).status, 200);
  await c.close();
});

test('HTTP/3: a CLIENT_CERTIFICATE with no authenticator request outstanding is H3_FRAME_UNEXPECTED, and so is one from a client that never sent SETTINGS_HTTP_CLIENT_CERT_AUTH (rosomakho-00 sections 3.1, 4.2)', async () => {
  const frame = encodeClientCertificateFrame({ authenticator: new Uint8Array(40).fill(7) });
  closedBy(await rawClient(control(encodeSettingsFrame(new Map([[CLIENT_CERT_AUTH, 2]])), frame)), H3ErrorCode.H3_FRAME_UNEXPECTED);
  closedBy(await rawClient(control(encodeSettingsFrame(new Map()), frame)), H3ErrorCode.H3_FRAME_UNEXPECTED);
});

test('HTTP/3: a client closes with H3_FRAME_UNEXPECTED on more AUTHENTICATOR_REQUESTS outstanding than the credentials it advertised (rosomakho-00 section 4.1.4)', async () => {
  const requests = [createRequest({ creator: 'server' }).bytes, createRequest({ creator: 'server' }).bytes];
  const { raw, closed } = await rawServer(control(encodeSettingsFrame(new Map([[CLIENT_CERT_AUTH, 1]])), encodeAuthenticatorRequestsFrame({ requests })));
  const { certificates, questions } = chooser(() => ids['alice']!);
  const auth = new H3ClientAuthClient({ certificates, maxCredentials: 1 });
  const c = await connectH3(`https://a.example:${raw.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [auth] });
  try {
    closedBy(await closed, H3ErrorCode.H3_FRAME_UNEXPECTED);
    assert.equal(questions.length, 0, 'nothing was answered');
  } finally {
    await c.close();
    await raw.close();
  }
});

test('HTTP/3: AUTHENTICATOR_REQUESTS from a server that did not send SETTINGS_HTTP_CLIENT_CERT_AUTH = 1 is H3_FRAME_UNEXPECTED; a malformed one is H3_MESSAGE_ERROR; a server value of 2 is H3_SETTINGS_ERROR', async () => {
  const request = createRequest({ creator: 'server' }).bytes;
  const cases: [Uint8Array, number][] = [
    [control(encodeSettingsFrame(new Map()), encodeAuthenticatorRequestsFrame({ requests: [request] })), H3ErrorCode.H3_FRAME_UNEXPECTED],
    [control(encodeSettingsFrame(new Map([[CLIENT_CERT_AUTH, 1]])), encodeFrame(P.frames.AUTHENTICATOR_REQUESTS, new Uint8Array([0x05, 0x0d, 0x00]))), H3ErrorCode.H3_MESSAGE_ERROR],
    [control(encodeSettingsFrame(new Map([[CLIENT_CERT_AUTH, 1]])), encodeFrame(P.frames.AUTHENTICATOR_REQUESTS, concatBytes(encodeVarint(4), new Uint8Array([1, 2, 3, 4])))), H3ErrorCode.H3_MESSAGE_ERROR],
    [control(encodeSettingsFrame(new Map([[CLIENT_CERT_AUTH, 2]]))), H3ErrorCode.H3_SETTINGS_ERROR],
  ];
  for (const [bytes, code] of cases) {
    const { raw, closed } = await rawServer(bytes);
    const { certificates } = chooser(() => ids['alice']!);
    const c = await connectH3(`https://a.example:${raw.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [new H3ClientAuthClient({ certificates })] });
    closedBy(await closed, code);
    await c.close();
    await raw.close();
  }
});
