// `npm run interop`: a matrix of named cases across server x client pairs, TypeScript (this project),
// Go (interop/go, written separately from RFC 9261 and the draft) and nghttp2 (a peer that does not know
// the extension), plus the conformance checker as a fourth client. Prints a table, writes
// interop/results.json, ends with "N passed, N failed" and exits 1 on any failure. Loopback only: names
// map to 127.0.0.1. What this machine cannot run (no Go, no nghttp2) is "n/a" with the reason.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkServer } from '../src/cli/check/h2/check.js';
import { startBrokenServer, type BreakMode } from '../test/helpers/broken-server.js';
import type { CheckReport } from '../src/cli/check/report.js';
import { startDemoServer } from '../src/cli/commands/demo-server.js';
import { SecondaryCertAgent } from '../src/pool/agent.js';
import type { EventEmitter } from 'node:events';
import { connect, type CertificateEvent, type ConnectionEvents, type SecondaryCertConnection } from '../src/h2/client.js';
import { H2ErrorCode, type H2ConnectionError } from '../src/errors.js';
import { DEFAULT_PROFILE } from '../src/h2/profile.js';
import { discoverOptionsStar, proveOrigin } from '../src/flows/options-star/client.js';
import { TestPki } from '../src/testing/test-pki.js';
import { runH3Matrix } from './h3.js';
import { expect, fail, hasCommand, na, pass, runCell, stopChild, runJsonLines, type CellStatus, type JsonLinesRun, type Outcome } from './common.js';

// ---- the Go peers, nghttp2, and certificates ----

const ROOT = process.cwd();
export const GO_BIN = join(ROOT, 'interop', 'bin');
export const GO_SERVER = join(GO_BIN, 'go-h2-server');
export const GO_CLIENT = join(GO_BIN, 'go-h2-client');


/** Whether the Go peers can run: built, or built now (when `go` exists). Returns why not otherwise. */
export function goPeers(options: { build?: boolean } = {}): { ok: true } | { ok: false; reason: string } {
  // The HTTP/3 peers are built too when quic-go's sources are there (interop/h3.ts).
  const h3Wanted = existsSync('/usr/share/gocode/src/github.com/lucas-clemente/quic-go');
  const binaries = [GO_SERVER, GO_CLIENT, ...(h3Wanted ? [join(GO_BIN, 'go-h3-server'), join(GO_BIN, 'go-h3-client')] : [])];
  // Built, and not older than the Go sources (a checkout that pulled new peer code rebuilds them).
  const built = (): boolean => binaries.every(existsSync) && Math.min(...binaries.map((b) => statSync(b).mtimeMs)) >= newestSource(join(ROOT, 'interop', 'go'));
  if (built()) return { ok: true };
  if (!hasCommand('go', ['version'])) return { ok: false, reason: "'go' is not installed (Debian: golang-go golang-golang-x-net-dev), so the Go peers are not built" };
  if (options.build !== false) spawnSync('bash', [join(ROOT, 'interop', 'build-go.sh')], { stdio: 'ignore', timeout: 300_000 });
  return existsSync(GO_SERVER) && existsSync(GO_CLIENT) ? { ok: true } : { ok: false, reason: 'interop/build-go.sh did not build the Go peers' };
}

/** The newest modification time of the files under `dir`. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** A test CA and the three identities the Go server takes, written as PEM files in `dir`. */
export interface Certificates {
  dir: string;
  pki: TestPki;
  caFile: string;
  /** name → { pem, key } file paths, for a.example (TLS), b.example and c.example. */
  files: Record<string, { pem: string; key: string }>;
}

export async function makeCertificates(dir: string): Promise<Certificates> {
  const pki = await TestPki.create({ commonName: 'secondary-certs interop CA' });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, pki.caPem);
  const files: Certificates['files'] = {};
  // The Go peers' own choice of keys: ECDSA for TLS, Ed25519 and ECDSA for the secondary identities.
  for (const [name, keyType] of [['a.example', 'p256'], ['b.example', 'ed25519'], ['c.example', 'p256']] as const) {
    const id = await pki.issue({ dnsNames: [name], keyType });
    files[name] = { pem: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    writeFileSync(files[name]!.pem, id.chainPem);
    writeFileSync(files[name]!.key, id.keyPem, { mode: 0o600 });
  }
  return { dir, pki, caFile, files };
}

