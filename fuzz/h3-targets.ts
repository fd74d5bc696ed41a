import { concatBytes } from '../src/codec/writer.js';
import { encodeVarint } from '../src/codec/varint.js';
import { createAuthenticator, createRequest } from '../src/ea/index.js';
import { connectH3, type H3SecondaryCertConnection } from '../src/h3/client.js';
import { H3ConnectionError } from '../src/errors.js';
import { DEFAULT_H3_PROFILE } from '../src/h3/profile.js';
import { encodeFieldSection } from '../src/h3/qpack.js';
import { createH3SecondaryCertServer } from '../src/h3/server.js';
import { connectQuic, listenQuic } from '../src/h3/transport/index.js';
import type { TransportConnection, TransportStream } from '../src/h3/transport/transport.js';
import { encodeAuthenticatorRequests } from '../src/h3/wire/certificates.js';
import { encodeGoawayFrame, encodeOriginFrame } from '../src/h3/wire/core.js';
import { encodeSettings } from '../src/h3/wire/settings.js';
import type { LoadedIdentity } from '../src/pki/identity.js';
import { BOUND_MS, CaseLog, within, type Target } from './oracle.js';
import { fuzzPki } from './pki.js';
import { Rng } from './rng.js';

// Targets: our HTTP/3 server and client over real QUIC (@matrixai/quic through src/h3/transport), each
// driven by a raw peer on the same transport that writes frames by hand: the control stream (SETTINGS,
// SERVER_CERTIFICATE, GOAWAY, ORIGIN, unknown and reserved types) and request streams (HEADERS, DATA).

const P = DEFAULT_H3_PROFILE;
const TYPE = { DATA: 0x0, HEADERS: 0x1, CANCEL_PUSH: 0x3, SETTINGS: 0x4, PUSH_PROMISE: 0x5, GOAWAY: 0x7, ORIGIN: 0xc, MAX_PUSH_ID: 0xd } as const;

interface H3RawFrame {
  name: string;
  type: bigint;
  payload: Uint8Array;
  /** The length field when it lies. */
  claimedLength?: bigint;
  /** Where it goes: our control stream, or the case's request stream. */
  on: 'control' | 'request';
  mutations: string[];
}

const f3 = (name: string, type: number | bigint, payload: Uint8Array, on: 'control' | 'request'): H3RawFrame => ({ name, type: BigInt(type), payload, on, mutations: [] });

function encode3(f: H3RawFrame): Uint8Array {
  return concatBytes(encodeVarint(f.type), encodeVarint(f.claimedLength ?? BigInt(f.payload.length)), f.payload);
}

function describe3(f: H3RawFrame): string {
  const len = f.claimedLength !== undefined ? `${f.payload.length} bytes, length field ${f.claimedLength}` : `${f.payload.length} bytes`;
  return `${f.name} type=0x${f.type.toString(16)} on the ${f.on} stream, ${len}${f.mutations.length > 0 ? ` [${f.mutations.join(', ')}]` : ' [valid]'}`;
}

