// The debug log as a user turns it on: NODE_DEBUG=secondary-certs on real HTTP/2 and HTTP/3 connections
// (in a child process, since Node reads NODE_DEBUG at startup), and --verbose on a command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const peer = new URL('./debug-peer.js', import.meta.url).pathname;
const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;

function runPeer(protocol: 'h2' | 'h3', nodeDebug: string | undefined): { stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NODE_DEBUG;
  if (nodeDebug !== undefined) env.NODE_DEBUG = nodeDebug;
  const r = spawnSync(process.execPath, [peer, protocol], { encoding: 'utf8', env, timeout: 30_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /status 200 connection #1/);
  return r;
}

test('NODE_DEBUG=secondary-certs logs HTTP/2 frames with type, length and verdict, SETTINGS, and authority decisions', () => {
  const { stderr } = runPeer('h2', 'secondary-certs');
  const line = (re: RegExp): void => assert.match(stderr, new RegExp(`^SECONDARY-CERTS \\d+: ${re.source}`, 'm'));
  line(/h2 server \S+: sent SERVER_CERTIFICATE \(0xf5\), length \d+, for b\.example$/);
  line(/h2 client splicer: received frame type 0xf5, length \d+, stream 0: taken out for the extension$/);
  line(/h2 client https:\/\/a\.example:\d+: received SERVER_CERTIFICATE \(0xf5\), length \d+: valid \(RFC 9261\), accepted for b\.example$/);
  line(/h2 client splicer: sent SETTINGS .*0xf5ec=1/);
  line(/h2 server \S+: SETTINGS_HTTP_SERVER_CERT_AUTH: we sent 1, the client sent 1: negotiated$/);
  line(/h2 client https:\/\/a\.example:\d+: SETTINGS_HTTP_SERVER_CERT_AUTH: we sent 1, the server sent 1: negotiated$/);
  line(/authority: https:\/\/b\.example:\d+ on the connection to https:\/\/a\.example:\d+: allowed, via the secondary certificate \(certificate covers it and DNS includes the peer address\)$/);
});

test('NODE_DEBUG=secondary-certs logs the HTTP/3 control stream: SETTINGS and SERVER_CERTIFICATE with type, length and verdict', () => {
  const { stderr } = runPeer('h3', 'secondary-certs');
  const line = (re: RegExp): void => assert.match(stderr, new RegExp(`^SECONDARY-CERTS \\d+: ${re.source}`, 'm'));
  line(/h3 server: sent SERVER_CERTIFICATE \(0x5ec1\), length \d+, on the control stream$/);
  line(/h3 client: received SERVER_CERTIFICATE \(0x5ec1\), length \d+, on the control stream: passed to the client$/);
  line(/h3 client https:\/\/a\.example:\d+: SERVER_CERTIFICATE \(0x5ec1\), length \d+: valid \(RFC 9261\), accepted for b\.example$/);
  line(/h3 client: received SETTINGS .*; SETTINGS_HTTP_SERVER_CERT_AUTH: we sent 1, the peer sent 1: negotiated$/);
  line(/authority: https:\/\/b\.example:\d+ on the connection to https:\/\/a\.example:\d+: allowed, via the secondary certificate/);
});

test('without NODE_DEBUG nothing is logged; other NODE_DEBUG sections do not turn it on', () => {
  assert.doesNotMatch(runPeer('h2', undefined).stderr, /SECONDARY-CERTS/);
  assert.doesNotMatch(runPeer('h2', 'http2').stderr, /SECONDARY-CERTS/);
});

test('--verbose on a command shows the same debug lines on stderr', () => {
  const env = { ...process.env };
  delete env.NODE_DEBUG;
  const r = spawnSync(process.execPath, [cli, 'demo', '--verbose', '--rtt', '0'], { encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /^SECONDARY-CERTS \d+: h2 client https:\/\/a\.example:\d+: received SERVER_CERTIFICATE \(0xf5\), length \d+: valid \(RFC 9261\), accepted for b\.example$/m);
  assert.match(r.stderr, /^SECONDARY-CERTS \d+: h2 server \S+: SETTINGS_HTTP_SERVER_CERT_AUTH: we sent 1, the client sent 1: negotiated$/m);
  assert.doesNotMatch(r.stdout, /SECONDARY-CERTS/);
  const quiet = spawnSync(process.execPath, [cli, 'demo', '--rtt', '0'], { encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(quiet.status, 0);
  assert.doesNotMatch(quiet.stderr, /SECONDARY-CERTS/);
});
