// OCSP responses and SCTs stapled to secondary certificates, end to end over real TLS 1.3 and node:http2 on
// loopback: sent exactly when solicited (an OPTIONS * request's extensions, or the TLS ClientHello's
// status_request for a spontaneous SERVER_CERTIFICATE), judged by the client's certificate policy, and an
// unsolicited staple still refused (RFC 9261 section 5.2.1).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { TestCtLog, TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer, type SecondaryCertServer } from '../../src/h2/server.js';
import { connect, type CertificateEvent, type ClientOptions } from '../../src/h2/client.js';
import { installOptionsStar } from '../../src/flows/options-star/server.js';
import { proveOrigin } from '../../src/flows/options-star/client.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import type { SecondaryIdentity } from '../../src/pki/identity.js';

let pki: TestPki;
let log: TestCtLog;
const ids: Record<string, IssuedIdentity> = {};
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

before(async () => {
  pki = await TestPki.create();
  log = await TestCtLog.create();
  for (const name of ['a.example', 'b.example']) ids[name] = await pki.issue({ dnsNames: [name] });
});

interface Running {
  extension: SecondaryCertServer;
  url(host: string): string;
  close(): Promise<void>;
}

/** a.example on TLS; b.example as a secondary identity stapling `staple`, sent spontaneously or only over OPTIONS *. */
async function startServer(staple: Pick<SecondaryIdentity, 'ocspResponse' | 'sctList'>, sendOnConnect: boolean): Promise<Running> {
  const b = ids['b.example']!;
  const { server, extension } = await createSecondaryCertServer({
    key: ids['a.example']!.keyPem,
    cert: ids['a.example']!.chainPem,
    minVersion: 'TLSv1.3',
    identities: [{ chain: b.chainDer, key: b.keyPkcs8Der, ...staple }],
    sendOnConnect,
  });
  installOptionsStar(server, { extension });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end();
  });
  server.on('session', (session) => session.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    extension,
    url: (host) => `https://${host}:${port}/`,
    close: () =>
      new Promise((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
}

function clientOptions(extra: Partial<ClientOptions> = {}): ClientOptions {
  return { ca: [pki.caPem], lookup, connectAddress: '127.0.0.1', ...extra };
}

/** The first 'certificate' event, or the connection error if one comes first; bounded. */
function firstOutcome(conn: Awaited<ReturnType<typeof connect>>): Promise<{ event?: CertificateEvent; error?: { wireCode: number } }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no certificate event and no connection error in 10 s')), 10_000);
    conn.once('certificate', (event) => (clearTimeout(timer), resolve({ event })));
    conn.once('protocolError', (error) => (clearTimeout(timer), resolve({ error })));
  });
}

test('OPTIONS * asking for status_request gets the stapled OCSP response, and a policy requiring OCSP accepts it', async () => {
  const s = await startServer({ ocspResponse: pki.ocspResponse(ids['b.example']!) }, false);
  try {
    const conn = await connect(s.url('a.example'), clientOptions({ stapling: { ocsp: 'require' } }));
    const result = await proveOrigin(conn, 'https://b.example', { requestOcsp: true });
    assert.equal(result.outcome, 'proven');
    assert.equal(result.outcome === 'proven' && result.ocsp?.status, 'good');
    await conn.close();
  } finally {
    await s.close();
  }
});

test('OPTIONS * with a revoked OCSP response: the policy refuses the certificate with ERR_CERT_REVOKED, the connection lives on', async () => {
  const s = await startServer({ ocspResponse: pki.ocspResponse(ids['b.example']!, { status: 'revoked' }) }, false);
  try {
    const conn = await connect(s.url('a.example'), clientOptions({ stapling: { ocsp: 'require' } }));
    const events: CertificateEvent[] = [];
    conn.on('certificate', (e) => events.push(e));
    const result = await proveOrigin(conn, 'https://b.example', { requestOcsp: true });
    assert.equal(result.outcome, 'rejected');
    assert.match(result.outcome === 'rejected' ? result.reason : '', /^ERR_CERT_REVOKED/);
    assert.equal(events[0]?.code, 'ERR_CERT_REVOKED');
    assert.equal((await conn.request(s.url('a.example'))).status, 200);
    await conn.close();
  } finally {
    await s.close();
  }
});