function mutate3(rng: Rng, f: H3RawFrame): H3RawFrame {
  if (rng.chance(0.3)) return f;
  let out = { ...f, mutations: [...f.mutations] };
  for (let n = rng.range(1, 2); n > 0; n--) {
    const p = out.payload;
    switch (rng.int(11)) {
      case 0: {
        const q = p.length > 0 ? p.slice() : rng.bytes(1);
        for (let i = rng.range(1, 8); i > 0; i--) q[rng.int(q.length)]! ^= 1 << rng.int(8);
        out = { ...out, payload: q, claimedLength: undefined, mutations: [...out.mutations, 'bitflips'] };
        break;
      }
      case 1:
        out = { ...out, payload: p.subarray(0, rng.int(p.length)), claimedLength: undefined, mutations: [...out.mutations, 'truncated'] };
        break;
      case 2:
        out = { ...out, payload: concatBytes(p, rng.bytes(rng.range(1, 32))), claimedLength: undefined, mutations: [...out.mutations, 'trailing bytes'] };
        break;
      case 3: {
        const claim = BigInt(p.length + rng.range(1, 64));
        out = { ...out, claimedLength: claim, mutations: [...out.mutations, `length field ${claim}`] };
        break;
      }
      case 4: {
        const claim = BigInt(rng.int(p.length + 1));
        out = { ...out, claimedLength: claim, mutations: [...out.mutations, `length field ${claim} of ${p.length}`] };
        break;
      }
      case 5: {
        const claim = rng.pick([65_537n, 16_777_216n, 1n << 30n, (1n << 62n) - 1n]);
        out = { ...out, claimedLength: claim, mutations: [...out.mutations, `length field ${claim} (oversize claim)`] };
        break;
      }
      case 6: {
        const type = rng.pick([0x2n, 0x6n, 0x8n, 0x9n, 0x21n, 0x40n, 0xf0700n, BigInt(rng.int(0x4000)), BigInt(P.frames.SERVER_CERTIFICATE), BigInt(P.frames.CLIENT_CERTIFICATE), BigInt(P.frames.AUTHENTICATOR_REQUESTS), BigInt(rng.int(16))]);
        out = { ...out, type, mutations: [...out.mutations, `type 0x${type.toString(16)}`] };
        break;
      }
      case 7:
        out = { ...out, payload: rng.bytes(rng.length(2048)), claimedLength: undefined, mutations: [...out.mutations, 'random payload'] };
        break;
      case 8:
        out = { ...out, on: out.on === 'control' ? 'request' : 'control', mutations: [...out.mutations, 'moved to the other stream'] };
        break;
      case 9:
        out = { ...out, payload: new Uint8Array(0), claimedLength: undefined, mutations: [...out.mutations, 'empty payload'] };
        break;
      default: {
        const q = p.slice();
        if (q.length > 0) q[rng.int(q.length)] = rng.pick([0x00, 0xff, 0x3f, 0x40, 0x80, 0xc0]);
        out = { ...out, payload: q, claimedLength: undefined, mutations: [...out.mutations, 'byte set'] };
      }
    }
  }
  return out;
}

function settingsPayload3(rng: Rng, valid: boolean): Uint8Array {
  const m = new Map<number, number>([
    [0x1, 0],
    [0x7, 0],
    [P.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, 1],
  ]);
  if (rng.chance(0.5)) m.set(P.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH, rng.pick([1, 4]));
  if (!valid) {
    for (let i = rng.range(1, 3); i > 0; i--) m.set(rng.pick([0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x33, P.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, 0x21 + 0x1f * rng.int(100), rng.int(0x4000)]), rng.pick([0, 1, 2, 0x3fffffff, rng.u32()]));
  }
  // By hand, not encodeSettings: that refuses the reserved ids a fuzzer wants to send.
  return concatBytes(...[...m].flatMap(([id, value]) => [encodeVarint(id), encodeVarint(value)]));
}

function headers(fields: [string, string][]): Uint8Array {
  return encodeFieldSection(fields.map(([name, value]) => ({ name, value })));
}

async function authenticatorFrom(keysOf: () => TransportConnection['keys'], identity: LoadedIdentity, rng: Rng): Promise<Uint8Array> {
  try {
    return await createAuthenticator({ keys: keysOf(), creator: 'server', certificateChain: identity.chain, signer: identity.signer });
  } catch {
    return rng.bytes(rng.range(1, 400));
  }
}

/** Frames on the control stream and a request stream that both sides parse. */
function commonGens(rng: Rng): (() => H3RawFrame)[] {
  return [
    () => f3('SETTINGS (a second one)', TYPE.SETTINGS, settingsPayload3(rng, rng.chance(0.5)), 'control'),
    () => f3('GOAWAY', TYPE.GOAWAY, encodeGoawayFrame(rng.pick([0, 4, 8, 1, 3, 2 ** 40])).subarray(2), 'control'),
    () => f3('MAX_PUSH_ID', TYPE.MAX_PUSH_ID, encodeVarint(rng.pick([0, 10, 2 ** 30])), 'control'),
    () => f3('CANCEL_PUSH', TYPE.CANCEL_PUSH, encodeVarint(rng.int(10)), 'control'),
    () => f3('DATA on control', TYPE.DATA, rng.bytes(rng.length(64)), 'control'),
    () => f3(`reserved HTTP/2 type`, rng.pick([0x2, 0x6, 0x8, 0x9]), rng.bytes(rng.length(16)), rng.chance(0.5) ? 'control' : 'request'),
    () => f3('unknown (GREASE)', 0x21 + 0x1f * rng.int(1000), rng.bytes(rng.length(64)), rng.chance(0.5) ? 'control' : 'request'),
    () => f3('unknown', rng.int(0x4000), rng.bytes(rng.length(256)), rng.chance(0.5) ? 'control' : 'request'),
    () => f3('DATA', TYPE.DATA, rng.bytes(rng.length(4096)), 'request'),
    () => f3('HEADERS (random field section)', TYPE.HEADERS, rng.bytes(rng.length(128)), 'request'),
  ];
}

