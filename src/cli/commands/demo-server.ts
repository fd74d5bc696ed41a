import type { AddressInfo } from 'node:net';
import type { Http2SecureServer, ServerHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { createSecureContext, type SecureContext } from 'node:tls';
import { TestPki, type IssuedIdentity } from '../../testing/test-pki.js';
import { createSecondaryCertServer, type SecondaryCertServer, type ServerExtensionOptions } from '../../h2/server.js';
import { installOptionsStar } from '../../flows/options-star/server.js';
import type { H3SecondaryCertServer } from '../../h3/server.js';

// The server the demo and `secondary-certs serve` run: a test CA, a TLS certificate for the first origin,
// secondary certificates for the others, and a handler that answers for any origin the connection is
// authoritative for (421 otherwise). With SNI for a secondary name it presents that name's certificate,
// so a client without the extension reaches every origin too, with one handshake each.

export interface DemoServer {
  server: Http2SecureServer;
  extension: SecondaryCertServer;
  pki: TestPki;
  port: number;
  origins: string[];
  /** TLS handshakes completed, by SNI name. */
  handshakes: string[];
  /** With `h3`: the HTTP/3 server on the same port number (UDP), and its QUIC handshakes. */
  h3?: H3SecondaryCertServer;
  quicHandshakes: number;
  close(): Promise<void>;
}

/** The server's bounds `serve` can set (each absent: the library's default). */
export type DemoServerLimits = Pick<ServerExtensionOptions, 'idleTimeoutMs' | 'sendTimeoutMs' | 'maxBufferedBytes' | 'maxSettingsFrames'> & { handshakeTimeout?: number };

export async function startDemoServer(options: { origins: string[]; port?: number; host?: string; pki?: TestPki; h3?: boolean; limits?: DemoServerLimits }): Promise<DemoServer> {
  const [primary, ...secondary] = options.origins;
  if (!primary) throw new TypeError('at least one origin is needed');
  const pki = options.pki ?? (await TestPki.create({ commonName: 'secondary-certs demo CA' }));
  const ids = new Map<string, IssuedIdentity>();
  // P-256 throughout: with an Ed25519 certificate in an SNICallback context, Node 20 (OpenSSL 3.0) kept
  // presenting the default certificate (seen here), and plain clients reach b.example and c.example by SNI.
  for (const name of options.origins) ids.set(name, await pki.issue({ dnsNames: [name], keyType: 'p256' }));
  const contexts = new Map<string, SecureContext>();
  for (const [name, id] of ids) contexts.set(name, createSecureContext({ key: id.keyPem, cert: id.chainPem }));
  const handshakes: string[] = [];
  const primaryId = ids.get(primary) as IssuedIdentity;
  const { server, extension } = await createSecondaryCertServer({
    key: primaryId.keyPem,
    cert: primaryId.chainPem,
    minVersion: 'TLSv1.3',
    SNICallback: (name, cb) => cb(null, contexts.get(name.toLowerCase()) ?? contexts.get(primary)),
    identities: secondary.map((name) => ({ chain: ids.get(name)!.chainDer, key: ids.get(name)!.keyPkcs8Der })),
    ...options.limits,
  });
  // Clients may also ask for an origin with OPTIONS * (our proposal, spec-notes/options-star.md).
  installOptionsStar(server, { extension });
  server.on('secureConnection', (socket) => handshakes.push((socket as { servername?: string }).servername || '(no SNI)'));
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const authority = String(headers[':authority'] ?? '');
    const host = authority.replace(/:\d+$/, '').toLowerCase();
    const connection = extension.connectionOf(stream.session as never);
    const tlsName = (stream.session?.socket as { servername?: string } | undefined)?.servername;
    const serves = connection ? connection.covers(host) : host === tlsName || (tlsName === undefined && host === primary);
    if (!serves) {
      stream.respond({ ':status': 421, 'content-type': 'text/plain' });
      stream.end(`this connection is not authoritative for ${host}\n`);
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(`hello from ${host}\n`);
  });
  server.on('sessionError', () => {
    // A client that goes away mid-connection is not the server's problem.
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const demo: DemoServer = {
    server,
    extension,
    pki,
    port,
    origins: options.origins,
    handshakes,
    quicHandshakes: 0,
    close: async () => {
      await demo.h3?.close(0);
      await new Promise<void>((resolve) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => resolve());
      });
    },
  };
  if (options.h3) {
    // The same origins over HTTP/3, on the same port number over UDP. Loaded only when asked for, so the
    // HTTP/2 demo never loads the QUIC native module.
    const { createH3SecondaryCertServer } = await import('../../h3/server.js');
    demo.h3 = await createH3SecondaryCertServer(
      {
        cert: primaryId.chainPem,
        key: primaryId.keyPem,
        host: options.host ?? '127.0.0.1',
        port,
        identities: secondary.map((name) => ({ chain: ids.get(name)!.chainDer, key: ids.get(name)!.keyPkcs8Der })),
      },
      (req, res) => res.end(200, { 'content-type': 'text/plain' }, `hello from ${req.authority.replace(/:\d+$/, '').toLowerCase()} over HTTP/3\n`),
    );
    demo.h3.on('connection', () => demo.quicHandshakes++);
  }
  return demo;
}