test('OPTIONS * without status_request gets no staple: a policy requiring OCSP refuses with ERR_CERT_OCSP_MISSING, one reporting sees it absent', async () => {
  const s = await startServer({ ocspResponse: pki.ocspResponse(ids['b.example']!) }, false);
  try {
    const strict = await connect(s.url('a.example'), clientOptions({ stapling: { ocsp: 'require' } }));
    const refused = await proveOrigin(strict, 'https://b.example');
    assert.match(refused.outcome === 'rejected' ? refused.reason : '', /^ERR_CERT_OCSP_MISSING/);
    await strict.close();
    const reporting = await connect(s.url('a.example'), clientOptions({ stapling: { ocsp: 'report' } }));
    const proven = await proveOrigin(reporting, 'https://b.example');
    assert.deepEqual(proven.outcome === 'proven' && proven.ocsp, { status: 'absent' });
    await reporting.close();
  } finally {
    await s.close();
  }
});

test('OPTIONS * asking for SCTs gets the stapled list; a policy requiring one log accepts it, one requiring an unknown log refuses', async () => {
  const b = ids['b.example']!;
  const s = await startServer({ sctList: TestCtLog.list([log.sct(b.certDer)]) }, false);
  try {
    const conn = await connect(s.url('a.example'), clientOptions({ stapling: { ctLogs: [{ key: log.publicKeyDer, name: 'test log' }], minSctLogs: 1 } }));
    const result = await proveOrigin(conn, 'https://b.example', { requestScts: true });
    assert.equal(result.outcome === 'proven' && result.sct?.validLogs, 1);
    await conn.close();
    const elsewhere = await TestCtLog.create();
    const strict = await connect(s.url('a.example'), clientOptions({ stapling: { ctLogs: [{ key: elsewhere.publicKeyDer }], minSctLogs: 1 } }));
    const refused = await proveOrigin(strict, 'https://b.example', { requestScts: true });
    assert.match(refused.outcome === 'rejected' ? refused.reason : '', /^ERR_CERT_SCT_TOO_FEW_LOGS.*ERR_CERT_SCT_UNKNOWN_LOG/);
    await strict.close();
  } finally {
    await s.close();
  }
});

test("a spontaneous SERVER_CERTIFICATE staples OCSP only when the client's ClientHello offered status_request (requestOCSP)", async () => {
  const s = await startServer({ ocspResponse: pki.ocspResponse(ids['b.example']!) }, true);
  try {
    // status_request in the ClientHello: the server staples, the policy requiring OCSP accepts.
    const asking = await connect(s.url('a.example'), clientOptions({ requestOCSP: true, stapling: { ocsp: 'require' } }));
    const stapled = await firstOutcome(asking);
    assert.equal(stapled.event?.accepted, true, stapled.event?.reason);
    assert.equal(stapled.event?.ocsp?.status, 'good');
    await asking.close();
    // No status_request: nothing stapled, no connection error; a policy that reports sees it absent.
    const plain = await connect(s.url('a.example'), clientOptions({ stapling: { ocsp: 'report' } }));
    const unstapled = await firstOutcome(plain);
    assert.equal(unstapled.event?.accepted, true);
    assert.deepEqual(unstapled.event?.ocsp, { status: 'absent' });
    await plain.close();
  } finally {
    await s.close();
  }
});

test('a spontaneous SERVER_CERTIFICATE with a stale staple is refused by a policy requiring OCSP, without ending the connection', async () => {
  const minute = 60e3;
  const stale = pki.ocspResponse(ids['b.example']!, { thisUpdate: new Date(Date.now() - 50 * minute), nextUpdate: new Date(Date.now() - 40 * minute) });
  const s = await startServer({ ocspResponse: stale }, true);
  try {
    const conn = await connect(s.url('a.example'), clientOptions({ requestOCSP: true, stapling: { ocsp: 'require' } }));
    const outcome = await firstOutcome(conn);
    assert.equal(outcome.event?.accepted, false);
    assert.equal(outcome.event?.code, 'ERR_CERT_OCSP_STALE');
    assert.equal((await conn.request(s.url('a.example'))).status, 200);
    await conn.close();
  } finally {
    await s.close();
  }
});

