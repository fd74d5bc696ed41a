// Client certificates over HTTP/3 between independent implementations, both ways: our H3ClientAuthClient
// against the Go HTTP/3 server, and the Go HTTP/3 client against our H3ClientAuthServer (the Go side is
// interop/go/h3peer/clientcert.go, written from rosomakho-00 and RFC 9261, sharing no code with ours: it
// builds and validates authenticators with its own EA package and checks chains with Go's PKIX). Skipped
// when the Go HTTP/3 peers are not built.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { connectH3 } from '../../src/h3/client.js';
import { ClientCertificates } from '../../src/flows/client-auth/credentials.js';
import { H3ClientAuthClient } from '../../src/flows/client-auth/h3.js';
import { createH3SecondaryCertServer } from '../../src/h3/server.js';
import { H3ClientAuthServer } from '../../src/flows/client-auth/h3.js';
import { GO_H3_CLIENT, GO_H3_SERVER } from '../../interop/h3.js';
import { runJsonLines, stopChild } from '../../interop/common.js';
import { goPeers } from '../../interop/run.js';

// Builds the Go peers when they are missing or older than their sources; CI installs Go, so there it never skips.
const peers = goPeers();
const skip = peers.ok && existsSync(GO_H3_SERVER) && existsSync(GO_H3_CLIENT) ? false : process.env['CI'] ? false : `the Go HTTP/3 peers are not built (${peers.ok ? 'quic-go sources missing' : peers.reason})`;
let dir = '';
let pki: TestPki;
const ids: Record<string, IssuedIdentity> = {};

before(async () => {
  if (skip) return;
  pki = await TestPki.create({ keyType: 'p256' });
  const other = await TestPki.create({ keyType: 'p256', commonName: 'a stranger CA' });
  ids['server'] = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  ids['alice'] = await pki.issue({ role: 'client', commonName: 'alice', keyType: 'p256' });
  ids['mallory'] = await other.issue({ role: 'client', commonName: 'mallory', keyType: 'p256' });
  dir = mkdtempSync(join(tmpdir(), 'h3-client-certs-'));
  writeFileSync(join(dir, 'ca.pem'), pki.caPem);
  writeFileSync(join(dir, 'a.pem'), ids['server']!.chainPem);
  writeFileSync(join(dir, 'a.key'), ids['server']!.keyPem);
  for (const who of ['alice', 'mallory']) {
    writeFileSync(join(dir, `${who}.pem`), ids[who]!.chainPem);
    writeFileSync(join(dir, `${who}.key`), ids[who]!.keyPem);
  }
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** go-h3-server with -client-ca; resolves its UDP port and a stop function. */
function startGo(): Promise<{ port: number; child: ChildProcess; log: () => string }> {
  const child = spawn(GO_H3_SERVER, ['-addr', '127.0.0.1:0', '-cert', join(dir, 'a.pem'), '-key', join(dir, 'a.key'), '-client-ca', join(dir, 'ca.pem')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`go-h3-server did not say LISTENING within 5 s: ${err}`)), 5000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, log: () => err });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`go-h3-server exited with ${code}: ${err}`));
    });
  });
}

test('interop: our HTTP/3 client gives the Go server its client certificate when asked (AUTHENTICATOR_REQUESTS, CLIENT_CERTIFICATE), once per connection', { skip }, async () => {
  const go = await startGo();
  try {
    let asked = 0;
    const certificates = new ClientCertificates(() => {
      asked++;
      return { chain: ids['alice']!.chainDer, key: ids['alice']!.keyPkcs8Der };
    });
    const auth = new H3ClientAuthClient({ certificates });
    const c = await connectH3(`https://a.example:${go.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [auth] });
    try {
      const r = await c.request(`https://a.example:${go.port}/protected`);
      assert.equal(r.status, 200, `${r.body.toString()}\n${go.log()}`);
      assert.equal(r.body.toString(), 'hello alice over go-h3 client certificates\n');
      assert.equal((await c.request(`https://a.example:${go.port}/protected`)).status, 200);
      assert.equal(asked, 1);
      assert.deepEqual(auth.of(c)!.negotiatedFlows, ['secondary-client-certs']);
    } finally {
      await c.close();
    }
  } finally {
    await stopChild(go.child);
  }
});

test('interop: the Go server refuses an untrusted client certificate with 403 and serves the next request on the connection', { skip }, async () => {
  const go = await startGo();
  try {
    const certificates = new ClientCertificates(() => ({ chain: ids['mallory']!.chainDer, key: ids['mallory']!.keyPkcs8Der }));
    const c = await connectH3(`https://a.example:${go.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [new H3ClientAuthClient({ certificates })] });
    try {
      const r = await c.request(`https://a.example:${go.port}/protected`);
      assert.equal(r.status, 403, go.log());
      assert.match(r.body.toString(), /refused \(rejected\)/);
      assert.equal((await c.request(`https://a.example:${go.port}/`)).status, 200);
      assert.equal(c.closed, false);
    } finally {
      await c.close();
    }
  } finally {
    await stopChild(go.child);
  }
});

/** Our HTTP/3 server with H3ClientAuthServer: GET /protected answers the client's subject, or the refusal. */
async function startOurs(): Promise<{ port: number; close(): Promise<void> }> {
  const clientAuth = new H3ClientAuthServer({ trustAnchors: [pki.caPem], timeoutMs: 5000 });
  const server = await createH3SecondaryCertServer({ cert: ids['server']!.chainPem, key: ids['server']!.keyPem, extensions: [clientAuth] }, async (req, res) => {
    if (req.path !== '/protected') return res.end(200, {}, 'open');
    const identity = await clientAuth.authenticate(req, res);
    if (identity) await res.end(200, {}, `hello ${identity.certificate.leaf.subject} via ${identity.flow}`);
  });
  return { port: server.port, close: () => server.close() };
}

const goClient = (port: number, who: string) =>
  runJsonLines(GO_H3_CLIENT, ['-addr', `127.0.0.1:${port}`, '-servername', 'a.example', '-ca', join(dir, 'ca.pem'), '-client-cert', `${join(dir, `${who}.pem`)},${join(dir, `${who}.key`)}`, '-path', '/protected', '-wait', '200ms'], 15_000);

test('interop: the Go HTTP/3 client answers our AUTHENTICATOR_REQUESTS with its CLIENT_CERTIFICATE, and our handler gets its identity', { skip }, async () => {
  const ours = await startOurs();
  try {
    const run = await goClient(ours.port, 'alice');
    const response = run.events.find((e) => e['event'] === 'response');
    assert.equal(response?.['status'], 200, JSON.stringify(run.events) + run.stderr);
    assert.equal(response?.['body'], 'hello CN=alice via secondary-client-certs');
    assert.equal(run.events.filter((e) => e['event'] === 'clientCertificate').length, 1);
    assert.equal(run.code, 0, JSON.stringify(run.events));
  } finally {
    await ours.close();
  }
});

test('interop: our server refuses the Go client\'s untrusted certificate with 403, and the Go client sees no connection error', { skip }, async () => {
  const ours = await startOurs();
  try {
    const run = await goClient(ours.port, 'mallory');
    const response = run.events.find((e) => e['event'] === 'response');
    assert.equal(response?.['status'], 403, JSON.stringify(run.events) + run.stderr);
    assert.match(String(response?.['body']), /client certificate refused \(rejected\)/);
    assert.equal(run.events.some((e) => e['event'] === 'close' && e['from'] === 'server'), false);
  } finally {
    await ours.close();
  }
});