export interface Child {
  port: number;
  stop(): Promise<void>;
}

/** Starts go-h2-server with a.example (TLS), b.example and c.example; `extra` adds flags (-broken, -plain). */
export function startGoServer(certs: Certificates, extra: string[] = []): Promise<Child> {
  const f = certs.files;
  const args = ['-cert', f['a.example']!.pem, '-key', f['a.example']!.key, '-quiet'];
  for (const n of ['b.example', 'c.example']) args.push('-secondary', `${f[n]!.pem},${f[n]!.key}`);
  const child = spawn(GO_SERVER, [...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = (): Promise<void> => stopChild(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error('go-h2-server did not say LISTENING within 5 s'));
    }, 5000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), stop });
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`go-h2-server exited with ${code}`));
    });
  });
}

export type GoClientRun = JsonLinesRun;

/** Runs go-h2-client against 127.0.0.1:port as a.example; `extra` adds flags. */
export function runGoClient(certs: Certificates, port: number, extra: string[], timeoutMs = 15_000): Promise<GoClientRun> {
  const args = ['-url', `https://127.0.0.1:${port}/`, '-servername', 'a.example', '-ca', certs.caFile, '-wait', '400ms', '-timeout', '10s', ...extra];
  return runJsonLines(GO_CLIENT, args, timeoutMs);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** nghttpd (nghttp2's server, no extension) with a.example's certificate, serving "hello from nghttpd". */
export async function startNghttpd(certs: Certificates): Promise<Child> {
  const htdocs = join(certs.dir, 'htdocs');
  mkdirSync(htdocs, { recursive: true });
  writeFileSync(join(htdocs, 'index.html'), 'hello from nghttpd\n');
  const port = await freePort();
  const child = spawn('nghttpd', ['-a', '127.0.0.1', '-d', htdocs, String(port), certs.files['a.example']!.key, certs.files['a.example']!.pem], { stdio: 'ignore' });
  const stop = (): Promise<void> => stopChild(child);
  for (let i = 0; i < 60; i++) {
    if (child.exitCode !== null) break;
    if (await portOpen(port)) return { port, stop };
    await sleep(50);
  }
  await stop();
  throw new Error('nghttpd did not start listening');
}

/**
 * nghttp (no extension) GET / as a.example, twice: with -v for the frames and the :status (the verbose log
 * and the body share stdout), then plainly for the body alone.
 */
export async function runNghttp(port: number): Promise<{ code: number | null; status: number; body: string; output: string }> {
  const run = (verbose: boolean): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve) => {
      const args = [...(verbose ? ['-v'] : []), '-y', '-t', '5', '-H', `:authority: a.example:${port}`, `https://127.0.0.1:${port}/`];
      const child = spawn('nghttp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('error', (e) => resolve({ code: null, out: e.message }));
      child.once('close', (code) => resolve({ code, out }));
    });
  const verbose = await run(true);
  const plain = await run(false);
  const status = Number(/recv \(stream_id=\d+\) :status: (\d+)/.exec(verbose.out)?.[1] ?? 0);
  return { code: verbose.code === 0 ? plain.code : verbose.code, status, body: plain.out, output: verbose.out };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

// ---- the matrix ----

export type ServerKind = 'ts' | 'go' | 'nghttpd';
export type ClientKind = 'ts' | 'go' | 'nghttp' | 'check';
export type { CellStatus } from './common.js';
export interface Cell {
  server: ServerKind;
  client: ClientKind;
  status: CellStatus;
  reason: string;
  ms: number;
}

const SERVERS: ServerKind[] = ['ts', 'go', 'nghttpd'];
const CLIENTS: ClientKind[] = ['ts', 'go', 'nghttp', 'check'];
const INVALID_MODES: BreakMode[] = ['bad-signature', 'wrong-exporter', 'nonzero-stream', 'before-settings'];

interface RunningServer {
  port: number;
  /** The server speaks the extension. */
  extension: boolean;
  caPem: string;
  stop(): Promise<void>;
}

/** What the run has: the peers available, the shared servers, and results computed once per server. */
interface Context {
  certs: Certificates;
  missing: Partial<Record<ServerKind | ClientKind, string>>;
  servers: Partial<Record<ServerKind, RunningServer>>;
  cache: Map<string, Promise<unknown>>;
}

function once<T>(ctx: Context, key: string, make: () => Promise<T>): Promise<T> {
  let p = ctx.cache.get(key) as Promise<T> | undefined;
  if (!p) {
    p = make();
    ctx.cache.set(key, p);
  }
  return p;
}

const origin = (name: string, port: number): string => `https://${name}:${port}`;

/** One checker run per server: every origin and OPTIONS * at once; the cases read the parts they need. */
function checkerReport(ctx: Context, kind: ServerKind, s: RunningServer): Promise<CheckReport> {
  return once(ctx, `check:${kind}`, () =>
    checkServer(origin('a.example', s.port), { ca: s.caPem, connectAddress: '127.0.0.1', origins: ['b.example', 'c.example'], optionsStar: ['b.example'], waitMs: 250 }),
  );
}

/** One full go-h2-client run per server: SETTINGS, certificates, and the fetches. */
function goFull(ctx: Context, kind: ServerKind, s: RunningServer): Promise<GoClientRun> {
  const fetch = s.extension ? `b.example:${s.port},c.example:${s.port}` : `a.example:${s.port}`;
  return once(ctx, `go:${kind}`, () => runGoClient(ctx.certs, s.port, ['-fetch', fetch]));
}

function nghttpRun(ctx: Context, kind: ServerKind, s: RunningServer): ReturnType<typeof runNghttp> {
  return once(ctx, `nghttp:${kind}`, () => runNghttp(s.port));
}

/** Does the TypeScript server answer OPTIONS *? (It depends on the build: issue 4.) */
function tsServerOptionsStar(ctx: Context, s: RunningServer): Promise<boolean> {
  return once(ctx, 'ts-options-star', async () => {
    const conn = await connect(origin('a.example', s.port), { ca: [s.caPem], connectAddress: '127.0.0.1', lookup, extension: false });
    try {
      return (await discoverOptionsStar(conn, { timeoutMs: 3000 })).server;
    } catch {
      return false;
    } finally {
      await conn.close();
    }
  });
}

const events = (run: GoClientRun, name: string): Record<string, unknown>[] => run.events.filter((e) => e.event === name);
const goSummary = (run: GoClientRun): string => `exit ${run.code}${run.stderr ? `, stderr: ${run.stderr.trim().slice(0, 120)}` : ''}; events: ${run.events.map((e) => String(e.event)).join(' ')}`;

/** Waits for `connection` to emit `event` (resolves true) or `ms` to pass (false). */
function waitEvent(connection: SecondaryCertConnection, event: keyof ConnectionEvents, ms: number, accept: (...args: unknown[]) => boolean = () => true): Promise<boolean> {
  // Any of the connection's events, so its listener takes any arguments.
  const emitter = connection as unknown as EventEmitter;
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    const on = (...args: unknown[]): void => {
      if (accept(...args)) done(true);
    };
    function done(v: boolean): void {
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(v);
    }
    emitter.on(event, on);
  });
}

