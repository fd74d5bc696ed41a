// `secondary-certs check --probe` over HTTP/2 against real servers on loopback: the project's own server
// rejects every probe as the draft requires, each probe on a connection of its own; nghttpd (no extension)
// ignores them; a server with the extension on other codepoints is seen only once the checker is told
// its codepoints (--setting, --frame-type, --error-code, --profile); `--json` follows its schema.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import type { Http2SecureServer } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkServer, type CheckOptions } from '../../src/cli/check/h2/check.js';
import { CHECK_SCHEMA_VERSION, formatReport, type CheckReport } from '../../src/cli/check/report.js';
import { startDemoServer, type DemoServer } from '../../src/cli/commands/demo-server.js';
import { createSecondaryCertServer } from '../../src/h2/server.js';
import { makeProfile, type H2Profile } from '../../src/h2/profile.js';
import { makeCertificates, startNghttpd, type Certificates } from '../../interop/run.js';
import { assertCheckJson } from './check-json-schema.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PROBES = ['client-server-certificate', 'client-server-certificate-garbage', 'setting-value-2', 'setting-value-max', 'options-star-bad-body'];
let dir = '';
let certs: Certificates;
let demo: DemoServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'check-probes-test-'));
  certs = await makeCertificates(dir);
  demo = await startDemoServer({ origins: ['a.example', 'b.example'], pki: certs.pki });
});

after(async () => {
  await demo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const at = (port: number): string => `https://a.example:${port}`;
const quick = (more: CheckOptions = {}): CheckOptions => ({ ca: certs.pki.caPem, connectAddress: '127.0.0.1', waitMs: 120, timeoutMs: 3000, probe: true, ...more });
const check = (r: CheckReport, name: string) => r.checks.find((c) => c.id === `probe.${name}`);

/** The project's server, with the extension on `profile`'s codepoints and b.example as a secondary identity. */
async function serverOn(profile: H2Profile): Promise<{ port: number; server: Http2SecureServer; close(): Promise<void> }> {
  const f = certs.files;
  const read = (p: string) => readFileSync(p, 'utf8');
  const { server, extension } = await createSecondaryCertServer({
    key: read(f['a.example']!.key),
    cert: read(f['a.example']!.pem),
    minVersion: 'TLSv1.3',
    profile,
    identities: [{ chain: read(f['b.example']!.pem), key: read(f['b.example']!.key) }],
  });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('hello\n');
  });
  server.on('sessionError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'check', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill(), 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("the project's server rejects every HTTP/2 probe as the draft requires, each probe on a connection of its own", { timeout: 30_000 }, async () => {
  const before = demo.handshakes.length;
  const r = await checkServer(at(demo.port), quick());
  assert.equal(r.verdict, 'conforms', formatReport(r));
  assert.deepEqual(r.probes.map((p) => p.name), PROBES);
  for (const name of PROBES) assert.equal(check(r, name)?.status, 'pass', `${name}: ${formatReport(r)}`);
  // The watched connection, then one per probe.
  assert.equal(demo.handshakes.length - before, 1 + PROBES.length);
  for (const name of ['client-server-certificate', 'client-server-certificate-garbage', 'setting-value-2', 'setting-value-max']) {
    const p = r.probes.find((x) => x.name === name)!;
    assert.equal(p.serverSupports, true);
    assert.deepEqual([p.reaction.closed, p.reaction.errorCode, p.reaction.errorName], [true, 0x1, 'PROTOCOL_ERROR'], name);
  }
  assert.equal(check(r, 'client-server-certificate')?.section, 'draft-ietf-httpbis-secondary-server-certs §3.2; RFC 9113 §5.4.1');
  assert.equal(check(r, 'setting-value-2')?.section, 'draft-ietf-httpbis-secondary-server-certs §4.1; RFC 9113 §5.4.1');
  assert.match(r.probes[0]!.sent, /well-formed authenticator/);
  const options = r.probes.find((x) => x.name === 'options-star-bad-body')!;
  assert.deepEqual([options.reaction.status, options.reaction.stillServes, options.reaction.closed], [400, true, false]);
  assert.match(formatReport(r), /PASS {2}draft-ietf-httpbis-secondary-server-certs §3\.2; RFC 9113 §5\.4\.1 {2}a SERVER_CERTIFICATE \(0xf5\) from the client closes the connection with PROTOCOL_ERROR/);
});