export async function h3ServerTarget(): Promise<Target> {
  const { pki, ids, loaded } = await fuzzPki();
  let log = new CaseLog('h3-server', 'setup');
  const server = await createH3SecondaryCertServer(
    { cert: ids.a.chainPem, key: ids.a.keyPem, host: '127.0.0.1', port: 0, identities: [ids.b, ids.c].map((id) => ({ chain: id.chainDer, key: id.keyPkcs8Der })) },
    async (req, res) => {
      try {
        if (req.method === 'POST') await req.body();
        await res.end(200, { 'content-type': 'text/plain' }, 'hello over HTTP/3\n');
      } catch (e) {
        log.error('H3 handler (req.body / res.end)', e);
      }
    },
  );
  server.on('protocolError', (e) => {
    if (!(e instanceof H3ConnectionError)) log.find('untyped-error', `protocolError with ${String(e)}`);
  });
  const port = server.port;
  const authority = `a.example:${port}`;
  const connectRaw = () => connectQuic({ host: '127.0.0.1', port, servername: 'a.example', ca: pki.caPem, timeoutMs: BOUND_MS });

  return {
    name: 'h3-server',
    async runCase(seed, caseLog) {
      log = caseLog;
      const rng = new Rng(seed);
      let t: TransportConnection;
      try {
        t = await connectRaw();
      } catch (e) {
        return log.find('liveness', `QUIC connection to the server failed before the case: ${String(e)}`);
      }
      t.onStream((s) => drain(s));
      try {
        const control = t.openStream('uni').writable!.getWriter();
        const settingsValid = rng.chance(0.85);
        const first: H3RawFrame = f3('SETTINGS', TYPE.SETTINGS, settingsPayload3(rng, settingsValid), 'control');
        const settings = rng.chance(0.9) ? first : mutate3(rng, first);
        log.frames.push(`control stream type 0x0, ${describe3(settings)}`);
        void control.write(concatBytes(encodeVarint(0), encode3(settings))).catch(() => undefined);
        const gens: (() => H3RawFrame | Promise<H3RawFrame>)[] = [
          () => f3('HEADERS GET /', TYPE.HEADERS, headers([[':method', 'GET'], [':scheme', 'https'], [':authority', authority], [':path', '/']]), 'request'),
          () => f3('HEADERS POST /', TYPE.HEADERS, headers([[':method', 'POST'], [':scheme', 'https'], [':authority', rng.pick([authority, 'b.example', 'evil.example'])], [':path', rng.pick(['/', '*', '', 'x'])]]), 'request'),
          () => f3('HEADERS with a big field', TYPE.HEADERS, headers([[':method', 'GET'], [':scheme', 'https'], [':authority', authority], [':path', '/'], ['x-big', 'x'.repeat(rng.pick([1000, 70_000]))]]), 'request'),
          async () => f3('SERVER_CERTIFICATE (from a client)', P.frames.SERVER_CERTIFICATE, await authenticatorFrom(() => t.keys, loaded.b, rng), 'control'),
          async () => f3('CLIENT_CERTIFICATE', P.frames.CLIENT_CERTIFICATE, await authenticatorFrom(() => t.keys, loaded.alice, rng), 'control'),
          () => f3('AUTHENTICATOR_REQUESTS (from a client)', P.frames.AUTHENTICATOR_REQUESTS, encodeAuthenticatorRequests({ requests: [createRequest({ creator: 'client', serverName: 'b.example' }).bytes] }), 'control'),
          () => f3('ORIGIN (from a client)', TYPE.ORIGIN, encodeOriginFrame(['https://b.example']).subarray(2), 'control'),
          () => f3('PUSH_PROMISE (from a client)', TYPE.PUSH_PROMISE, concatBytes(encodeVarint(0), headers([[':status', '200']])), 'request'),
          ...commonGens(rng),
        ];
        const frames: H3RawFrame[] = [];
        for (let i = rng.range(1, 5); i > 0; i--) frames.push(mutate3(rng, await rng.pick(gens)()));
        for (const f of frames) log.frames.push(describe3(f));
        const controlBytes = frames.filter((f) => f.on === 'control').map(encode3);
        if (controlBytes.length > 0) void control.write(concatBytes(...controlBytes)).catch(() => undefined);
        const requestFrames = frames.filter((f) => f.on === 'request');
        if (requestFrames.length > 0) {
          const s = t.openStream('bidi');
          drain(s);
          const w = s.writable!.getWriter();
          void w.write(concatBytes(...requestFrames.map(encode3))).catch(() => undefined);
          if (rng.chance(0.8)) void w.close().catch(() => undefined);
        }
        if (rng.chance(0.05)) {
          log.frames.push('control stream closed (FIN)');
          void control.close().catch(() => undefined);
        }
        // The connection must answer a fresh request or close, within the bound.
        const answered = (async (): Promise<string> => {
          const s = await t.openStreamWhenAllowed('bidi', BOUND_MS);
          const w = s.writable!.getWriter();
          await w.write(encode3(f3('HEADERS', TYPE.HEADERS, headers([[':method', 'GET'], [':scheme', 'https'], [':authority', authority], [':path', '/']]), 'request')));
          await w.close();
          const r = s.readable!.getReader();
          const first = await r.read();
          r.cancel().catch(() => undefined);
          return first.done ? 'stream ended' : 'answered';
        })().catch(() => 'stream failed');
        const result = await within(Promise.race([answered, t.closed.then(() => 'closed')]), BOUND_MS);
        if (result === 'timeout') log.find('hang', `the server neither answered a request nor closed the connection within ${BOUND_MS} ms`);
      } finally {
        await within(t.close(0x100), BOUND_MS);
      }
      await h3Liveness(`https://${authority}/`, pki.caPem, log);
    },
    close: () => server.close(0x100),
  };
}

