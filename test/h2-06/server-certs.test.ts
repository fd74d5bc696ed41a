// -06 server certificates between this library's client and server over real TLS and node:http2 on
// loopback: a client-requested certificate (section 2.3.1), unsolicited ones (section 2.2), the Required
// Domain rule (sections 3.4.1, 5, 6.1), and the two settings of section 2.1 beside the single one.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { SecondaryCertsError, ServerCertificateRefused } from '../../src/errors.js';
import { DEFAULT_PROFILE, DRAFT_06_PROFILE } from '../../src/h2/profile.js';
import type { ServerCertificate06Event } from '../../src/flows/server-certs-06/client.js';
import { draft06SettingOf, exporterSettingValue, splitSettingValues } from '../../src/flows/client-auth/negotiation.js';
import { client06, pki06, raw06, start06, until } from './helpers.js';
import { pkis } from '../client-auth/helpers.js';
import { createSecondaryCertServer } from '../../src/h2/server.js';
import { connect } from '../../src/h2/client.js';
import { ClientAuthServer } from '../../src/flows/client-auth/server.js';
import { ClientAuthClient } from '../../src/flows/client-auth/client.js';
import { ClientCertificates } from '../../src/flows/client-auth/credentials.js';
import { ServerCerts06Client } from '../../src/flows/server-certs-06/client.js';
import { SecondaryCertAgent } from '../../src/pool/agent.js';

before(async () => {
  await pki06();
});

async function refusal(p: Promise<unknown>): Promise<ServerCertificateRefused> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ServerCertificateRefused, `not a ServerCertificateRefused: ${String(e)}`);
    assert.equal(e.code, 'ERR_SERVER_CERT_REFUSED');
    return e;
  }
  assert.fail('resolved');
}

