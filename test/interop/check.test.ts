// The conformance checker (`secondary-certs check`) against real servers on loopback: the project's own
// server and the independent Go server pass; each server broken on purpose (Go's -broken modes and the
// TypeScript ones in test/helpers/broken-server.ts) fails with the check that names its fault; a server
// without the extension, a silent one and a closed port are reported as such, never as a crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkServer, type CheckOptions } from '../../src/cli/check/h2/check.js';
import { checkSpontaneousAuthenticator } from '../../src/cli/check/judges/authenticator.js';
import { BREAK_MODES, startBrokenServer, type BreakMode } from '../helpers/broken-server.js';
import { EXIT_STATUS, formatReport, type CheckReport } from '../../src/cli/check/report.js';
import { startDemoServer, type DemoServer } from '../../src/cli/commands/demo-server.js';
import { keysFromValues } from '../../src/exporter/keys.js';
import { TestPki } from '../../src/testing/test-pki.js';
import { goPeers, makeCertificates, startGoServer, type Certificates, type Child } from '../../interop/run.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const go = goPeers();
const goSkip = go.ok ? false : go.reason;
let dir = '';
let certs: Certificates;
let demo: DemoServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'check-test-'));
  certs = await makeCertificates(dir);
  demo = await startDemoServer({ origins: ['a.example', 'b.example', 'c.example'], pki: certs.pki });
});

