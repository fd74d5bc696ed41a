// RFC 9440 end to end on loopback: a TLS-terminating proxy (node:http2 secure server with HTTP/1.1 too,
// requestCert) forwards over plain HTTP to an origin on 127.0.0.1. The proxy connects from 127.0.0.2, the
// only address the origin trusts, so requests sent straight from 127.0.0.1 come from an untrusted peer.
import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { CertificatePolicy } from '../../src/pki/policy.js';
import { CertificateRejected } from '../../src/errors.js';
import { ClientCertOrigin, sendRefusal } from '../../src/flows/client-cert-field/origin.js';
import { forwardClientCert, identityFromTlsSocket, sanitizeResponseHeaders, type ForwardedIdentity } from '../../src/flows/client-cert-field/forward.js';
import { encodeClientCertFields, type HeaderRecord } from '../../src/flows/client-cert-field/fields.js';
import { identityFromAuthenticator } from '../../src/flows/client-cert-field/forward.js';
import { nodeCrypto } from '../../src/crypto/index.js';
import { ConnectionState, createAuthenticator, createRequest, validateAuthenticator } from '../../src/ea/index.js';
import { keysFromTlsSocket } from '../../src/exporter/tls-socket.js';

const PROXY_SOURCE = '127.0.0.2';
const day = 864e5;

let pki: TestPki;
let otherCa: TestPki;
let alice: IssuedIdentity; // through an intermediate, so Client-Cert-Chain has a member
let bob: IssuedIdentity;
let expired: IssuedIdentity;
let stranger: IssuedIdentity; // issued by another CA
let serverOnly: IssuedIdentity; // EKU serverAuth only
let origin: http.Server;
let proxy: http2.Http2SecureServer;
let originPort: number;
let proxyPort: number;
/** How the proxy validates: with a CertificatePolicy, or by trusting node:tls's own verification. */
let proxyPolicy: CertificatePolicy | undefined;
/** The HTTP version of each request the proxy handled, to show both versions were exercised. */
const proxyVersions: string[] = [];
/** The raw headers of the last request the proxy handled. */
let proxyRawHeaders: string[] = [];

const clientPolicy = () => new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'client' });

