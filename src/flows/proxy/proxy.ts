// A TLS-terminating reverse proxy (`secondary-certs proxy`): it serves its origins over HTTP/2 (and
// HTTP/1.1), proving the extra ones with secondary certificates (and with OPTIONS * when asked), asks for a client certificate where a
// route requires one (in the TLS handshake, or with the HTTP/2 and HTTP/3 client-certificate flows), refuses a bad one
// with an HTTP status, and forwards each request to one backend over HTTP/1.1 or HTTP/2 with Client-Cert
// and Client-Cert-Chain (RFC 9440) for the identity it validated, never for one the client claimed. Over
// a TLS 1.3 backend connection the fields carry our Client-Cert-Binding (../client-cert-field/binding.ts).
// Bodies stream both ways; nothing is buffered whole.
import http from 'node:http';
import http2 from 'node:http2';
import { isIP, type AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { pipeline, Readable, Writable } from 'node:stream';
import { createSecondaryCertServer, type SecondaryCertServer } from '../../h2/server.js';
import type { H3SecondaryCertServer } from '../../h3/server.js';
import type { SecondaryIdentity } from '../../pki/identity.js';
import { CertificatePolicy } from '../../pki/policy.js';
import { CertificateRejected } from '../../errors.js';
import { ClientAuthServer } from '../client-auth/server.js';
import { H3ClientAuthServer } from '../client-auth/h3.js';
import { installOptionsStar, OptionsStarHandler } from '../options-star/server.js';
import { forwardClientCert, identityFromTlsSocket, sanitizeResponseHeaders, withoutAnchor, type ForwardedIdentity } from '../client-cert-field/forward.js';
import type { ExporterSocket } from '../client-cert-field/binding.js';
import type { HeaderRecord } from '../client-cert-field/fields.js';

export interface ProxyOptions {
  /** The TLS certificate (its chain, PEM, leaf first) and key: the first origin, and every SNI miss. */
  tls: { chainPem: string; keyPem: string };
  /** The other origins, proven with SERVER_CERTIFICATE on every connection that negotiates the extension. */
  identities?: SecondaryIdentity[];
  host?: string;
  port?: number;
  /** Where requests go: http://host:port (plain) or https://host:port (TLS; the binding needs TLS 1.3). */
  backend: string;
  /** 'http/1.1' (default) or 'h2' to the backend. */
  backendProtocol?: 'http/1.1' | 'h2';
  /** Trust anchors for an https backend (default: Node's). */
  backendCa?: string[];
  /** Trust anchors for client certificates; without them no client certificate is asked for or accepted. */
  clientCa?: string[];
  /** Whether a request needs a client certificate (default: none does). */
  requiresClientCert?: (host: string, path: string) => boolean;
  /** Send Client-Cert-Binding over an https backend (default true). */
  binding?: boolean;
  /** How long the backend may take to answer with a head before 504 (default 30 s). */
  backendTimeoutMs?: number;
  /** How long a request waits for the client's certificate before 408 (default 10 s). */
  clientCertTimeoutMs?: number;
  /** Also serve HTTP/3 on the same port number over UDP (the same origins, proven the same way). */
  h3?: boolean;
}

export interface Proxy {
  server: http2.Http2SecureServer;
  extension: SecondaryCertServer;
  /** With `h3`: the HTTP/3 server, on the same port number. */
  h3?: H3SecondaryCertServer;
  port: number;
  close(): Promise<void>;
}

/** Connection-specific fields (RFC 9110 section 7.6.1, RFC 9113 section 8.2.2): never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings', 'trailer']);

type Answer = (status: number, headers: Record<string, string>, body: string) => void;

/** Starts a proxy; resolves once it listens. */
export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const backend = new URL(options.backend);
  if (backend.protocol !== 'http:' && backend.protocol !== 'https:') throw new TypeError(`backend must be an http: or https: URL, not ${options.backend}`);
  const secure = backend.protocol === 'https:';
  const bind = secure && (options.binding ?? true);
  const backendTimeoutMs = options.backendTimeoutMs ?? 30_000;
  const clientPolicy = options.clientCa ? new CertificatePolicy({ trustAnchors: options.clientCa, role: 'client' }) : undefined;
  const clientAuth = options.clientCa ? new ClientAuthServer({ trustAnchors: options.clientCa, timeoutMs: options.clientCertTimeoutMs ?? 10_000 }) : undefined;
  const { server, extension } = await createSecondaryCertServer({
    key: options.tls.keyPem,
    cert: options.tls.chainPem,
    minVersion: 'TLSv1.3',
    allowHTTP1: true,
    // A certificate is asked for in the handshake but not required there: a route decides, and a refusal
    // is an HTTP answer (403), not a TLS alert that would end every request on the connection.
    ...(options.clientCa ? { requestCert: true, rejectUnauthorized: false, ca: options.clientCa } : {}),
    identities: options.identities ?? [],
    ...(clientAuth ? { extensions: [clientAuth] } : {}),
  });
  // A client may ask the proxy to prove one of its origins (OPTIONS *): answered here, never forwarded.
  installOptionsStar(server, { extension });
  const h2Backend = options.backendProtocol === 'h2' ? new H2Backend(backend, options.backendCa) : undefined;

  /** The identity the client proved for this request, undefined for none; null when a refusal was sent. */
  async function identityFor(tlsSocket: tls.TLSSocket, host: string, path: string, answer: Answer, stream?: http2.ServerHttp2Stream): Promise<ForwardedIdentity | undefined | null> {
    if (!clientPolicy) return undefined;
    try {
      const fromTls = await identityFromTlsSocket(tlsSocket, { policy: clientPolicy });
      if (fromTls) return fromTls;
    } catch (e) {
      if (!(e instanceof CertificateRejected)) throw e;
      answer(403, { 'content-type': 'text/plain; charset=utf-8' }, `proxy: client certificate refused: ${e.code}: ${e.message}\n`);
      return null;
    }
    if (!options.requiresClientCert?.(host, path)) return undefined;
    if (stream && clientAuth) {
      // The HTTP/2 flows: the server asks on this connection, the client answers with an authenticator.
      const who = await clientAuth.authenticate(stream);
      if (!who) return null;
      // The outcome of any stapled OCSP response or SCTs travels with the identity (ForwardedIdentity).
      return forwardedIdentity(who.certificate);
    }
    answer(403, { 'content-type': 'text/plain; charset=utf-8' }, `proxy: ${host}${path} needs a client certificate\n`);
    return null;
  }

  /** Forwards one request: `body` is what the client sends, `respond` starts the answer. */
  async function forward(req: { method: string; path: string; authority: string; headers: HeaderRecord; body: Readable; identity: ForwardedIdentity | undefined }, respond: (status: number, headers: HeaderRecord) => Writable | Promise<Writable>, answer: Answer): Promise<void> {
    const headers: Record<string, string | string[] | undefined> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!name.startsWith(':') && !HOP_BY_HOP.has(name.toLowerCase()) && value !== undefined) headers[name] = typeof value === 'number' ? String(value) : (value as string | string[]);
    }
    const fail = (status: 502 | 504, why: string): void => answer(status, { 'content-type': 'text/plain; charset=utf-8' }, `proxy: backend ${status === 504 ? 'timed out' : 'failed'}: ${why}\n`);
    try {
      if (h2Backend) {
        const session = await h2Backend.session();
        const out = forwardClientCert(headers, req.identity, bind ? { bindTo: session.socket as unknown as ExporterSocket } : {});
        const upstream = session.request({ ...(out as http2.OutgoingHttpHeaders), ':method': req.method, ':path': req.path, ':authority': req.authority });
        const timer = setTimeout(() => {
          upstream.close(http2.constants.NGHTTP2_CANCEL);
          fail(504, `no answer in ${backendTimeoutMs} ms`);
        }, backendTimeoutMs);
        upstream.on('response', (head) => {
          clearTimeout(timer);
          const back = Object.fromEntries(Object.entries(head).filter(([n]) => !n.startsWith(':') && !HOP_BY_HOP.has(n)));
          void Promise.resolve(respond(Number(head[':status']), sanitizeResponseHeaders(back))).then(
            (out) => pipeline(upstream, out, () => {}),
            () => upstream.close(http2.constants.NGHTTP2_CANCEL),
          );
        });
        upstream.on('error', (e) => {
          clearTimeout(timer);
          fail(502, e.message);
        });
        pipeline(req.body, upstream, () => {});
        return;
      }
      const socket = secure ? await tlsTo(backend, options.backendCa, ['http/1.1']) : undefined;
      const out = forwardClientCert({ ...headers, host: req.authority }, req.identity, bind && socket ? { bindTo: socket } : {});
      const upstream = http.request({
        host: backend.hostname,
        port: backend.port || (secure ? 443 : 80),
        method: req.method,
        path: req.path,
        headers: out as http.OutgoingHttpHeaders,
        // One connection per request (no agent); over TLS, the one just made, whose exporter keyed the binding.
        ...(socket ? { createConnection: () => socket } : { agent: false }),
      });
      upstream.setTimeout(backendTimeoutMs, () => {
        upstream.destroy();
        fail(504, `no answer in ${backendTimeoutMs} ms`);
      });
      upstream.on('response', (answerHead) => {
        upstream.setTimeout(0);
        const back: HeaderRecord = Object.fromEntries(Object.entries(answerHead.headers).filter(([n]) => !HOP_BY_HOP.has(n)));
        void Promise.resolve(respond(answerHead.statusCode ?? 502, sanitizeResponseHeaders(back))).then(
          (out) => pipeline(answerHead, out, () => {}),
          () => answerHead.destroy(),
        );
      });
      upstream.on('error', (e) => fail(502, e.message));
      pipeline(req.body, upstream, () => {});
    } catch (e) {
      fail(502, (e as Error).message);
    }
  }

  // One handler for HTTP/2 (the compatibility API) and HTTP/1.1 (allowHTTP1): HTTP/1.1 clients can only
  // present a certificate in the TLS handshake; HTTP/2 ones can also answer the HTTP/2 flows.
  server.on('request', (req: http2.Http2ServerRequest | http.IncomingMessage, res: http2.Http2ServerResponse | http.ServerResponse) => {
    const h2 = req instanceof http2.Http2ServerRequest ? req : undefined;
    let answered = false;
    const answer: Answer = (status, h, body) => {
      if (answered || res.headersSent || res.destroyed) return;
      answered = true;
      res.writeHead(status, h);
      res.end(body);
    };
    void (async () => {
      const authority = String((h2 ? h2.headers[':authority'] : undefined) ?? req.headers.host ?? '');
      const host = authority.replace(/:\d+$/, '').toLowerCase();
      const path = req.url ?? '/';
      const connection = h2?.stream.session ? extension.connectionOf(h2.stream.session as never) : undefined;
      if (connection && !connection.covers(host)) return answer(421, { 'content-type': 'text/plain; charset=utf-8' }, `proxy: this connection is not authoritative for ${host}\n`);
      const tlsSocket = (h2 ? h2.stream.session?.socket : req.socket) as tls.TLSSocket;
      const identity = await identityFor(tlsSocket, host, path, answer, h2?.stream);
      if (identity === null) return;
      await forward(
        { method: req.method ?? 'GET', path, authority, headers: req.headers, body: req, identity },
        (status, h) => {
          answered = true;
          res.writeHead(status, h as http.OutgoingHttpHeaders);
          return res;
        },
        answer,
      );
    })().catch((e: unknown) => answer(500, { 'content-type': 'text/plain; charset=utf-8' }, `proxy: ${(e as Error).message}\n`));
  });
  server.on('sessionError', () => {});
  async function startH3(port: number): Promise<H3SecondaryCertServer> {
    // Loaded only when asked for, so an HTTP/2-only proxy never loads the QUIC native module.
    const { createH3SecondaryCertServer } = await import('../../h3/server.js');
    // The HTTP/3 client-certificate flow (rosomakho-00 over HTTP/3), and OPTIONS * answered here as over HTTP/2.
    const h3ClientAuth = options.clientCa ? new H3ClientAuthServer({ trustAnchors: options.clientCa, timeoutMs: options.clientCertTimeoutMs ?? 10_000 }) : undefined;
    let h3OptionsStar: OptionsStarHandler | undefined;
    const h3 = await createH3SecondaryCertServer(
      { cert: options.tls.chainPem, key: options.tls.keyPem, host: options.host ?? '127.0.0.1', port, identities: options.identities ?? [], ...(h3ClientAuth ? { extensions: [h3ClientAuth] } : {}) },
      async (req, res) => {
        if (h3OptionsStar?.handleH3(req, res)) return;
        let answered = false;
        const answer: Answer = (status, h, body) => {
          if (answered) return;
          answered = true;
          res.end(status, h, body).catch(() => undefined);
        };
        const host = req.authority.replace(/:\d+$/, '').toLowerCase();
        // Over HTTP/3 the client presents no TLS certificate here: a route that needs one asks through the
        // HTTP/3 flow, and a refusal is answered there (403/408).
        let identity: ForwardedIdentity | undefined;
        if (h3ClientAuth && options.requiresClientCert?.(host, req.path)) {
          const who = await h3ClientAuth.authenticate(req, res);
          if (!who) return;
          identity = forwardedIdentity(who.certificate);
        }
        await forward(
          { method: req.method, path: req.path, authority: req.authority, headers: req.headers, body: Readable.fromWeb(req.bodyStream() as never), identity },
          async (status, h) => {
            answered = true;
            const flat: Record<string, string> = {};
            for (const [name, value] of Object.entries(h)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : String(value);
            return Writable.fromWeb(await res.stream(status, flat));
          },
          answer,
        );
      },
    );
    h3OptionsStar = new OptionsStarHandler({ identities: h3.identities });
    return h3;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const h3 = options.h3 ? await startH3(port) : undefined;
  return {
    server,
    extension,
    ...(h3 ? { h3 } : {}),
    port,
    close: async () => {
      h2Backend?.close();
      await h3?.close(0);
      for (const c of extension.connections) c.session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What the proxy forwards for a certificate a client-certificate flow accepted: the path without its anchor, and the staple outcomes. */
function forwardedIdentity(certificate: { chain: Uint8Array[]; ocsp?: ForwardedIdentity['ocsp']; sct?: ForwardedIdentity['sct'] }): ForwardedIdentity {
  const { chain, ocsp, sct } = certificate;
  return { chain: withoutAnchor(chain), ...(ocsp ? { ocsp } : {}), ...(sct ? { sct } : {}) };
}

/** A TLS connection to the backend, once its handshake is done (the binding needs its exporter first). */
function tlsTo(backend: URL, ca: string[] | undefined, alpn: string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: backend.hostname, port: Number(backend.port || 443), ...(isIP(backend.hostname) ? {} : { servername: backend.hostname }), ALPNProtocols: alpn, minVersion: 'TLSv1.3', ...(ca ? { ca } : {}) });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One HTTP/2 connection to the backend, made again when it closes. */
class H2Backend {
  private current: Promise<http2.ClientHttp2Session> | undefined;
  constructor(
    private readonly url: URL,
    private readonly ca: string[] | undefined,
  ) {}

  session(): Promise<http2.ClientHttp2Session> {
    this.current ??= new Promise((resolve, reject) => {
      const session = http2.connect(this.url.origin, { minVersion: 'TLSv1.3', ...(this.ca ? { ca: this.ca } : {}) });
      const forget = (): void => {
        this.current = undefined;
      };
      session.once('connect', () => resolve(session));
      session.once('error', (e) => {
        forget();
        reject(e);
      });
      session.once('close', forget);
      session.on('goaway', forget);
    });
    return this.current;
  }

  close(): void {
    void this.current?.then((s) => s.close(), () => {});
    this.current = undefined;
  }
}
