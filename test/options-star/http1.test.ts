// OPTIONS * (our proposal, spec-notes/options-star.md) over HTTP/1.1 with https on loopback TLS 1.3: the same
// handler and flow as HTTP/2, with the RFC 9261 state kept per socket on both sides.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { loadIdentity } from '../../src/h2/server.js';
import { createRequest } from '../../src/ea/index.js';
import { installOptionsStar, type OptionsStarAnswer, type OptionsStarServerOptions } from '../../src/flows/options-star/server.js';
import { certificatesProvenOn, discoverOptionsStarOverHttp1, proveOriginOverHttp1 } from '../../src/flows/options-star/client.js';
import { DEFAULT_OPTIONS_STAR_NAMES as N } from '../../src/flows/options-star/names.js';
import { OptionsStarStatus } from '../../src/errors.js';

let pki: TestPki;
let otherPki: TestPki;
const ids: Record<string, IssuedIdentity> = {};

before(async () => {
  pki = await TestPki.create();
  otherPki = await TestPki.create({ commonName: 'someone else' });
  for (const name of ['a.example', 'b.example']) ids[name] = await pki.issue({ dnsNames: [name] });
  ids['foreign-c'] = await otherPki.issue({ dnsNames: ['c.example'] });
});

interface Running {
  port: number;
  answers: OptionsStarAnswer[];
  close(): Promise<void>;
}

/** An https server with a.example's certificate; b.example and (untrusted) c.example provable; 200 for covered hosts, else 421. */
async function startServer(handlerOptions: OptionsStarServerOptions = {}): Promise<Running> {
  const server = https.createServer({ key: ids['a.example']!.keyPem, cert: ids['a.example']!.chainPem, minVersion: 'TLSv1.3' });
  const identities = [
    await loadIdentity({ chain: ids['b.example']!.chainDer, key: ids['b.example']!.keyPkcs8Der }),
    await loadIdentity({ chain: ids['foreign-c']!.chainDer, key: ids['foreign-c']!.keyPkcs8Der }),
  ];
  const handler = installOptionsStar(server, { identities, ...handlerOptions });
  const answers: OptionsStarAnswer[] = [];
  handler.on('answer', (a: OptionsStarAnswer) => answers.push(a));
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const host = String(req.headers.host).replace(/:\d+$/, '');
    const covered = handler.covers(req, host);
    res.writeHead(covered ? 200 : 421, { 'content-type': 'text/plain' });
    res.end(covered ? `hello from ${host}` : 'misdirected');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    answers,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function openSocket(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'a.example', ca: pki.caPem, ALPNProtocols: ['http/1.1'] }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One request on `socket`, which stays open afterwards (keep-alive, no agent). */
function onSocket(socket: tls.TLSSocket, init: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: Uint8Array }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      createConnection: () => socket,
      method: init.method ?? 'GET',
      path: init.path ?? '/',
      headers: { host: 'a.example', connection: 'keep-alive', ...init.headers, ...(init.body ? { 'content-length': String(init.body.length) } : {}) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.end(init.body);
  });
}

const ea = (host = 'b.example', context?: Uint8Array): Uint8Array => createRequest({ creator: 'client', serverName: host, ...(context ? { context } : {}) }).bytes;

test('HTTP/1.1 discovery and proof: b.example proven with OPTIONS *, then served on the same socket', async () => {
  const s = await startServer();
  const socket = await openSocket(s.port);
  try {
    assert.deepEqual(await discoverOptionsStarOverHttp1(socket), { status: 204, capabilities: ['server'], server: true });
    assert.equal((await onSocket(socket, { headers: { host: `b.example:${s.port}` } })).status, 421);
    const result = await proveOriginOverHttp1(socket, `https://b.example:${s.port}`, { ca: [pki.caPem] });
    assert.equal(result.outcome, 'proven', JSON.stringify(result));
    assert.deepEqual(certificatesProvenOn(socket).map((c) => c.dnsNames), [['b.example']]);
    const after = await onSocket(socket, { headers: { host: `b.example:${s.port}` } });
    assert.deepEqual([after.status, after.body.toString()], [200, 'hello from b.example']);
    assert.deepEqual(s.answers.map((a) => [a.status, a.protocol]), [[204, 'http/1.1'], [200, 'http/1.1']]);
    // Another socket has none of it.
    const other = await openSocket(s.port);
    assert.equal((await onSocket(other, { headers: { host: `b.example:${s.port}` } })).status, 421);
    assert.equal(certificatesProvenOn(other).length, 0);
    other.destroy();
  } finally {
    socket.destroy();
    await s.close();
  }
});

