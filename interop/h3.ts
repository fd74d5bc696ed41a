// The HTTP/3 half of the interop matrix: TypeScript (this project, over quiche's native binding), Go (interop/go,
// its own HTTP/3 layer on raw quic-go streams) and ngtcp2 (gtlsserver / gtlsclient, HTTP/3 over ngtcp2 +
// nghttp3, peers that do not know the extension) as servers and clients. run.ts calls runH3Matrix.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAuthenticator } from '../src/ea/index.js';
import { loadIdentity } from '../src/pki/identity.js';
import { connectH3, type H3CertificateEvent, type H3SecondaryCertConnection } from '../src/h3/client.js';
import { encodeServerCertificateFrame } from '../src/h3/wire/certificates.js';
import { DEFAULT_H3_PROFILE } from '../src/h3/profile.js';
import { createH3SecondaryCertServer, type H3ServerConnection } from '../src/h3/server.js';
import type { H3ConnectionError } from '../src/errors.js';
import { ClientCertificates } from '../src/flows/client-auth/credentials.js';
import { H3ClientAuthClient, H3ClientAuthServer } from '../src/flows/client-auth/h3.js';
import type { Certificates } from './run.js';
import { expect, fail, hasCommand, na, runCell, stopChild, runJsonLines, type CellStatus, type JsonLinesRun, type Outcome } from './common.js';

// run.ts imports this module, so its GO_BIN is not initialised yet when this one runs: the same path, here.
const GO_BIN = join(process.cwd(), 'interop', 'bin');
export const GO_H3_SERVER = join(GO_BIN, 'go-h3-server');
export const GO_H3_CLIENT = join(GO_BIN, 'go-h3-client');

export type H3Peer = 'ts' | 'go' | 'ngtcp2';
export type H3Status = CellStatus;
export interface H3Cell {
  server: H3Peer;
  client: H3Peer;
  status: H3Status;
  reason: string;
  ms: number;
}
const PEERS: H3Peer[] = ['ts', 'go', 'ngtcp2'];
/** Debian installs the server in /usr/sbin, which a user's PATH may lack. */
const GTLSSERVER = existsSync('/usr/sbin/gtlsserver') ? '/usr/sbin/gtlsserver' : 'gtlsserver';
const INVALID = DEFAULT_H3_PROFILE.errors.SERVER_CERTIFICATE_INVALID;
const NO_EXT = 'ngtcp2 does not know the extension (see "fetch")';

interface Server {
  port: number;
  stop(): Promise<void>;
}


function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}


/** Our HTTP/3 server: a.example, proving b.example and c.example; `broken` corrupts every authenticator's Finished. */
async function startTsServer(certs: Certificates, broken = false): Promise<Server> {
  const f = certs.files;
  const read = (p: string) => readFileSync(p, 'utf8');
  const server = await createH3SecondaryCertServer(
    {
      cert: read(f['a.example']!.pem),
      key: read(f['a.example']!.key),
      identities: broken ? [] : ['b.example', 'c.example'].map((n) => ({ chain: read(f[n]!.pem), key: read(f[n]!.key) })),
    },
    (req, res) => res.end(200, { 'content-type': 'text/plain' }, `hello from ${req.authority.replace(/:\d+$/, '')} over ts-h3\n`),
  );
  if (broken) {
    server.on('negotiated', async (c: H3ServerConnection) => {
      const b = await loadIdentity({ chain: read(f['b.example']!.pem), key: read(f['b.example']!.key) });
      const authenticator = await createAuthenticator({ keys: c.transport.keys, creator: 'server', certificateChain: b.chain, signer: b.signer, state: c.state });
      authenticator[authenticator.length - 1]! ^= 1;
      c.session.sendControlFrame(encodeServerCertificateFrame({ authenticator }));
    });
  }
  return { port: server.port, stop: () => server.close() };
}

