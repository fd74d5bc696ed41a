import { startDemoServer } from './demo-server.js';
import { SecondaryCertAgent } from '../../pool/agent.js';
import type { CertificateEvent } from '../../h2/client.js';
import { parseCommand, usageError, type CommandOptions } from './args.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';

// `npm start`: one server on loopback proving three origins over one connection, fetched by a client
// with the extension, then by the same client without it, for comparison; then the same over HTTP/3.
// On loopback a handshake costs next to nothing, so the HTTP/2 runs go through a proxy that adds a
// round-trip time: what the extension saves is the round trips of the connections it does not open.

/** The options `demo` parses besides --help and --verbose. */
export const DEMO_OPTIONS = {
  rtt: { type: 'string' },
} as const satisfies CommandOptions;

const DEFAULT_RTT_MS = 20;

export const DEMO_USAGE = `usage: secondary-certs demo [options]
  one TLS connection proves three origins (a test CA, a server on loopback, a client with the extension),
  then the same without the extension, with the time each origin took and what the extension saved;
  then the same over HTTP/3
  --rtt MS              round-trip time the HTTP/2 runs are slowed to, through a delay proxy on loopback
                        (default ${DEFAULT_RTT_MS}; 0: plain loopback). The proxy is TCP only: HTTP/3 runs without it
  --verbose             the debug log on stderr (as NODE_DEBUG=secondary-certs): frames, SETTINGS, authority
  -h, --help            this help
exit status: 0 the handshake counts were as expected (1 with the extension, 3 without, 1 over HTTP/3),
             1 they were not, 2 usage error
`;

const ORIGINS = ['a.example', 'b.example', 'c.example'];

const out = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};

