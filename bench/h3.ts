// HTTP/3 (src/h3 over our QUIC endpoint on quiche's native binding) in one run, on loopback, servers in a child process so each side's
// cost falls on its own core:
// (a) first response from a second origin: a request for b.example on a connection to a.example that
//     received a SERVER_CERTIFICATE for it, against a new QUIC connection to b.example (handshake and
//     request). Medians of ROUNDS, each on a connection of its own.
// (b) throughput against our HTTP/2 layer (src/h2 connect() and createSecondaryCertServer, spliced, with
//     the extension negotiated, requests made on its node:http2 session): SMALL_REQUESTS small requests
//     CONCURRENCY at a time (median of SMALL_ROUNDS), and one BIG-byte response (BIG_ROUNDS), the order
//     of h3 and h2 alternating between rounds. Windows: h3 uses the transport's (16 MiB connection, 4 MiB stream); h2 is given the
//     same (4 MiB initial stream window both ways, 16 MiB connection window).
// (c) the ceilings beside (b): Node's dgram moving 1350-byte datagrams from one process to another on
//     loopback (what any QUIC stack in Node can at most reach), and a reference QUIC stack, ngtcp2's
//     gtlsserver to gtlsclient, on the same BIG-byte transfer (its start-up, timed on a 1-byte file,
//     subtracted).
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fork, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestPki } from '../src/testing/test-pki.js';
import { connectH3, type H3SecondaryCertConnection } from '../src/h3/client.js';
import { createH3SecondaryCertServer } from '../src/h3/server.js';
import { connect as connectH2 } from '../src/h2/client.js';
import { createSecondaryCertServer } from '../src/h2/server.js';
import { median, type Row } from './table.js';

const ROUNDS = 20;
const SMALL_REQUESTS = 2000;
const CONCURRENCY = 20;
const BIG = 20 * 1024 * 1024;
/** Rounds of each throughput test (medians). */
const SMALL_ROUNDS = 3;
const BIG_ROUNDS = 3;

interface Pems {
  caPem: string;
  a: { keyPem: string; chainPem: string };
  b: { keyPem: string; chainPem: string };
}

interface Ports {
  /** h3, TLS identity a.example, proves b.example with a SERVER_CERTIFICATE. */
  h3a: number;
  /** h3, TLS identity b.example: where a client without the secondary certificate goes. */
  h3b: number;
  /** h2 (src/h2), TLS identity a.example. */
  h2: number;
}

const lookup = async (): Promise<string[]> => ['127.0.0.1'];

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** (i): a.example's connection holds b.example's certificate; time from the decision to b's response. */
async function viaSecondary(ports: Ports, caPem: string): Promise<number> {
  const conn = await within(connectH3(`https://a.example:${ports.h3a}/`, { ca: [caPem], connectAddress: '127.0.0.1', lookup }), 10_000, 'connect a.example');
  try {
    const first = await conn.request(`https://a.example:${ports.h3a}/small`);
    if (first.status !== 200) throw new Error(`a.example answered ${first.status}`);
    // As in use: the certificate arrived with the connection's first flights, before b.example is wanted.
    await waitFor(() => conn.certificates.some((c) => c.covers('b.example')), 5000, "b.example's SERVER_CERTIFICATE");
    const url = `https://b.example:${ports.h3a}/small`;
    const t0 = performance.now();
    const answer = await conn.authorityFor(url);
    if (!answer.ok || answer.via !== 'secondary') throw new Error(`the connection cannot carry b.example: ${answer.reason}`);
    const r = await conn.request(url);
    const ms = performance.now() - t0;
    if (r.status !== 200) throw new Error(`b.example answered ${r.status} on a.example's connection`);
    return ms;
  } finally {
    await conn.close();
  }
}