async function h3Liveness(url: string, ca: string, log: CaseLog, check?: (c: H3SecondaryCertConnection) => void): Promise<void> {
  let c: H3SecondaryCertConnection;
  try {
    c = await connectH3(url, { ca: [ca], connectAddress: '127.0.0.1', lookup: async () => ['127.0.0.1'], requestTimeoutMs: BOUND_MS, connectTimeoutMs: BOUND_MS });
  } catch (e) {
    return log.find('liveness', `connectH3 after the case failed: ${String(e)}`);
  }
  check?.(c);
  try {
    const r = await within(c.request(url), BOUND_MS + 1000);
    if (r === 'timeout' || r.status !== 200) log.find('liveness', `a fresh HTTP/3 connection after the case got ${r === 'timeout' ? 'no answer' : `status ${r.status}`}`);
  } catch (e) {
    log.find('liveness', `a fresh HTTP/3 request after the case failed: ${String(e)}`);
  } finally {
    await within(c.close(), BOUND_MS);
  }
}

/** Reads and drops a stream's bytes (the peer's control and QPACK streams, responses we do not parse). */
function drain(s: TransportStream): void {
  if (!s.readable) return;
  const r = s.readable.getReader();
  const loop = (): void => void r.read().then((x) => (x.done ? undefined : loop()), () => undefined);
  loop();
}

type H3Script = (t: TransportConnection) => Promise<void>;

