// `secondary-certs proxy` end to end: the command in its own process, in front of a backend in its own
// process (test/helpers/proxy-backend.ts), with clients in this one. Identities reach the backend from
// the TLS handshake and from an exported authenticator over HTTP/2; forged fields are stripped; over a
// TLS 1.3 backend the fields carry Client-Cert-Binding, which the backend verifies, so the same fields sent
// by anyone else from the same address are refused.
import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import * as tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { connect } from '../../src/h2/client.js';
import { connectH3 } from '../../src/h3/client.js';
import { ClientAuthClient } from '../../src/flows/client-auth/client.js';
import { ClientCertificates } from '../../src/flows/client-auth/credentials.js';
import { clientCertBinding } from '../../src/flows/client-cert-field/binding.js';
import { encodeClientCertFields } from '../../src/flows/client-cert-field/fields.js';
import { routeMatches } from '../../src/cli/commands/proxy.js';
import { proveOrigin, proveOriginOverH3 } from '../../src/flows/options-star/client.js';
import { H3ClientAuthClient } from '../../src/flows/client-auth/h3.js';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
const backendScript = new URL('../helpers/proxy-backend.js', import.meta.url).pathname;

let dir: string;
let pki: TestPki;
let alice: IssuedIdentity;
let bob: IssuedIdentity;
let expired: IssuedIdentity;
const children: ChildProcess[] = [];

/** Starts a process and resolves with it and the first stdout line matching `ready`. */
async function startProcess(args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += String(c)));
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')}: not ready in 20 s; stderr: ${stderr}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`)));
    lines.on('line', (line) => {
      const match = ready.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
  });
}

async function startBackend(config: { tls: boolean; h2: boolean; requireBinding: boolean }): Promise<number> {
  const backendId = await pki.issue({ ipAddresses: ['127.0.0.1'] });
  const env = JSON.stringify({
    ...(config.tls ? { tls: { keyPem: backendId.keyPem, certPem: backendId.chainPem } } : {}),
    h2: config.h2,
    clientCaPem: pki.caPem,
    trustedProxies: ['127.0.0.1'],
    requireBinding: config.requireBinding,
  });
  const { match } = await startProcess([backendScript], /^\{"port":(\d+)\}$/, { PROXY_BACKEND: env });
  return Number(match[1]);
}

async function startProxyProcess(backend: string, extra: string[] = []): Promise<{ port: number; pid: number }> {
  const { child, match } = await startProcess(
    [cli, 'proxy', '--listen', '127.0.0.1:0', '--backend', backend, '--backend-ca', join(dir, 'ca.pem'), '--client-ca', join(dir, 'ca.pem'),
      '--identity', `a.example=${join(dir, 'a.pem')},${join(dir, 'a.key')}`, '--identity', `b.example=${join(dir, 'b.pem')},${join(dir, 'b.key')}`,
      '--require-client-cert', 'a.example/private', '--backend-timeout', '1500', ...extra],
    /^listening on 127\.0\.0\.1:(\d+)$/,
  );
  return { port: Number(match[1]), pid: child.pid! };
}

interface Answer {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
}

