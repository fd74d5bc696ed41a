// HTTP/3 interop with ngtcp2 + nghttp3 (Debian's ngtcp2-client / ngtcp2-server: gtlsclient and gtlsserver,
// built on GnuTLS), a peer that does not know the extension. It must ignore our
// SETTINGS_HTTP_SERVER_CERT_AUTH and our SERVER_CERTIFICATE frames, and plain HTTP/3 must work both ways.
// Each test skips when the binaries are not installed.
//
// Note: gtlsclient has no option for trust anchors and does not verify the server certificate (it
// completes against our TestPki chain with no CA given), so only our side verifies anything here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { connectH3, type H3SecondaryCertConnection } from '../../src/h3/client.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer, type H3ServerConnection } from '../../src/h3/server.js';
import { H3ErrorCode, type H3ConnectionError } from '../../src/errors.js';
import { encodeServerCertificateFrame } from '../../src/h3/wire/certificates.js';
import { createAuthenticator } from '../../src/ea/index.js';
import { loadIdentity } from '../../src/pki/identity.js';
import type { TransportClose } from '../../src/h3/transport/transport.js';

const CLIENT_BIN = '/usr/bin/gtlsclient';
const SERVER_BIN = '/usr/sbin/gtlsserver';
const haveClient = fs.existsSync(CLIENT_BIN);
const haveServer = fs.existsSync(SERVER_BIN);

let pki: TestPki;
const ids: Record<string, IssuedIdentity> = {};
let dir: string;
const children = new Set<ChildProcess>();

before(async () => {
  pki = await TestPki.create();
  for (const name of ['a.example', 'b.example']) ids[name] = await pki.issue({ dnsNames: [name] });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ngtcp2-interop-'));
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Rejects after `ms` with `what` in the message, so no wait hangs the run. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A UDP port that was free a moment ago (bound to 0, read, closed). */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(r));
  return port;
}

/** True once something holds the UDP port (our own bind then fails with EADDRINUSE). */
async function udpPortTaken(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EADDRINUSE';
  } finally {
    try {
      s.close();
    } catch {
      /* never bound */
    }
  }
}

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(bin: string, args: string[]): Run {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  children.add(child);
  let out = '';
  const keep = (c: Buffer) => {
    if (out.length < 1 << 20) out += c.toString('latin1');
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => out, exited };
}

async function stop(r: Run): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  await within(r.exited, 5000, 'the ngtcp2 process to exit').catch(() => r.child.kill('SIGKILL'));
}

interface Gtlsserver {
  port: number;
  run: Run;
}