test('without --probe no probe runs and the report says so with an empty list', { timeout: 30_000 }, async () => {
  const before = demo.handshakes.length;
  const r = await checkServer(at(demo.port), quick({ probe: false }));
  assert.deepEqual(r.probes, []);
  assert.equal(r.checks.filter((c) => c.id.startsWith('probe.')).length, 0);
  assert.equal(demo.handshakes.length - before, 1);
});

test('nghttpd, which ignores the extension, passes the probes by ignoring the unknown frame and setting (RFC 9113 §5.5, §6.5.2); OPTIONS * is skipped', { timeout: 30_000 }, async () => {
  const nghttpd = await startNghttpd(certs);
  try {
    const r = await checkServer(at(nghttpd.port), quick());
    assert.equal(r.verdict, 'no-extension', formatReport(r));
    for (const name of ['client-server-certificate', 'client-server-certificate-garbage', 'setting-value-2', 'setting-value-max']) {
      const c = check(r, name)!;
      assert.equal(c.status, 'pass', `${name}: ${formatReport(r)}`);
      assert.match(c.section, name.startsWith('setting') ? /RFC 9113 §6\.5\.2/ : /RFC 9113 §5\.5/);
      const p = r.probes.find((x) => x.name === name)!;
      assert.deepEqual([p.serverSupports, p.reaction.closed, p.reaction.stillServes], [false, false, true]);
    }
    assert.equal(check(r, 'options-star-bad-body')?.status, 'skip');
  } finally {
    await nghttpd.stop();
  }
});

test('a server with the extension on other codepoints is reported without the extension under ours, and conforms, probes included, once --setting, --frame-type and --error-code name its own', { timeout: 60_000 }, async () => {
  const profile = makeProfile('other', { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 0x1234 }, frames: { SERVER_CERTIFICATE: 0xe1 }, errors: { SERVER_CERTIFICATE_INVALID: 0xabcd } });
  const other = await serverOn(profile);
  try {
    // Our codepoints: the server does not advertise our setting, so it "does not support the extension"; the probes' frames are ignored.
    const ours = await runCli(['--json', '--probe', '--ca', certs.caFile, '--connect', '127.0.0.1', '--wait', '120', '--timeout', '3000', at(other.port)]);
    assert.equal(ours.code, 3, ours.stderr);
    const oursReport = assertCheckJson(JSON.parse(ours.stdout));
    assert.equal(oursReport.extension, 'not-supported');

    // Told its codepoints, the checker sees the extension, its certificate, and each probe rejected.
    const args = ['--json', '--probe', '--setting', '0x1234', '--frame-type', '0xe1', '--error-code', String(0xabcd), '--ca', certs.caFile, '--connect', '127.0.0.1', '--wait', '120', '--timeout', '3000', at(other.port)];
    const told = await runCli(args);
    const report = assertCheckJson(JSON.parse(told.stdout));
    assert.equal(told.code, 0, formatReport(report));
    assert.deepEqual(report.profile, { setting: 0x1234, frame: 0xe1, errorCode: 0xabcd });
    assert.equal(report.extension, 'supported');
    assert.deepEqual(report.certificates.map((c) => [c.names.join(), c.accepted]), [['b.example', true]]);
    for (const name of ['client-server-certificate', 'client-server-certificate-garbage', 'setting-value-2', 'setting-value-max']) assert.equal(check(report, name)?.status, 'pass', name);
    assert.equal(report.probes[0]!.bytes?.slice(6, 8), 'e1', 'the frame probe sent type 0xe1');

    // The same from a --profile file, naming the h2 codepoints.
    const file = join(dir, 'profile.json');
    writeFileSync(file, JSON.stringify({ h2: { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: '0x1234' }, frames: { SERVER_CERTIFICATE: 0xe1 }, errors: { SERVER_CERTIFICATE_INVALID: '0xabcd' } } }));
    const fromFile = await runCli(['--json', '--probe', '--profile', file, '--ca', certs.caFile, '--connect', '127.0.0.1', '--wait', '120', '--timeout', '3000', at(other.port)]);
    assert.equal(fromFile.code, 0, fromFile.stdout);
    assert.deepEqual(assertCheckJson(JSON.parse(fromFile.stdout)).profile, { setting: 0x1234, frame: 0xe1, errorCode: 0xabcd });
  } finally {
    await other.close();
  }
});

