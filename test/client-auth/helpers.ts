// Shared set-up for the client-certificate tests: a test CA with server and client certificates, a server
// with the feature whose /protected path needs a client certificate, and a raw client that speaks the
// frames by hand (real TLS and node:http2, frames written and read through the splicer).
import type * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer, type SecondaryCertServer } from '../../src/h2/server.js';
import { ClientAuthServer, type ClientAuthServerOptions } from '../../src/flows/client-auth/server.js';
import { connectSpliced, type FrameSplicer } from '../../src/h2/node/spliced-session.js';
import type { TLSSocket } from 'node:tls';
import type { FrameHeader } from '../../src/h2/wire/frame-header.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';

export interface Pkis {
  pki: TestPki;
  otherPki: TestPki;
  ids: Record<string, IssuedIdentity>;
}

let shared: Promise<Pkis> | undefined;

/** One CA (and a foreign one) for the whole test file: server a.example/b.example, clients alice and bob. */
export function pkis(): Promise<Pkis> {
  shared ??= (async () => {
    const pki = await TestPki.create();
    const otherPki = await TestPki.create({ commonName: 'a stranger CA' });
    const ids: Record<string, IssuedIdentity> = {};
    ids['server'] = await pki.issue({ dnsNames: ['a.example'] });
    ids['b.example'] = await pki.issue({ dnsNames: ['b.example'] });
    ids['alice'] = await pki.issue({ role: 'client', commonName: 'alice' });
    ids['bob'] = await pki.issue({ role: 'client', commonName: 'bob', viaIntermediate: true });
    ids['mallory'] = await otherPki.issue({ role: 'client', commonName: 'mallory' });
    ids['expired'] = await pki.issue({ role: 'client', commonName: 'old alice', notBefore: new Date(Date.now() - 3 * 864e5), notAfter: new Date(Date.now() - 864e5) });
    return { pki, otherPki, ids };
  })();
  return shared;
}

export const lookup = async (): Promise<string[]> => ['127.0.0.1'];

export const identity = (id: IssuedIdentity) => ({ chain: id.chainDer, key: id.keyPkcs8Der });

export interface Running {
  server: http2.Http2SecureServer;
  extension: SecondaryCertServer;
  clientAuth: ClientAuthServer;
  port: number;
  url(path: string, host?: string): string;
  /** GOAWAY codes the server received from clients. */
  goaways: number[];
  /** Codes of the errors requireClientCertificate rejected with, in order. */
  rejections: string[];
  close(): Promise<void>;
}

/**
 * A server for a.example (also proving b.example), with client certificates on: GET /protected answers
 * 200 with a JSON summary of the client identity, or the refusal clientAuth.authenticate gives; /hold
 * answers after 300 ms; anything else answers 200 "open".
 */
