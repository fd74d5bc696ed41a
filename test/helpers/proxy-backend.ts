// A backend (origin) in its own process, for the proxy tests: node:https (HTTP/1.1) or node:http2 over
// TLS 1.3, or plain node:http, with ClientCertOrigin judging Client-Cert. Its configuration comes as JSON
// in PROXY_BACKEND; it prints {"port": N} once it listens. Routes:
//   GET /who          200 with what ClientCertOrigin decided (or its refusal), and the field lines seen
//   POST /sha         200 with the byte count and SHA-256 of the body, read as it streams
//   GET /bytes?n=N    200 with N bytes, written in 64 KiB chunks
//   GET /hang         never answers
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CertificatePolicy } from '../../src/pki/policy.js';
import { ClientCertOrigin, sendRefusal } from '../../src/flows/client-cert-field/origin.js';

interface BackendConfig {
  /** TLS identity; none for plain HTTP. */
  tls?: { keyPem: string; certPem: string };
  h2?: boolean;
  clientCaPem: string;
  trustedProxies: string[];
  requireBinding: boolean;
}

const config = JSON.parse(process.env['PROXY_BACKEND'] ?? '{}') as BackendConfig;
const guard = new ClientCertOrigin({
  trustedProxies: config.trustedProxies,
  policy: new CertificatePolicy({ trustAnchors: [config.clientCaPem], role: 'client' }),
  requireBinding: config.requireBinding,
});

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

function handle(req: Req, res: Res): void {
  const url = new URL(req.url ?? '/', 'https://backend');
  if (url.pathname === '/who') {
    void guard.verify(req).then((verdict) => {
      if (verdict.refusal) return sendRefusal(res, verdict.refusal);
      res.writeHead(200, { 'content-type': 'application/json', vary: 'Client-Cert' });
      res.end(
        JSON.stringify({
          subject: verdict.identity?.leaf.subject ?? null,
          chainLength: verdict.identity?.chain.length ?? 0,
          host: req.headers.host ?? req.headers[':authority'] ?? null,
          clientCert: req.headers['client-cert'] ?? null,
          binding: req.headers['client-cert-binding'] ?? null,
          httpVersion: req.httpVersion,
        }),
      );
    });
  } else if (url.pathname === '/sha') {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), rss: process.memoryUsage().rss }));
    });
  } else if (url.pathname === '/bytes') {
    let left = Number(url.searchParams.get('n') ?? 0);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const write = (): void => {
      while (left > 0) {
        const piece = chunk.subarray(0, Math.min(left, chunk.length));
        left -= piece.length;
        if (!(res as http.ServerResponse).write(piece)) return void (res as http.ServerResponse).once('drain', write);
      }
      res.end();
    };
    write();
  } else if (url.pathname === '/hang') {
    // never answers
  } else {
    res.writeHead(404).end();
  }
}

const server = config.tls
  ? config.h2
    ? http2.createSecureServer({ key: config.tls.keyPem, cert: config.tls.certPem, minVersion: 'TLSv1.3' }, handle)
    : https.createServer({ key: config.tls.keyPem, cert: config.tls.certPem, minVersion: 'TLSv1.3' }, handle)
  : config.h2
    ? http2.createServer(handle)
    : http.createServer(handle);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
