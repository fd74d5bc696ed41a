// Throughput of a connection spliced on both sides against plain node:http2 in the same run: one 200 MB
// stream, and 20,000 small requests 100 at a time. A Duplex that parses nothing is measured too: it
// separates what the splicer's parsing costs from what any JS stream in that place costs. Medians of 3.
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { TestPki } from '../src/testing/test-pki.js';
import { connectSpliced, spliceServerSession } from '../src/h2/node/spliced-session.js';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, type Row } from './table.js';

const BIG = 200 * 1024 * 1024;
const SMALL_REQUESTS = 20_000;
const CONCURRENCY = 100;

type Mode = 'plain' | 'no-op duplex' | 'spliced';

/**
 * A Duplex that passes bytes both ways and parses nothing: what any JS stream between the TLS socket and
 * the session costs, whatever it does (node:http2 then runs over a JSStreamSocket, not natively).
 */
class PassThroughDuplex extends Duplex {
  readonly encrypted = true;
  readonly alpnProtocol = 'h2';
  constructor(private readonly socket: tls.TLSSocket) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => {
      if (!this.push(c)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
  }
  override _read(): void {
    this.socket.resume();
  }
  override _writev(chunks: { chunk: Buffer }[], cb: () => void): void {
    this.socket.cork();
    for (const { chunk } of chunks) this.socket.write(chunk);
    this.socket.uncork();
    cb();
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.socket.write(chunk);
    cb();
  }
  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}

async function startServer(mode: Mode, keyPem: string, certPem: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = http2.createSecureServer({ key: keyPem, cert: certPem, settings: { initialWindowSize: 4 << 20 } });
  if (mode === 'spliced') spliceServerSession(server, { interceptTypes: new Set([0xf5]), onSession: () => {} });
  if (mode === 'no-op duplex') {
    const nodeListeners = server.listeners('secureConnection') as ((s: unknown) => void)[];
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const d = new PassThroughDuplex(socket);
      for (const l of nodeListeners) l.call(server, d);
    });
  }
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    if (headers[':path'] !== '/big') {
      stream.end('ok');
      return;
    }
    let left = BIG;
    const pump = (): void => {
      while (left > 0) {
        left -= chunk.length;
        if (!stream.write(chunk)) return void stream.once('drain', pump);
      }
      stream.end();
    };
    pump();
  });
  server.on('session', (s) => s.setLocalWindowSize?.(16 << 20));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

async function client(port: number, mode: Mode, caPem: string): Promise<http2.ClientHttp2Session> {
  let session: http2.ClientHttp2Session;
  if (mode === 'no-op duplex') {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'a.example', ca: caPem, ALPNProtocols: ['h2'] });
    await new Promise<void>((r, j) => socket.once('secureConnect', r).once('error', j));
    session = http2.connect(`https://a.example:${port}`, { settings: { initialWindowSize: 4 << 20 }, createConnection: () => new PassThroughDuplex(socket) as unknown as tls.TLSSocket });
  } else {
    ({ session } = await connectSpliced(new URL(`https://a.example:${port}`), {
      host: '127.0.0.1',
      servername: 'a.example',
      ca: caPem,
      interceptTypes: new Set([0xf5]),
      splice: mode === 'spliced',
      settings: { initialWindowSize: 4 << 20 },
    }));
  }
  session.setLocalWindowSize(16 << 20);
  return session;
}

function request(session: http2.ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => resolve(n));
    req.on('error', reject);
    req.end();
  });
}

async function bigStream(port: number, mode: Mode, caPem: string): Promise<number> {
  const session = await client(port, mode, caPem);
  const t0 = performance.now();
  const n = await request(session, '/big');
  const s = (performance.now() - t0) / 1000;
  session.destroy();
  if (n !== BIG) throw new Error(`got ${n} bytes`);
  return n / s / 1e6;
}

async function smallRequests(port: number, mode: Mode, caPem: string): Promise<number> {
  const session = await client(port, mode, caPem);
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < SMALL_REQUESTS) {
      next++;
      await request(session, '/small');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const s = (performance.now() - t0) / 1000;
  session.destroy();
  return SMALL_REQUESTS / s;
}

export async function run(options: { rounds?: number; log?: (s: string) => void } = {}): Promise<Row[]> {
  const rounds = options.rounds ?? 3;
  const pki = await TestPki.create();
  const id = await pki.issue({ dnsNames: ['a.example'] });
  const modes: Mode[] = ['plain', 'no-op duplex', 'spliced'];
  // The servers run in a child process, as a server and its clients run on different hosts: each side's
  // cost then falls on its own core rather than both on one event loop.
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  child.send({ keyPem: id.keyPem, certPem: id.chainPem });
  const ports = await new Promise<number[]>((resolve, reject) => {
    child.once('message', (m) => resolve(m as number[]));
    child.once('exit', (code) => reject(new Error(`the server process exited with ${code}`)));
  });
  const servers = ports.map((port) => ({ port }));
  const rows: Row[] = [];
  try {
    for (const [name, fn, unit] of [
      ['one 200 MB stream', bigStream, 'MB/s'],
      [`${SMALL_REQUESTS} small requests, ${CONCURRENCY} at a time`, smallRequests, 'req/s'],
    ] as const) {
      const results: number[][] = modes.map(() => []);
      for (let i = 0; i < rounds; i++) {
        options.log?.(`h2-throughput: ${name}, round ${i + 1} of ${rounds}`);
        // Rotate which goes first, so warm-up and drift fall on all alike.
        for (let k = 0; k < modes.length; k++) {
          const m = (k + i) % modes.length;
          results[m]!.push(await fn(servers[m]!.port, modes[m]!, pki.caPem));
        }
      }
      const [plain, noop, spliced] = results.map(median) as [number, number, number];
      rows.push({ test: name, unit, plain, 'no-op duplex': noop, spliced, 'spliced / plain': spliced / plain, 'spliced / no-op': spliced / noop });
    }
  } finally {
    child.kill();
  }
  return rows;
}

// The child process: start one server per mode and report their ports.
if (process.argv.includes('--serve')) {
  process.once('message', async (m: { keyPem: string; certPem: string }) => {
    const modes: Mode[] = ['plain', 'no-op duplex', 'spliced'];
    const servers = await Promise.all(modes.map((mode) => startServer(mode, m.keyPem, m.certPem)));
    process.send!(servers.map((x) => x.port));
  });
}