function tsGet(connection: SecondaryCertConnection, authority: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = connection.session.request({ ':path': '/', ':authority': authority });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.setTimeout(5000, () => stream.close());
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => resolve({ status, body: body.trim() }));
    stream.on('error', reject);
    stream.on('close', () => resolve({ status, body: body.trim() }));
  });
}

interface CaseDef {
  id: string;
  /** Short column name. */
  short: string;
  title: string;
  run(ctx: Context, server: ServerKind, client: ClientKind): Promise<Outcome>;
}

const NO_EXT_NGHTTP = 'nghttp does not know the extension (see "plain")';
const NO_EXT_NGHTTPD = 'nghttpd does not have the extension (see "plain")';

const CASES: CaseDef[] = [
  {
    id: 'handshake',
    short: 'handshake',
    title: 'handshake and SETTINGS',
    async run(ctx, server, client) {
      const s = ctx.servers[server]!;
      if (server === 'nghttpd' && client === 'nghttp') return na('neither peer has the extension');
      const want = s.extension ? 'negotiated' : 'not negotiated (the server does not advertise it)';
      switch (client) {
        case 'ts': {
          const conn = await connect(origin('a.example', s.port), { ca: [s.caPem], connectAddress: '127.0.0.1', lookup });
          try {
            const negotiated = conn.negotiated || (await waitEvent(conn, 'negotiated', s.extension ? 3000 : 500));
            return expect(negotiated === s.extension && !conn.closed, want, `negotiated=${negotiated}, closed=${conn.closed}`);
          } finally {
            await conn.close();
          }
        }
        case 'go': {
          const run = await goFull(ctx, server, s);
          const st = events(run, 'settings')[0];
          return expect(st?.negotiated === s.extension && run.code === 0, want, goSummary(run));
        }
        case 'nghttp': {
          const r = await nghttpRun(ctx, server, s);
          const sawSetting = r.output.includes(`[UNKNOWN(0x${DEFAULT_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH.toString(16)}):1]`);
          return expect(r.code === 0 && sawSetting, 'SETTINGS with the unknown setting received and ignored', `exit ${r.code}, setting seen: ${sawSetting}`);
        }
        case 'check': {
          const rep = await checkerReport(ctx, server, s);
          const settings = rep.checks.filter((c) => c.id === 'connection' || c.id.startsWith('settings.'));
          const bad = settings.filter((c) => c.status === 'fail');
          const ok = bad.length === 0 && rep.extension === (s.extension ? 'supported' : 'not-supported');
          return expect(ok, `${want}; ${settings.length} checks`, `extension ${rep.extension}; ${bad.map((c) => `${c.id}: ${c.detail}`).join('; ') || rep.error || ''}`);
        }
      }
    },
  },
  {
    id: 'unprompted',
    short: 'unprompted',
    title: 'unprompted server certificate',
    async run(ctx, server, client) {
      const s = ctx.servers[server]!;
      if (server === 'nghttpd') return na(NO_EXT_NGHTTPD);
      if (client === 'nghttp') return na(NO_EXT_NGHTTP);
      const want = ['b.example', 'c.example'];
      switch (client) {
        case 'ts': {
          const conn = await connect(origin('a.example', s.port), { ca: [s.caPem], connectAddress: '127.0.0.1', lookup });
          const names = new Set<string>();
          conn.on('certificate', (e: CertificateEvent) => {
            if (e.accepted) for (const n of e.names) names.add(n);
          });
          try {
            await waitEvent(conn, 'certificate', 3000, () => want.every((n) => names.has(n)));
            await conn.settled();
            return expect(want.every((n) => names.has(n)), `accepted ${[...names].join(', ')}`, `accepted: ${[...names].join(', ') || 'none'}`);
          } finally {
            await conn.close();
          }
        }
        case 'go': {
          const run = await goFull(ctx, server, s);
          const valid = events(run, 'certificate').filter((e) => e.valid === true).flatMap((e) => e.names as string[]);
          return expect(want.every((n) => valid.includes(n)), `validated ${valid.join(', ')}`, goSummary(run));
        }
        case 'check': {
          const rep = await checkerReport(ctx, server, s);
          const frameChecks = rep.checks.filter((c) => /^frame\d+\./.test(c.id));
          const bad = frameChecks.filter((c) => c.status !== 'pass');
          const names = rep.certificates.filter((c) => c.via === 'SERVER_CERTIFICATE' && c.accepted).flatMap((c) => c.names);
          return expect(bad.length === 0 && want.every((n) => names.includes(n)), `${rep.frames.length} frames, ${frameChecks.length} checks pass`, bad.map((c) => `${c.id}: ${c.detail}`).join('; ') || `accepted: ${names.join(', ')}`);
        }
      }
      return na('unknown client');
    },
  },
  {
    id: 'secondary',
    short: 'secondary',
    title: 'request to a secondary origin on the same connection',
    async run(ctx, server, client) {
      const s = ctx.servers[server]!;
      if (server === 'nghttpd') return na(NO_EXT_NGHTTPD);
      if (client === 'nghttp') return na(NO_EXT_NGHTTP);
      switch (client) {
        case 'ts': {
          const agent = new SecondaryCertAgent({ ca: [s.caPem], lookup });
          try {
            const a = await agent.request(`${origin('a.example', s.port)}/`);
            const b = await agent.request(`${origin('b.example', s.port)}/`);
            const c = await agent.request(`${origin('c.example', s.port)}/`);
            const same = b.connectionId === a.connectionId && c.connectionId === a.connectionId;
            const ok = same && [a, b, c].every((r) => r.status === 200) && b.body.toString().includes('hello from b.example');
            return expect(ok, `a, b, c on connection ${a.connectionId}`, `statuses ${a.status} ${b.status} ${c.status}, connections ${a.connectionId} ${b.connectionId} ${c.connectionId}`);
          } finally {
            await agent.close();
          }
        }
        case 'go': {
          const run = await goFull(ctx, server, s);
          const ok200 = events(run, 'response').filter((e) => e.status === 200).map((e) => String(e.authority));
          return expect(ok200.length === 2 && run.code === 0, `200 for ${ok200.join(', ')}`, goSummary(run));
        }
        case 'check': {
          const rep = await checkerReport(ctx, server, s);
          const originChecks = rep.checks.filter((c) => c.id.startsWith('origin['));
          const bad = originChecks.filter((c) => c.status !== 'pass');
          return expect(originChecks.length === 4 && bad.length === 0, rep.origins.map((o) => `${o.origin} ${o.status}`).join(', '), bad.map((c) => `${c.id}: ${c.detail}`).join('; '));
        }
      }
      return na('unknown client');
    },
  },
  {
    id: 'options-star',
    short: 'options*',
    title: 'OPTIONS * authentication (our proposal)',
    async run(ctx, server, client) {
      const s = ctx.servers[server]!;
      if (server === 'nghttpd') return na('nghttpd does not answer OPTIONS * authentication');
      if (client === 'nghttp') return na('nghttp cannot send an authenticator request');
      if (server === 'ts' && !(await tsServerOptionsStar(ctx, s))) return na('this build of the TypeScript server does not answer OPTIONS * (issue 4)');
      switch (client) {
        case 'ts': {
          // No extension: OPTIONS * is the only way b.example can be proven on this connection.
          const conn = await connect(origin('a.example', s.port), { ca: [s.caPem], connectAddress: '127.0.0.1', lookup, extension: false });
          try {
            const r = await proveOrigin(conn, origin('b.example', s.port), { timeoutMs: 5000 });
            const served = r.outcome === 'proven' ? await tsGet(conn, `b.example:${s.port}`) : undefined;
            return expect(r.outcome === 'proven' && r.authority?.ok === true && served?.status === 200, `proven, then ${served?.status} on the same connection`, JSON.stringify(r));
          } finally {
            await conn.close();
          }
        }
        case 'go': {
          const run = await runGoClient(ctx.certs, s.port, ['-plain', '-options-star', 'b.example', '-fetch', `b.example:${s.port}`]);
          const opt = events(run, 'options')[0];
          const resp = events(run, 'response')[0];
          return expect(opt?.valid === true && resp?.status === 200 && run.code === 0, 'proven, then 200 on the same connection', goSummary(run));
        }
        case 'check': {
          const rep = await checkerReport(ctx, server, s);
          const opt = rep.checks.filter((c) => c.id.startsWith('options'));
          const bad = opt.filter((c) => c.status !== 'pass');
          return expect(opt.length > 1 && bad.length === 0, `${opt.length} checks pass`, bad.map((c) => `${c.id}: ${c.detail}`).join('; '));
        }
      }
      return na('unknown client');
    },
  },
  {
    id: 'invalid',
    short: 'invalid',
    title: `an invalid authenticator rejected (${INVALID_MODES.join(', ')})`,
    async run(ctx, server, client) {
      if (server === 'nghttpd') return na('nghttpd sends no authenticators');
      if (client === 'nghttp') return na(NO_EXT_NGHTTP);
      const results: string[] = [];
      let ok = true;
      for (const mode of INVALID_MODES) {
        const broken = await startBroken(ctx, server, mode);
        try {
          const r = await invalidOne(ctx, broken, mode, client);
          ok &&= r.status === 'pass';
          results.push(`${mode}: ${r.reason}`);
        } finally {
          await broken.stop();
        }
      }
      return ok ? pass(results.join('; ')) : fail(results.join('; '));
    },
  },
  {
    id: 'plain',
    short: 'plain',
    title: 'a peer without the extension unaffected',
    async run(ctx, server, client) {
      const s = ctx.servers[server]!;
      const hello = server === 'nghttpd' ? 'hello from nghttpd' : 'hello from a.example';
      switch (client) {
        case 'ts': {
          // Against our servers, a client without the extension; against nghttpd, our client with it.
          const conn = await connect(origin('a.example', s.port), { ca: [s.caPem], connectAddress: '127.0.0.1', lookup, extension: !s.extension });
          try {
            const r = await tsGet(conn, `a.example:${s.port}`);
            return expect(r.status === 200 && r.body === hello && !conn.negotiated, `200 "${r.body}"`, `status ${r.status} "${r.body}"`);
          } finally {
            await conn.close();
          }
        }
        case 'go': {
          const run = s.extension ? await runGoClient(ctx.certs, s.port, ['-plain', '-fetch', `a.example:${s.port}`]) : await goFull(ctx, server, s);
          const resp = events(run, 'response')[0];
          const certs = events(run, 'certificate').length;
          return expect(resp?.status === 200 && certs === 0 && run.code === 0, `200, no SERVER_CERTIFICATE${s.extension ? ' sent to a client without the setting' : ''}`, goSummary(run));
        }
        case 'nghttp': {
          const r = await nghttpRun(ctx, server, s);
          return expect(r.code === 0 && r.status === 200 && r.body.trim() === hello, `200 "${r.body.trim()}"`, `exit ${r.code}, status ${r.status}, body "${r.body.trim().slice(0, 80)}"`);
        }
        case 'check': {
          if (s.extension) return na('the checker always advertises the extension');
          const rep = await checkerReport(ctx, server, s);
          return expect(rep.verdict === 'no-extension', 'reported: the server does not support the extension', `verdict ${rep.verdict}`);
        }
      }
    },
  },
];

