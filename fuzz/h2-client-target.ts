import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { ClientHttp2Stream } from 'node:http2';
import { connect, type SecondaryCertConnection } from '../src/h2/client.js';
import { H2ConnectionError } from '../src/errors.js';
import { ClientCertificates } from '../src/flows/client-auth/credentials.js';
import { ClientAuthClient } from '../src/flows/client-auth/client.js';
import { ServerCerts06Client } from '../src/flows/server-certs-06/client.js';
import { exporterSettingValue } from '../src/flows/client-auth/negotiation.js';
import { proveOrigin } from '../src/flows/options-star/client.js';
import { answer, serverFrames, S, type H2Context } from './h2-frames.js';
import { describe, encodeRaw, frame, hpackLiterals, settingsPayload, T, type RawFrame } from './h2-raw.js';
import { RawPeer } from './h2-peer.js';
import { mutateH2 } from './mutate-h2.js';
import { BOUND_MS, CaseLog, within, type Target } from './oracle.js';
import { fuzzPki } from './pki.js';
import { Rng } from './rng.js';

// Target: our HTTP/2 client (connect(), with client certificates on) against a raw TLS server that
// answers the preface and SETTINGS, then sends fuzzed frames of every type the client parses.

type Script = (socket: tls.TLSSocket) => Promise<void>;

