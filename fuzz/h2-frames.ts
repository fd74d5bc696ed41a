import type { TLSSocket } from 'node:tls';
import { createAuthenticator, createRequest } from '../src/ea/index.js';
import { keysFromTlsSocket } from '../src/exporter/tls-socket.js';
import type { AuthenticatorKeys } from '../src/exporter/keys.js';
import { DEFAULT_PROFILE } from '../src/h2/profile.js';
import type { LoadedIdentity } from '../src/pki/identity.js';
import { encodeAuthenticatorRequests } from '../src/h2/wire/authenticator-requests.js';
import { encodeCertificateNeeded } from '../src/h2/wire/certificate-needed.js';
import { encodeCertificateRequest } from '../src/h2/wire/certificate-request.js';
import { certificateFlags, encodeCertificate } from '../src/h2/wire/certificate.js';
import { encodeClientCertificate } from '../src/h2/wire/client-certificate.js';
import { encodeServerCertificate } from '../src/h2/wire/server-certificate.js';
import { encodeUseCertificate, useCertificateFlags } from '../src/h2/wire/use-certificate.js';
import { frame, hpackLiterals, settingsPayload, T, u32, type RawFrame } from './h2-raw.js';
import type { Rng } from './rng.js';

// Valid frames of every type either side of our HTTP/2 code parses, built with the library's own codecs
// where it has one (so that mutations start from something the parser accepts), from what the peer has
// said so far on the connection (its requests, its exporter).

export const F = DEFAULT_PROFILE.frames;
export const S = DEFAULT_PROFILE.settings;

/** What the fuzzing peer knows of its connection. */
export interface H2Context {
  rng: Rng;
  tlsSocket: TLSSocket;
  authority: string;
  /** Our exporter-derived SETTINGS_HTTP_CERT_AUTH value (the -06 flow). */
  exporterSetting: number;
  /** Identities we may sign with (the client's certificate, or the server's secondary ones). */
  identities: LoadedIdentity[];
  /** CERTIFICATE_REQUESTs the server sent: Request-ID → request bytes. */
  certRequests: Map<number, Uint8Array>;
  /** CERTIFICATE_NEEDED the server sent. */
  needed: { streamId: number; requestId: number }[];
  /** Requests in AUTHENTICATOR_REQUESTS the server sent. */
  authRequests: Uint8Array[];
  /** Stream ids our side opened (client) or the peer opened (server). */
  streams: number[];
  nextStreamId: number;
  /** Request bodies the peer sent, by stream, and the streams whose body is complete (END_STREAM). */
  bodies?: Map<number, Buffer[]>;
  ended?: Set<number>;
}

const cachedKeys = new WeakMap<TLSSocket, AuthenticatorKeys>();
function keysOf(s: TLSSocket): AuthenticatorKeys {
  let k = cachedKeys.get(s);
  if (!k) {
    k = keysFromTlsSocket(s);
    cachedKeys.set(s, k);
  }
  return k;
}

export async function answer(ctx: H2Context, request: Uint8Array | undefined, creator: 'client' | 'server'): Promise<Uint8Array> {
  const id = ctx.rng.pick(ctx.identities);
  try {
    return await createAuthenticator({ keys: keysOf(ctx.tlsSocket), creator, ...(request ? { request } : {}), certificateChain: id.chain, signer: id.signer });
  } catch {
    // No common scheme, a malformed request of the peer's: an authenticator of random bytes instead.
    return ctx.rng.bytes(ctx.rng.range(1, 600));
  }
}

function settingsFrame(ctx: H2Context): RawFrame {
  const { rng } = ctx;
  const entries: [number, number][] = [];
  const n = rng.range(0, 4);
  const values = [0, 1, 2, 4, 0xffffffff, ctx.exporterSetting, rng.u32()];
  for (let i = 0; i < n; i++) {
    const id = rng.pick([S.SETTINGS_HTTP_SERVER_CERT_AUTH, S.SETTINGS_HTTP_CLIENT_CERT_AUTH, S.SETTINGS_HTTP_CERT_AUTH, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8, rng.int(0x10000)]);
    entries.push([id, id === 0x5 ? rng.pick([16_384, 16_777_215, 16_383, 16_777_216, rng.u32()]) : rng.pick(values)]);
  }
  return frame('SETTINGS', T.SETTINGS, 0, 0, settingsPayload(entries));
}

