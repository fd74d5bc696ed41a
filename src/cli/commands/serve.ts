import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startDemoServer } from './demo-server.js';

// `secondary-certs serve`: the demo's server, standalone, for other implementations to test against.

export async function serveCommand(argv: string[]): Promise<number> {
  let values: { port?: string; origins?: string; 'ca-out'?: string; host?: string; h3?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, origins: { type: 'string' }, 'ca-out': { type: 'string' }, host: { type: 'string' }, h3: { type: 'boolean' } },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`serve: ${(e as Error).message}\n`);
    return 2;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`serve: --port must be 0..65535, not ${values.port}\n`);
    return 2;
  }
  const origins = (values.origins ?? 'a.example,b.example,c.example').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  if (origins.length === 0) {
    process.stderr.write('serve: --origins needs at least one name\n');
    return 2;
  }
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  try {
    server = await startDemoServer({ origins, port, host: values.host ?? '127.0.0.1', h3: values.h3 ?? false });
  } catch (e) {
    process.stderr.write(`serve: cannot listen: ${(e as Error).message}\n`);
    return 1;
  }
  const caFile = resolve(values['ca-out'] ?? 'secondary-certs-ca.pem');
  writeFileSync(caFile, server.pki.caPem);
  server.extension.on('certificateSent', (e: { names: string[] }) => process.stdout.write(`sent SERVER_CERTIFICATE for ${e.names.join(', ')}\n`));
  server.h3?.on('certificateSent', (e: { names: string[] }) => process.stdout.write(`sent SERVER_CERTIFICATE for ${e.names.join(', ')} over HTTP/3\n`));
  process.stdout.write(`listening on ${values.host ?? '127.0.0.1'}:${server.port}\n`);
  if (server.h3) process.stdout.write(`HTTP/3 on UDP ${values.host ?? '127.0.0.1'}:${server.h3.port}\n`);
  process.stdout.write(`TLS certificate: ${origins[0]}; secondary: ${origins.slice(1).join(', ') || '(none)'}\n`);
  process.stdout.write(`test CA written to ${caFile}\n`);
  process.stdout.write('press Ctrl-C to stop\n');
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  process.stdout.write('stopped\n');
  return 0;
}