test('a client that did not offer status_request still refuses a stapled SERVER_CERTIFICATE: SERVER_CERTIFICATE_INVALID', async () => {
  const s = await startServer({ ocspResponse: pki.ocspResponse(ids['b.example']!) }, true);
  // A server that staples although the ClientHello did not ask (as a broken peer would).
  s.extension.clientHelloOfferedOcsp = () => true;
  try {
    const conn = await connect(s.url('a.example'), clientOptions());
    const outcome = await firstOutcome(conn);
    assert.equal(outcome.error?.wireCode, DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID);
  } finally {
    await s.close();
  }
});

test("node facts the server leans on: 'OCSPRequest' fires only for a ClientHello with status_request, and its async resource is the socket's TLS handle", async () => {
  const { createServer, connect: tlsConnect } = await import('node:tls');
  const { executionAsyncResource } = await import('node:async_hooks');
  const a = ids['a.example']!;
  const asked = new WeakSet<object>();
  const seen: boolean[] = [];
  const server = createServer({ key: a.keyPem, cert: a.chainPem, minVersion: 'TLSv1.3' });
  server.on('OCSPRequest', (_c: Buffer, _i: Buffer, cb: (e: Error | null, r: Buffer | null) => void) => {
    asked.add(executionAsyncResource());
    cb(null, null);
  });
  server.on('secureConnection', (socket) => {
    seen.push(asked.has((socket as unknown as { _handle: object })._handle));
    socket.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    for (const requestOCSP of [true, false, true]) {
      await new Promise<void>((resolve, reject) => {
        // tls.connect reads requestOCSP (it passes it to the TLSSocket), though @types/node does not list it there.
        const c = tlsConnect({ port, host: '127.0.0.1', servername: 'a.example', ca: pki.caPem, ...{ requestOCSP } }, () => c.end());
        c.on('close', () => resolve());
        c.on('error', reject);
        c.setTimeout(10_000, () => reject(new Error('TLS handshake timed out')));
      });
    }
    assert.deepEqual(seen, [true, false, true]);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test("an application's own 'OCSPRequest' listener answers for the TLS certificate, and SERVER_CERTIFICATE still staples", async () => {
  const s = await startServer({ ocspResponse: pki.ocspResponse(ids['b.example']!) }, true);
  const tlsStaple = pki.ocspResponse(ids['a.example']!);
  // The extension's listener is first; this one answers, so the extension's must not answer too.
  (s.extension.server as import('node:events').EventEmitter).on('OCSPRequest', (_c: Buffer, _i: Buffer, cb: (e: Error | null, r: Buffer | null) => void) => cb(null, Buffer.from(tlsStaple)));
  try {
    const conn = await connect(s.url('a.example'), clientOptions({ requestOCSP: true, stapling: { ocsp: 'require' } }));
    const outcome = await firstOutcome(conn);
    assert.equal(outcome.event?.ocsp?.status, 'good');
    await conn.close();
  } finally {
    await s.close();
  }
});

test("a TLS client asking for OCSP gets an identity's response stapled in the handshake when SNI picks that identity, and none for other certificates", async () => {
  const staple = pki.ocspResponse(ids['b.example']!);
  const s = await startServer({ ocspResponse: staple }, false);
  const { connect: tlsConnect } = await import('node:tls');
  const port = Number(new URL(s.url('a.example')).port);
  const stapled = (servername: string): Promise<Buffer | undefined> =>
    new Promise((resolve, reject) => {
      let response: Buffer | undefined;
      const c = tlsConnect({ port, host: '127.0.0.1', servername, ca: pki.caPem, ALPNProtocols: ['h2'], ...{ requestOCSP: true } }, () => c.end());
      c.on('OCSPResponse', (r: Buffer | undefined) => (response = r));
      c.on('close', () => resolve(response));
      c.on('error', reject);
      c.setTimeout(10_000, () => reject(new Error('TLS handshake timed out')));
    });
  try {
    assert.deepEqual(new Uint8Array((await stapled('b.example')) ?? []), staple);
    assert.equal((await stapled('a.example'))?.length ?? 0, 0);
  } finally {
    await s.close();
  }
});