/** gtlsserver with a.example's key and chain, serving `htdocs`; resolves once it holds its UDP port. */
async function startGtlsserver(htdocs: string, extra: string[] = []): Promise<Gtlsserver> {
  const keyFile = path.join(dir, 'a.key.pem');
  const certFile = path.join(dir, 'a.chain.pem');
  fs.writeFileSync(keyFile, ids['a.example']!.keyPem);
  fs.writeFileSync(certFile, ids['a.example']!.chainPem);
  const port = await freeUdpPort();
  const server = run(SERVER_BIN, ['--quiet', ...extra, '-d', htdocs, '127.0.0.1', String(port), keyFile, certFile]);
  const deadline = Date.now() + 5000;
  while (!(await udpPortTaken(port))) {
    if (server.child.exitCode !== null) assert.fail(`gtlsserver exited early: ${server.output()}`);
    if (Date.now() > deadline) {
      await stop(server);
      assert.fail(`gtlsserver did not bind UDP ${port}: ${server.output()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, run: server };
}

test('our HTTP/3 client fetches a 100 KB file from gtlsserver, which ignores the extension setting', async (t) => {
  if (!haveServer) return t.skip(`${SERVER_BIN} is not installed (Debian package ngtcp2-server)`);
  const htdocs = fs.mkdtempSync(path.join(dir, 'htdocs-'));
  const file = Buffer.alloc(100 * 1024);
  for (let i = 0; i < file.length; i++) file[i] = (i * 131 + (i >> 8)) & 0xff;
  fs.writeFileSync(path.join(htdocs, 'page.bin'), file);

  const { port, run: server } = await startGtlsserver(htdocs);
  let connection: H3SecondaryCertConnection | undefined;
  try {
    const errors: H3ConnectionError[] = [];
    connection = await within(connectH3(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', requestTimeoutMs: 10_000 }), 10_000, 'QUIC handshake with gtlsserver');
    connection.on('protocolError', (e: H3ConnectionError) => errors.push(e));
    const settings = within(new Promise((r) => (connection!.session.peerSettings ? r(undefined) : connection!.session.once('settings', r))), 5000, "gtlsserver's SETTINGS");

    const response = await within(connection.request(`https://a.example:${port}/page.bin`), 10_000, 'GET /page.bin');
    assert.equal(response.status, 200);
    assert.equal(response.body.length, file.length);
    assert.equal(sha256(response.body), sha256(file));

    // gtlsserver's SETTINGS came, without SETTINGS_HTTP_SERVER_CERT_AUTH: nothing negotiated, nothing broke.
    await settings;
    const certAuth = connection.session.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
    assert.equal(connection.session.peerSettings!.has(certAuth), false);
    assert.equal(connection.negotiated, false);
    assert.equal(connection.certificates.length, 0);
    // A second request on the same connection still works.
    const again = await within(connection.request(`https://a.example:${port}/page.bin`), 10_000, 'second GET');
    assert.equal(sha256(again.body), sha256(file));
    assert.deepEqual(errors, []);
    assert.equal(connection.closed, false, `closed: ${JSON.stringify(connection.closeInfo)}`);
    await within(connection.close(), 5000, 'closing the connection');
    assert.deepEqual(errors, []);
  } finally {
    if (connection && !connection.closed) await within(connection.close(), 5000, 'closing').catch(() => undefined);
    await stop(server);
  }
});

test(
  'our client sends more concurrent requests than gtlsserver allows streams (100): the rest wait for MAX_STREAMS',
  async (t) => {
    if (!haveServer) return t.skip(`${SERVER_BIN} is not installed (Debian package ngtcp2-server)`);
    const htdocs = fs.mkdtempSync(path.join(dir, 'htdocs-'));
    fs.writeFileSync(path.join(htdocs, 'small.txt'), 'small\n');
    const { port, run: server } = await startGtlsserver(htdocs, ['--max-streams-bidi=100']);
    let connection: H3SecondaryCertConnection | undefined;
    try {
      connection = await within(connectH3(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', requestTimeoutMs: 10_000 }), 10_000, 'QUIC handshake with gtlsserver');
      const results = await within(
        Promise.allSettled(Array.from({ length: 101 }, () => connection!.request(`https://a.example:${port}/small.txt`))),
        15_000,
        '101 requests',
      );
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
      assert.deepEqual(failed, []);
      // And the connection still opens streams afterwards.
      assert.equal((await within(connection.request(`https://a.example:${port}/small.txt`), 10_000, 'one more request')).status, 200);
    } finally {
      if (connection && !connection.closed) await within(connection.close(), 5000, 'closing').catch(() => undefined);
      await stop(server);
    }
  },
);

interface OurServer {
  server: H3SecondaryCertServer;
  errors: H3ConnectionError[];
  certificatesSent: number;
  connections: H3ServerConnection[];
  closes: Promise<TransportClose>[];
  served: Buffer;
  /** For each request served: did it come in early data. */
  early: boolean[];
}

/** Our server: TLS identity a.example, a secondary identity b.example (so it advertises the setting). */
async function startOurServer(onConnection?: (c: H3ServerConnection) => void, earlyData = false): Promise<OurServer> {
  const served = Buffer.alloc(64 * 1024);
  for (let i = 0; i < served.length; i++) served[i] = (i * 7 + 3) & 0xff;
  const state = { errors: [], certificatesSent: 0, connections: [], closes: [], served, early: [] } as unknown as OurServer;
  state.server = await createH3SecondaryCertServer(
    { cert: ids['a.example']!.chainPem, key: ids['a.example']!.keyPem, port: 0, identities: [{ chain: ids['b.example']!.chainPem, key: ids['b.example']!.keyPem }], earlyData },
    async (req, res) => {
      state.early.push(req.earlyData);
      await res.end(200, { 'content-type': 'application/octet-stream', 'x-path': req.path }, served);
    },
  );
  state.server.on('protocolError', (e: H3ConnectionError) => state.errors.push(e));
  state.server.on('certificateSent', () => state.certificatesSent++);
  state.server.on('connection', (c: H3ServerConnection) => {
    state.connections.push(c);
    state.closes.push(new Promise((r) => c.once('close', r)));
    onConnection?.(c);
  });
  return state;
}

/** Bytes gtlsclient's frame log shows arriving on QUIC stream `id` (the server's control stream is 3). */
function streamBytesReceived(output: string, id: number): number {
  let total = 0;
  const re = new RegExp(`frm rx \\d+ 1RTT STREAM\\(0x[0-9a-f]+\\) id=0x${id.toString(16)} fin=\\d offset=(\\d+) len=(\\d+)`, 'g');
  for (const m of output.matchAll(re)) total = Math.max(total, Number(m[1]) + Number(m[2]));
  return total;
}

async function fetchWithGtlsclient(port: number, name: string, extra: string[] = []): Promise<{ code: number | null; output: string; body: Buffer }> {
  const download = fs.mkdtempSync(path.join(dir, 'download-'));
  const client = run(CLIENT_BIN, [
    ...extra,
    // Not --quiet: that hides the response headers too. The dumps of QUIC and HTTP payloads stay off.
    '--no-quic-dump',
    '--no-http-dump',
    '--exit-on-all-streams-close',
    '--timeout=10s',
    '--sni=a.example',
    '--download',
    download,
    '127.0.0.1',
    String(port),
    `https://a.example:${port}/${name}`,
  ]);
  try {
    const { code } = await within(client.exited, 15_000, 'gtlsclient to finish');
    const file = path.join(download, name);
    return { code, output: client.output(), body: fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0) };
  } finally {
    await stop(client);
  }
}

test('gtlsclient fetches from our server, which advertises SETTINGS_HTTP_SERVER_CERT_AUTH', async (t) => {
  if (!haveClient) return t.skip(`${CLIENT_BIN} is not installed (Debian package ngtcp2-client)`);
  const ours = await startOurServer();
  try {
    const result = await fetchWithGtlsclient(ours.server.port, 'one.bin');
    assert.equal(result.code, 0, `gtlsclient exited ${result.code}: ${result.output}`);
    assert.match(result.output, /\[:status: 200\]/);
    assert.match(result.output, /\[x-path: \/one\.bin\]/);
    assert.equal(sha256(result.body), sha256(ours.served));
    assert.equal(ours.connections.length, 1);
    const [conn] = ours.connections;
    // gtlsclient sent SETTINGS without the extension: not negotiated, so no SERVER_CERTIFICATE went out.
    assert.ok(conn!.session.peerSettings, 'gtlsclient sent SETTINGS');
    assert.equal(conn!.negotiated, false);
    assert.equal(ours.certificatesSent, 0);
    const control = streamBytesReceived(result.output, 3);
    assert.ok(control > 0 && control < 64, `only our stream type and SETTINGS on the control stream (${control} bytes)`);
    // gtlsclient closes with H3_NO_ERROR once its stream is done.
    const info = await within(ours.closes[0]!, 5000, 'the connection to close');
    assert.deepEqual({ by: info.by, app: info.app, code: info.code }, { by: 'peer', app: true, code: H3ErrorCode.H3_NO_ERROR });
    assert.deepEqual(ours.errors, []);
  } finally {
    await within(ours.server.close(), 5000, 'closing our server');
  }
});

test('gtlsclient ignores a SERVER_CERTIFICATE frame on our control stream (sent without negotiation, for this test)', async (t) => {
  if (!haveClient) return t.skip(`${CLIENT_BIN} is not installed (Debian package ngtcp2-client)`);
  const b = await loadIdentity({ chain: ids['b.example']!.chainPem, key: ids['b.example']!.keyPem });
  const forced: Promise<number>[] = [];
  // TEST-ONLY: our server sends SERVER_CERTIFICATE only once negotiated (even with sendOnConnect), and
  // gtlsclient never negotiates. To put the frame on the wire anyway, write one straight onto the control
  // stream through H3Session.sendControlFrame, bypassing H3ServerConnection.sendCertificate's check. To
  // gtlsclient it is a frame of an unknown type, which RFC 9114 section 9 says to ignore.
  const ours = await startOurServer((c) => {
    forced.push(
      (async () => {
        await new Promise((r) => setImmediate(r)); // 'connection' comes before session.start() opens the control stream
        const authenticator = await createAuthenticator({ keys: c.transport.keys, creator: 'server', certificateChain: b.chain, signer: b.signer, state: c.state });
        const frame = encodeServerCertificateFrame({ authenticator }, c.session.profile);
        c.session.sendControlFrame(frame);
        return frame.length;
      })(),
    );
  });
  try {
    const result = await fetchWithGtlsclient(ours.server.port, 'two.bin');
    assert.equal(forced.length, 1);
    const bytes = await within(forced[0]!, 5000, 'the forced SERVER_CERTIFICATE');
    assert.ok(bytes > 100, `a real authenticator went out (${bytes} bytes)`);
    assert.equal(result.code, 0, `gtlsclient exited ${result.code}: ${result.output}`);
    // gtlsclient's log shows the frame arrived: its control stream carried SETTINGS plus the whole frame.
    const control = streamBytesReceived(result.output, 3);
    assert.ok(control > bytes, `control stream carried ${control} bytes, the frame alone is ${bytes}`);
    assert.match(result.output, /\[:status: 200\]/);
    assert.equal(sha256(result.body), sha256(ours.served));
    const info = await within(ours.closes[0]!, 5000, 'the connection to close');
    assert.deepEqual({ by: info.by, app: info.app, code: info.code }, { by: 'peer', app: true, code: H3ErrorCode.H3_NO_ERROR });
    assert.equal(ours.connections[0]!.negotiated, false);
    assert.deepEqual(ours.errors, []);
  } finally {
    await within(ours.server.close(), 5000, 'closing our server');
  }
});

// Loss: ngtcp2's tools drop packets on purpose (-t outgoing, -r incoming), so the QUIC stack under us has
// to repair real losses in both directions: our client acknowledging what gtlsserver retransmits, and
// our server retransmitting what gtlsclient never sees.
test('under 10% packet loss our client still gets 20 whole 200 KB files from gtlsserver', async (t) => {
  if (!haveServer) return t.skip(`${SERVER_BIN} is not installed (Debian package ngtcp2-server)`);
  const htdocs = fs.mkdtempSync(path.join(dir, 'htdocs-'));
  const file = Buffer.alloc(200 * 1024);
  for (let i = 0; i < file.length; i++) file[i] = (i * 13 + (i >> 9)) & 0xff;
  fs.writeFileSync(path.join(htdocs, 'lossy.bin'), file);
  const { port, run: server } = await startGtlsserver(htdocs, ['-t', '0.1', '-r', '0.1']);
  let connection: H3SecondaryCertConnection | undefined;
  try {
    connection = await within(connectH3(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', requestTimeoutMs: 15_000 }), 15_000, 'QUIC handshake under loss');
    const c = connection;
    const bodies = await within(Promise.all(Array.from({ length: 20 }, () => c.request(`https://a.example:${port}/lossy.bin`))), 30_000, '20 lossy requests');
    for (const r of bodies) assert.equal(sha256(r.body), sha256(file));
  } finally {
    if (connection && !connection.closed) await within(connection.close(), 5000, 'closing').catch(() => undefined);
    await stop(server);
  }
});

// 10%, not more: at 20% both ways, about 1 run in 10 lost the server's handshake flight, and quiche's
// probes (PINGs) did not bring it back before gtlsclient's 10 s handshake timeout.
test('under 10% packet loss gtlsclient still gets whole files from our server', async (t) => {
  if (!haveClient) return t.skip(`${CLIENT_BIN} is not installed (Debian package ngtcp2-client)`);
  const ours = await startOurServer();
  try {
    const result = await fetchWithGtlsclient(ours.server.port, 'lossy.bin', ['-r', '0.1', '-t', '0.1', '-n', '10']);
    assert.equal(result.code, 0, `gtlsclient exited ${result.code}: ${result.output.slice(-2000)}`);
    assert.equal(sha256(result.body), sha256(ours.served));
    assert.deepEqual(ours.errors, []);
  } finally {
    await ours.server.close();
  }
});

// Early data is off: our server never accepts 0-RTT, so nothing (a request, an authenticator request,
// an OPTIONS * proof) can be replayed from early data. gtlsclient resumes with the ticket and transport
// parameters of a first connection and sends its request as 0-RTT; the server refuses the early data and
// the same request is served once the handshake is done.
test('early data is refused: gtlsclient resumes and sends its request in 0-RTT, which our server rejects, then serves it after the handshake', async (t) => {
  if (!haveClient) return t.skip(`${CLIENT_BIN} is not installed (Debian package ngtcp2-client)`);
  const ours = await startOurServer();
  const resumption = ['--session-file', path.join(dir, 'early.session'), '--tp-file', path.join(dir, 'early.tp')];
  try {
    const first = await fetchWithGtlsclient(ours.server.port, 'first.bin', resumption);
    assert.equal(first.code, 0, `gtlsclient exited ${first.code}: ${first.output.slice(-2000)}`);
    const second = await fetchWithGtlsclient(ours.server.port, 'second.bin', resumption);
    assert.equal(second.code, 0, `gtlsclient exited ${second.code}: ${second.output.slice(-2000)}`);
    assert.match(second.output, /frm tx \d+ 0RTT STREAM\(0x0b\) id=0x0 fin=1/, 'gtlsclient sent its request as early data');
    assert.match(second.output, /Early data was rejected by server/);
    assert.equal(sha256(second.body), sha256(ours.served), 'the request was served after the handshake');
  } finally {
    await within(ours.server.close(), 5000, 'closing our server');
  }
});

test('with earlyData on our server, gtlsclient\'s 0-RTT request for the TLS certificate\'s origin is accepted and served in early data', async (t) => {
  if (!haveClient) return t.skip(`${CLIENT_BIN} is not installed (Debian package ngtcp2-client)`);
  const ours = await startOurServer(undefined, true);
  const resumption = ['--session-file', path.join(dir, 'accepted.session'), '--tp-file', path.join(dir, 'accepted.tp')];
  try {
    const first = await fetchWithGtlsclient(ours.server.port, 'first.bin', resumption);
    assert.equal(first.code, 0, `gtlsclient exited ${first.code}: ${first.output.slice(-2000)}`);
    const second = await fetchWithGtlsclient(ours.server.port, 'second.bin', resumption);
    assert.equal(second.code, 0, `gtlsclient exited ${second.code}: ${second.output.slice(-2000)}`);
    assert.match(second.output, /frm tx \d+ 0RTT STREAM\(0x0b\) id=0x0 fin=1/, 'gtlsclient sent its request as early data');
    assert.doesNotMatch(second.output, /Early data was rejected by server/);
    assert.equal(sha256(second.body), sha256(ours.served));
    assert.deepEqual(ours.early, [false, true], 'the second request reached the handler in early data');
  } finally {
    await within(ours.server.close(), 5000, 'closing our server');
  }
});