test('-06: a client asks for b.example (CERTIFICATE_REQUEST + CERTIFICATE_NEEDED for stream 0), the server answers with its certificate, and the connection then serves b.example', async () => {
  const s = await start06({ sendUnsolicited: false });
  const { conn, certs } = await client06(s);
  try {
    assert.equal((await conn.authorityFor(s.origin('b.example'))).ok, false, 'not before the certificate');
    const got = await certs.requestCertificate(s.origin('b.example'));
    assert.deepEqual({ via: got.via, names: got.names, reused: got.reused }, { via: 'secondary', names: ['b.example'], reused: false });
    const answer = await conn.authorityFor(s.origin('b.example'));
    assert.deepEqual([answer.ok, answer.via], [true, 'secondary']);
    const r = await conn.request(`${s.origin('b.example')}/`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'served b.example');
    // The server picked the identity by the request's server_name and answered that Request-ID.
    assert.equal(s.sent.length, 1);
    assert.deepEqual([s.sent[0]!.serverName, s.sent[0]!.unsolicited, s.sent[0]!.names], ['b.example', false, ['b.example']]);
    assert.equal(s.sent[0]!.requestId, 0);
    // Asking again names the same certificate: no second authenticator is built.
    const again = await certs.requestCertificate(s.origin('b.example'));
    assert.equal(again.certId, got.certId);
    assert.equal(s.sent.length, 2);
    assert.equal(s.sent[1]!.bytes, undefined);
    assert.deepEqual(s.goaways, []);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('-06: a certificate whose Required Domain no certificate on the connection covers is refused, and its origin stays off the connection', async () => {
  const s = await start06({ sendUnsolicited: false });
  const { conn, certs } = await client06(s);
  const events: ServerCertificate06Event[] = [];
  certs.on('certificate', (e) => events.push(e));
  try {
    const e = await refusal(certs.requestCertificate(s.origin('e.example')));
    assert.equal(e.reason, 'rejected');
    assert.match(e.message, /ERR_CERT_REQUIRED_DOMAIN: its Required Domain z\.example is covered by no certificate/);
    assert.equal((await conn.authorityFor(s.origin('e.example'))).ok, false);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.accepted, false);
    // Not a protocol error (section 4.2): the connection goes on, and other origins still work.
    assert.equal((await certs.requestCertificate(s.origin('b.example'))).via, 'secondary');
    assert.deepEqual(s.goaways, []);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('-06: a server certificate without the Required Domain extension is refused; Required Domain "*" is accepted on any connection', async () => {
  const s = await start06({ sendUnsolicited: false });
  const { conn, certs } = await client06(s);
  try {
    const e = await refusal(certs.requestCertificate(s.origin('d.example')));
    assert.equal(e.reason, 'rejected');
    assert.match(e.message, /ERR_CERT_REQUIRED_DOMAIN: the certificate has no Required Domain extension/);
    assert.equal((await conn.authorityFor(s.origin('d.example'))).ok, false);
    assert.deepEqual((await certs.requestCertificate(s.origin('c.example'))).names, ['c.example']);
    assert.equal((await conn.request(`${s.origin('c.example')}/`)).status, 200);
  } finally {
    await conn.close();
    await s.close();
  }
  // The rule can be switched off (certificates with the extension do not exist outside tests).
  const s2 = await start06({ sendUnsolicited: false });
  const c2 = await client06(s2, { requireRequiredDomain: false });
  try {
    assert.deepEqual((await c2.certs.requestCertificate(s2.origin('d.example'))).names, ['d.example']);
  } finally {
    await c2.conn.close();
    await s2.close();
  }
});

test('-06: for a name it holds no certificate for, the server answers an empty authenticator and USE_CERTIFICATE naming it; the client is refused "declined"', async () => {
  const s = await start06({ sendUnsolicited: false });
  const { conn, certs } = await client06(s);
  try {
    const e = await refusal(certs.requestCertificate(s.origin('unknown.example')));
    assert.equal(e.reason, 'declined');
    assert.match(e.message, /empty authenticator/);
    assert.equal(s.sent[0]!.declined, 'no identity covers unknown.example');
    assert.equal((await conn.authorityFor(s.origin('unknown.example'))).ok, false);
    assert.ok(s.sent[0]!.certId !== undefined && s.sent[0]!.bytes! > 0, 'a CERTIFICATE was sent for it');
    assert.equal((await conn.request(`${s.origin('a.example')}/`)).status, 200);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('-06: the server proves its identities unasked (UNSOLICITED CERTIFICATE); the client accepts at once those whose Required Domain holds, and a later request is answered by USE_CERTIFICATE naming the unsolicited Cert-ID', async () => {
  const s = await start06();
  const { conn, certs } = await client06(s);
  const events: ServerCertificate06Event[] = [];
  certs.on('certificate', (e) => events.push(e));
  try {
    await until(() => events.length === 4);
    assert.deepEqual(
      events.map((e) => [e.names.join(), e.unsolicited, e.accepted]),
      [
        ['b.example', true, true],
        ['c.example', true, true],
        ['d.example', true, false],
        ['e.example', true, false],
      ],
    );
    // Section 2.2: no further action needed from the server.
    assert.equal((await conn.authorityFor(s.origin('b.example'))).ok, true);
    assert.equal((await conn.request(`${s.origin('b.example')}/`)).status, 200);
    const got = await certs.requestCertificate(s.origin('b.example'));
    assert.equal(got.reused, true);
    assert.equal(got.certId, events[0]!.certId);
    assert.equal(s.sent.at(-1)!.requestId, 0);
    assert.equal(s.sent.at(-1)!.bytes, undefined, 'named again, not rebuilt');
    assert.deepEqual(s.goaways, []);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('-06 settings: a -06 profile sends SETTINGS_HTTP_SERVER_CERT_AUTH as the second half of the 8-byte exporter | 0x80000000, and the default profile the single -02..-05 setting', async () => {
  const ids = DRAFT_06_PROFILE.settings;
  const s = await start06({ sendUnsolicited: false });
  const raw = await raw06(s.port, [], () => ({}));
  try {
    await until(() => raw.peerSettings.has(ids.SETTINGS_HTTP_SERVER_CERT_AUTH_06));
    const server = splitSettingValues(raw.tlsSocket, 'server');
    assert.equal(raw.peerSettings.get(ids.SETTINGS_HTTP_SERVER_CERT_AUTH_06), server.server);
    assert.ok((server.server & 0x80000000) !== 0);
    assert.equal(raw.peerSettings.has(ids.SETTINGS_HTTP_CERT_AUTH), false, 'no single setting on a -06 profile');
  } finally {
    raw.close();
    await s.close();
  }
  const d = await start06({ sendUnsolicited: false, profile: DEFAULT_PROFILE });
  const raw2 = await raw06(d.port, [], () => ({}));
  try {
    await until(() => raw2.peerSettings.has(ids.SETTINGS_HTTP_CERT_AUTH));
    assert.equal(raw2.peerSettings.get(ids.SETTINGS_HTTP_CERT_AUTH), exporterSettingValue(raw2.tlsSocket, 'server'));
    assert.equal(raw2.peerSettings.has(ids.SETTINGS_HTTP_SERVER_CERT_AUTH_06), false);
  } finally {
    raw2.close();
    await d.close();
  }
  // Both ends on the default profile negotiate through the single setting, and the flow works there too.
  const d2 = await start06({ sendUnsolicited: false, profile: DEFAULT_PROFILE });
  const c = await client06(d2, {}, DEFAULT_PROFILE);
  try {
    assert.equal((await c.certs.requestCertificate(d2.origin('b.example'))).via, 'secondary');
  } finally {
    await c.conn.close();
    await d2.close();
  }
});

test('-06 settings: a client whose profile differs from the server\'s (single against split), or a server without the extension, is not negotiated: requestCertificate is refused and no frame is sent', async () => {
  const s = await start06({ sendUnsolicited: false });
  const c = await client06(s, { timeoutMs: 500 }, DEFAULT_PROFILE);
  try {
    const e = await refusal(c.certs.requestCertificate(s.origin('b.example')));
    assert.equal(e.reason, 'not-negotiated');
    assert.equal(c.certs.negotiated, false);
    assert.deepEqual(s.sent, []);
  } finally {
    await c.conn.close();
    await s.close();
  }
  const w = await start06({ without06: true });
  const c2 = await client06(w, { timeoutMs: 500 });
  try {
    assert.equal((await refusal(c2.certs.requestCertificate(w.origin('b.example')))).reason, 'not-negotiated');
  } finally {
    await c2.conn.close();
    await w.close();
  }
});

test('-06: a server that never answers the CERTIFICATE_NEEDED leaves the request refused "timeout" after timeoutMs, and the connection usable for its own origin', async () => {
  // A server extension that sends the -06 server setting and swallows the client's frames.
  const silent = {
    frameTypes: (p: typeof DRAFT_06_PROFILE) => [p.frames.CERTIFICATE_REQUEST, p.frames.CERTIFICATE_NEEDED],
    attach(context: import('../../src/h2/extension.js').H2ExtensionContext) {
      const setting = draft06SettingOf(context, 'server', 'server-certs')!;
      context.sendSettings({ customSettings: { [setting.id]: setting.local } }, () => {});
    },
  };
  const s = await start06({ without06: true, extra: [silent] });
  const { conn, certs } = await client06(s, { timeoutMs: 400 });
  try {
    const started = Date.now();
    const e = await refusal(certs.requestCertificate(s.origin('b.example')));
    assert.equal(e.reason, 'timeout');
    assert.ok(Date.now() - started < 5000);
    assert.equal((await conn.authorityFor(s.origin('b.example'))).ok, false);
    assert.equal((await conn.request(`${s.origin('a.example')}/`)).status, 200);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('-06 settings: on a -06 profile the client-certificate half runs on SETTINGS_HTTP_CLIENT_CERT_AUTH (the first half of the exporter), and a client certificate is asked for and used', async () => {
  const p = await pkis();
  const clientAuth = new ClientAuthServer({ trustAnchors: [p.pki.caPem], flows: ['secondary-certs-06'] });
  const { server } = await createSecondaryCertServer({ key: p.ids['server']!.keyPem, cert: p.ids['server']!.chainPem, profile: DRAFT_06_PROFILE, extensions: [clientAuth] });
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (session) => sessions.add(session));
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    void clientAuth.authenticate(stream).then((id) => {
      if (!id || stream.destroyed || stream.closed) return;
      stream.respond({ ':status': 200 });
      stream.end(`${id.flow} ${id.certificate.leaf.subject}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const answering = new ClientAuthClient({ certificates: new ClientCertificates(() => ({ chain: p.ids['alice']!.chainDer, key: p.ids['alice']!.keyPkcs8Der })), flows: ['secondary-certs-06'] });
  const conn = await connect(`https://a.example:${port}/`, { ca: [p.pki.caPem], connectAddress: '127.0.0.1', lookup: async () => ['127.0.0.1'], profile: DRAFT_06_PROFILE, extensions: [answering] });
  const seen = new Map<number, number>();
  conn.splicer!.on('peerSettings', (m: Map<number, number>) => m.forEach((v, k) => seen.set(k, v)));
  try {
    const r = await conn.request(`https://a.example:${port}/protected`);
    assert.equal(r.status, 200, r.body.toString());
    assert.match(r.body.toString(), /^secondary-certs-06 .*CN=alice/);
    assert.deepEqual(answering.of(conn)!.negotiatedFlows, ['secondary-certs-06']);
    const ids = DRAFT_06_PROFILE.settings;
    assert.equal(seen.get(ids.SETTINGS_HTTP_CLIENT_CERT_AUTH_06), splitSettingValues(conn.tlsSocket, 'server').client);
    assert.equal(seen.has(ids.SETTINGS_HTTP_CERT_AUTH), false);
  } finally {
    await conn.close();
    await new Promise((r) => {
      for (const session of sessions) session.destroy();
      server.close(r);
    });
  }
});

test('-06 in the agent: before opening a connection for b.example, the agent asks the open connection whose ORIGIN frame lists it, and sends the request there', async () => {
  const { pki } = await pki06();
  const s = await start06({ sendUnsolicited: false, originFrame: ['a.example', 'b.example'] });
  const certs06 = new ServerCerts06Client();
  const agent = new SecondaryCertAgent({ ca: [pki.caPem], lookup: async () => ['127.0.0.1'], profile: DRAFT_06_PROFILE, extensions: [certs06], provers: [certs06] });
  try {
    assert.equal((await agent.request(`${s.origin('a.example')}/`)).status, 200);
    const r = await agent.request(`${s.origin('b.example')}/`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'served b.example');
    assert.equal(agent.connections.length, 1, 'no second connection');
    assert.deepEqual([s.sent.length, s.sent[0]!.serverName], [1, 'b.example']);
    // An origin the ORIGIN frame does not list is not asked for: it gets a connection of its own, which
    // fails here (the server's TLS certificate is a.example's), and nothing more was requested.
    await assert.rejects(agent.request(`${s.origin('c.example')}/`), (e: unknown) => e instanceof SecondaryCertsError);
    assert.equal(s.sent.length, 1);
  } finally {
    await agent.close();
    await s.close();
  }
});