/** (ii): a new QUIC connection to b.example (handshake, then the request). */
async function viaNewConnection(ports: Ports, caPem: string): Promise<number> {
  const t0 = performance.now();
  const conn = await within(connectH3(`https://b.example:${ports.h3b}/`, { ca: [caPem], connectAddress: '127.0.0.1', lookup, extension: false }), 10_000, 'connect b.example');
  try {
    const r = await conn.request(`https://b.example:${ports.h3b}/small`);
    const ms = performance.now() - t0;
    if (r.status !== 200) throw new Error(`b.example answered ${r.status}`);
    return ms;
  } finally {
    await conn.close();
  }
}

interface Client {
  get(path: string): Promise<number>;
  close(): Promise<void>;
}

async function h3Client(port: number, caPem: string): Promise<Client> {
  const conn: H3SecondaryCertConnection = await within(connectH3(`https://a.example:${port}/`, { ca: [caPem], connectAddress: '127.0.0.1', lookup }), 10_000, 'connect h3');
  return {
    get: async (path) => {
      const r = await conn.request(`https://a.example:${port}${path}`);
      if (r.status !== 200) throw new Error(`h3 ${path}: ${r.status}`);
      return r.body.length;
    },
    close: () => conn.close(),
  };
}

async function h2Client(port: number, caPem: string): Promise<Client> {
  const conn = await within(connectH2(`https://a.example:${port}/`, { ca: [caPem], connectAddress: '127.0.0.1', lookup }), 10_000, 'connect h2');
  conn.session.settings({ initialWindowSize: 4 << 20 });
  conn.session.setLocalWindowSize(16 << 20);
  return {
    get: (path) =>
      new Promise((resolve, reject) => {
        const req = conn.session.request({ ':path': path, ':authority': `a.example:${port}` });
        let n = 0;
        let status = 0;
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => (status === 200 ? resolve(n) : reject(new Error(`h2 ${path}: ${status}`))));
        req.on('error', reject);
        req.end();
      }),
    close: () => conn.close(),
  };
}

async function smallRequests(client: Client): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < SMALL_REQUESTS) {
      next++;
      await client.get('/small');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return SMALL_REQUESTS / ((performance.now() - t0) / 1000);
}

async function bigResponse(client: Client): Promise<number> {
  const t0 = performance.now();
  const n = await client.get('/big');
  const s = (performance.now() - t0) / 1000;
  if (n !== BIG) throw new Error(`got ${n} bytes of ${BIG}`);
  return n / s / 1e6;
}

const DATAGRAM = 1350;

/** Node's dgram, one process to another: MB/s of 1350-byte datagrams received (sent as fast as they go). */
async function rawUdpRate(): Promise<{ mbps: number; received: number; sent: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    /* keep the default */
  }
  const count = Math.ceil(BIG / DATAGRAM);
  let received = 0;
  let first = 0;
  let last = 0;
  socket.on('message', () => {
    if (received++ === 0) first = performance.now();
    last = performance.now();
  });
  const child = fork(fileURLToPath(import.meta.url), ['--udp-flood', String(socket.address().port), String(count)], { stdio: 'inherit' });
  await new Promise((r) => child.once('exit', r));
  await new Promise((r) => setTimeout(r, 200));
  socket.close();
  return { mbps: (received * DATAGRAM) / ((last - first) / 1000) / 1e6, received, sent: count };
}

async function udpFlood(port: number, count: number): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.connect(port, '127.0.0.1', () => r()));
  try {
    socket.setSendBufferSize(4 * 1024 * 1024);
  } catch {
    /* keep the default */
  }
  const slab = Buffer.alloc(DATAGRAM * 64, 0x61);
  for (let i = 0; i < count; i++) {
    socket.send(slab.subarray((i % 64) * DATAGRAM, ((i % 64) + 1) * DATAGRAM));
    // Let libuv drain its queue now and then, as an event loop does.
    if (i % 64 === 63) await new Promise((r) => setImmediate(r));
  }
  while (socket.getSendQueueCount() > 0) await new Promise((r) => setTimeout(r, 1));
  socket.close();
}