test('a server that keeps the connection open after a client-sent SERVER_CERTIFICATE fails probe.client-server-certificate with §3.2', { timeout: 30_000 }, async () => {
  // The extension's setting is ours, but the server takes SERVER_CERTIFICATE to be 0xe2: our 0xf5 reaches
  // nghttp2, which drops it, and the connection stays open.
  const deaf = await serverOn(makeProfile('deaf', { frames: { SERVER_CERTIFICATE: 0xe2 } }));
  try {
    const r = await checkServer(at(deaf.port), quick());
    const c = check(r, 'client-server-certificate')!;
    assert.equal(c.status, 'fail', formatReport(r));
    assert.match(c.section, /§3\.2/);
    assert.match(c.detail, /stayed open and still serves/);
    assert.equal(check(r, 'client-server-certificate-garbage')?.status, 'fail');
    // The setting probes still pass: the setting is ours.
    assert.equal(check(r, 'setting-value-2')?.status, 'pass');
    assert.equal(r.verdict, 'does-not-conform');
  } finally {
    await deaf.close();
  }
});

test('a server that completes TLS with ALPN h2 but never sends SETTINGS: every probe is skipped, each within its time bound', { timeout: 60_000 }, async () => {
  const f = certs.files;
  const silent = tls.createServer({ key: readFileSync(f['a.example']!.key), cert: readFileSync(f['a.example']!.pem), ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
  const sockets = new Set<tls.TLSSocket>();
  silent.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.resume();
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const r = await checkServer(at((silent.address() as AddressInfo).port), quick({ timeoutMs: 800 }));
    assert.equal(r.verdict, 'does-not-conform', formatReport(r));
    for (const name of PROBES) assert.equal(check(r, name)?.status, 'skip', `${name}: ${formatReport(r)}`);
    assert.match(check(r, 'setting-value-2')!.detail, /no SETTINGS from the server within 800 ms/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }
});

test('check: codepoint flags and --profile files that cannot be used are usage errors (exit 2)', { timeout: 30_000 }, async () => {
  const bad = join(dir, 'bad-profile.json');
  writeFileSync(bad, JSON.stringify({ frames: { NOT_A_FRAME: 1 } }));
  const notJson = join(dir, 'not-json.json');
  writeFileSync(notJson, '{');
  const cases: [string[], RegExp][] = [
    [['--setting', 'twelve'], /--setting must be an integer/],
    [['--frame-type', '0x1'], /frame type SERVER_CERTIFICATE = 1 is not allowed/],
    [['--error-code=-3'], /--error-code must be an integer/],
    [['--profile', bad], /unknown frames name NOT_A_FRAME/],
    [['--profile', notJson], /not JSON/],
    [['--profile', join(dir, 'missing.json')], /cannot read --profile/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli([...args, 'https://a.example:1']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('check --json follows the documented schema (schemaVersion 1) for a conforming server, one without the extension, and an unreachable one', { timeout: 60_000 }, async () => {
  const nghttpd = await startNghttpd(certs);
  try {
    for (const [url, code] of [[at(demo.port), 0], [at(nghttpd.port), 3], ['https://a.example:1', 4]] as const) {
      const r = await runCli(['--json', '--probe', '--ca', certs.caFile, '--connect', '127.0.0.1', '--wait', '120', '--timeout', '3000', url]);
      assert.equal(r.code, code, r.stderr);
      const report = assertCheckJson(JSON.parse(r.stdout));
      assert.equal(report.schemaVersion, CHECK_SCHEMA_VERSION);
      assert.equal(report.protocol, 'h2');
    }
  } finally {
    await nghttpd.stop();
  }
});