function startGoServer(certs: Certificates, extra: string[] = []): Promise<Server> {
  const f = certs.files;
  const args = ['-addr', '127.0.0.1:0', '-cert', f['a.example']!.pem, '-key', f['a.example']!.key, '-quiet'];
  for (const n of ['b.example', 'c.example']) args.push('-secondary', `${f[n]!.pem},${f[n]!.key}`);
  const child = spawn(GO_H3_SERVER, [...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stopChild(child);
      reject(new Error('go-h3-server did not say LISTENING within 5 s'));
    }, 5000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), stop: () => stopChild(child) });
      }
    });
    child.stderr!.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`go-h3-server exited with ${code}`));
    });
  });
}

/** gtlsserver with a.example's certificate, serving index.html; it needs a moment to bind (no ready line). */
async function startNgtcp2Server(certs: Certificates): Promise<Server> {
  const htdocs = join(certs.dir, 'h3-htdocs');
  mkdirSync(htdocs, { recursive: true });
  writeFileSync(join(htdocs, 'index.html'), 'hello from ngtcp2\n');
  const port = await freeUdpPort();
  const child = spawn(GTLSSERVER, ['-q', '--no-quic-dump', '--no-http-dump', '-d', htdocs, '127.0.0.1', String(port), certs.files['a.example']!.key, certs.files['a.example']!.pem], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error(`gtlsserver exited with ${child.exitCode}`);
  return { port, stop: () => stopChild(child) };
}

type GoRun = JsonLinesRun;

function runGoClient(certs: Certificates, port: number, extra: string[]): Promise<GoRun> {
  const args = ['-addr', `127.0.0.1:${port}`, '-servername', 'a.example', '-ca', certs.caFile, '-wait', '500ms', '-timeout', '10s', ...extra];
  return runJsonLines(GO_H3_CLIENT, args, 15_000);
}

function runNgtcp2Client(port: number, dir: string): Promise<{ code: number | null; body: string }> {
  const download = mkdtempSync(join(dir, 'gtlsclient-'));
  return new Promise((resolve) => {
    const child = spawn(
      'gtlsclient',
      ['-q', '--no-quic-dump', '--no-http-dump', '--exit-on-all-streams-close', '--timeout=10s', `--download=${download}`, '--sni=a.example', '127.0.0.1', String(port), `https://a.example:${port}/index.html`],
      { stdio: 'ignore' },
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      const file = join(download, 'index.html');
      const body = existsSync(file) ? readFileSync(file, 'utf8') : '';
      rmSync(download, { recursive: true, force: true });
      resolve({ code, body });
    });
  });
}

async function tsClient(certs: Certificates, port: number): Promise<H3SecondaryCertConnection> {
  return connectH3(`https://a.example:${port}/`, { ca: [certs.pki.caPem], connectAddress: '127.0.0.1', lookup: async () => ['127.0.0.1'] });
}

function until(conn: H3SecondaryCertConnection, test: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const end = Date.now() + ms;
    const tick = () => (test() || conn.closed || Date.now() > end ? resolve() : setTimeout(tick, 20));
    tick();
  });
}

const goEvents = (run: GoRun, name: string) => run.events.filter((e) => e.event === name);
const goSummary = (run: GoRun) => `exit ${run.code}; events: ${run.events.map((e) => String(e.event)).join(' ')}${run.stderr ? `; stderr: ${run.stderr.trim().slice(0, 100)}` : ''}`;

/** A client certificate from the interop CA (CN interop-client), written once as PEM files. */
async function clientIdentity(ctx: Ctx): Promise<{ pem: string; key: string; chainDer: Uint8Array[]; keyDer: Uint8Array }> {
  ctx.clientId ??= (async () => {
    const id = await ctx.certs.pki.issue({ role: 'client', commonName: 'interop-client', keyType: 'p256' });
    const pem = join(ctx.certs.dir, 'interop-client.pem');
    const key = join(ctx.certs.dir, 'interop-client.key');
    writeFileSync(pem, id.chainPem);
    writeFileSync(key, id.keyPem);
    return { pem, key, chainDer: id.chainDer, keyDer: id.keyPkcs8Der };
  })();
  return ctx.clientId;
}

