// `secondary-certs check --h3 --probe` against real QUIC servers on loopback: our HTTP/3 server closes with
// H3_FRAME_UNEXPECTED on a client-sent SERVER_CERTIFICATE and H3_SETTINGS_ERROR on setting values other
// than 0 and 1, each probe on a QUIC connection of its own, and so does the Go server; the Go server
// that does not advertise the extension still rejects them, which is right too;
// one on other codepoints is checked once the checker is told them; the JSON follows its schema.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkH3Server, formatH3Report, type H3CheckOptions, type H3CheckReport } from '../../src/cli/check/h3/check.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/server.js';
import { makeH3Profile, type H3Profile } from '../../src/h3/profile.js';
import { existsSync } from 'node:fs';
import { goPeers, makeCertificates, type Certificates } from '../../interop/run.js';
import { assertCheckJson } from './check-json-schema.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FRAME_PROBES = ['client-server-certificate', 'client-server-certificate-garbage'];
const SETTING_PROBES = ['setting-value-2', 'setting-value-max'];
let dir = '';
let certs: Certificates;
let ours: H3SecondaryCertServer;
let connections = 0;
const GO_H3_SERVER = join(process.cwd(), 'interop', 'bin', 'go-h3-server');
const go = goPeers();
const goSkip = !go.ok ? go.reason : existsSync(GO_H3_SERVER) ? false : 'interop/bin/go-h3-server is not built (quic-go sources missing)';

/** The Go HTTP/3 server (a.example, b.example as a secondary identity) with `extra` flags, for `fn`. */
async function withGo<T>(extra: string[], fn: (port: number) => Promise<T>): Promise<T> {
  const f = certs.files;
  const args = ['-addr', '127.0.0.1:0', '-cert', f['a.example']!.pem, '-key', f['a.example']!.key, '-quiet', '-secondary', `${f['b.example']!.pem},${f['b.example']!.key}`, ...extra];
  const child = spawn(GO_H3_SERVER, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
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
    return await fn(port);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
  }
}

async function start(extension: boolean, profile?: H3Profile): Promise<H3SecondaryCertServer> {
  const f = certs.files;
  const read = (p: string) => readFileSync(p, 'utf8');
  return createH3SecondaryCertServer(
    {
      cert: read(f['a.example']!.pem),
      key: read(f['a.example']!.key),
      host: '127.0.0.1',
      extension,
      ...(profile ? { profile } : {}),
      identities: extension ? [{ chain: read(f['b.example']!.pem), key: read(f['b.example']!.key) }] : [],
    },
    (req, res) => res.end(200, { 'content-type': 'text/plain' }, `hello from ${req.authority}\n`),
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'check-probes-h3-test-'));
  certs = await makeCertificates(dir);
  ours = await start(true);
  ours.on('connection', () => connections++);
});