/** One request to the proxy over HTTP/2 with node:http2 (a TLS client certificate if `id`). */
async function viaH2(port: number, path: string, options: { id?: IssuedIdentity; headers?: Record<string, string>; authority?: string; body?: Buffer } = {}): Promise<Answer> {
  const session = http2.connect(`https://a.example:${port}`, { ca: pki.caPem, host: '127.0.0.1', servername: 'a.example', ...(options.id ? { key: options.id.keyPem, cert: options.id.chainPem } : {}) } as http2.SecureClientSessionOptions);
  try {
    const stream = session.request({ ':method': options.body ? 'POST' : 'GET', ':path': path, ':authority': options.authority ?? `a.example:${port}`, ...options.headers }, { endStream: !options.body });
    if (options.body) stream.end(options.body);
    const [head, body] = await Promise.all([
      new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.once('response', resolve);
        stream.once('error', reject);
      }),
      (async () => {
        let text = '';
        for await (const chunk of stream) text += String(chunk);
        return text;
      })(),
    ]);
    return { status: Number(head[':status']), body, json: () => JSON.parse(body) as Record<string, unknown> };
  } finally {
    session.close();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sc-proxy-'));
  pki = await TestPki.create();
  alice = await pki.issue({ role: 'client', commonName: 'alice', viaIntermediate: true });
  bob = await pki.issue({ role: 'client', commonName: 'bob', keyType: 'ed25519' });
  expired = await pki.issue({ role: 'client', commonName: 'old', notBefore: new Date(Date.now() - 3 * 864e5), notAfter: new Date(Date.now() - 864e5) });
  writeFileSync(join(dir, 'ca.pem'), pki.caPem);
  for (const name of ['a', 'b']) {
    const id = await pki.issue({ dnsNames: [`${name}.example`], keyType: 'p256' });
    writeFileSync(join(dir, `${name}.pem`), id.chainPem);
    writeFileSync(join(dir, `${name}.key`), id.keyPem);
  }
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('routes: HOST, HOST/PATH-PREFIX and *', () => {
  assert.ok(routeMatches('*', 'x.example', '/'));
  assert.ok(routeMatches('a.example', 'a.example', '/any'));
  assert.ok(routeMatches('A.example/private', 'a.example', '/private/x'));
  assert.ok(!routeMatches('a.example/private', 'a.example', '/public'));
  assert.ok(!routeMatches('a.example', 'b.example', '/'));
});

test('proxy over an https HTTP/1.1 backend: a TLS client identity reaches the backend with a binding it verifies; the same fields from anyone else, on their own connection, are refused', async () => {
  const backendPort = await startBackend({ tls: true, h2: false, requireBinding: true });
  const proxy = await startProxyProcess(`https://127.0.0.1:${backendPort}`);
  const who = await viaH2(proxy.port, '/who', { id: alice });
  assert.equal(who.status, 200, who.body);
  assert.match(String(who.json()['subject']), /CN=alice/);
  assert.equal(who.json()['chainLength'], 3, 'leaf, intermediate and the anchor the backend validated to');
  assert.match(String(who.json()['binding']), /^:[A-Za-z0-9+/]+=*:$/);
  // Without a certificate: no fields reach the backend.
  const anonymous = await viaH2(proxy.port, '/who');
  assert.equal(anonymous.status, 200, anonymous.body);
  assert.equal(anonymous.json()['subject'], null);
  assert.equal(anonymous.json()['clientCert'], null);

  // Someone else at the proxy's address (127.0.0.1) sends alice's fields with a binding of their own
  // connection to another server, and with none: refused, though the address is trusted.
  const fields = encodeClientCertFields(alice.chainDer.slice(0, 2));
  const other = tls.connect({ host: '127.0.0.1', port: backendPort, ca: pki.caPem, minVersion: 'TLSv1.3' });
  await new Promise((resolve) => other.once('secureConnect', resolve));
  const foreign = clientCertBinding(other, fields);
  other.destroy();
  for (const headers of [fields, { ...fields, 'client-cert-binding': foreign }, { ...fields, 'client-cert-binding': ':AAAA:' }]) {
    const direct = await new Promise<Answer>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: backendPort, path: '/who', ca: pki.caPem, agent: false, headers });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c) => (body += String(c)));
        res.on('end', () => resolve({ status: res.statusCode!, body, json: () => JSON.parse(body) as Record<string, unknown> }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(direct.status, 403, direct.body);
    assert.match(direct.body, /^ERR_CLIENT_CERT_BINDING: /);
  }
});

test('proxy: forged Client-Cert, Client-Cert-Chain and Client-Cert-Binding from the client are stripped, with or without a certificate of its own', async () => {
  const backendPort = await startBackend({ tls: true, h2: false, requireBinding: true });
  const proxy = await startProxyProcess(`https://127.0.0.1:${backendPort}`);
  const forged = { ...encodeClientCertFields(bob.chainDer), 'client-cert-binding': ':AAAA:' };
  const anonymous = await viaH2(proxy.port, '/who', { headers: forged });
  assert.equal(anonymous.status, 200, anonymous.body);
  assert.equal(anonymous.json()['clientCert'], null);
  assert.equal(anonymous.json()['binding'], null);
  const asAlice = await viaH2(proxy.port, '/who', { id: alice, headers: forged });
  assert.equal(asAlice.status, 200, asAlice.body);
  assert.match(String(asAlice.json()['subject']), /CN=alice/);
});