export async function h3ClientTarget(): Promise<Target> {
  const { pki, ids, loaded } = await fuzzPki();
  let script: H3Script | undefined;
  const server = await listenQuic({ host: '127.0.0.1', port: 0, cert: ids.a.chainPem, key: ids.a.keyPem });
  server.onConnection((t) => {
    const run = script;
    script = undefined;
    void (run ?? serveQuietly)(t).catch(() => undefined);
  });
  const url = `https://a.example:${server.port}/`;

  return {
    name: 'h3-client',
    async runCase(seed, log) {
      const rng = new Rng(seed);
      let done!: () => void;
      const serverSide = new Promise<void>((r) => (done = r));
      script = async (t) => {
        try {
          const control = t.openStream('uni').writable!.getWriter();
          const first = f3('SETTINGS', TYPE.SETTINGS, settingsPayload3(rng, rng.chance(0.85)), 'control');
          const settings = rng.chance(0.9) ? first : mutate3(rng, first);
          log.frames.push(`control stream type 0x0, ${describe3(settings)}`);
          void control.write(concatBytes(encodeVarint(0), encode3(settings))).catch(() => undefined);
          const identity = rng.chance(0.8) ? rng.pick([loaded.b, loaded.c]) : loaded.stranger;
          const gens: (() => H3RawFrame | Promise<H3RawFrame>)[] = [
            async () => f3('SERVER_CERTIFICATE', P.frames.SERVER_CERTIFICATE, await authenticatorFrom(() => t.keys, identity, rng), 'control'),
            async () => f3('SERVER_CERTIFICATE', P.frames.SERVER_CERTIFICATE, await authenticatorFrom(() => t.keys, identity, rng), 'control'),
            () => f3('AUTHENTICATOR_REQUESTS', P.frames.AUTHENTICATOR_REQUESTS, encodeAuthenticatorRequests({ requests: [createRequest({ creator: 'server' }).bytes] }), 'control'),
            () => f3('CLIENT_CERTIFICATE (from a server)', P.frames.CLIENT_CERTIFICATE, rng.bytes(rng.range(1, 100)), 'control'),
            () => f3('ORIGIN', TYPE.ORIGIN, encodeOriginFrame(rng.chance(0.5) ? ['https://b.example', `https://c.example:${server.port}`] : ['', 'x', 'https://[::1]']).subarray(2), 'control'),
            () => f3('HEADERS :status 200', TYPE.HEADERS, headers([[':status', rng.pick(['200', '200', '103', '421', 'abc', ''])]]), 'request'),
            () => f3('PUSH_PROMISE', TYPE.PUSH_PROMISE, concatBytes(encodeVarint(0), headers([[':method', 'GET'], [':path', '/']])), 'request'),
            ...commonGens(rng),
          ];
          const frames: H3RawFrame[] = [];
          for (let i = rng.range(1, 5); i > 0; i--) frames.push(mutate3(rng, await rng.pick(gens)()));
          for (const f of frames) log.frames.push(describe3(f));
          const controlBytes = frames.filter((f) => f.on === 'control').map(encode3);
          if (controlBytes.length > 0) void control.write(concatBytes(...controlBytes)).catch(() => undefined);
          const responseFrames = frames.filter((f) => f.on === 'request').map(encode3);
          const finEarly = rng.chance(0.1);
          // The client's first request gets the fuzzed frames as its response; later ones a plain 200.
          let firstRequest = true;
          t.onStream((s) => {
            if (!s.bidirectional || !s.writable) return drain(s);
            drain(s);
            const w = s.writable.getWriter();
            const ok = encode3(f3('HEADERS', TYPE.HEADERS, headers([[':status', '200']]), 'request'));
            const bytes = firstRequest && (responseFrames.length > 0 || finEarly) ? concatBytes(...responseFrames) : ok;
            if (firstRequest && finEarly) log.frames.push('first response stream ended (FIN) after its frames');
            firstRequest = false;
            void w.write(bytes).then(() => w.close()).catch(() => undefined);
          });
        } finally {
          done();
        }
      };
      let c: H3SecondaryCertConnection;
      try {
        c = await connectH3(url, { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup: async () => ['127.0.0.1'], requestTimeoutMs: 3000, connectTimeoutMs: BOUND_MS });
      } catch (e) {
        script = undefined;
        return log.error('connectH3()', e);
      }
      c.on('protocolError', (e) => {
        if (!(e instanceof H3ConnectionError)) log.find('untyped-error', `protocolError with ${String(e)}`);
      });
      try {
        await within(serverSide, BOUND_MS);
        const first = c.request(url).then(
          () => 'response',
          (e: unknown) => (log.error('request()', e), 'error'),
        );
        if ((await within(first, BOUND_MS)) === 'timeout') log.find('hang', `a request neither completed nor failed within ${BOUND_MS} ms (its timeout is 3000 ms)`);
        if (!c.closed) {
          const second = c.request(url).then(
            () => 'response',
            (e: unknown) => (log.error('second request()', e), 'error'),
          );
          if ((await within(second, BOUND_MS)) === 'timeout') log.find('hang', `a second request neither completed nor failed within ${BOUND_MS} ms`);
        }
      } finally {
        await within(c.close(), BOUND_MS);
      }
      await h3Liveness(url, pki.caPem, log);
    },
    close: () => server.close(0x100),
  };
}

/** A well-behaved HTTP/3 server: SETTINGS, then 200 to every request. */
async function serveQuietly(t: TransportConnection): Promise<void> {
  const control = t.openStream('uni').writable!.getWriter();
  void control.write(concatBytes(encodeVarint(0), encode3(f3('SETTINGS', TYPE.SETTINGS, encodeSettings(new Map([[P.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, 1]])), 'control')))).catch(() => undefined);
  t.onStream((s) => {
    drain(s);
    if (!s.bidirectional || !s.writable) return;
    const w = s.writable.getWriter();
    void w.write(encode3(f3('HEADERS', TYPE.HEADERS, headers([[':status', '200']]), 'request'))).then(() => w.close()).catch(() => undefined);
  });
}