async function startBroken(ctx: Context, server: ServerKind, mode: BreakMode): Promise<RunningServer> {
  if (server === 'go') {
    const child = await startGoServer(ctx.certs, ['-broken', mode]);
    return { port: child.port, extension: true, caPem: ctx.certs.pki.caPem, stop: child.stop };
  }
  const s = await startBrokenServer({ mode, pki: ctx.certs.pki });
  return { port: s.port, extension: true, caPem: ctx.certs.pki.caPem, stop: () => s.close() };
}

/** What each client must do with each broken server. */
async function invalidOne(ctx: Context, s: RunningServer, mode: BreakMode, client: ClientKind): Promise<Outcome> {
  const invalidCode = DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID;
  switch (client) {
    case 'ts': {
      const conn = await connect(origin('a.example', s.port), { ca: [s.caPem], connectAddress: '127.0.0.1', lookup });
      let error: H2ConnectionError | undefined;
      conn.on('protocolError', (e: H2ConnectionError) => (error = e));
      try {
        await waitEvent(conn, 'protocolError', 3000);
        // A frame on a non-zero stream, or before negotiation (rosomakho-00 section 4.2), is PROTOCOL_ERROR.
        const want = mode === 'nonzero-stream' || mode === 'before-settings' ? H2ErrorCode.PROTOCOL_ERROR : invalidCode;
        return expect(error?.wireCode === want && conn.certificates.length === 0, `GOAWAY 0x${want.toString(16)}`, `got ${error ? `0x${error.wireCode.toString(16)} ${error.message}` : 'no error'}`);
      } finally {
        await conn.close();
      }
    }
    case 'go': {
      const want = { 'bad-signature': 3, 'wrong-exporter': 3, 'nonzero-stream': 4, 'before-settings': 5, 'reused-context': 3 }[mode];
      const run = await runGoClient(ctx.certs, s.port, ['-expect-invalid']);
      return expect(run.code === want, `exit ${want}`, goSummary(run));
    }
    case 'check': {
      const rep = await checkServer(origin('a.example', s.port), { ca: s.caPem, connectAddress: '127.0.0.1', waitMs: 200 });
      const finding = { 'bad-signature': 'frame1.signature', 'wrong-exporter': 'frame1.exporter', 'nonzero-stream': 'frame1.stream', 'before-settings': 'frame1.timing', 'reused-context': 'frame2.context' }[mode];
      const hit = rep.checks.find((c) => c.id === finding);
      return expect(rep.verdict === 'does-not-conform' && hit?.status === 'fail', `${finding} fails`, `verdict ${rep.verdict}, ${finding}: ${hit?.status ?? 'absent'}`);
    }
    default:
      return na(NO_EXT_NGHTTP);
  }
}