test('proxy: a bad TLS client certificate is refused with 403 by the proxy, and the connection still serves', async () => {
  const backendPort = await startBackend({ tls: true, h2: false, requireBinding: true });
  const proxy = await startProxyProcess(`https://127.0.0.1:${backendPort}`);
  const r = await viaH2(proxy.port, '/who', { id: expired });
  assert.equal(r.status, 403);
  assert.match(r.body, /ERR_CERT_EXPIRED/);
  // A route that requires a certificate, with a client that has none and cannot answer the HTTP/2 flows.
  const needs = await viaH2(proxy.port, '/private/x');
  assert.equal(needs.status, 403, needs.body);
});

test('proxy over an HTTP/2 backend: an identity proven with an exported authenticator (HTTP/2 client-certificate flow) reaches it, bound; b.example rides the same connection by SERVER_CERTIFICATE, and OPTIONS * proves it too', async () => {
  const backendPort = await startBackend({ tls: true, h2: true, requireBinding: true });
  const proxy = await startProxyProcess(`https://127.0.0.1:${backendPort}`, ['--backend-h2', '--require-client-cert', 'b.example']);
  const certificates = new ClientCertificates(() => ({ chain: alice.chainDer, key: alice.keyPkcs8Der }));
  const conn = await connect(`https://a.example:${proxy.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [new ClientAuthClient({ certificates })] });
  try {
    const r = await conn.request(`https://a.example:${proxy.port}/private/who`);
    // /private/who is not a backend route: 404 from the backend shows the request was forwarded.
    assert.equal(r.status, 404);
    const who = await conn.request(`https://a.example:${proxy.port}/who`);
    assert.equal(who.status, 200);
    assert.equal(JSON.parse(who.body.toString())['subject'], null, 'a route that does not require one is not asked');
    await conn.settled();
    // OPTIONS * is answered by the proxy itself, not forwarded.
    assert.equal((await proveOrigin(conn, `https://b.example:${proxy.port}`)).outcome, 'proven');
    const b = await conn.request(`https://b.example:${proxy.port}/who`);
    assert.equal(b.status, 200, b.body.toString());
    const seen = JSON.parse(b.body.toString()) as Record<string, unknown>;
    assert.match(String(seen['subject']), /CN=alice/);
    assert.equal(seen['httpVersion'], '2.0');
    assert.match(String(seen['host']), /^b\.example/);
    assert.match(String(seen['binding']), /^:/);
  } finally {
    await conn.close();
  }
});

test('proxy: bodies stream both ways (128 MiB up, 128 MiB down) without the proxy holding them; a backend that does not answer is 504 and one that is down is 502, each with a body that says so', async () => {
  const backendPort = await startBackend({ tls: false, h2: false, requireBinding: false });
  const proxy = await startProxyProcess(`http://127.0.0.1:${backendPort}`);
  const hwm = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proxy.pid}/status`, 'utf8'))![1]) * 1024;
  await viaH2(proxy.port, '/who');
  const before = hwm();
  const body = Buffer.alloc(128 * 1024 * 1024, 0x62);
  const up = await viaH2(proxy.port, '/sha', { body });
  assert.equal(up.status, 200, up.body);
  assert.equal(up.json()['bytes'], body.length);
  assert.equal(up.json()['sha256'], createHash('sha256').update(body).digest('hex'));
  const session = http2.connect(`https://a.example:${proxy.port}`, { ca: pki.caPem, host: '127.0.0.1', servername: 'a.example' } as http2.SecureClientSessionOptions);
  let down = 0;
  await new Promise<void>((resolve, reject) => {
    const s = session.request({ ':path': `/bytes?n=${128 * 1024 * 1024}` });
    s.on('data', (c: Buffer) => (down += c.length));
    s.on('end', resolve);
    s.on('error', reject);
  });
  session.close();
  assert.equal(down, 128 * 1024 * 1024);
  const grew = hwm() - before;
  process.stdout.write(`# proxy peak RSS growth over HTTP/2: ${Math.round(grew / 2 ** 20)} MiB\n`);
  // A body held whole would be 128 MiB; what streaming costs is buffers and the allocator's pages.
  assert.ok(grew < 96 * 1024 * 1024, `the proxy's peak RSS grew by ${Math.round(grew / 2 ** 20)} MiB for 256 MiB through it`);

  const slow = await viaH2(proxy.port, '/hang');
  assert.equal(slow.status, 504);
  assert.match(slow.body, /backend timed out/);
  const downProxy = await startProxyProcess('http://127.0.0.1:1');
  const failed = await viaH2(downProxy.port, '/who');
  assert.equal(failed.status, 502);
  assert.match(failed.body, /backend failed: .*ECONNREFUSED/);
});

