// The HTTP/3 conformance checker (`secondary-certs check --h3`) against real QUIC servers on loopback: our
// own HTTP/3 server and the independent Go one conform; a plain server is "no extension"; each Go -broken
// mode fails with the check that names its fault; a closed port is unreachable; the CLI's exit codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkH3Server, formatH3Report, type H3CheckOptions, type H3CheckReport } from '../../src/cli/check/h3/check.js';
import { EXIT_STATUS } from '../../src/cli/check/report.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/server.js';
import { goPeers, makeCertificates, type Certificates } from '../../interop/run.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const GO_H3_SERVER = join(process.cwd(), 'interop', 'bin', 'go-h3-server');
// goPeers builds the Go peers with interop/build-go.sh when `go` exists and they are missing.
const go = goPeers();
const goSkip = !go.ok ? go.reason : existsSync(GO_H3_SERVER) ? false : 'interop/bin/go-h3-server is not built (quic-go sources missing)';
let dir = '';
let certs: Certificates;
let ours: H3SecondaryCertServer;
let plain: H3SecondaryCertServer;

async function startOurs(extension: boolean): Promise<H3SecondaryCertServer> {
  const f = certs.files;
  const read = (p: string) => readFileSync(p, 'utf8');
  return createH3SecondaryCertServer(
    {
      cert: read(f['a.example']!.pem),
      key: read(f['a.example']!.key),
      host: '127.0.0.1',
      extension,
      identities: extension ? ['b.example', 'c.example'].map((n) => ({ chain: read(f[n]!.pem), key: read(f[n]!.key) })) : [],
    },
    (req, res) => res.end(200, { 'content-type': 'text/plain' }, `hello from ${req.authority}\n`),
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'check-h3-test-'));
  certs = await makeCertificates(dir);
  ours = await startOurs(true);
  plain = await startOurs(false);
});

after(async () => {
  await ours?.close();
  await plain?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const at = (port: number): string => `https://a.example:${port}`;
const quick = (more: H3CheckOptions = {}): H3CheckOptions => ({ ca: certs.pki.caPem, connectAddress: '127.0.0.1', waitMs: 150, timeoutMs: 4000, ...more });
const failed = (r: H3CheckReport): string[] => r.checks.filter((c) => c.status === 'fail').map((c) => c.id);
const statusOf = (r: H3CheckReport, id: string): string | undefined => r.checks.find((c) => c.id === id)?.status;

function assertConforms(r: H3CheckReport): void {
  assert.deepEqual(failed(r), [], formatH3Report(r));
  assert.equal(r.verdict, 'conforms');
  assert.equal(r.extension, 'supported');
  assert.equal(EXIT_STATUS[r.verdict], 0);
  assert.equal(r.clientClose?.name, 'H3_NO_ERROR');
}

async function withGo<T>(extra: string[], fn: (port: number) => Promise<T>): Promise<T> {
  const f = certs.files;
  const args = ['-addr', '127.0.0.1:0', '-cert', f['a.example']!.pem, '-key', f['a.example']!.key, '-quiet'];
  for (const n of ['b.example', 'c.example']) args.push('-secondary', `${f[n]!.pem},${f[n]!.key}`);
  const child = spawn(GO_H3_SERVER, [...args, ...extra], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('go-h3-server did not say LISTENING within 5 s')), 5000);
    child.stdout!.on('data', (d: Buffer) => {
      const m = /LISTENING (\d+)/.exec((out += d.toString()));
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`go-h3-server exited with ${code}`));
    });
  });
  try {
    return await fn(port);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
  }
}