const GTLSSERVER = '/usr/sbin/gtlsserver';
const GTLSCLIENT = '/usr/bin/gtlsclient';

/** ngtcp2 (gtlsserver to gtlsclient) on the BIG-byte file, in MB/s; undefined when it is not installed. */
async function ngtcp2Rate(pems: Pems): Promise<number | undefined> {
  if (!fs.existsSync(GTLSSERVER) || !fs.existsSync(GTLSCLIENT)) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h3-bench-ngtcp2-'));
  const htdocs = path.join(dir, 'htdocs');
  fs.mkdirSync(htdocs);
  fs.writeFileSync(path.join(htdocs, 'big'), Buffer.alloc(BIG, 0x61));
  fs.writeFileSync(path.join(htdocs, 'one'), 'a');
  fs.writeFileSync(path.join(dir, 'key.pem'), pems.a.keyPem);
  fs.writeFileSync(path.join(dir, 'chain.pem'), pems.a.chainPem);
  const probe = createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  probe.close();
  const server = spawn(GTLSSERVER, ['--quiet', '-d', htdocs, '127.0.0.1', String(port), path.join(dir, 'key.pem'), path.join(dir, 'chain.pem')], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const fetch = async (name: string): Promise<number> => {
      const download = fs.mkdtempSync(path.join(dir, 'dl-'));
      const t0 = performance.now();
      const client = spawn(GTLSCLIENT, ['--quiet', '--exit-on-all-streams-close', '--timeout=10s', '--download', download, '127.0.0.1', String(port), `https://a.example:${port}/${name}`], { stdio: 'ignore' });
      const code = await new Promise((r) => client.once('exit', r));
      const ms = performance.now() - t0;
      const size = fs.existsSync(path.join(download, name)) ? fs.statSync(path.join(download, name)).size : -1;
      if (code !== 0 || size !== (name === 'big' ? BIG : 1)) throw new Error(`gtlsclient exited ${code} with ${size} bytes of ${name}`);
      return ms;
    };
    await fetch('one'); // warm-up
    const startup = median([await fetch('one'), await fetch('one'), await fetch('one')]);
    const big = median([await fetch('big'), await fetch('big'), await fetch('big')]);
    return BIG / ((big - startup) / 1000) / 1e6;
  } finally {
    server.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(options: { log?: (s: string) => void } = {}): Promise<Row[]> {
  const log = options.log ?? (() => {});
  const pki = await TestPki.create();
  const [a, b] = [await pki.issue({ dnsNames: ['a.example'] }), await pki.issue({ dnsNames: ['b.example'] })];
  const pems: Pems = { caPem: pki.caPem, a: { keyPem: a.keyPem, chainPem: a.chainPem }, b: { keyPem: b.keyPem, chainPem: b.chainPem } };
  const child = fork(fileURLToPath(import.meta.url), ['--serve-h3-bench'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const rows: Row[] = [];
  try {
    child.send(pems);
    const ports = await within(
      new Promise<Ports>((resolve, reject) => {
        child.once('message', (m) => resolve(m as Ports));
        child.once('exit', (code) => reject(new Error(`the server process exited with ${code}`)));
      }),
      15_000,
      'the server process',
    );

    log(`h3: first response from b.example, ${ROUNDS} rounds of each`);
    const secondary: number[] = [];
    const fresh: number[] = [];
    await viaSecondary(ports, pems.caPem); // warm-up, not counted
    await viaNewConnection(ports, pems.caPem);
    for (let i = 0; i < ROUNDS; i++) {
      secondary.push(await viaSecondary(ports, pems.caPem));
      fresh.push(await viaNewConnection(ports, pems.caPem));
    }
    const [s, f] = [median(secondary), median(fresh)];
    log(`h3: first response: secondary cert ${s.toFixed(2)} ms, new connection ${f.toFixed(2)} ms`);
    rows.push({ test: 'first response from b.example (loopback)', unit: 'ms', 'secondary cert': s, 'new QUIC conn': f, 'new / secondary': f / s });

    for (const [name, fn, unit, rounds] of [
      [`${SMALL_REQUESTS} small requests, ${CONCURRENCY} at a time`, smallRequests, 'req/s', SMALL_ROUNDS],
      [`one ${BIG >> 20} MiB response`, bigResponse, 'MB/s', BIG_ROUNDS],
    ] as const) {
      const h3: number[] = [];
      const h2: number[] = [];
      for (let i = 0; i < rounds; i++) {
        log(`h3: ${name}, round ${i + 1} of ${rounds}`);
        const order = i % 2 === 0 ? (['h3', 'h2'] as const) : (['h2', 'h3'] as const);
        for (const proto of order) {
          const client = proto === 'h3' ? await h3Client(ports.h3a, pems.caPem) : await h2Client(ports.h2, pems.caPem);
          try {
            (proto === 'h3' ? h3 : h2).push(await within(fn(client), 30_000, `${proto} ${name}`));
          } finally {
            await client.close();
          }
        }
      }
      const [x, y] = [median(h3), median(h2)];
      rows.push({ test: name, unit, h3: x, h2: y, 'h3 / h2': x / y });
      log(`h3: ${name}: h3 ${x.toFixed(1)} ${unit}, h2 ${y.toFixed(1)} ${unit}`);
    }
    log('h3: ceilings: raw dgram, 1350-byte datagrams, one process to another; ngtcp2 on the same transfer');
    const raw = await rawUdpRate();
    rows.push({ test: `ceiling: Node dgram, ${DATAGRAM}-byte datagrams`, unit: 'MB/s', h3: raw.mbps, 'h3 / h2': `${raw.received} of ${raw.sent} arrived` });
    const ref = await ngtcp2Rate(pems).catch((e: Error) => (log(`h3: ngtcp2 failed: ${e.message}`), undefined));
    rows.push({ test: `reference: ngtcp2 ${BIG >> 20} MiB (gtlsserver to gtlsclient)`, unit: 'MB/s', h3: ref ?? 'n/a' });
  } finally {
    child.kill();
  }
  return rows;
}

/** The child process: the three servers, their ports sent back over IPC. */
async function serve(pems: Pems): Promise<Ports> {
  const big = Buffer.alloc(BIG, 0x61);
  const h3a = await createH3SecondaryCertServer(
    { cert: pems.a.chainPem, key: pems.a.keyPem, identities: [{ chain: pems.b.chainPem, key: pems.b.keyPem }] },
    (req, res) => (req.path === '/big' ? res.end(200, {}, big) : res.end(200, {}, 'ok')),
  );
  const h3b = await createH3SecondaryCertServer({ cert: pems.b.chainPem, key: pems.b.keyPem, extension: false }, (_req, res) => res.end(200, {}, 'ok'));
  const { server } = await createSecondaryCertServer({
    key: pems.a.keyPem,
    cert: pems.a.chainPem,
    identities: [{ chain: pems.b.chainPem, key: pems.b.keyPem }],
    settings: { initialWindowSize: 4 << 20 },
  });
  server.on('session', (s: http2.ServerHttp2Session) => {
    s.on('error', () => {});
    s.setLocalWindowSize(16 << 20);
  });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(headers[':path'] === '/big' ? big : 'ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { h3a: h3a.port, h3b: h3b.port, h2: (server.address() as AddressInfo).port };
}

const flood = process.argv.indexOf('--udp-flood');
if (flood > 0) await udpFlood(Number(process.argv[flood + 1]), Number(process.argv[flood + 2]));

if (process.argv.includes('--serve-h3-bench')) {
  process.once('message', (m) => {
    serve(m as Pems).then(
      (ports) => process.send!(ports),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  });
}