test('proxy --h3: an identity proven with the HTTP/3 client-certificate flow (AUTHENTICATOR_REQUESTS / CLIENT_CERTIFICATE) reaches the backend, and OPTIONS * proves b.example over HTTP/3', async () => {
  const backendPort = await startBackend({ tls: false, h2: false, requireBinding: false });
  const proxy = await startProxyProcess(`http://127.0.0.1:${backendPort}`, ['--h3', '--require-client-cert', 'b.example']);
  const certificates = new ClientCertificates(() => ({ chain: alice.chainDer, key: alice.keyPkcs8Der }));
  const conn = await connectH3(`https://a.example:${proxy.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [new H3ClientAuthClient({ certificates })] });
  try {
    const open = await conn.request(`https://a.example:${proxy.port}/who`);
    assert.equal(JSON.parse(open.body.toString())['subject'], null, 'a route that does not require one is not asked');
    // OPTIONS * is answered by the proxy itself over HTTP/3 too.
    assert.equal((await proveOriginOverH3(conn, `https://b.example:${proxy.port}`)).outcome, 'proven');
    const b = await conn.request(`https://b.example:${proxy.port}/who`);
    assert.equal(b.status, 200, b.body.toString());
    const seen = JSON.parse(b.body.toString()) as Record<string, unknown>;
    assert.match(String(seen['subject']), /CN=alice/);
    assert.match(String(seen['host']), /^b\.example/);
  } finally {
    await conn.close();
  }
});

test('proxy --h3: the same origins over HTTP/3 on the same port number; bodies stream through both ways (128 MiB up, 128 MiB down) without the proxy holding them', async () => {
  const backendPort = await startBackend({ tls: false, h2: false, requireBinding: false });
  const proxy = await startProxyProcess(`http://127.0.0.1:${backendPort}`, ['--h3']);
  const hwm = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proxy.pid}/status`, 'utf8'))![1]) * 1024;
  const conn = await connectH3(`https://a.example:${proxy.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', maxBodySize: 160 * 1024 * 1024 });
  try {
    const who = await conn.request(`https://a.example:${proxy.port}/who`);
    assert.equal(who.status, 200, who.body.toString());
    assert.equal(JSON.parse(who.body.toString())['subject'], null);
    await conn.settled();
    const b = await conn.request(`https://b.example:${proxy.port}/who`);
    assert.equal(b.status, 200, 'b.example proven by SERVER_CERTIFICATE over HTTP/3');
    assert.match(String(JSON.parse(b.body.toString())['host']), /^b\.example/);
    const before = hwm();
    const body = Buffer.alloc(128 * 1024 * 1024, 0x63);
    const up = await conn.request(`https://a.example:${proxy.port}/sha`, { method: 'POST', body });
    assert.equal(up.status, 200, up.body.toString());
    const seen = JSON.parse(up.body.toString()) as Record<string, unknown>;
    assert.equal(seen['bytes'], body.length);
    assert.equal(seen['sha256'], createHash('sha256').update(body).digest('hex'));
    const down = await conn.request(`https://a.example:${proxy.port}/bytes?n=${128 * 1024 * 1024}`);
    assert.equal(down.body.length, 128 * 1024 * 1024);
    const grew = hwm() - before;
    process.stdout.write(`# proxy peak RSS growth over HTTP/3: ${Math.round(grew / 2 ** 20)} MiB\n`);
    // QUIC's windows let up to 24 MiB per connection sit in the proxy's receive buffers (DEFAULT_FLOW_CONTROL),
    // and the allocator keeps what it grew into: the bound is well under one body held whole.
    assert.ok(grew < 96 * 1024 * 1024, `the proxy's peak RSS grew by ${Math.round(grew / 2 ** 20)} MiB for 256 MiB through it over HTTP/3`);
    const needs = await conn.request(`https://a.example:${proxy.port}/private/x`);
    assert.equal(needs.status, 403, 'a route that needs a client certificate');
  } finally {
    await conn.close();
  }
});