/** Our HTTP/3 server asking for a client certificate on GET /protected (rosomakho-00). */
async function startTsClientCertServer(certs: Certificates): Promise<Server> {
  const f = certs.files;
  const clientAuth = new H3ClientAuthServer({ trustAnchors: [certs.pki.caPem], timeoutMs: 5000 });
  const server = await createH3SecondaryCertServer({ cert: readFileSync(f['a.example']!.pem, 'utf8'), key: readFileSync(f['a.example']!.key, 'utf8'), extensions: [clientAuth] }, async (req, res) => {
    const identity = await clientAuth.authenticate(req, res);
    if (identity) await res.end(200, { 'content-type': 'text/plain' }, `hello ${identity.certificate.leaf.subject.replace(/^CN=/, '')} over ts-h3 client certificates\n`);
  });
  return { port: server.port, stop: () => server.close() };
}

interface Ctx {
  clientId?: Promise<{ pem: string; key: string; chainDer: Uint8Array[]; keyDer: Uint8Array }>;
  certs: Certificates;
  servers: Partial<Record<H3Peer, Server>>;
  missing: Partial<Record<H3Peer, string>>;
}

interface CaseDef {
  id: string;
  title: string;
  run(ctx: Ctx, server: H3Peer, client: H3Peer): Promise<Outcome>;
}