function commonFrames(ctx: H2Context): (() => RawFrame | Promise<RawFrame>)[] {
  const { rng } = ctx;
  const anyStream = (): number => (ctx.streams.length > 0 && rng.chance(0.7) ? rng.pick(ctx.streams) : rng.pick([0, 1, 3, 0x7fffffff]));
  return [
    () => settingsFrame(ctx),
    () => frame('SETTINGS ACK', T.SETTINGS, 0x1, 0, new Uint8Array(0)),
    () => frame('PING', T.PING, 0, 0, rng.bytes(8)),
    () => frame('WINDOW_UPDATE', T.WINDOW_UPDATE, 0, rng.chance(0.5) ? 0 : anyStream(), u32(rng.pick([1, 0, 0x7fffffff, rng.int(0x7fffffff)]))),
    () => frame('RST_STREAM', T.RST_STREAM, 0, anyStream(), u32(rng.pick([0, 1, 8, DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID, rng.u32()]))),
    () => frame('PRIORITY', T.PRIORITY, 0, anyStream(), Uint8Array.from([...u32(rng.int(8)), rng.int(256)])),
    () => frame('GOAWAY', T.GOAWAY, 0, 0, Uint8Array.from([...u32(rng.pick([0, 1, 3, 0x7fffffff])), ...u32(rng.pick([0, 1, DEFAULT_PROFILE.errors.CERTIFICATE_UNREADABLE])), ...rng.bytes(rng.int(8))])),
    () => frame('DATA', T.DATA, rng.pick([0, 1]), anyStream(), rng.bytes(rng.length(2048))),
    () => frame('CONTINUATION', T.CONTINUATION, 0x4, anyStream(), hpackLiterals([['x-fuzz', 'continued']])),
    () => {
      const origins = Array.from({ length: rng.range(1, 3) }, () => rng.pick([`https://b.example:${ctx.authority.split(':')[1]}`, 'https://c.example', 'https://evil.example', 'http://a.example', '', 'https://[::1]:1']));
      const parts: number[] = [];
      for (const o of origins) parts.push(o.length >> 8, o.length & 0xff, ...Buffer.from(o, 'latin1'));
      return frame('ORIGIN', T.ORIGIN, 0, 0, Uint8Array.from(parts));
    },
    () => {
      const type = rng.pick([0x0b, 0x0d, 0x0e, 0x10, 0xf0, 0xf1, 0xf3, 0xfb, 0xfd, 0xfe, 0xff, rng.int(256)]);
      return frame(`unknown 0x${type.toString(16)}`, type, rng.int(256), rng.pick([0, 1, rng.u32() & 0x7fffffff]), rng.bytes(rng.length(512)));
    },
  ];
}