before(async () => {
  pki = await TestPki.create();
  otherCa = await TestPki.create({ commonName: 'another CA' });
  const server = await pki.issue({ ipAddresses: ['127.0.0.1'] });
  alice = await pki.issue({ role: 'client', commonName: 'alice', viaIntermediate: true });
  bob = await pki.issue({ role: 'client', commonName: 'bob', keyType: 'ed25519' });
  expired = await pki.issue({ role: 'client', commonName: 'old', notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
  stranger = await otherCa.issue({ role: 'client', commonName: 'mallory' });
  serverOnly = await pki.issue({ role: 'server', commonName: 'a server', dnsNames: ['s.example'] });

  const guard = new ClientCertOrigin({ trustedProxies: [PROXY_SOURCE], policy: clientPolicy(), maxFieldSize: 8192 });
  origin = http.createServer((req, res) => {
    void guard.verify(req).then((verdict) => {
      if (verdict.refusal) return sendRefusal(res, verdict.refusal);
      const id = verdict.identity;
      // What the handler saw, for the test to inspect. The answer depends on Client-Cert: say so to caches.
      res.writeHead(200, { 'content-type': 'application/json', vary: 'Client-Cert' });
      res.end(
        JSON.stringify({
          subject: id?.leaf.subject ?? null,
          issuer: id?.leaf.issuer ?? null,
          pathLength: id?.chain.length ?? 0,
          proxyAddress: id?.proxyAddress ?? null,
          peer: req.socket.remoteAddress,
          clientCertLines: req.headersDistinct['client-cert'] ?? [],
          chainLines: req.headersDistinct['client-cert-chain'] ?? [],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originPort = (origin.address() as AddressInfo).port;

  proxy = http2.createSecureServer(
    { key: server.keyPem, cert: server.chainPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: false, allowHTTP1: true },
    (req, res) => void proxyRequest(req, res),
  );
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = (proxy.address() as AddressInfo).port;
});

after(async () => {
  origin.closeAllConnections();
  await new Promise((resolve) => origin.close(resolve));
  await new Promise((resolve) => proxy.close(resolve));
});

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings']);

/** The proxy: validate the TLS client certificate, then forward with the fields of that identity only. */
async function proxyRequest(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): Promise<void> {
  // HTTP/2 and HTTP/1.1 requests both arrive here (allowHTTP1); each reaches its TLS socket differently.
  proxyVersions.push(req.httpVersion);
  proxyRawHeaders = req.rawHeaders;
  const tlsSocket = (req.httpVersion === '2.0' ? req.stream.session?.socket : req.socket) as tls.TLSSocket;
  let identity: ForwardedIdentity | undefined;
  try {
    identity = await identityFromTlsSocket(tlsSocket, { policy: proxyPolicy });
  } catch (err) {
    if (!(err instanceof CertificateRejected)) throw err;
    // This proxy refuses a certificate it cannot accept, as an HTTP answer rather than a TLS alert.
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end(`proxy: ${err.code}: ${err.message}\n`);
    return;
  }
  const headers: Record<string, string | string[] | undefined> = { host: String(req.headers[':authority'] ?? req.headers.host) };
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith(':') && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  const upstream = http.request({
    host: '127.0.0.1',
    port: originPort,
    localAddress: PROXY_SOURCE,
    agent: false,
    method: req.method,
    path: req.url,
    headers: forwardClientCert(headers, identity) as http.OutgoingHttpHeaders,
  });
  upstream.on('response', (answer) => {
    const back: HeaderRecord = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    res.writeHead(answer.statusCode ?? 502, sanitizeResponseHeaders(back) as http.OutgoingHttpHeaders);
    answer.pipe(res);
  });
  upstream.on('error', (err) => {
    res.writeHead(502);
    res.end(String(err));
  });
  req.pipe(upstream);
}

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
  json: () => Record<string, unknown>;
}

function answer(status: number, headers: Record<string, unknown>, body: string): Answer {
  return { status, headers, body, json: () => JSON.parse(body) as Record<string, unknown> };
}

/** A GET to the proxy over HTTP/2, optionally with a client certificate and extra request headers. */
async function viaProxyH2(id: IssuedIdentity | undefined, extra: Record<string, string | string[]> = {}): Promise<Answer> {
  const session = http2.connect(`https://127.0.0.1:${proxyPort}`, { ca: pki.caPem, ...(id ? { key: id.keyPem, cert: id.chainPem } : {}) });
  try {
    const stream = session.request({ ':method': 'GET', ':path': '/who', ...extra });
    const [headers, body] = await Promise.all([
      new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.on('response', resolve);
        stream.on('error', reject);
      }),
      (async () => {
        let text = '';
        for await (const chunk of stream) text += String(chunk);
        return text;
      })(),
    ]);
    return answer(Number(headers[':status']), headers, body);
  } finally {
    session.close();
  }
}

/** A GET to the proxy over HTTP/1.1 on TLS; headers are sent with the case given. */
function viaProxyH1(id: IssuedIdentity | undefined, extra: Record<string, string | string[]> | string[] = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port: proxyPort,
      path: '/who',
      ca: pki.caPem,
      agent: false,
      headers: extra,
      ...(id ? { key: id.keyPem, cert: id.chainPem } : {}),
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += String(c)));
      res.on('end', () => resolve(answer(res.statusCode ?? 0, res.headers, body)));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A GET straight to the origin over plain HTTP, from `localAddress`. */
function direct(localAddress: string, headers: Record<string, string | string[]>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: originPort, localAddress, agent: false, path: '/who', headers });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += String(c)));
      res.on('end', () => resolve(answer(res.statusCode ?? 0, res.headers, body)));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a valid client certificate reaches the origin as the identity, over HTTP/2 and HTTP/1.1', async () => {
  proxyPolicy = clientPolicy();
  const a = await viaProxyH2(alice);
  assert.equal(a.status, 200, a.body);
  const seen = a.json();
  assert.equal(seen.subject, 'CN=alice');
  assert.match(String(seen.issuer), /intermediate/);
  assert.equal(seen.pathLength, 3, 'leaf, intermediate from Client-Cert-Chain, and the origin’s anchor');
  assert.equal(seen.proxyAddress, PROXY_SOURCE);
  assert.equal((seen.clientCertLines as string[]).length, 1);
  assert.equal((seen.chainLines as string[]).length, 1, 'the intermediate, without the root');
  assert.deepEqual(seen.clientCertLines, [encodeClientCertFields(alice.chainDer)['client-cert']]);
  // The origin said Vary: Client-Cert; past the proxy no cache can see that field, so it becomes '*'.
  assert.equal(a.headers.vary, '*');

  const b = await viaProxyH1(bob);
  assert.equal(b.status, 200, b.body);
  assert.equal(b.json().subject, 'CN=bob');
  assert.equal(b.json().pathLength, 2);
  assert.deepEqual(b.json().chainLines, [], 'no chain field when the leaf was issued by the root');
  assert.deepEqual(proxyVersions.slice(-2), ['2.0', '1.1']);
});