const CASES: CaseDef[] = [
  {
    id: 'fetch',
    title: 'a page fetched from the TLS origin (peers without the extension ignore it)',
    async run(ctx, server, client) {
      const s = ctx.servers[server]!;
      if (server === 'ngtcp2' && client === 'ngtcp2') return na('neither peer has the extension');
      const want = server === 'ngtcp2' ? 'hello from ngtcp2' : `hello from a.example over ${server}-h3`;
      if (client === 'ts') {
        const c = await tsClient(ctx.certs, s.port);
        try {
          const r = await c.request(`https://a.example:${s.port}/${server === 'ngtcp2' ? 'index.html' : ''}`);
          const body = r.body.toString().trim();
          return expect(r.status === 200 && body === want && !c.closed, `200, ${body}`, `status ${r.status}, body ${JSON.stringify(body)}, closed ${c.closed}`);
        } finally {
          await c.close();
        }
      }
      if (client === 'go') {
        const run = await runGoClient(ctx.certs, s.port, server === 'ngtcp2' ? ['-path', '/index.html'] : []);
        const r = goEvents(run, 'response')[0];
        return expect(run.code === 0 && r?.status === 200 && String(r.body).trim() === want, `200, ${want}`, goSummary(run));
      }
      const r = await runNgtcp2Client(s.port, ctx.certs.dir);
      // Our servers and the Go one answer any path with their greeting.
      return expect(r.code === 0 && r.body.trim() === want, `exit 0, ${want}`, `exit ${r.code}, body ${JSON.stringify(r.body)}`);
    },
  },
  {
    id: 'unprompted',
    title: 'unprompted SERVER_CERTIFICATE on the control stream, validated',
    async run(ctx, server, client) {
      if (server === 'ngtcp2' || client === 'ngtcp2') return na(NO_EXT);
      const s = ctx.servers[server]!;
      const want = ['b.example', 'c.example'];
      if (client === 'ts') {
        const c = await tsClient(ctx.certs, s.port);
        const names = new Set<string>();
        c.on('certificate', (e: H3CertificateEvent) => e.accepted && e.names.forEach((n) => names.add(n)));
        try {
          await until(c, () => want.every((n) => names.has(n)), 3000);
          return expect(want.every((n) => names.has(n)), `accepted ${[...names].join(', ')}`, `accepted: ${[...names].join(', ') || 'none'}`);
        } finally {
          await c.close();
        }
      }
      const run = await runGoClient(ctx.certs, s.port, ['-fetch', want.join(',')]);
      const valid = goEvents(run, 'certificate').filter((e) => e.valid === true).flatMap((e) => e.names as string[]);
      return expect(want.every((n) => valid.includes(n)), `validated ${valid.join(', ')}`, goSummary(run));
    },
  },
  {
    id: 'same-connection',
    title: 'the proven origin fetched on the same connection',
    async run(ctx, server, client) {
      if (server === 'ngtcp2' || client === 'ngtcp2') return na(NO_EXT);
      const s = ctx.servers[server]!;
      if (client === 'ts') {
        const c = await tsClient(ctx.certs, s.port);
        try {
          await until(c, () => c.certificates.length >= 2, 3000);
          const authority = await c.authorityFor(`https://b.example:${s.port}`);
          if (!authority.ok) return fail(`b.example not authoritative: ${authority.reason}`);
          const r = await c.request(`https://b.example:${s.port}/`);
          const body = r.body.toString().trim();
          return expect(r.status === 200 && body === `hello from b.example over ${server}-h3`, `200, ${body}`, `status ${r.status}, ${body}`);
        } finally {
          await c.close();
        }
      }
      const run = await runGoClient(ctx.certs, s.port, ['-fetch', 'b.example,c.example']);
      const rs = goEvents(run, 'response').filter((e) => e.authority !== 'a.example');
      const ok = run.code === 0 && rs.length === 2 && rs.every((e) => e.status === 200 && e.sameConnection === true);
      return expect(ok, `${rs.map((e) => `${String(e.authority)} 200`).join(', ')} on one connection`, goSummary(run));
    },
  },
  {
    id: 'invalid',
    title: 'an invalid authenticator closes the connection with SERVER_CERTIFICATE_INVALID',
    async run(ctx, server, client) {
      if (server === 'ngtcp2' || client === 'ngtcp2') return na(NO_EXT);
      const broken = server === 'ts' ? await startTsServer(ctx.certs, true) : await startGoServer(ctx.certs, ['-broken', 'bad-signature']);
      try {
        if (client === 'ts') {
          const c = await tsClient(ctx.certs, broken.port);
          const error = await new Promise<H3ConnectionError | undefined>((resolve) => {
            const timer = setTimeout(() => resolve(undefined), 3000);
            c.once('protocolError', (e: H3ConnectionError) => {
              clearTimeout(timer);
              resolve(e);
            });
          });
          await c.close();
          return expect(error?.wireCode === INVALID, `closed with 0x${INVALID.toString(16)}`, `got ${error?.message ?? 'no error'}`);
        }
        const run = await runGoClient(ctx.certs, broken.port, ['-expect-invalid']);
        return expect(run.code === 3, 'go-h3-client closed with SERVER_CERTIFICATE_INVALID (exit 3)', goSummary(run));
      } finally {
        await broken.stop();
      }
    },
  },
  {
    id: 'client-cert',
    title: 'a client certificate asked for with AUTHENTICATOR_REQUESTS, given in CLIENT_CERTIFICATE (rosomakho-00)',
    async run(ctx, server, client) {
      if (server === 'ngtcp2' || client === 'ngtcp2') return na(NO_EXT);
      const id = await clientIdentity(ctx);
      const s = server === 'ts' ? await startTsClientCertServer(ctx.certs) : await startGoServer(ctx.certs, ['-client-ca', ctx.certs.caFile]);
      const want = `hello interop-client over ${server}-h3 client certificates`;
      try {
        if (client === 'ts') {
          const certificates = new ClientCertificates(() => ({ chain: id.chainDer, key: id.keyDer }));
          const c = await connectH3(`https://a.example:${s.port}/`, { ca: [ctx.certs.pki.caPem], connectAddress: '127.0.0.1', extensions: [new H3ClientAuthClient({ certificates })] });
          try {
            const r = await c.request(`https://a.example:${s.port}/protected`);
            const body = r.body.toString().trim();
            return expect(r.status === 200 && body === want, `200, ${body}`, `status ${r.status}, ${body}`);
          } finally {
            await c.close();
          }
        }
        const run = await runGoClient(ctx.certs, s.port, ['-client-cert', `${id.pem},${id.key}`, '-path', '/protected']);
        const r = goEvents(run, 'response')[0];
        return expect(run.code === 0 && r?.status === 200 && String(r.body).trim() === want, `200, ${want}`, goSummary(run));
      } finally {
        await s.stop();
      }
    },
  },
];

