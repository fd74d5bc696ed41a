// Set-up for the -06 server-certificate tests: a test CA whose secondary certificates carry the Required
// Domain extension (or not, or an unsatisfiable one), a server for a.example with the -06 extension, our
// client with it, and a raw client that writes -06 frames by hand. Real TLS and node:http2 on loopback.
import type * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { EventEmitter } from 'node:events';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer, type SecondaryCertServer } from '../../src/h2/server.js';
import { connect, type SecondaryCertConnection } from '../../src/h2/client.js';
import { DRAFT_06_PROFILE, type H2Profile } from '../../src/h2/profile.js';
import { connectSpliced, type FrameSplicer } from '../../src/h2/node/spliced-session.js';
import type { FrameHeader } from '../../src/h2/wire/frame-header.js';
import { encodeRequiredDomain, type RequiredDomain } from '../../src/pki/required-domain.js';
import { ServerCerts06Server, type Certificate06SentEvent, type ServerCerts06ServerOptions } from '../../src/flows/server-certs-06/server.js';
import { ServerCerts06Client, type ServerCerts06ClientOptions, type ServerCerts06Connection } from '../../src/flows/server-certs-06/client.js';
import type { H2Extension } from '../../src/h2/extension.js';
import type { ServerConnection } from '../../src/h2/server.js';

export interface Pki06 {
  pki: TestPki;
  ids: Record<string, IssuedIdentity>;
}

let shared: Promise<Pki06> | undefined;

const rd = (domain: RequiredDomain) => [{ oid: DRAFT_06_PROFILE.draft06.requiredDomainOid, value: encodeRequiredDomain(domain) }];

/**
 * a.example: the TLS certificate. b.example: Required Domain a.example. c.example: Required Domain "*".
 * d.example: no Required Domain. e.example: Required Domain z.example, which nothing covers.
 */
export function pki06(): Promise<Pki06> {
  shared ??= (async () => {
    const pki = await TestPki.create();
    const ids: Record<string, IssuedIdentity> = {};
    ids['a.example'] = await pki.issue({ dnsNames: ['a.example'] });
    ids['b.example'] = await pki.issue({ dnsNames: ['b.example'], extraExtensions: rd({ type: 'dns', name: 'a.example' }) });
    ids['c.example'] = await pki.issue({ dnsNames: ['c.example'], extraExtensions: rd({ type: 'any' }) });
    ids['d.example'] = await pki.issue({ dnsNames: ['d.example'] });
    ids['e.example'] = await pki.issue({ dnsNames: ['e.example'], extraExtensions: rd({ type: 'dns', name: 'z.example' }) });
    return { pki, ids };
  })();
  return shared;
}

export const identity = (id: IssuedIdentity) => ({ chain: id.chainDer, key: id.keyPkcs8Der });
export const lookup = async (): Promise<string[]> => ['127.0.0.1'];

export interface Running06 {
  server: http2.Http2SecureServer;
  extension: SecondaryCertServer;
  certs06: ServerCerts06Server;
  port: number;
  sent: Certificate06SentEvent[];
  /** GOAWAY codes the server received. */
  goaways: number[];
  origin(host: string): string;
  close(): Promise<void>;
}

/**
 * A server for a.example proving b.example .. e.example through -06 only (no SERVER_CERTIFICATE
 * identities). Each request is answered 200 "served HOST" when its connection covers the host, else 421.
 */
