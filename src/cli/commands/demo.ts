import { startDemoServer } from './demo-server.js';
import { SecondaryCertAgent } from '../../pool/agent.js';
import type { CertificateEvent } from '../../h2/client.js';

// `npm start`: one server on loopback proving three origins over one connection, fetched by a client
// with the extension, then by the same client without it, for comparison; then the same over HTTP/3.

const ORIGINS = ['a.example', 'b.example', 'c.example'];

const out = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};

export async function demoCommand(_args: string[] = []): Promise<number> {
  out('secondary-certs demo: secondary certificates over HTTP/2 and HTTP/3 (draft-ietf-httpbis-secondary-server-certs)');
  out();
  const server = await startDemoServer({ origins: ORIGINS, h3: true });
  out(`  a test CA was generated; certificates: ${ORIGINS[0]} (the TLS one), ${ORIGINS.slice(1).join(', ')} (secondary)`);
  out(`  server on 127.0.0.1:${server.port}; in this demo every *.example name resolves to 127.0.0.1`);
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
      const url = `https://${name}:${server.port}/`;
      const r = await agent.request(url);
      const ms = performance.now() - t0;
      const how = r.reused ? `reused (${r.authority.via === 'secondary' ? 'secondary certificate' : 'TLS certificate'})` : 'new connection';
      out(`  GET ${url.padEnd(30)} ${r.status}  connection #${r.connectionId}  ${how.padEnd(34)} ${ms.toFixed(1).padStart(6)} ms  "${r.body.toString().trim()}"`);
    }
    const ms = performance.now() - start;
    const handshakes = server.handshakes.length - before;
    runs.push({ label: extension ? 'with the extension' : 'without', handshakes, connections: agent.connections.length, ms });
    out(`  TLS handshakes: ${handshakes}; total ${ms.toFixed(1)} ms`);
    await agent.close();
  }
    // The same with HTTP/3: the certificates travel on the QUIC connection's control stream.
    out();
    out('Over HTTP/3 (QUIC), with the extension');
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
