// The stress command end to end: its own server in a child process, and a given server by URL. These are
// short runs that check the command works and counts what it should; the full run is `npm run stress`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMON_OPTIONS } from '../../src/cli/commands/args.js';
import { STRESS_OPTIONS } from '../../src/cli/commands/stress.js';
import { startDemoServer } from '../../src/cli/commands/demo-server.js';
import type { AddressInfo } from 'node:net';
import { TestPki } from '../../src/testing/index.js';
import { createSecondaryCertServer } from '../../src/h2/index.js';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;

/** Runs the command without blocking this process (which may be the server it drives). */
function run(args: string[], timeoutMs = 90_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'stress', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The row of `phase` in the failures table, as numbers: conns, ok, failed, then each kind. */
function row(stdout: string, phase: string): number[] {
  const line = stdout.split('\n').find((l) => l.startsWith(phase));
  assert.ok(line, `no row for ${phase} in:\n${stdout}`);
  return line.slice(phase.length).trim().split(/\s+/).map(Number);
}

test('a short stress run against its own server: every phase, the tables, 0 failures, exit 0', async () => {
  const r = await run(['--levels', '5', '--churn-seconds', '3', '--h3-connections', '3', '--agent-connections', '5']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Connections and failures by kind/);
  assert.match(r.stdout, /phase\s+conns\s+ok\s+failed\s+dial\s+handshake\s+auth missing\s+auth invalid\s+status\s+reset\s+goaway\s+timeout\s+other\s+seconds/);
  for (const [phase, n] of [['HTTP/2 x5', 5], ['HTTP/3 x3', 3], ['agent (HTTP/2)', 5]] as const) {
    const [conns, ok, failed] = row(r.stdout, phase);
    assert.deepEqual([conns, ok, failed], [n, n, 0], phase);
  }
  const [churnConns, churnOk, churnFailed] = row(r.stdout, 'churn (50 at once)');
  assert.ok(churnOk! > 0 && churnOk === churnConns && churnFailed === 0, r.stdout);
  // The server's own process was measured: RSS and descriptors before, while held and after close.
  assert.match(r.stdout, /Server \(pid \d+, its own process; after a full collection\)/);
  assert.match(r.stdout, /HTTP\/2 x5\s+5\s+[\d.]+ \/ [\d.]+ \/ [\d.]+\s+-?[\d.]+\s+\d+ \/ \d+ \/ \d+\s+[\d.]+/);
  assert.match(r.stdout, /Churn: 50 connections cycling for \d+ s, \d+ completed/);
  assert.match(r.stdout, /slope: -?[\d.]+ MB per 1000 connections in the second half/);
  assert.match(r.stdout, /Client \(this process, SecondaryCertAgent, one connection each\): heap after a full collection/);
  assert.match(r.stdout, /held {4}0 failures at 5 HTTP\/2 connections held at once/);
  assert.match(r.stdout, /held {4}client heap after closing within 10% of its start/);
  // Three seconds of churn say nothing about a leak: reported, not judged.
  assert.match(r.stdout, /n\/a {5}churn: .*not judged: a run under 60 s is too short/);
  assert.doesNotMatch(r.stdout, /FAILED/);
  assert.match(r.stderr, /churn: \d+ of 3 s, \d+ connections/, 'a progress line on stderr');
});

test('stress URL drives a given server; without --pid its memory is not available; a wrong CA is counted as handshake failures', async () => {
  const pki = await TestPki.create();
  const server = await startDemoServer({ origins: ['a.example', 'b.example', 'c.example'], pki });
  let sent = 0;
  server.extension.on('certificateSent', () => sent++);
  const dir = mkdtempSync(join(tmpdir(), 'stress-'));
  try {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, pki.caPem);
    const url = `https://a.example:${server.port}`;
    const common = ['--connect', '127.0.0.1', '--skip-churn', '--skip-h3', '--skip-agent', '--levels', '4'];
    const ok = await run([url, '--ca', ca, '--origin', 'b.example', '--origin', 'c.example', ...common, '--json']);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const results = JSON.parse(ok.stdout) as { levels: { held: number; failures: Record<string, number>; atHeld: object }[]; server: { measured: boolean; note: string } };
    assert.equal(results.levels[0]?.held, 4);
    assert.ok(Object.values(results.levels[0]?.failures ?? {}).every((n) => n === 0), ok.stdout);
    assert.deepEqual(results.levels[0]?.atHeld, {});
    assert.equal(results.server.measured, false);
    assert.match(results.server.note, /not available: give --pid PID/);
    // Each connection was sent the secondary certificates for b.example and c.example.
    assert.ok(sent >= 8, `${sent} SERVER_CERTIFICATE frames sent for 4 connections`);

    const withPid = await run([url, '--ca', ca, '--origin', 'b.example', ...common, '--pid', String(process.pid)]);
    assert.equal(withPid.status, 0, withPid.stdout + withPid.stderr);
    assert.match(withPid.stdout, new RegExp(`Server \\(pid ${process.pid}; no collection asked of it\\)`));

    // A server whose certificate does not chain to the given CA: every connection fails its TLS handshake.
    const other = join(dir, 'other.pem');
    writeFileSync(other, (await TestPki.create()).caPem);
    const bad = await run([url, '--ca', other, ...common]);
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.deepEqual(row(bad.stdout, 'HTTP/2 x4').slice(0, 5), [4, 0, 4, 0, 4]);
    assert.match(bad.stdout, /FAILED {2}0 failures at 4 HTTP\/2 connections held at once: 4 failed, 0 held/);

    // An origin the server does not prove: the certificates it waits for never come.
    const missing = await run([url, '--ca', ca, '--origin', 'b.example', '--origin', 'z.example', ...common, '--timeout', '1500']);
    assert.equal(missing.status, 1, missing.stdout + missing.stderr);
    assert.deepEqual(row(missing.stdout, 'HTTP/2 x4').slice(0, 6), [4, 0, 4, 0, 0, 4]);
    assert.match(missing.stdout, /auth missing: 2 of 2 certificates accepted in time; none for z\.example/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});

test('stress URL counts a secondary certificate the client does not accept as an invalid authenticator', async () => {
  const pki = await TestPki.create();
  const stranger = await TestPki.create({ commonName: 'a CA the client does not trust' });
  const tlsId = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  const secondaryId = await stranger.issue({ dnsNames: ['b.example'], keyType: 'p256' });
  const { server } = await createSecondaryCertServer({
    key: tlsId.keyPem,
    cert: tlsId.chainPem,
    minVersion: 'TLSv1.3',
    identities: [{ chain: secondaryId.chainDer, key: secondaryId.keyPkcs8Der }],
  });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  server.on('sessionError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'stress-'));
  try {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, pki.caPem);
    const port = (server.address() as AddressInfo).port;
    const r = await run([`https://a.example:${port}`, '--ca', ca, '--origin', 'b.example', '--connect', '127.0.0.1', '--skip-churn', '--skip-h3', '--skip-agent', '--levels', '3']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    // conns, ok, failed, dial, handshake, auth missing, auth invalid
    assert.deepEqual(row(r.stdout, 'HTTP/2 x3').slice(0, 7), [3, 0, 3, 0, 0, 0, 3]);
    assert.match(r.stdout, /auth invalid: certificate for b\.example not accepted/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await new Promise((resolve) => server.close(resolve));
  }
});

test('stress --help names every option; usage errors exit 2; an address off loopback is refused', () => {
  const help = spawnSync(process.execPath, [cli, 'stress', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: secondary-certs stress/);
  for (const name of Object.keys({ ...STRESS_OPTIONS, ...COMMON_OPTIONS })) assert.match(help.stdout, new RegExp(`--${name}\\b`), `--help does not name --${name}`);
  assert.match(help.stdout, /exit status: 0 /);
  const top = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  assert.match(top.stdout, /^ {2}stress\b/m);
  for (const args of [
    ['--levels', '0'],
    ['--levels', '10,x'],
    ['--churn-seconds', '-1'],
    ['--ca', 'ca.pem'],
    ['https://a.example:1', '--ca', '/dev/null', '--connect', '192.0.2.1'],
    ['http://a.example:1', '--ca', '/dev/null'],
    ['https://a.example:1'],
  ]) {
    const r = spawnSync(process.execPath, [cli, 'stress', ...args], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /usage: secondary-certs stress/);
  }
});