export async function start06(options: Partial<ServerCerts06ServerOptions> & { profile?: H2Profile; without06?: boolean; extra?: H2Extension<ServerConnection>[]; originFrame?: string[] } = {}): Promise<Running06> {
  const { ids } = await pki06();
  const { profile = DRAFT_06_PROFILE, without06, extra = [], originFrame, ...rest } = options;
  const certs06 = new ServerCerts06Server({ identities: ['b.example', 'c.example', 'd.example', 'e.example'].map((n) => identity(ids[n]!)), ...rest });
  const { server, extension } = await createSecondaryCertServer({
    key: ids['a.example']!.keyPem,
    cert: ids['a.example']!.chainPem,
    profile,
    extensions: [...(without06 ? [] : [certs06]), ...extra],
  });
  const sent: Certificate06SentEvent[] = [];
  certs06.on('certificateSent', (e) => sent.push(e));
  const goaways: number[] = [];
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.on('goaway', (code: number) => goaways.push(code));
    session.on('error', () => {});
    if (originFrame) session.origin(...originFrame.map((h) => `https://${h}:${(server.address() as AddressInfo).port}`));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const host = String(headers[':authority']).replace(/:\d+$/, '');
    const ok = extension.connectionOf(stream.session!)?.covers(host) ?? false;
    stream.respond({ ':status': ok ? 200 : 421 });
    stream.end(ok ? `served ${host}` : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    extension,
    certs06,
    port,
    sent,
    goaways,
    origin: (host) => `https://${host}:${port}`,
    close: () =>
      new Promise((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
}

/** Our client with the -06 extension, on `profile` (the -06 one by default). */
export async function client06(s: Running06, options: ServerCerts06ClientOptions = {}, profile: H2Profile = DRAFT_06_PROFILE): Promise<{ conn: SecondaryCertConnection; certs: ServerCerts06Connection; ext: ServerCerts06Client }> {
  const { pki } = await pki06();
  const ext = new ServerCerts06Client(options);
  const conn = await connect(s.origin('a.example'), { ca: [pki.caPem], lookup, connectAddress: '127.0.0.1', profile, extensions: [ext] });
  return { conn, certs: ext.of(conn)!, ext };
}

/** A client that writes the frames by hand and records every intercepted frame and the server's SETTINGS. */
export interface Raw06 {
  session: http2.ClientHttp2Session;
  splicer: FrameSplicer;
  tlsSocket: TLSSocket;
  frames: { header: FrameHeader; payload: Uint8Array }[];
  peerSettings: Map<number, number>;
  /** GOAWAY codes the server sent. */
  goaway: Promise<number>;
  send(type: number, flags: number, payload: Uint8Array): void;
  next(type: number): Promise<{ header: FrameHeader; payload: Uint8Array }>;
  close(): void;
}

export async function raw06(port: number, intercept: number[], settings: (tls: TLSSocket) => Record<number, number>): Promise<Raw06> {
  const { pki } = await pki06();
  const { session, splicer, tlsSocket } = await connectSpliced(new URL(`https://a.example:${port}/`), {
    host: '127.0.0.1',
    servername: 'a.example',
    ca: pki.caPem,
    remoteCustomSettings: [],
    interceptTypes: new Set(intercept),
  });
  session.on('error', () => {});
  const custom = settings(tlsSocket);
  if (Object.keys(custom).length > 0) session.settings({ customSettings: custom });
  const frames: { header: FrameHeader; payload: Uint8Array }[] = [];
  const taken = new Set<number>();
  const events = new EventEmitter();
  const peerSettings = new Map<number, number>();
  splicer!.on('peerSettings', (m: Map<number, number>) => {
    for (const [k, v] of m) peerSettings.set(k, v);
    events.emit('settings');
  });
  splicer!.on('frame', (header: FrameHeader, payload: Uint8Array) => {
    frames.push({ header, payload: payload.slice() });
    events.emit('frame');
  });
  const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
  return {
    session,
    splicer: splicer!,
    tlsSocket,
    frames,
    peerSettings,
    goaway,
    send: (type, flags, payload) => splicer!.sendFrame(type, flags, 0, payload),
    next: (type) =>
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
      }),
    close: () => session.destroy(),
  };
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` is true, up to `ms`. */
export async function until(check: () => boolean, ms = 3000): Promise<void> {
  for (let waited = 0; !check() && waited < ms; waited += 10) await delay(10);
}

/** Resolves with the connection's first connection error (its wire code), or rejects after `ms`. */
export function protocolErrorOf(conn: SecondaryCertConnection, ms = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no protocol error')), ms);
    conn.once('protocolError', (e) => {
      clearTimeout(timer);
      resolve(e.wireCode);
    });
  });
}
