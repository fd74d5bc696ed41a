// Time until the first response from a second origin: through a secondary certificate on the connection
// already open, versus a new TLS connection for it (what a client without the extension must do). On
// loopback, and with 20 ms of round trip added (netem is not used: the delay comes from a user-space
// proxy that holds each chunk 10 ms each way, which works on any machine).
import { startDemoServer } from '../src/cli/commands/demo-server.js';
import { SecondaryCertAgent } from '../src/pool/agent.js';
import { startDelayProxy } from '../src/cli/commands/delay-proxy.js';
import { median, type Row } from './table.js';

async function once(port: number, caPem: string, extension: boolean): Promise<number> {
  const lookup = async (): Promise<string[]> => ['127.0.0.1'];
  const agent = new SecondaryCertAgent({ ca: [caPem], lookup, extension, certificateGraceMs: 0 });
  try {
    await agent.request(`https://a.example:${port}/`);
    const conn = agent.connections[0]!.connection;
    if (extension) {
      // Measure the request alone: let the server's certificates arrive first, as they would in use.
      for (let i = 0; i < 200 && !conn.certificates.some((c) => c.covers('b.example')); i++) await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = performance.now();
    const r = await agent.request(`https://b.example:${port}/`);
    const ms = performance.now() - t0;
    if (r.status !== 200 || r.reused !== extension) throw new Error(`unexpected: status ${r.status}, reused ${r.reused}`);
    return ms;
  } finally {
    await agent.close();
  }
}

export async function run(options: { rounds?: number; log?: (s: string) => void } = {}): Promise<Row[]> {
  const rounds = options.rounds ?? 9;
  const server = await startDemoServer({ origins: ['a.example', 'b.example'] });
  const rows: Row[] = [];
  try {
    for (const delayMs of [0, 10]) {
      const proxy = delayMs > 0 ? await startDelayProxy({ host: '127.0.0.1', port: server.port }, delayMs) : undefined;
      const port = proxy?.port ?? server.port;
      options.log?.(`first-response: round trip +${delayMs * 2} ms`);
      const secondary: number[] = [];
      const fresh: number[] = [];
      for (let i = 0; i < rounds; i++) {
        secondary.push(await once(port, server.pki.caPem, true));
        fresh.push(await once(port, server.pki.caPem, false));
      }
      await proxy?.close();
      const [s, f] = [median(secondary), median(fresh)];
      rows.push({
        path: delayMs === 0 ? 'loopback' : `loopback + ${delayMs * 2} ms RTT (proxy)`,
        'secondary cert, ms': s,
        'new connection, ms': f,
        'ratio (new / secondary)': f / s,
      });
    }
  } finally {
    await server.close();
  }
  return rows;
}
