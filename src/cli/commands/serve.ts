import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDemoServer, type DemoServerLimits } from './demo-server.js';
import { parseCommand, untilStopped, usageError, type CommandOptions } from './args.js';

// `secondary-certs serve`: the demo's server, standalone, for other implementations to test against.

/** The options `serve` parses besides --help and --verbose. */
export const SERVE_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  origins: { type: 'string' },
  'ca-out': { type: 'string' },
  h3: { type: 'boolean' },
  'idle-timeout': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'send-timeout': { type: 'string' },
  'max-buffered-bytes': { type: 'string' },
} as const satisfies CommandOptions;

export const SERVE_USAGE = `usage: secondary-certs serve [options]
  a server with a fresh test CA, a TLS certificate for the first origin and secondary certificates for the
  others, sent in SERVER_CERTIFICATE frames to clients that negotiate the extension; runs until Ctrl-C
  --port N              TCP port to listen on (default 0: any free port, printed)
  --host ADDRESS        address to listen on (default 127.0.0.1)
  --origins A,B,...     the names served; the first is the TLS certificate's (default a.example,b.example,c.example)
  --ca-out FILE         where to write the test CA (PEM) (default: ca.pem in a new temporary folder, printed)
  --h3                  also serve the same origins over HTTP/3 (QUIC) on the same port number over UDP
  --idle-timeout MS     close an HTTP/2 connection with no stream and nothing received for MS (default 120000; 0: never)
  --handshake-timeout MS  drop a TLS handshake not done in MS (default 10000)
  --send-timeout MS     drop an HTTP/2 connection whose writes wait MS with nothing drained (default 60000; 0: never)
  --max-buffered-bytes N  drop an HTTP/2 connection with more than N bytes waiting to be sent (default 16777216)
  --verbose             the debug log on stderr (as NODE_DEBUG=secondary-certs)
  -h, --help            this help
exit status: 0 stopped by SIGINT or SIGTERM, 1 cannot listen, 2 usage error
`;

export async function serveCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand('serve', argv, SERVE_OPTIONS, SERVE_USAGE);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return usageError('serve', SERVE_USAGE, `--port must be 0..65535, not ${values.port}`);
  }
  const origins = (values.origins ?? 'a.example,b.example,c.example').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  if (origins.length === 0) {
    return usageError('serve', SERVE_USAGE, '--origins needs at least one name');
  }
  const limits: DemoServerLimits = {};
  const bounds = [
    ['idle-timeout', 'idleTimeoutMs', 0],
    ['handshake-timeout', 'handshakeTimeout', 1],
    ['send-timeout', 'sendTimeoutMs', 0],
    ['max-buffered-bytes', 'maxBufferedBytes', 1],
  ] as const;
  for (const [flag, key, min] of bounds) {
    const text = values[flag];
    if (text === undefined) continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) return usageError('serve', SERVE_USAGE, `--${flag} must be an integer of at least ${min}, not ${text}`);
    limits[key] = n;
  }
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  try {
    server = await startDemoServer({ origins, port, host: values.host ?? '127.0.0.1', h3: values.h3 ?? false, limits });
  } catch (e) {
    process.stderr.write(`serve: cannot listen: ${(e as Error).message}\n`);
    return 1;
  }
  // Not the current folder: a command run from a checkout should not leave files in it.
  const caFile = values['ca-out'] !== undefined ? resolve(values['ca-out']) : join(mkdtempSync(join(tmpdir(), 'secondary-certs-')), 'ca.pem');
  writeFileSync(caFile, server.pki.caPem);
  server.extension.on('certificateSent', (e: { names: string[] }) => process.stdout.write(`sent SERVER_CERTIFICATE for ${e.names.join(', ')}\n`));
  server.h3?.on('certificateSent', (e: { names: string[] }) => process.stdout.write(`sent SERVER_CERTIFICATE for ${e.names.join(', ')} over HTTP/3\n`));
  process.stdout.write(`listening on ${values.host ?? '127.0.0.1'}:${server.port}\n`);
  if (server.h3) process.stdout.write(`HTTP/3 on UDP ${values.host ?? '127.0.0.1'}:${server.h3.port}\n`);
  process.stdout.write(`TLS certificate: ${origins[0]}; secondary: ${origins.slice(1).join(', ') || '(none)'}\n`);
  process.stdout.write(`test CA written to ${caFile}\n`);
  process.stdout.write('press Ctrl-C to stop\n');
  await untilStopped();
  await server.close();
  process.stdout.write('stopped\n');
  return 0;
}
