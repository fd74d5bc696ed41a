import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import { AlpnRefused, HandshakeTimeout } from '../../errors.js';
import { serverNameMismatch } from '../../pki/certificate-names.js';
import { FrameSplicer } from './splicer.js';

export { FrameSplicer } from './splicer.js';

// Wiring a FrameSplicer between a TLS socket and a node:http2 session, on both sides, so that the
// session still tells the truth about TLS. Given a plain Duplex, Node wraps it in a JSStreamSocket and
// takes the session for cleartext h2c (encrypted false, alpnProtocol 'h2c', no peer certificate through
// session.socket, ORIGIN frames ignored). We set the two session fields back and give the wrapper the
// TLS socket's properties. This leans on Node's internals (checked on Node 20): test/h2/wire.test.ts pins
// each fact, so a Node upgrade that changes them fails loudly.

/** TLS facts a user may ask of `session.socket` or `req.socket`, answered by the real TLS socket. */
const TLS_METHODS = [
  'getPeerCertificate',
  'getPeerX509Certificate',
  'getCertificate',
  'getX509Certificate',
  'exportKeyingMaterial',
  'getProtocol',
  'getCipher',
  'getSession',
  'isSessionReused',
  'getFinished',
  'getPeerFinished',
  'getEphemeralKeyInfo',
  'getSharedSigalgs',
  'getTLSTicket',
  'address',
] as const;
const TLS_PROPERTIES = ['authorized', 'authorizationError', 'servername', 'alpnProtocol', 'remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort'] as const;

/** Makes `target` answer TLS questions from `tlsSocket`. */
function exposeTls(target: object, tlsSocket: tls.TLSSocket): void {
  for (const name of TLS_METHODS) {
    const fn = (tlsSocket as unknown as Record<string, unknown>)[name];
    if (typeof fn === 'function') Object.defineProperty(target, name, { value: fn.bind(tlsSocket), configurable: true, writable: true });
  }
  for (const name of TLS_PROPERTIES) {
    Object.defineProperty(target, name, { get: () => (tlsSocket as unknown as Record<string, unknown>)[name], configurable: true });
  }
  Object.defineProperty(target, 'encrypted', { value: true, configurable: true });
}

/** Restores encrypted / alpnProtocol on a session built over a splicer, and TLS facts on its socket wrapper. */
function makeTruthful(session: http2.Http2Session, splicer: FrameSplicer): void {
  const s = session as unknown as Record<symbol, unknown>;
  for (const sym of Object.getOwnPropertySymbols(session)) {
    const d = sym.description;
    if (d === 'encrypted') s[sym] = true;
    else if (d === 'alpnProtocol') s[sym] = splicer.tlsSocket.alpnProtocol || 'h2';
    else if (d === 'socket') {
      const wrapper = s[sym] as { stream?: unknown } | undefined;
      if (wrapper && typeof wrapper === 'object' && (wrapper === splicer || wrapper.stream === splicer)) exposeTls(wrapper, splicer.tlsSocket);
    }
  }
}

export interface SpliceOptions {
  /** Frame types to take out of the inbound stream (they arrive as the splicer's 'frame' events). */
  interceptTypes: ReadonlySet<number>;
}

export interface ConnectSplicedOptions extends SpliceOptions {
  /** Address or name to connect to; the URL's host by default. */
  host?: string;
  /** SNI name; the URL's host by default (never sent for an IP address). */
  servername?: string | undefined;
  ca?: string | string[];
  settings?: http2.Settings;
  remoteCustomSettings?: number[];
  /** False: no splicer, a plain session over the TLS socket (a client without the extension). */
  splice?: boolean;
  /** Refuse certificates that do not verify (default true). */
  rejectUnauthorized?: boolean;
  /** Give up (and destroy the socket) when TCP and TLS take longer than this; default: no limit. */
  handshakeTimeoutMs?: number;
  /** Offer status_request in the ClientHello (node's requestOCSP). */
  requestOCSP?: boolean;
}

export interface SplicedClient {
  session: http2.ClientHttp2Session;
  tlsSocket: tls.TLSSocket;
  splicer: FrameSplicer | undefined;
}