/** Frames a client sends that our server parses: the client-certificate flows' frames first. */
export function clientFrames(ctx: H2Context): (() => RawFrame | Promise<RawFrame>)[] {
  const { rng } = ctx;
  const needed = (): { streamId: number; requestId: number } | undefined => (ctx.needed.length > 0 ? rng.pick(ctx.needed) : undefined);
  const certFrames = async (): Promise<RawFrame> => {
    const need = needed();
    const request = need ? ctx.certRequests.get(need.requestId) : undefined;
    const auth = await answer(ctx, request, 'client');
    const certId = rng.int(4);
    const unsolicited = !need || rng.chance(0.1);
    const fields = unsolicited
      ? { unsolicited: true as const, certId, toBeContinued: false, fragment: auth }
      : { unsolicited: false as const, requestId: need!.requestId, certId, toBeContinued: false, fragment: auth };
    return frame('CERTIFICATE', F.CERTIFICATE, certificateFlags(fields), 0, encodeCertificate(fields));
  };
  const gens: (() => RawFrame | Promise<RawFrame>)[] = [
    certFrames,
    certFrames,
    async () => {
      // An authenticator split in two CERTIFICATE frames: here the first, with TO_BE_CONTINUED.
      const need = needed();
      const auth = await answer(ctx, need ? ctx.certRequests.get(need.requestId) : undefined, 'client');
      const fields = need
        ? { unsolicited: false as const, requestId: need.requestId, certId: 0, toBeContinued: true, fragment: auth.subarray(0, auth.length >> 1) }
        : { unsolicited: true as const, certId: 0, toBeContinued: true, fragment: auth.subarray(0, auth.length >> 1) };
      return frame('CERTIFICATE (first fragment)', F.CERTIFICATE, certificateFlags(fields), 0, encodeCertificate(fields));
    },
    () => {
      const need = needed();
      const fields = { streamId: need?.streamId ?? rng.pick([1, 3, 0]), ...(rng.chance(0.8) ? { certId: rng.int(4) } : {}), unsolicited: !need || rng.chance(0.2) };
      return frame('USE_CERTIFICATE', F.USE_CERTIFICATE, useCertificateFlags(fields), 0, encodeUseCertificate(fields));
    },
    async () => {
      const request = ctx.authRequests.length > 0 ? rng.pick(ctx.authRequests) : undefined;
      return frame('CLIENT_CERTIFICATE', F.CLIENT_CERTIFICATE, 0, 0, encodeClientCertificate({ authenticator: await answer(ctx, request, 'client') }));
    },
    async () => frame('CLIENT_CERTIFICATE', F.CLIENT_CERTIFICATE, 0, 0, encodeClientCertificate({ authenticator: await answer(ctx, ctx.authRequests[0], 'client') })),
    () => frame('SERVER_CERTIFICATE (from a client)', F.SERVER_CERTIFICATE, 0, 0, encodeServerCertificate({ authenticator: rng.bytes(rng.range(1, 300)) })),
    () => {
      // -06 server certificates (section 2.3.1): a client's request, its context led by the Request-ID.
      const requestId = rng.chance(0.8) ? rng.int(8) : rng.int(0x10000);
      const context = Uint8Array.from([requestId >> 8, requestId & 0xff, ...rng.bytes(rng.chance(0.9) ? 30 : 14)]);
      const serverName = rng.pick(['b.example', 'c.example', 'a.example', 'unknown.example']);
      return frame('CERTIFICATE_REQUEST (from a client)', F.CERTIFICATE_REQUEST, 0, 0, encodeCertificateRequest({ requestId, request: createRequest({ creator: 'client', serverName, context }).bytes }));
    },
    () => frame('CERTIFICATE_NEEDED (from a client)', F.CERTIFICATE_NEEDED, 0, 0, encodeCertificateNeeded({ streamId: rng.chance(0.9) ? 0 : rng.pick([1, 3]), requestId: rng.chance(0.8) ? rng.int(8) : rng.int(0x10000) })),
    () => {
      const streamId = ctx.nextStreamId;
      ctx.nextStreamId += 2;
      ctx.streams.push(streamId);
      const path = rng.pick(['/protected', '/', '/protected', '/other']);
      return frame(`HEADERS GET ${path}`, T.HEADERS, 0x5, streamId, hpackLiterals([[':method', 'GET'], [':scheme', 'https'], [':authority', ctx.authority], [':path', path]]));
    },
    () => {
      const streamId = ctx.nextStreamId;
      ctx.nextStreamId += 2;
      ctx.streams.push(streamId);
      return frame('HEADERS OPTIONS *', T.HEADERS, 0x4, streamId, optionsStarHeaders(ctx));
    },
    () => frame('DATA (OPTIONS * body)', T.DATA, 0x1, ctx.streams.at(-1) ?? 1, createRequest({ creator: 'client', serverName: rng.pick(['b.example', 'c.example', 'a.example']) }).bytes),
    () => {
      // A header block claimed huge: the value is large, the frame's length field tells the truth.
      const streamId = ctx.nextStreamId;
      ctx.nextStreamId += 2;
      const value = 'x'.repeat(rng.pick([100, 4096, 16_000, 70_000]));
      return frame(`HEADERS with a ${value.length}-byte field`, T.HEADERS, 0x5, streamId, hpackLiterals([[':method', 'GET'], [':scheme', 'https'], [':authority', ctx.authority], [':path', '/'], ['x-big', value]]));
    },
  ];
  return [...gens, ...gens, ...commonFrames(ctx)];
}

export function optionsStarHeaders(ctx: H2Context): Uint8Array {
  const port = ctx.authority.split(':')[1];
  return hpackLiterals([
    [':method', 'OPTIONS'],
    [':scheme', 'https'],
    [':authority', ctx.authority],
    [':path', '*'],
    ['content-type', 'application/exported-authenticator-request'],
    ['exported-auth-origin', `"https://${ctx.rng.pick(['b.example', 'c.example', 'a.example'])}:${port}"`],
  ]);
}