after(async () => {
  await demo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const at = (port: number): string => `https://a.example:${port}`;
const quick = (ca: string, more: CheckOptions = {}): CheckOptions => ({ ca, connectAddress: '127.0.0.1', waitMs: 120, timeoutMs: 3000, ...more });
const failed = (r: CheckReport): string[] => r.checks.filter((c) => c.status === 'fail').map((c) => c.id);
const statusOf = (r: CheckReport, id: string): string | undefined => r.checks.find((c) => c.id === id)?.status;

function assertConforms(r: CheckReport): void {
  assert.deepEqual(failed(r), [], formatReport(r));
  assert.equal(r.verdict, 'conforms');
  assert.equal(r.extension, 'supported');
}

async function withGo<T>(extra: string[], fn: (port: number) => Promise<T>): Promise<T> {
  const child: Child = await startGoServer(certs, extra);
  try {
    return await fn(child.port);
  } finally {
    await child.stop();
  }
}

test('the checker sees the TLS certificate for both its report and the origins it covers (Node 20.20 empties the peer certificate after a second read)', async () => {
  const r = await checkServer(at(demo.port), quick(certs.pki.caPem, { origins: [`https://a.example:${demo.port}`] }));
  assert.deepEqual(r.tls?.peerNames, ['a.example']);
  assert.deepEqual(r.origins.map((o) => [o.status, o.coveredBy]), [[200, 'tls']]);
});

test("the project's server conforms: two certificates, origins served on the connection, OPTIONS * proven", async () => {
  const r = await checkServer(at(demo.port), quick(certs.pki.caPem, { origins: ['b.example', `https://c.example:${demo.port}`], optionsStar: ['b.example'] }));
  assertConforms(r);
  const frames = r.frames.filter((f) => f.name === 'SERVER_CERTIFICATE');
  assert.equal(frames.length, 2);
  assert.ok(frames.every((f) => f.afterSettingValue1 && f.streamId === 0 && f.atMs >= 0));
  assert.deepEqual(r.certificates.filter((c) => c.via === 'SERVER_CERTIFICATE').map((c) => [c.names.join(), c.accepted]), [['b.example', true], ['c.example', true]]);
  assert.deepEqual(r.origins.map((o) => o.status), [200, 200]);
  for (const id of ['frame1.finished', 'frame1.signature', 'frame1.exporter', 'frame2.context', 'settings.value']) assert.equal(statusOf(r, id), 'pass', id);
  // OPTIONS * is judged only when this build's server answers it (issue 4); otherwise it is skipped, not failed.
  if (statusOf(r, 'options.discovery') === 'pass') assert.equal(statusOf(r, 'options[b.example].validate'), 'pass');
  const text = formatReport(r);
  assert.match(text, /PASS {2}draft-ietf-httpbis-secondary-server-certs §5\.1 {2}SERVER_CERTIFICATE on stream 0 \(frame #1\)/);
  assert.match(text, /PASS {2}RFC 9261 §5\.2\.3 {2}Finished verifies/);
  assert.match(text, /0 failed, \d+ skipped: the server conforms/);
});

test('the Go server conforms', { skip: goSkip }, async () => {
  await withGo([], async (port) => {
    const r = await checkServer(at(port), quick(certs.pki.caPem, { origins: ['b.example', 'c.example'], optionsStar: ['c.example'] }));
    assertConforms(r);
    assert.equal(r.certificates.filter((c) => c.via === 'SERVER_CERTIFICATE' && c.accepted).length, 2);
    assert.equal(statusOf(r, 'options[c.example].certificate'), 'pass');
  });
});

/** The check that must fail for each broken server, and details its text must hold. */
const FINDINGS: Record<BreakMode, { id: string; detail: RegExp; passes?: string[] }> = {
  'bad-signature': { id: 'frame1.signature', detail: /does not verify/, passes: ['frame1.finished', 'frame1.exporter', 'frame1.structure'] },
  'wrong-exporter': { id: 'frame1.exporter', detail: /CLIENT labels/, passes: ['frame1.structure', 'frame1.scheme'] },
  'nonzero-stream': { id: 'frame1.stream', detail: /stream 1/, passes: ['frame1.signature'] },
  'before-settings': { id: 'frame1.timing', detail: /before the server's SETTINGS_HTTP_SERVER_CERT_AUTH/, passes: ['frame1.signature'] },
  'reused-context': { id: 'frame2.context', detail: /already received/, passes: ['frame1.context', 'frame2.signature'] },
};

function assertFinding(r: CheckReport, mode: BreakMode): void {
  const want = FINDINGS[mode];
  assert.equal(r.verdict, 'does-not-conform', formatReport(r));
  const check = r.checks.find((c) => c.id === want.id);
  assert.equal(check?.status, 'fail', `${mode}: ${want.id}\n${formatReport(r)}`);
  assert.match(check!.detail, want.detail);
  for (const id of want.passes ?? []) assert.equal(statusOf(r, id), 'pass', `${mode}: ${id} should pass`);
  assert.equal(EXIT_STATUS[r.verdict], 1);
}

for (const mode of BREAK_MODES) {
  test(`a TypeScript server broken on purpose (${mode}) fails ${FINDINGS[mode].id}`, async () => {
    const s = await startBrokenServer({ mode, pki: certs.pki });
    try {
      assertFinding(await checkServer(at(s.port), quick(certs.pki.caPem)), mode);
    } finally {
      await s.close();
    }
  });
}

for (const mode of ['bad-signature', 'wrong-exporter', 'nonzero-stream', 'before-settings'] as const) {
  test(`the Go server -broken ${mode} fails ${FINDINGS[mode].id}`, { skip: goSkip }, async () => {
    await withGo(['-broken', mode], async (port) => assertFinding(await checkServer(at(port), quick(certs.pki.caPem)), mode));
  });
}

test('the wrong exporter shows in the text report with the frame bytes as evidence', async () => {
  const s = await startBrokenServer({ mode: 'wrong-exporter', pki: certs.pki });
  try {
    const text = formatReport(await checkServer(at(s.port), quick(certs.pki.caPem)));
    assert.match(text, /FAIL {2}RFC 9261 §5\.1 {2}made with the server's exporter values \(frame #1\)/);
    assert.match(text, /FAIL {2}RFC 9261 §5\.2\.3 {2}Finished verifies \(frame #1\)\n.*\n {8}evidence: [0-9a-f]{64}/);
    assert.match(text, /#1 \+[\d.]+ ms {2}SERVER_CERTIFICATE type 0xf5 flags 0x00 stream 0/);
    assert.match(text, /the server does NOT conform/);
  } finally {
    await s.close();
  }
});

test('a server without the extension: reported as such, not as a failure (Go -plain)', { skip: goSkip }, async () => {
  await withGo(['-plain'], async (port) => {
    const r = await checkServer(at(port), quick(certs.pki.caPem, { origins: ['b.example'] }));
    assert.equal(r.verdict, 'no-extension');
    assert.equal(r.extension, 'not-supported');
    assert.deepEqual(failed(r), []);
    assert.equal(r.frames.length, 0);
    assert.match(formatReport(r), /the server does not support the extension/);
    assert.equal(EXIT_STATUS[r.verdict], 3);
  });
});

/** A plain node:http2 server sending `customSettings` in its SETTINGS. */
async function plainServer(pki: TestPki, customSettings?: Record<number, number>): Promise<{ port: number; close(): Promise<void> }> {
  const id = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  const server = http2.createSecureServer({ key: id.keyPem, cert: id.chainPem, minVersion: 'TLSv1.3', ...(customSettings ? { settings: { customSettings } } : {}) });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  server.on('sessionError', () => {});
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('plain');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

test('a plain node:http2 server: no extension; a setting value of 2 fails §4.1', async () => {
  const plain = await plainServer(certs.pki);
  const two = await plainServer(certs.pki, { 0xf5ec: 2 });
  try {
    const r = await checkServer(at(plain.port), quick(certs.pki.caPem));
    assert.equal(r.verdict, 'no-extension', formatReport(r));
    const bad = await checkServer(at(two.port), quick(certs.pki.caPem));
    assert.equal(statusOf(bad, 'settings.value'), 'fail', formatReport(bad));
    assert.equal(bad.checks.find((c) => c.id === 'settings.value')?.evidence, 'f5ec00000002');
    assert.equal(bad.verdict, 'does-not-conform');
  } finally {
    await plain.close();
    await two.close();
  }
});

test('unreachable: a closed port, a TCP server that never speaks TLS, an untrusted certificate', async () => {
  const closedPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const r1 = await checkServer(at(closedPort), quick(certs.pki.caPem));
  assert.equal(r1.verdict, 'unreachable');
  assert.match(r1.error ?? '', /ECONNREFUSED/);
  assert.equal(EXIT_STATUS[r1.verdict], 4);

  const held: import('node:net').Socket[] = [];
  const silent: Server = createServer((sock) => held.push(sock));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const started = Date.now();
    const r2 = await checkServer(at((silent.address() as AddressInfo).port), quick(certs.pki.caPem, { timeoutMs: 300 }));
    assert.equal(r2.verdict, 'unreachable');
    assert.match(r2.error ?? '', /no TLS handshake within 300 ms/);
    assert.ok(Date.now() - started < 2000);
  } finally {
    for (const s of held) s.destroy();
    silent.close();
  }

  const other = await TestPki.create();
  const r3 = await checkServer(at(demo.port), quick(other.caPem));
  assert.equal(r3.verdict, 'unreachable');
  // --insecure gets through, records the chains and judges no trust.
  const r4 = await checkServer(at(demo.port), { insecure: true, connectAddress: '127.0.0.1', waitMs: 120, origins: ['b.example'] });
  assert.equal(r4.verdict, 'conforms', formatReport(r4));
  assert.equal(statusOf(r4, 'frame1.certificate'), 'skip');
  assert.equal(r4.origins[0]?.status, 200);
});

test('an authenticator that does not parse, and an empty one, fail RFC 9261 §5.2 and skip the rest', async () => {
  const v = (n: number): Uint8Array => new Uint8Array(32).fill(n);
  const keys = keysFromValues('sha256', { client: { handshakeContext: v(1), finishedKey: v(2) }, server: { handshakeContext: v(3), finishedKey: v(4) } });
  for (const bytes of [new Uint8Array([11, 0, 0, 9, 1, 2]), new Uint8Array([20, 0, 0, 32, ...v(0)])]) {
    const out = await checkSpontaneousAuthenticator({ keys, authenticator: bytes, id: 'f', where: '', seenContexts: new Set() });
    assert.equal(out.valid, false);
    assert.equal(out.checks[0]?.id, 'f.structure');
    assert.equal(out.checks[0]?.status, 'fail');
    assert.ok(out.checks.slice(1).every((c) => c.status === 'skip'));
    assert.equal(out.checks.length, 8);
  }
});

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'check', ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('secondary-certs check: --json and exit 0 for a conforming server, 2 for usage errors', async () => {
  const caFile = join(dir, 'demo-ca.pem');
  writeFileSync(caFile, certs.pki.caPem);
  const ok = await cli([at(demo.port), '--ca', caFile, '--connect', '127.0.0.1', '--origin', 'b.example', '--json', '--wait', '100']);
  assert.equal(ok.code, 0, ok.out + ok.err);
  const report = JSON.parse(ok.out) as CheckReport;
  assert.equal(report.verdict, 'conforms');
  assert.equal(report.origins[0]?.status, 200);
  assert.ok(report.checks.some((c) => c.evidence !== undefined));

  for (const bad of [[], ['http://a.example'], [at(1), '--timeout', 'soon'], [at(1), '--ca', join(dir, 'missing.pem')], [at(1), '--bogus'], [at(1), '--ca', caFile, '--insecure']]) {
    const r = await cli(bad);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.err}`);
    assert.match(r.err, /usage: secondary-certs check/);
  }
});