/** Runs every HTTP/3 case for every server/client pair; `log` gets a progress line per case. */
export async function runH3Matrix(certs: Certificates, log: (s: string) => void): Promise<{ cases: { id: string; title: string; results: H3Cell[] }[]; table: string }> {
  const ctx: Ctx = { certs, servers: {}, missing: {} };
  if (!existsSync(GO_H3_SERVER) || !existsSync(GO_H3_CLIENT)) ctx.missing.go = 'the Go HTTP/3 peers are not built (interop/build-go.sh needs golang-github-lucas-clemente-quic-go-dev)';
  if (!hasCommand(GTLSSERVER, ['--help']) || !hasCommand('gtlsclient', ['--help'])) ctx.missing.ngtcp2 = 'gtlsserver/gtlsclient are not installed (Debian: ngtcp2-server, ngtcp2-client)';
  for (const [peer, why] of Object.entries(ctx.missing)) log(`skip: HTTP/3 ${peer}: ${why}`);
  const starters: Record<H3Peer, () => Promise<Server>> = { ts: () => startTsServer(certs), go: () => startGoServer(certs), ngtcp2: () => startNgtcp2Server(certs) };
  for (const peer of PEERS) {
    if (ctx.missing[peer]) continue;
    try {
      ctx.servers[peer] = await starters[peer]();
    } catch (e) {
      log(`error: the HTTP/3 ${peer} server did not start: ${(e as Error).message}`);
    }
  }
  const out: { id: string; title: string; results: H3Cell[] }[] = [];
  try {
    for (const [i, k] of CASES.entries()) {
      const results: H3Cell[] = [];
      for (const server of PEERS) {
        for (const client of PEERS) {
          const t = Date.now();
          const o = await runCell(ctx.missing[server] ?? ctx.missing[client], ctx.servers[server] !== undefined, server, () => k.run(ctx, server, client), 30_000, `h3 ${k.id} ${server}/${client}`);
          results.push({ server, client, status: o.status, reason: o.reason, ms: Date.now() - t });
          if (process.env.INTEROP_VERBOSE) log(`  h3 ${k.id} ${server}/${client}: ${o.status} ${o.reason}`);
        }
      }
      const count = (st: H3Status) => results.filter((c) => c.status === st).length;
      log(`[h3 ${i + 1}/${CASES.length}] ${k.title}: ${count('pass')} pass, ${count('FAIL')} FAIL, ${count('n/a')} n/a`);
      out.push({ id: k.id, title: k.title, results });
    }
  } finally {
    for (const s of Object.values(ctx.servers)) await s.stop();
  }
  return { cases: out, table: formatH3Table(out) };
}


function formatH3Table(cases: { id: string; results: H3Cell[] }[]): string {
  const header = ['h3 server/client', ...cases.map((c) => c.id)];
  const pairs = PEERS.flatMap((s) => PEERS.map((c) => [s, c] as const));
  const widths = header.map((h) => Math.max(h.length, 4));
  const row = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [row(header), row(widths.map((w) => '-'.repeat(w)))];
  for (const [s, c] of pairs) lines.push(row([`${s}/${c}`, ...cases.map((k) => k.results.find((r) => r.server === s && r.client === c)?.status ?? '')]));
  return lines.join('\n');
}