/** Frames a server sends that our client parses: the extension's frames first. */
export function serverFrames(ctx: H2Context): (() => RawFrame | Promise<RawFrame>)[] {
  const { rng } = ctx;
  const newRequestId = (): number => {
    const id = rng.chance(0.8) ? rng.int(8) : rng.int(0x10000);
    ctx.certRequests.set(id, createRequest({ creator: 'server' }).bytes);
    return id;
  };
  const gens: (() => RawFrame | Promise<RawFrame>)[] = [
    async () => frame('SERVER_CERTIFICATE', F.SERVER_CERTIFICATE, 0, 0, encodeServerCertificate({ authenticator: await answer(ctx, undefined, 'server') })),
    async () => frame('SERVER_CERTIFICATE', F.SERVER_CERTIFICATE, 0, 0, encodeServerCertificate({ authenticator: await answer(ctx, undefined, 'server') })),
    () => {
      const requestId = newRequestId();
      return frame('CERTIFICATE_REQUEST', F.CERTIFICATE_REQUEST, 0, 0, encodeCertificateRequest({ requestId, request: ctx.certRequests.get(requestId)! }));
    },
    () => {
      const ids = [...ctx.certRequests.keys()];
      const requestId = ids.length > 0 && rng.chance(0.8) ? rng.pick(ids) : rng.int(0x10000);
      const streamId = ctx.streams.length > 0 && rng.chance(0.8) ? rng.pick(ctx.streams) : rng.pick([0, 1, 3, 0x7fffffff]);
      return frame('CERTIFICATE_NEEDED', F.CERTIFICATE_NEEDED, 0, 0, encodeCertificateNeeded({ streamId, requestId }));
    },
    () => {
      const requests = Array.from({ length: rng.range(1, 3) }, () => createRequest({ creator: 'server' }).bytes);
      return frame('AUTHENTICATOR_REQUESTS', F.AUTHENTICATOR_REQUESTS, 0, 0, encodeAuthenticatorRequests({ requests }));
    },
    () => {
      const fields = { streamId: ctx.streams[0] ?? 1, ...(rng.chance(0.7) ? { certId: rng.int(4) } : {}), unsolicited: rng.chance(0.5) };
      return frame('USE_CERTIFICATE (from a server)', F.USE_CERTIFICATE, useCertificateFlags(fields), 0, encodeUseCertificate(fields));
    },
    () => frame('CERTIFICATE (from a server)', F.CERTIFICATE, 0x2, 0, rng.bytes(rng.range(2, 200))),
    async () => {
      // -06 (section 2.2): a real unsolicited server authenticator, then USE_CERTIFICATE frames naming it.
      const fields = { unsolicited: true as const, certId: rng.int(4), toBeContinued: false, fragment: await answer(ctx, undefined, 'server') };
      return frame('CERTIFICATE UNSOLICITED (from a server)', F.CERTIFICATE, certificateFlags(fields), 0, encodeCertificate(fields));
    },
    () => {
      const fields = { streamId: 0, ...(rng.chance(0.8) ? { certId: rng.int(4) } : {}), unsolicited: rng.chance(0.5) };
      return frame('USE_CERTIFICATE stream 0 (from a server)', F.USE_CERTIFICATE, useCertificateFlags(fields), 0, encodeUseCertificate(fields));
    },
    () => frame('CLIENT_CERTIFICATE (from a server)', F.CLIENT_CERTIFICATE, 0, 0, rng.bytes(rng.range(1, 200))),
    () => frame('HEADERS :status 200', T.HEADERS, rng.pick([0x4, 0x5]), ctx.streams[0] ?? 1, hpackLiterals([[':status', rng.pick(['200', '421', '103', '999', 'abc'])]])),
    () => frame('PUSH_PROMISE', T.PUSH_PROMISE, 0x4, ctx.streams[0] ?? 1, Uint8Array.from([...u32(2), ...hpackLiterals([[':method', 'GET'], [':scheme', 'https'], [':authority', ctx.authority], [':path', '/pushed']])])),
  ];
  return [...gens, ...gens, ...commonFrames(ctx)];
}