export async function startServer(options: Partial<ClientAuthServerOptions> = {}, tls: http2.SecureServerOptions = {}): Promise<Running> {
  const { pki, ids } = await pkis();
  const clientAuth = new ClientAuthServer({ trustAnchors: [pki.caPem], ...options });
  const { server, extension } = await createSecondaryCertServer({
    ...tls,
    key: ids['server']!.keyPem,
    cert: ids['server']!.chainPem,
    identities: [identity(ids['b.example']!)],
    extensions: [clientAuth],
  });
  const goaways: number[] = [];
  const rejections: string[] = [];
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.on('goaway', (code: number) => goaways.push(code));
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const path = headers[':path'];
    if (path === '/protected') {
      clientAuth.requireClientCertificate(stream).catch((e: { code: string }) => rejections.push(e.code));
      void clientAuth.authenticate(stream).then((id) => {
        if (!id || stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(
          JSON.stringify({
            subject: id.certificate.leaf.subject,
            flow: id.flow,
            certId: id.certId ?? null,
            origin: id.origin,
            chainLength: id.chain.length,
            sameAsLookup: clientAuth.clientIdentityOf(stream) === id,
            sameConnection: extension.connectionOf(stream.session!) === id.connection,
          }),
        );
      });
      return;
    }
    const answer = (): void => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end('open');
    };
    if (path === '/hold') setTimeout(answer, 300);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    extension,
    clientAuth,
    port,
    goaways,
    rejections,
    url: (path, host = 'a.example') => `https://${host}:${port}${path}`,
    close: () =>
      new Promise((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
}

/** A client that speaks the extension frames by hand. */
export interface RawClient {
  session: http2.ClientHttp2Session;
  splicer: FrameSplicer;
  tlsSocket: TLSSocket;
  /** Every intercepted frame, in order; 'frame' events too. */
  frames: { header: FrameHeader; payload: Uint8Array }[];
  events: EventEmitter;
  /** Every setting the server sent, the last value of each. */
  peerSettings: Map<number, number>;
  send(type: number, flags: number, payload: Uint8Array): void;
  /** Resolves with the next frame of `type` (or one already received and not yet taken). */
  next(type: number): Promise<{ header: FrameHeader; payload: Uint8Array }>;
  request(path: string): { stream: http2.ClientHttp2Stream; response: Promise<{ status: number; body: string; rstCode?: number }> };
  close(): void;
}

export async function rawClient(port: number, customSettings: (tls: TLSSocket) => Record<number, number>): Promise<RawClient> {
  const { pki } = await pkis();
  const f = DEFAULT_PROFILE.frames;
  const { session, splicer, tlsSocket } = await connectSpliced(new URL(`https://a.example:${port}/`), {
    host: '127.0.0.1',
    servername: 'a.example',
    ca: pki.caPem,
    remoteCustomSettings: [],
    interceptTypes: new Set([f.CERTIFICATE_REQUEST, f.CERTIFICATE_NEEDED, f.AUTHENTICATOR_REQUESTS]),
  });
  session.on('error', () => {});
  const custom = customSettings(tlsSocket!);
  if (Object.keys(custom).length > 0) session.settings({ customSettings: custom });
  const frames: { header: FrameHeader; payload: Uint8Array }[] = [];
  const taken = new Set<number>();
  const events = new EventEmitter();
  const peerSettings = new Map<number, number>();
  splicer!.on('peerSettings', (m: Map<number, number>) => {
    for (const [k, v] of m) peerSettings.set(k, v);
  });
  splicer!.on('frame', (header: FrameHeader, payload: Uint8Array) => {
    frames.push({ header, payload: payload.slice() });
    events.emit('frame');
  });
  const next = (type: number): Promise<{ header: FrameHeader; payload: Uint8Array }> =>
    new Promise((resolve) => {
      const look = (): boolean => {
        const i = frames.findIndex((fr, k) => fr.header.type === type && !taken.has(k));
        if (i < 0) return false;
        taken.add(i);
        events.off('frame', look);
        resolve(frames[i]!);
        return true;
      };
      if (!look()) events.on('frame', look);
    });
  return {
    session,
    splicer: splicer!,
    tlsSocket,
    frames,
    events,
    peerSettings,
    next,
    send: (type, flags, payload) => splicer!.sendFrame(type, flags, 0, payload),
    request: (path) => {
      const stream = session.request({ ':path': path, ':authority': `a.example:${port}` });
      stream.on('error', () => {});
      const response = new Promise<{ status: number; body: string; rstCode?: number }>((resolve) => {
        let status = 0;
        let body = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (body += d));
        stream.on('close', () => resolve({ status, body, ...(stream.rstCode ? { rstCode: stream.rstCode } : {}) }));
      });
      stream.end();
      return { stream, response };
    },
    close: () => session.destroy(),
  };
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` is true, up to `ms`. */
export async function until(check: () => boolean, ms = 2000): Promise<void> {
  for (let waited = 0; !check() && waited < ms; waited += 10) await delay(10);
}