export async function h2ClientTarget(): Promise<Target> {
  const { pki, ids, loaded } = await fuzzPki();
  let script: Script | undefined;
  const server = tls.createServer({ key: ids.a.keyPem, cert: ids.a.chainPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' }, (socket) => {
    socket.on('error', () => {});
    const run = script;
    script = undefined;
    if (run) void run(socket).catch(() => socket.destroy());
    else serveQuietly(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const authority = `a.example:${port}`;
  const certificates = new ClientCertificates(() => loaded.alice);
  const clientAuth = new ClientAuthClient({ certificates });
  // -06 server certificates too: unsolicited CERTIFICATE / USE_CERTIFICATE, and a request of ours.
  const certs06 = new ServerCerts06Client({ timeoutMs: 2000 });

  const open = (log: CaseLog): Promise<SecondaryCertConnection | undefined> =>
    connect(`https://${authority}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', lookup: async () => ['127.0.0.1'], extensions: [clientAuth, certs06] }).then(
      (c) => {
        certs06.of(c)?.requestCertificate(`https://b.example:${port}`).catch((e: unknown) => log.error('requestCertificate()', e));
        return c;
      },
      (e: unknown) => {
        log.error('connect()', e);
        return undefined;
      },
    );

  return {
    name: 'h2-client',
    async runCase(seed, log) {
      const rng = new Rng(seed);
      // Now and then the client also asks for b.example over OPTIONS *, and the answer is fuzzed.
      const optionsStar = rng.chance(0.3);
      let serverDone!: () => void;
      const serverSide = new Promise<void>((r) => (serverDone = r));
      let peer: RawPeer | undefined;
      let outcome: string | undefined;
      script = async (socket) => {
        const ctx: H2Context = {
          rng,
          tlsSocket: socket,
          authority,
          exporterSetting: exporterSettingValue(socket, 'server'),
          identities: rng.chance(0.8) ? [loaded.b, loaded.c] : [loaded.stranger],
          certRequests: new Map(),
          needed: [],
          authRequests: [],
          streams: [],
          nextStreamId: 2,
          bodies: new Map(),
          ended: new Set(),
        };
        peer = new RawPeer(socket, ctx, true);
        try {
          const entries: [number, number][] = [];
          if (rng.chance(0.9)) entries.push([S.SETTINGS_HTTP_SERVER_CERT_AUTH, rng.chance(0.9) ? 1 : rng.pick([0, 2, rng.u32()])]);
          if (rng.chance(0.7)) entries.push([S.SETTINGS_HTTP_CERT_AUTH, rng.chance(0.9) ? ctx.exporterSetting : rng.u32()]);
          if (rng.chance(0.7)) entries.push([S.SETTINGS_HTTP_CLIENT_CERT_AUTH, rng.pick([1, 1, 0, 2])]);
          if (rng.chance(0.3)) entries.push([0x5, rng.pick([16_384, 65_536, 16_777_215])]);
          peer.write(encodeRaw(frame('SETTINGS', T.SETTINGS, 0, 0, settingsPayload(entries))));
          log.frames.push(`SETTINGS ${entries.map(([k, v]) => `0x${k.toString(16)}=${v}`).join(' ')}`);
          await peer.until(() => peer!.peerSettingsSeen && ctx.streams.length > 0, 1000);
          const gens = serverFrames(ctx);
          const frames: RawFrame[] = [];
          if (optionsStar) {
            // The OPTIONS * request is the client's second stream, 3; its body is the ClientCertificateRequest.
            peer.skipAnswer.add(3);
            await peer.until(() => ctx.ended!.has(3), 1000);
            const request = Buffer.concat(ctx.bodies!.get(3) ?? []);
            const status = rng.chance(0.85) ? '200' : rng.pick(['415', '421', '500', '204', '99']);
            const type = rng.chance(0.9) ? 'application/exported-authenticator' : rng.pick(['text/plain', '']);
            frames.push(...mutateH2(rng, frame(`HEADERS :status ${status} (OPTIONS * answer)`, T.HEADERS, 0x4, 3, hpackLiterals([[':status', status], ['content-type', type]]))));
            const body = request.length > 0 ? await answer(ctx, request, 'server') : rng.bytes(rng.range(1, 300));
            frames.push(...mutateH2(rng, frame('DATA (OPTIONS * authenticator)', T.DATA, 0x1, 3, body)));
          }
          for (let i = rng.range(1, 5); i > 0; i--) frames.push(...mutateH2(rng, await rng.pick(gens)()));
          for (const f of frames) log.frames.push(describe(f));
          outcome = await peer.sendAndCheck(frames, log, 'the client');
          if (outcome === 'answered') peer.serveRequests();
        } finally {
          serverDone();
        }
      };
      const connection = await open(log);
      if (!connection) {
        script = undefined;
        return;
      }
      try {
        watch(connection, clientAuth, log);
        request(connection, '/protected', log);
        let proof: Promise<unknown> | undefined;
        if (optionsStar) {
          proof = proveOrigin(connection, `https://b.example:${port}`, { timeoutMs: 3000 }).then(
            (r) => log.frames.push(`proveOrigin: ${r.outcome}${'reason' in r ? ` (${r.reason})` : ''}`),
            (e: unknown) => {
              log.frames.push(`proveOrigin rejected: ${(e as { code?: string }).code ?? String(e)}`);
              log.error('proveOrigin()', e);
            },
          );
        }
        await within(serverSide, 4 * BOUND_MS);
        if (outcome === 'answered' && !connection.closed && peer && !peer.closed) {
          // The connection must keep working (a PING and a request answered) or close, within the bound.
          const alive = Promise.all([
            new Promise<void>((r) => {
              try {
                connection.session.ping(() => r());
              } catch (e) {
                log.error('session.ping()', e);
                r();
              }
            }),
            request(connection, '/after', log),
          ]);
          const closed = new Promise<void>((r) => connection.once('close', () => r()));
          if ((await within(Promise.race([alive, closed]), BOUND_MS)) === 'timeout') log.find('hang', `the client neither completed a request nor closed within ${BOUND_MS} ms after the case`);
        }
        if (proof && (await within(proof, BOUND_MS)) === 'timeout') log.find('hang', `proveOrigin() neither settled nor timed out (3000 ms) within ${BOUND_MS} ms`);
      } finally {
        connection.session.destroy();
        peer?.socket.destroy();
      }
      // Liveness: a fresh connection to a well-behaved server still works in this process.
      const fresh = await open(log);
      if (!fresh) return log.find('liveness', 'connect() to a well-behaved server failed after the case');
      try {
        const r = await within(request(fresh, '/', log), BOUND_MS);
        if (r !== 200) log.find('liveness', `a fresh connection after the case got ${r === 'timeout' ? 'no answer' : `status ${r}`}`);
      } finally {
        fresh.session.destroy();
      }
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A well-behaved server: SETTINGS, ACKs, 200 to every request. */
function serveQuietly(socket: tls.TLSSocket): void {
  const ctx = { rng: new Rng(0), streams: [] as number[], certRequests: new Map(), needed: [], authRequests: [] } as unknown as H2Context;
  const peer = new RawPeer(socket, ctx, true);
  peer.write(encodeRaw(frame('SETTINGS', T.SETTINGS, 0, 0, settingsPayload([[S.SETTINGS_HTTP_SERVER_CERT_AUTH, 1]]))));
  peer.serveRequests();
}

function request(connection: SecondaryCertConnection, path: string, log: CaseLog): Promise<number> {
  let stream: ClientHttp2Stream;
  try {
    stream = connection.session.request({ ':path': path, ':authority': connection.origin.replace('https://', '') });
  } catch (e) {
    log.error(`session.request(${path})`, e);
    return Promise.resolve(-1);
  }
  return new Promise<number>((resolve) => {
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('error', (e) => log.error(`request ${path} stream error`, e));
    stream.on('close', () => resolve(status));
    stream.resume();
    stream.end();
  });
}

function watch(connection: SecondaryCertConnection, clientAuth: ClientAuthClient, log: CaseLog): void {
  connection.on('protocolError', (e) => {
    if (!(e instanceof H2ConnectionError)) log.find('untyped-error', `protocolError with ${String(e)}`);
  });
  connection.session.on('error', (e) => log.error('session error', e));
  clientAuth.of(connection)?.on('answer', (a) => {
    const err = (a as { error?: unknown }).error;
    if (err !== undefined) log.error('clientAuth answer error', err);
  });
}