test('HTTP/1.1 refusal (empty authenticator) and rejection (a valid authenticator from an untrusted CA)', async () => {
  const s = await startServer();
  const socket = await openSocket(s.port);
  try {
    const refused = await proveOriginOverHttp1(socket, `https://d.example:${s.port}`, { ca: [pki.caPem] });
    assert.equal(refused.outcome, 'refused');
    const rejected = await proveOriginOverHttp1(socket, `https://c.example:${s.port}`, { ca: [pki.caPem] });
    assert.equal(rejected.outcome, 'rejected');
    assert.ok(rejected.outcome === 'rejected');
    assert.match(rejected.reason, /ERR_CERT_UNTRUSTED/);
    assert.equal(certificatesProvenOn(socket).length, 0);
    assert.equal((await onSocket(socket, { headers: { host: `d.example:${s.port}` } })).status, 421, 'the socket still serves requests');
  } finally {
    socket.destroy();
    await s.close();
  }
});

test('HTTP/1.1 error statuses: 400 malformed and reused context, 415 media type, 425 early data, 413 too large', async () => {
  const s = await startServer({ maxRequestSize: 512 });
  const socket = await openSocket(s.port);
  const options = (headers: http.OutgoingHttpHeaders, body?: Uint8Array) => onSocket(socket, { method: 'OPTIONS', path: '*', headers, ...(body ? { body } : {}) });
  const type = { 'content-type': N.requestMediaType, 'max-forwards': '0' };
  try {
    assert.equal((await options(type, new Uint8Array([1, 2, 3]))).status, 400);
    const context = new Uint8Array(20).fill(3);
    assert.equal((await options(type, ea('b.example', context))).status, 200);
    assert.equal((await options(type, ea('b.example', context))).status, 400);
    assert.equal((await options({ 'content-type': 'application/octet-stream' }, ea())).status, 415);
    assert.equal((await options({ ...type, 'early-data': '1' }, ea())).status, 425);
    const big = await options(type, new Uint8Array(4096));
    assert.equal(big.status, 413);
    assert.equal(big.headers.connection, 'close');
  } finally {
    socket.destroy();
    await s.close();
  }
});

test('HTTP/1.1 421 off the TLS endpoint, and the client sees it as OptionsStarStatus', async () => {
  const s = await startServer({ tlsEndpoint: false });
  const socket = await openSocket(s.port);
  try {
    await assert.rejects(proveOriginOverHttp1(socket, `https://b.example:${s.port}`, { ca: [pki.caPem] }), (e: unknown) => e instanceof OptionsStarStatus && e.status === 421);
    assert.deepEqual((await discoverOptionsStarOverHttp1(socket)).capabilities, []);
  } finally {
    socket.destroy();
    await s.close();
  }
});

test('a plain http server (no TLS) is never the TLS endpoint: 421', async () => {
  const server = http.createServer((_req, res) => res.end('app'));
  installOptionsStar(server, {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const body = ea();
    const status = await new Promise<number>((resolve, reject) => {
      // Node sends no Content-Length for an OPTIONS body unless told to (it closes the connection instead).
      const headers = { 'content-type': N.requestMediaType, 'content-length': String(body.length) };
      const req = http.request({ host: '127.0.0.1', port, method: 'OPTIONS', path: '*', headers, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 421);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