test('the identity node:tls verified is forwarded too, when the proxy has no policy of its own', async () => {
  proxyPolicy = undefined;
  const a = await viaProxyH2(alice);
  assert.equal(a.status, 200, a.body);
  assert.equal(a.json().subject, 'CN=alice');
  assert.equal(a.json().pathLength, 3);
  assert.equal((a.json().chainLines as string[]).length, 1, 'the root node appended is not forwarded');
  const old = await viaProxyH1(expired);
  assert.equal(old.status, 403);
  assert.match(old.body, /^proxy: ERR_CERT_EXPIRED/);
  const foreign = await viaProxyH2(stranger);
  assert.equal(foreign.status, 403);
  assert.match(foreign.body, /^proxy: ERR_CERT_UNTRUSTED/);
});

test('a forged Client-Cert sent through the proxy is stripped, in any case, over HTTP/2 and HTTP/1.1', async () => {
  proxyPolicy = clientPolicy();
  const forged = encodeClientCertFields(alice.chainDer);
  // No client certificate: the origin sees no identity and none of the client's fields.
  for (const send of [viaProxyH2, viaProxyH1]) {
    const r = await send(undefined, forged);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().subject, null);
    assert.deepEqual(r.json().clientCertLines, []);
    assert.deepEqual(r.json().chainLines, []);
  }
  // Several lines, with the names spelled as a client likes.
  const mixedCase = await viaProxyH1(undefined, ['Client-Cert', forged['client-cert']!, 'CLIENT-CERT-CHAIN', forged['client-cert-chain']!, 'client-cert', forged['client-cert']!]);
  assert.equal(mixedCase.status, 200, mixedCase.body);
  assert.deepEqual(proxyRawHeaders.filter((_, i) => i % 2 === 0 && /^client-cert/i.test(proxyRawHeaders[i]!)), ['Client-Cert', 'CLIENT-CERT-CHAIN', 'client-cert']);
  assert.equal(mixedCase.json().subject, null);
  assert.deepEqual(mixedCase.json().clientCertLines, []);
  // Bob authenticated in TLS and claims to be Alice: the origin sees Bob only.
  for (const send of [viaProxyH2, viaProxyH1]) {
    const r = await send(bob, forged);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().subject, 'CN=bob');
    assert.deepEqual(r.json().chainLines, []);
  }
});

test('Client-Cert straight from an untrusted peer is refused with 403; without it the request passes', async () => {
  const fields = encodeClientCertFields(alice.chainDer);
  const refused = await direct('127.0.0.1', fields);
  assert.equal(refused.status, 403);
  assert.match(refused.body, /^ERR_UNTRUSTED_PROXY: Client-Cert came from 127\.0\.0\.1, which is not a trusted proxy/);
  assert.equal(refused.headers['cache-control'], 'no-store');
  // Even a chain field alone, or an empty one, is a claim the peer may not make.
  assert.equal((await direct('127.0.0.1', { 'client-cert-chain': '' })).status, 403);
  const anonymous = await direct('127.0.0.1', {});
  assert.equal(anonymous.status, 200);
  assert.equal(anonymous.json().subject, null);
  // The same fields from the trusted address are accepted.
  const trusted = await direct(PROXY_SOURCE, fields);
  assert.equal(trusted.status, 200, trusted.body);
  assert.equal(trusted.json().subject, 'CN=alice');
});