export async function demoCommand(argv: string[] = []): Promise<number> {
  const parsed = parseCommand('demo', argv, DEMO_OPTIONS, DEMO_USAGE);
  if (typeof parsed === 'number') return parsed;
  const rttMs = parsed.values.rtt === undefined ? DEFAULT_RTT_MS : Number(parsed.values.rtt);
  if (parsed.values.rtt?.trim() === '' || !Number.isFinite(rttMs) || rttMs < 0 || rttMs > 10_000) {
    return usageError('demo', DEMO_USAGE, `--rtt must be a number of milliseconds from 0 to 10000, not ${parsed.values.rtt}`);
  }
  out('secondary-certs demo: secondary certificates over HTTP/2 and HTTP/3 (draft-ietf-httpbis-secondary-server-certs)');
  out();
  const server = await startDemoServer({ origins: ORIGINS, h3: true });
  out(`  a test CA was generated; certificates: ${ORIGINS[0]} (the TLS one), ${ORIGINS.slice(1).join(', ')} (secondary)`);
  out(`  server on 127.0.0.1:${server.port}; in this demo every *.example name resolves to 127.0.0.1`);
  let proxy: DelayProxy | undefined;
  if (rttMs > 0) {
    // Half the round trip each way, and one round trip more for each new TCP connection's handshake.
    proxy = await startDelayProxy({ host: '127.0.0.1', port: server.port }, rttMs / 2, { connectRoundTrip: true });
    out(`  HTTP/2 goes through a delay proxy on 127.0.0.1:${proxy.port}: ${rttMs} ms of round-trip time (TCP's handshake included; --rtt 0 for none)`);
  } else {
    out('  HTTP/2 on plain loopback (--rtt 0): a handshake costs next to nothing here, so little time is saved');
  }
  const h2Port = proxy?.port ?? server.port;
  const lookup = async (): Promise<string[]> => ['127.0.0.1'];
  const logSent = (e: { names: string[]; bytes: number }): void =>
    out(`  server: SERVER_CERTIFICATE sent for ${e.names.join(', ')} (${e.bytes} bytes)`);

  // One untimed round each way first, so the timings below measure the protocol, not JIT compilation and
  // module loading.
  for (const extension of [true, false]) {
    const warm = new SecondaryCertAgent({ ca: [server.pki.caPem], lookup, extension });
    for (const name of ORIGINS) await warm.request(`https://${name}:${server.port}/`);
    await warm.close();
  }
  out('  (one untimed warm-up round each way ran first)');
  server.extension.on('certificateSent', logSent);
  const runs: { label: string; handshakes: number; connections: number; ms: number }[] = [];
  /** Per origin, the time of its request: with the extension, then without. */
  const perOrigin = new Map<string, number[]>(ORIGINS.map((name) => [name, []]));
  try {
  for (const extension of [true, false]) {
    out();
    out(extension ? 'With the extension' : 'Without the extension (a plain HTTP/2 client)');
    const before = server.handshakes.length;
    const agent = new SecondaryCertAgent({ ca: [server.pki.caPem], lookup, extension });
    agent.on('connect', (p: { id: number; openedFor: string }) => out(`  client: TLS handshake for connection #${p.id} (${new URL(p.openedFor).hostname})`));
    agent.on('certificate', (p: { id: number }, e: CertificateEvent) =>
      out(`  client: SERVER_CERTIFICATE on #${p.id} for ${e.names.join(', ')}: valid (RFC 9261), ${e.accepted ? 'accepted: chains to the test CA' : `not used: ${e.reason}`}`),
    );
    const start = performance.now();
    for (const name of ORIGINS) {
      const t0 = performance.now();
      const url = `https://${name}:${h2Port}/`;
      const r = await agent.request(url);
      const ms = performance.now() - t0;
      perOrigin.get(name)?.push(ms);
      const how = r.reused ? `reused (${r.authority.via === 'secondary' ? 'secondary certificate' : 'TLS certificate'})` : 'new connection';
      out(`  GET ${url.padEnd(30)} ${r.status}  connection #${r.connectionId}  ${how.padEnd(34)} ${ms.toFixed(1).padStart(6)} ms  "${r.body.toString().trim()}"`);
    }
    const ms = performance.now() - start;
    const handshakes = server.handshakes.length - before;
    runs.push({ label: extension ? 'with the extension' : 'without', handshakes, connections: agent.connections.length, ms });
    out(`  TLS handshakes: ${handshakes}; total ${ms.toFixed(1)} ms`);
    await agent.close();
  }
    out();
    out(`What the extension saved${rttMs > 0 ? ` at ${rttMs} ms round-trip time` : ' on plain loopback'}`);
    for (const [name, [withMs = 0, withoutMs = 0]] of perOrigin) {
      const saved = withoutMs - withMs;
      const what = name === ORIGINS[0] ? 'the first connection either way' : 'no new TCP connection, no new TLS handshake';
      out(`  ${`${name}:`.padEnd(11)} ${saved >= 0 ? `${saved.toFixed(1)} ms saved` : `${(-saved).toFixed(1)} ms lost`} (${what}; ${withMs.toFixed(1)} ms with, ${withoutMs.toFixed(1)} ms without)`);
    }
    const [withTotal, withoutTotal] = [runs[0]?.ms ?? 0, runs[1]?.ms ?? 0];
    out(`  total: ${(withoutTotal - withTotal).toFixed(1)} ms saved for ${ORIGINS.length} origins (${withTotal.toFixed(1)} ms with the extension, ${withoutTotal.toFixed(1)} ms without)`);
    // The same with HTTP/3: the certificates travel on the QUIC connection's control stream.
    out();
    out('Over HTTP/3 (QUIC), with the extension, on plain loopback (the delay proxy is TCP only)');
    const warm = new SecondaryCertAgent({ protocol: 'h3', ca: [server.pki.caPem], lookup });
    for (const name of ORIGINS) await warm.request(`https://${name}:${server.port}/`);
    await warm.close();
    const before = server.quicHandshakes;
    const agent = new SecondaryCertAgent({ protocol: 'h3', ca: [server.pki.caPem], lookup });
    agent.on('connect', (p: { id: number; openedFor: string }) => out(`  client: QUIC handshake for connection #${p.id} (${new URL(p.openedFor).hostname})`));
    agent.on('certificate', (p: { id: number }, e: CertificateEvent) =>
      out(`  client: SERVER_CERTIFICATE on #${p.id}'s control stream for ${e.names.join(', ')}: ${e.accepted ? 'valid and accepted' : `not used: ${e.reason}`}`),
    );
    const start = performance.now();
    for (const name of ORIGINS) {
      const url = `https://${name}:${server.port}/`;
      const t0 = performance.now();
      const r = await agent.request(url);
      const how = r.reused ? `reused (${r.authority.via === 'secondary' ? 'secondary certificate' : 'TLS certificate'})` : 'new connection';
      out(`  GET ${url.padEnd(30)} ${r.status}  connection #${r.connectionId}  ${how.padEnd(34)} ${(performance.now() - t0).toFixed(1).padStart(6)} ms  "${r.body.toString().trim()}"`);
    }
    const ms = performance.now() - start;
    // The server counts a connection once its handshake is done and its exporter read: give it a moment.
    await new Promise((r) => setTimeout(r, 50));
    const quic = server.quicHandshakes - before;
    runs.push({ label: 'over HTTP/3', handshakes: quic, connections: agent.connections.length, ms });
    out(`  QUIC handshakes: ${quic}; total ${ms.toFixed(1)} ms`);
    await agent.close();
  } finally {
    await proxy?.close();
    await server.close();
  }
  out();
  out('Summary');
  for (const r of runs) out(`  ${r.label.padEnd(20)} ${r.handshakes} ${r.label === 'over HTTP/3' ? 'QUIC' : 'TLS'} handshake(s), ${r.connections} connection(s), ${r.ms.toFixed(1)} ms for ${ORIGINS.length} origins`);
  const [withExt, without, h3] = runs;
  const ok = withExt?.handshakes === 1 && without?.handshakes === ORIGINS.length && h3?.handshakes === 1;
  if (!ok) out('unexpected: the handshake counts are not 1, 3 and 1');
  return ok ? 0 : 1;
}