// ---- output ----

export function formatTable(cells: Record<string, Cell[]>, cases: readonly CaseDef[] = CASES): string {
  const pairs = SERVERS.flatMap((s) => CLIENTS.map((c) => `${s}/${c}`));
  const header = ['server/client', ...cases.map((c) => c.short)];
  const widths = header.map((h, i) => Math.max(h.length, i === 0 ? Math.max(...pairs.map((p) => p.length)) : 4));
  const row = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [row(header), row(widths.map((w) => '-'.repeat(w)))];
  for (const pair of pairs) {
    const [server, client] = pair.split('/');
    lines.push(row([pair, ...cases.map((k) => cells[k.id]?.find((c) => c.server === server && c.client === client)?.status ?? '')]));
  }
  return lines.join('\n');
}


export async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'secondary-certs-interop-'));
  const started = Date.now();
  const ctx: Context = { certs: await makeCertificates(dir), missing: {}, servers: {}, cache: new Map() };
  const go = goPeers();
  if (!go.ok) {
    ctx.missing.go = go.reason;
    process.stdout.write(`skip: Go peers: ${go.reason}\n`);
  }
  if (!hasCommand('nghttpd', ['--version'])) {
    ctx.missing.nghttpd = 'nghttpd is not installed (Debian: nghttp2-server)';
    process.stdout.write(`skip: ${ctx.missing.nghttpd}\n`);
  }
  if (!hasCommand('nghttp', ['--version'])) {
    ctx.missing.nghttp = 'nghttp is not installed (Debian: nghttp2-client)';
    process.stdout.write(`skip: ${ctx.missing.nghttp}\n`);
  }
  const caPem = ctx.certs.pki.caPem;
  const demo = await startDemoServer({ origins: ['a.example', 'b.example', 'c.example'], pki: ctx.certs.pki });
  ctx.servers.ts = { port: demo.port, extension: true, caPem, stop: () => demo.close() };
  try {
    if (!ctx.missing.go) {
      const g = await startGoServer(ctx.certs);
      ctx.servers.go = { port: g.port, extension: true, caPem, stop: g.stop };
    }
    if (!ctx.missing.nghttpd) {
      const n = await startNghttpd(ctx.certs);
      ctx.servers.nghttpd = { port: n.port, extension: false, caPem, stop: n.stop };
    }
  } catch (e) {
    process.stdout.write(`error: a server did not start: ${(e as Error).message}\n`);
  }

  const cells: Record<string, Cell[]> = {};
  // INTEROP_CASES=invalid,plain runs some cases only; INTEROP_VERBOSE=1 prints every cell as it ends.
  const only = process.env.INTEROP_CASES?.split(',').map((c) => c.trim()).filter((c) => c !== '');
  const cases = only?.length ? CASES.filter((k) => only.includes(k.id)) : CASES;
  for (const [i, k] of cases.entries()) {
    const row: Cell[] = (cells[k.id] = []);
    for (const server of SERVERS) {
      for (const client of CLIENTS) {
        const t = Date.now();
        const out = await runCell(ctx.missing[server] ?? ctx.missing[client], ctx.servers[server] !== undefined, server, () => k.run(ctx, server, client), 60_000, `${k.id} ${server}/${client}`);
        row.push({ server, client, status: out.status, reason: out.reason, ms: Date.now() - t });
        if (process.env.INTEROP_VERBOSE) process.stdout.write(`  ${k.id} ${server}/${client}: ${out.status} (${Date.now() - t} ms) ${out.reason}\n`);
      }
    }
    const count = (st: CellStatus): number => row.filter((c) => c.status === st).length;
    process.stdout.write(`[${i + 1}/${cases.length}] ${k.title}: ${count('pass')} pass, ${count('FAIL')} FAIL, ${count('n/a')} n/a\n`);
  }
  for (const s of Object.values(ctx.servers)) await s.stop();
  // HTTP/3 (interop/h3.ts): its own servers and clients, over QUIC. INTEROP_CASES without "h3" leaves it out.
  const h3 = !only?.length || only.includes('h3') ? await runH3Matrix(ctx.certs, (line) => process.stdout.write(`${line}\n`)) : undefined;
  rmSync(dir, { recursive: true, force: true });

  const all = [...Object.values(cells).flat(), ...(h3?.cases.flatMap((k) => k.results) ?? [])];
  const passed = all.filter((c) => c.status === 'pass').length;
  const failed = all.filter((c) => c.status === 'FAIL').length;
  const notApplicable = all.filter((c) => c.status === 'n/a').length;
  if (cases.length) process.stdout.write(`\n${formatTable(cells, cases)}\n(columns are cases; rows are SERVER/CLIENT; "check" is secondary-certs check)\n`);
  if (h3) process.stdout.write(`\n${h3.table}\n(HTTP/3: rows are SERVER/CLIENT over QUIC; ngtcp2 is gtlsserver/gtlsclient)\n`);
  const failures = [
    ...cases.flatMap((k) => (cells[k.id] ?? []).filter((c) => c.status === 'FAIL').map((c) => `  FAIL ${k.short} ${c.server}/${c.client}: ${c.reason}`)),
    ...(h3?.cases.flatMap((k) => k.results.filter((c) => c.status === 'FAIL').map((c) => `  FAIL h3 ${k.id} ${c.server}/${c.client}: ${c.reason}`)) ?? []),
  ];
  if (failures.length) process.stdout.write(`\nfailures:\n${failures.join('\n')}\n`);
  const byReason = new Map<string, string[]>();
  for (const k of cases) for (const c of cells[k.id] ?? []) if (c.status === 'n/a') byReason.set(c.reason, [...(byReason.get(c.reason) ?? []), `${k.short} ${c.server}/${c.client}`]);
  for (const k of h3?.cases ?? []) for (const c of k.results) if (c.status === 'n/a') byReason.set(c.reason, [...(byReason.get(c.reason) ?? []), `h3 ${k.id} ${c.server}/${c.client}`]);
  if (byReason.size) {
    process.stdout.write('\nn/a:\n');
    for (const [reason, where] of byReason) {
      const shown = where.length > 8 ? `${where.slice(0, 8).join(', ')} and ${where.length - 8} more` : where.join(', ');
      process.stdout.write(`  ${reason}: ${shown}\n`);
    }
  }
  const results = {
    generatedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    node: process.version,
    peers: { go: ctx.missing.go ?? 'available', nghttpd: ctx.missing.nghttpd ?? 'available', nghttp: ctx.missing.nghttp ?? 'available' },
    profile: { setting: DEFAULT_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, frame: DEFAULT_PROFILE.frames.SERVER_CERTIFICATE, errorCode: DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID },
    cases: cases.map((k) => ({ id: k.id, title: k.title, results: cells[k.id] ?? [] })),
    h3: h3?.cases ?? [],
    passed,
    failed,
    notApplicable,
  };
  writeFileSync(join(ROOT, 'interop', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nresults written to interop/results.json (${Math.round(results.durationMs / 1000)} s)\n${passed} passed, ${failed} failed (${notApplicable} n/a)\n`);
  return failed > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`interop: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