test('expired, wrong-CA and wrong-EKU certificates are refused with their codes, at the proxy and at the origin', async () => {
  proxyPolicy = clientPolicy();
  const cases: Array<[IssuedIdentity, string]> = [
    [expired, 'ERR_CERT_EXPIRED'],
    [stranger, 'ERR_CERT_UNTRUSTED'],
    [serverOnly, 'ERR_CERT_EKU'],
  ];
  for (const [id, code] of cases) {
    // The proxy checks first and answers itself.
    for (const send of [viaProxyH2, viaProxyH1]) {
      const r = await send(id);
      assert.equal(r.status, 403, `${code} via proxy`);
      assert.match(r.body, new RegExp(`^proxy: ${code}`));
    }
    // A trusted proxy that forwards such a certificate anyway (another policy, a skewed clock) does not get
    // it past the origin's own check.
    const r = await direct(PROXY_SOURCE, encodeClientCertFields(id.chainDer));
    assert.equal(r.status, 403, `${code} at origin`);
    assert.match(r.body, new RegExp(`^${code}: client certificate refused: `));
  }
});

test('malformed, repeated and oversized fields from the trusted proxy get 400 and 431', async () => {
  const fields = encodeClientCertFields(alice.chainDer);
  const cases: Array<[Record<string, string | string[]>, number, RegExp]> = [
    [{ 'client-cert': 'AQID' }, 400, /^ERR_MALFORMED_FIELD: Client-Cert: the value is a Token/],
    [{ 'client-cert': [fields['client-cert']!, fields['client-cert']!] }, 400, /^ERR_MALFORMED_FIELD: Client-Cert: must be one field line, not 2/],
    [{ 'client-cert-chain': fields['client-cert-chain']! }, 400, /^ERR_MALFORMED_FIELD: Client-Cert-Chain: present without Client-Cert/],
    [{ 'client-cert': fields['client-cert']!, 'client-cert-chain': `${fields['client-cert-chain']!},` }, 400, /the List ends with a comma/],
    [{ 'client-cert': ':AQID:' }, 403, /^ERR_CERT_MALFORMED: /],
    [{ 'client-cert': `:${'A'.repeat(9000)}:` }, 431, /^ERR_FIELD_TOO_LARGE: Client-Cert: 9002 characters, more than 8192/],
  ];
  for (const [headers, status, body] of cases) {
    const r = await direct(PROXY_SOURCE, headers);
    assert.equal(r.status, status, r.body);
    assert.match(r.body, body);
  }
});

test('an identity proven with an exported authenticator is forwarded like a TLS one', async () => {
  // A real TLS 1.3 connection with no client certificate; the client then proves Alice's certificate with an
  // RFC 9261 authenticator in answer to the server's request. (Carrying these messages in HTTP/2 frames is
  // the HTTP/2 layer's business; here they cross in memory.)
  const serverId = await pki.issue({ ipAddresses: ['127.0.0.1'] });
  const server = tls.createServer({ key: serverId.keyPem, cert: serverId.chainPem });
  const accepted = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: pki.caPem });
  try {
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    const serverSocket = await accepted;
    const serverState = new ConnectionState('server');
    const request = createRequest({ creator: 'server', state: serverState });
    const authenticator = await createAuthenticator({
      keys: keysFromTlsSocket(client),
      creator: 'client',
      request: request.bytes,
      certificateChain: alice.chainDer,
      signer: await nodeCrypto.signerFromPrivateKey(alice.keyPem),
      state: new ConnectionState('client'),
    });
    const validated = await validateAuthenticator({ keys: keysFromTlsSocket(serverSocket), creator: 'client', request, authenticator, state: serverState });
    assert.equal(await identityFromTlsSocket(serverSocket), undefined, 'no certificate in the TLS handshake itself');

    const identity = await identityFromAuthenticator(validated, clientPolicy());
    const r = await direct(PROXY_SOURCE, forwardClientCert({ 'client-cert': 'forged' }, identity) as Record<string, string>);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().subject, 'CN=alice');
    assert.equal(r.json().pathLength, 3);
  } finally {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