test("our HTTP/3 server conforms: two certificates on the control stream, proven origins served, unproven ones 421", async () => {
  const r = await checkH3Server(at(ours.port), quick({ origins: ['b.example', `https://c.example:${ours.port}`, 'd.example'] }));
  assertConforms(r);
  assert.deepEqual(r.tls?.alpn, 'h3');
  const frames = r.frames.filter((f) => f.name === 'SERVER_CERTIFICATE');
  assert.equal(frames.length, 2);
  assert.ok(frames.every((f) => f.afterSettingValue1 && f.streamId % 4 === 3 && f.atMs >= 0), formatH3Report(r));
  assert.deepEqual(r.certificates.map((c) => [c.names.join(), c.valid, c.accepted]).sort(), [['b.example', true, true], ['c.example', true, true]]);
  assert.deepEqual(r.origins.map((o) => [o.origin.replace(/:\d+$/, ''), o.status]), [['https://a.example', 200], ['https://b.example', 200], ['https://c.example', 200], ['https://d.example', 421]]);
  for (const id of ['settings.received', 'settings.advertised', 'settings.value', 'frame1.stream', 'frame1.negotiated', 'frame1.finished', 'frame1.signature', 'frame1.exporter', 'frame2.context', 'frame1.certificate', 'streams.rules']) {
    assert.equal(statusOf(r, id), 'pass', id);
  }
  assert.equal(statusOf(r, 'origin[d.example:' + ours.port + '].covered'), 'skip');
  const text = formatH3Report(r);
  assert.match(text, /PASS {2}draft-ietf-httpbis-secondary-server-certs §5\.2 {2}SERVER_CERTIFICATE on the server's control stream \(frame #1\)/);
  assert.match(text, /SERVER_CERTIFICATE type 0x5ec1/);
  assert.match(text, /closed the connection with 0x100 \(H3_NO_ERROR\)/);
  assert.match(text, /0 failed, \d+ skipped: the server conforms/);
});

test('a plain HTTP/3 server (extension off): "no extension", no frames, exit 3', async () => {
  const r = await checkH3Server(at(plain.port), quick({ origins: ['b.example'] }));
  assert.equal(r.verdict, 'no-extension', formatH3Report(r));
  assert.equal(r.extension, 'not-supported');
  assert.deepEqual(failed(r), []);
  assert.equal(r.frames.length, 0);
  assert.equal(EXIT_STATUS[r.verdict], 3);
  assert.match(formatH3Report(r), /the server does not support the extension/);
});

test('a closed UDP port: unreachable, exit 4', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const r = await checkH3Server(at(port), quick({ timeoutMs: 1500 }));
  assert.equal(r.verdict, 'unreachable');
  assert.match(r.error ?? '', /no QUIC connection/);
  assert.equal(EXIT_STATUS[r.verdict], 4);
});

test('the Go HTTP/3 server conforms', { skip: goSkip }, async () => {
  await withGo([], async (port) => {
    const r = await checkH3Server(at(port), quick({ origins: ['b.example', 'c.example'] }));
    assertConforms(r);
    assert.equal(r.certificates.filter((c) => c.valid && c.accepted).length, 2);
    assert.deepEqual(r.origins.map((o) => o.status), [200, 200, 200]);
  });
});

/** For each Go -broken mode: the check that must fail, what its detail says, and how we close. */
const FINDINGS: Record<string, { id: string; detail: RegExp; close: string; passes?: string[] }> = {
  'bad-signature': { id: 'frame1.signature', detail: /does not verify/, close: 'SERVER_CERTIFICATE_INVALID', passes: ['frame1.finished', 'frame1.exporter', 'frame1.stream'] },
  'wrong-exporter': { id: 'frame1.exporter', detail: /CLIENT labels/, close: 'SERVER_CERTIFICATE_INVALID', passes: ['frame1.structure', 'frame1.stream'] },
  'request-stream': { id: 'frame1.stream', detail: /request stream 0/, close: 'H3_FRAME_UNEXPECTED', passes: ['frame1.negotiated'] },
  unadvertised: { id: 'frame1.negotiated', detail: /not negotiated/, close: 'H3_NO_ERROR', passes: ['frame1.stream'] },
};

for (const [mode, want] of Object.entries(FINDINGS)) {
  test(`the Go HTTP/3 server -broken ${mode} fails ${want.id}`, { skip: goSkip }, async () => {
    await withGo(['-broken', mode], async (port) => {
      const r = await checkH3Server(at(port), quick({ origins: ['b.example'] }));
      const text = formatH3Report(r);
      assert.equal(r.verdict, 'does-not-conform', text);
      const check = r.checks.find((c) => c.id === want.id);
      assert.equal(check?.status, 'fail', `${mode}: ${want.id}\n${text}`);
      assert.match(check!.detail, want.detail);
      assert.ok(r.checks.some((c) => c.status === 'fail' && /^[0-9a-f]{16}/.test(c.evidence ?? '')), `hex evidence\n${text}`);
      for (const id of want.passes ?? []) assert.equal(statusOf(r, id), 'pass', `${mode}: ${id} should pass\n${text}`);
      assert.equal(r.clientClose?.name, want.close, text);
      assert.equal(EXIT_STATUS[r.verdict], 1);
    });
  });
}

/** Runs the CLI; resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'check', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

test('CLI: check --h3 exits 0 for our server (--json), 3 for a plain one, 2 for --insecure', async () => {
  const caFile = certs.caFile;
  const ok = await cli(['--h3', at(ours.port), '--ca', caFile, '--connect', '127.0.0.1', '--wait', '150', '--origin', 'b.example', '--json']);
  assert.equal(ok.code, 0, ok.out + ok.err);
  const json = JSON.parse(ok.out) as H3CheckReport;
  assert.equal(json.verdict, 'conforms');
  assert.equal(json.certificates.length, 2);
  const none = await cli(['--h3', at(plain.port), '--ca', caFile, '--connect', '127.0.0.1', '--wait', '150']);
  assert.equal(none.code, 3, none.out + none.err);
  assert.match(none.out, /the server does not support the extension/);
  const bad = await cli(['--h3', at(ours.port), '--insecure']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--insecure does not apply with --h3/);
});