/**
 * Opens a TLS 1.3 connection with ALPN h2 and an http2 client session over it, through a splicer.
 * Resolves once the TLS handshake is complete and the session exists; rejects on a TLS error.
 */
export async function connectSpliced(url: URL, options: ConnectSplicedOptions): Promise<SplicedClient> {
  const host = options.host ?? url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  // The certificate must cover the name asked for (the URL's host when no SNI is sent), by the project's
  // one host rule rather than node's, which falls back to the subject CN.
  const name = options.servername || url.hostname.replace(/^\[|\]$/g, '');
  const tlsSocket = tls.connect({
    host,
    port,
    ...(options.servername ? { servername: options.servername } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
    ALPNProtocols: ['h2'],
    minVersion: 'TLSv1.3',
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    // tls.connect hands requestOCSP to its TLSSocket (pinned in test/h2/stapling.test.ts); @types/node omits it there.
    ...(options.requestOCSP ? { requestOCSP: true } : {}),
    checkServerIdentity: (_host, cert) => serverNameMismatch(cert.raw, name),
  });
  await new Promise<void>((resolve, reject) => {
    tlsSocket.once('secureConnect', resolve);
    tlsSocket.once('error', reject);
    if (options.handshakeTimeoutMs !== undefined) {
      const ms = options.handshakeTimeoutMs;
      tlsSocket.setTimeout(ms, () => tlsSocket.destroy(new HandshakeTimeout(`no TLS handshake within ${ms} ms`)));
      tlsSocket.once('secureConnect', () => tlsSocket.setTimeout(0));
    }
  });
  if (tlsSocket.alpnProtocol !== 'h2') {
    tlsSocket.destroy();
    throw new AlpnRefused(`the server did not agree to HTTP/2 (ALPN: ${String(tlsSocket.alpnProtocol)})`);
  }
  const sessionOptions: http2.ClientSessionOptions = {
    ...(options.settings ? { settings: options.settings } : {}),
    remoteCustomSettings: options.remoteCustomSettings ?? [],
  };
  if (options.splice === false) {
    const session = http2.connect(url, { ...sessionOptions, createConnection: () => tlsSocket });
    return { session, tlsSocket, splicer: undefined };
  }
  const splicer = new FrameSplicer(tlsSocket, { role: 'client', interceptTypes: options.interceptTypes });
  const session = http2.connect(url, { ...sessionOptions, createConnection: () => splicer as unknown as tls.TLSSocket });
  makeTruthful(session, splicer);
  return { session, tlsSocket, splicer };
}

export interface SpliceServerOptions extends SpliceOptions {
  /** Called for each HTTP/2 connection, before the server's 'session' listeners run. */
  onSession(session: http2.ServerHttp2Session, splicer: FrameSplicer, tlsSocket: tls.TLSSocket): void;
}

/**
 * Routes each of the server's h2 TLS connections through a splicer. HTTP/1.1 connections (allowHTTP1)
 * reach Node's handler untouched.
 */
export function spliceServerSession(server: http2.Http2SecureServer, options: SpliceServerOptions): void {
  const nodeListeners = server.listeners('secureConnection') as ((socket: tls.TLSSocket) => void)[];
  server.removeAllListeners('secureConnection');
  let current: { splicer: FrameSplicer; tlsSocket: tls.TLSSocket } | undefined;
  server.prependListener('session', (session: http2.ServerHttp2Session) => {
    if (!current) return;
    const { splicer, tlsSocket } = current;
    current = undefined;
    makeTruthful(session, splicer);
    options.onSession(session, splicer, tlsSocket);
  });
  server.on('secureConnection', (tlsSocket: tls.TLSSocket) => {
    if (tlsSocket.alpnProtocol !== 'h2') {
      for (const l of nodeListeners) l.call(server, tlsSocket);
      return;
    }
    const splicer = new FrameSplicer(tlsSocket, { role: 'server', interceptTypes: options.interceptTypes });
    exposeTls(splicer, tlsSocket);
    current = { splicer, tlsSocket };
    for (const l of nodeListeners) l.call(server, splicer as unknown as tls.TLSSocket);
    current = undefined;
  });
}