after(async () => {
  await ours?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const at = (port: number): string => `https://a.example:${port}`;
const quick = (more: H3CheckOptions = {}): H3CheckOptions => ({ ca: certs.pki.caPem, connectAddress: '127.0.0.1', waitMs: 150, timeoutMs: 4000, probe: true, ...more });
const check = (r: H3CheckReport, name: string) => r.checks.find((c) => c.id === `probe.${name}`);

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'check', '--h3', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('our HTTP/3 server closes with H3_FRAME_UNEXPECTED on a client-sent SERVER_CERTIFICATE and H3_SETTINGS_ERROR on setting values 2 and 0xffffffff, each probe on its own connection', { timeout: 60_000 }, async () => {
  const before = connections;
  const r = await checkH3Server(at(ours.port), quick());
  assert.equal(r.verdict, 'conforms', formatH3Report(r));
  assert.deepEqual(r.probes.map((p) => p.name), [...FRAME_PROBES, ...SETTING_PROBES]);
  assert.equal(connections - before, 1 + 4);
  for (const name of FRAME_PROBES) {
    assert.equal(check(r, name)?.status, 'pass', name);
    assert.equal(check(r, name)?.section, 'draft-ietf-httpbis-secondary-server-certs §3.2; RFC 9114 §8');
    const p = r.probes.find((x) => x.name === name)!;
    assert.deepEqual([p.serverSupports, p.reaction.closed, p.reaction.errorName], [true, true, 'H3_FRAME_UNEXPECTED']);
  }
  for (const name of SETTING_PROBES) {
    assert.equal(check(r, name)?.status, 'pass', name);
    assert.equal(check(r, name)?.section, 'draft-ietf-httpbis-secondary-server-certs §4.2; RFC 9114 §8');
    assert.equal(r.probes.find((x) => x.name === name)!.reaction.errorCode, 0x109);
  }
});

test('the Go HTTP/3 server that does not advertise the extension (-plain) passes the probes by rejecting them as the draft says (it knows the frame and the setting)', { timeout: 60_000, skip: goSkip }, async () => {
  await withGo(['-plain'], async (port) => {
    const r = await checkH3Server(at(port), quick());
    assert.equal(r.verdict, 'no-extension', formatH3Report(r));
    for (const name of [...FRAME_PROBES, ...SETTING_PROBES]) {
      const c = check(r, name)!;
      assert.equal(c.status, 'pass', `${name}: ${formatH3Report(r)}`);
      // A server that closes on our SETTINGS may do so before its own SETTINGS reach us: then only the draft's rule is cited.
      assert.match(c.section, name.startsWith('setting') ? /draft-ietf-httpbis-secondary-server-certs §4\.2/ : /RFC 9114 §9; draft-ietf-httpbis-secondary-server-certs §3\.2/);
      assert.match(c.detail, /it knows the extension, though it does not advertise it|before its SETTINGS reached us/);
      assert.equal(r.probes.find((x) => x.name === name)!.reaction.errorName, name.startsWith('setting') ? 'H3_SETTINGS_ERROR' : 'H3_FRAME_UNEXPECTED');
    }
  });
});

test('the Go HTTP/3 server with the extension rejects the probes as our server does', { timeout: 60_000, skip: goSkip }, async () => {
  await withGo([], async (port) => {
    const r = await checkH3Server(at(port), quick());
    for (const name of [...FRAME_PROBES, ...SETTING_PROBES]) assert.equal(check(r, name)?.status, 'pass', `${name}: ${formatH3Report(r)}`);
  });
});

test('check --h3 --probe --json on a server with other codepoints: not supported with ours, conforming with --profile naming its h3 codepoints', { timeout: 120_000 }, async () => {
  const profile = makeH3Profile('other', { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 0x7a10 }, frames: { SERVER_CERTIFICATE: 0x7a11 }, errors: { SERVER_CERTIFICATE_INVALID: 0x7a13 } });
  const other = await start(true, profile);
  try {
    const base = ['--json', '--probe', '--ca', certs.caFile, '--connect', '127.0.0.1', '--wait', '150', '--timeout', '4000', at(other.port)];
    const ourCodepoints = await runCli(base);
    assert.equal(ourCodepoints.code, 3, ourCodepoints.stderr);
    assert.equal(assertCheckJson(JSON.parse(ourCodepoints.stdout)).extension, 'not-supported');
    const file = join(dir, 'h3-profile.json');
    writeFileSync(file, JSON.stringify({ h2: { frames: { SERVER_CERTIFICATE: 0xe1 } }, h3: { settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: '0x7a10' }, frames: { SERVER_CERTIFICATE: '0x7a11' }, errors: { SERVER_CERTIFICATE_INVALID: '0x7a13' } } }));
    const told = await runCli(['--profile', file, ...base]);
    const report = assertCheckJson(JSON.parse(told.stdout));
    assert.equal(told.code, 0, formatH3Report(report));
    assert.equal(report.protocol, 'h3');
    assert.deepEqual(report.profile, { setting: 0x7a10, frame: 0x7a11, errorCode: 0x7a13 });
    for (const name of [...FRAME_PROBES, ...SETTING_PROBES]) assert.equal(check(report, name)?.status, 'pass', name);
  } finally {
    await other.close();
  }
});
