import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createSecondaryCertServer, type SecondaryCertServer } from '../src/h2/server.js';
import { H2ConnectionError } from '../src/errors.js';
import { installOptionsStar } from '../src/flows/options-star/server.js';
import { exporterSettingValue } from '../src/flows/client-auth/negotiation.js';
import { ClientAuthServer } from '../src/flows/client-auth/server.js';
import { ServerCerts06Server } from '../src/flows/server-certs-06/server.js';
import { ClientCertificateAborted, ClientCertificateRefused, ClientCertificateTimeout, SecondaryCertsError } from '../src/errors.js';
import { clientFrames, optionsStarHeaders, S, type H2Context } from './h2-frames.js';
import { describe, encodeRaw, frame, hpackLiterals, PREFACE, settingsPayload, T, type RawFrame } from './h2-raw.js';
import { RawPeer } from './h2-peer.js';
import { mutateH2 } from './mutate-h2.js';
import { BOUND_MS, CaseLog, within, type Target } from './oracle.js';
import { fuzzPki } from './pki.js';
import { Rng } from './rng.js';
import { createRequest } from '../src/ea/index.js';

// Target: our HTTP/2 server with secondary identities, both client-certificate flows and OPTIONS *
// (the demo server's set-up plus clientAuth), driven by a raw TLS client that speaks HTTP/2 by hand.

export async function h2ServerTarget(): Promise<Target> {
  const { pki, ids, loaded } = await fuzzPki();
  let log = new CaseLog('h2-server', 'setup');
  const clientAuth = new ClientAuthServer({ trustAnchors: [pki.caPem], timeoutMs: 2000 });
  const { server, extension } = await createSecondaryCertServer({
    key: ids.a.keyPem,
    cert: ids.a.chainPem,
    minVersion: 'TLSv1.3',
    identities: [ids.b, ids.c].map((id) => ({ chain: id.chainDer, key: id.keyPkcs8Der })),
    // -06 server certificates too (CERTIFICATE_REQUEST / CERTIFICATE_NEEDED from the client).
    extensions: [clientAuth, new ServerCerts06Server({ identities: [ids.b, ids.c].map((id) => ({ chain: id.chainDer, key: id.keyPkcs8Der })) })],
  });
  installOptionsStar(server, { extension });
  watch(server, extension, clientAuth, () => log);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const authority = `a.example:${port}`;

  return {
    name: 'h2-server',
    async runCase(seed, caseLog) {
      log = caseLog;
      const rng = new Rng(seed);
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'a.example', ca: pki.caPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
      socket.on('error', () => {});
      const connected = await within(new Promise<boolean>((r) => (socket.once('secureConnect', () => r(true)), socket.once('close', () => r(false)))), BOUND_MS);
      if (connected !== true) {
        socket.destroy();
        log.find('liveness', `TLS connection to the server failed before the case (${connected})`);
        return;
      }
      const ctx: H2Context = {
        rng,
        tlsSocket: socket,
        authority,
        exporterSetting: exporterSettingValue(socket, 'client'),
        identities: rng.chance(0.85) ? [loaded.alice] : [loaded.stranger],
        certRequests: new Map(),
        needed: [],
        authRequests: [],
        streams: [],
        nextStreamId: 1,
      };
      const peer = new RawPeer(socket, ctx, false);
      try {
        // Preface and SETTINGS: the extension's settings, each now and then missing or wrong.
        const entries: [number, number][] = [];
        if (rng.chance(0.9)) entries.push([S.SETTINGS_HTTP_SERVER_CERT_AUTH, rng.chance(0.9) ? 1 : rng.pick([0, 2, rng.u32()])]);
        if (rng.chance(0.8)) entries.push([S.SETTINGS_HTTP_CERT_AUTH, rng.chance(0.9) ? ctx.exporterSetting : rng.u32()]);
        if (rng.chance(0.8)) entries.push([S.SETTINGS_HTTP_CLIENT_CERT_AUTH, rng.pick([1, 2, 4, 0, 0xffffffff])]);
        if (rng.chance(0.3)) entries.push([0x5, rng.pick([16_384, 65_536, 16_777_215])]);
        peer.write(Buffer.concat([PREFACE, encodeRaw(frame('SETTINGS', T.SETTINGS, 0, 0, settingsPayload(entries)))]));
        log.frames.push(`preface, SETTINGS ${entries.map(([k, v]) => `0x${k.toString(16)}=${v}`).join(' ')}`);
        await peer.until(() => peer.peerSettingsSeen, BOUND_MS);
        // Requests that make the server ask for a certificate, or answer with an authenticator.
        const prelude: RawFrame[] = [];
        if (rng.chance(0.6)) prelude.push(requestFrame(ctx, '/protected'));
        if (rng.chance(0.3)) {
          const id = ctx.nextStreamId;
          ctx.nextStreamId += 2;
          ctx.streams.push(id);
          prelude.push(frame('HEADERS OPTIONS *', T.HEADERS, 0x4, id, optionsStarHeaders(ctx)));
          prelude.push(frame('DATA (OPTIONS * body)', T.DATA, 0x1, id, createRequest({ creator: 'client', serverName: rng.pick(['b.example', 'c.example']) }).bytes));
        }
        for (const f of prelude) log.frames.push(`prelude: ${f.name} stream ${f.streamId}`);
        if (prelude.length > 0) {
          peer.write(Buffer.concat(prelude.map(encodeRaw)));
          await peer.until(() => ctx.needed.length > 0 || ctx.authRequests.length > 0, 300);
        }
        const gens = clientFrames(ctx);
        const frames: RawFrame[] = [];
        for (let i = rng.range(1, 5); i > 0; i--) frames.push(...mutateH2(rng, await rng.pick(gens)()));
        for (const f of frames) log.frames.push(describe(f));
        await peer.sendAndCheck(frames, log, 'the server');
      } finally {
        socket.destroy();
      }
      await liveness(port, pki.caPem, log);
    },
    close: () =>
      new Promise((r) => {
        for (const c of extension.connections) c.session.destroy();
        server.close(() => r());
      }),
  };
}

function requestFrame(ctx: H2Context, path: string): RawFrame {
  const id = ctx.nextStreamId;
  ctx.nextStreamId += 2;
  ctx.streams.push(id);
  return frame(`HEADERS GET ${path}`, T.HEADERS, 0x5, id, hpackLiterals([[':method', 'GET'], [':scheme', 'https'], [':authority', ctx.authority], [':path', path]]));
}

/** Every error and event the server's API gives, checked against the oracle of the current case. */
function watch(server: http2.Http2SecureServer, extension: SecondaryCertServer, clientAuth: ClientAuthServer, log: () => CaseLog): void {
  server.on('sessionError', (e) => log().error('server sessionError', e));
  server.on('session', (session) => session.on('error', (e) => log().error('session error', e)));
  extension.on('protocolError', (e) => {
    if (!(e instanceof H2ConnectionError)) log().find('untyped-error', `extension protocolError with ${String(e)}`);
  });
  clientAuth.on('protocolError', (e) => {
    if (!(e instanceof H2ConnectionError)) log().find('untyped-error', `clientAuth protocolError with ${String(e)}`);
  });
  clientAuth.on('refused', (e) => log().error('clientAuth refused', e));
  server.on('stream', (stream, headers) => {
    stream.on('error', (e) => log().error('stream error', e));
    if (headers[':path'] === '/protected') {
      clientAuth.requireClientCertificate(stream).then(
        (id) => {
          if (stream.destroyed || stream.closed) return;
          stream.respond({ ':status': 200 });
          stream.end(`hello ${id.certificate.leaf.subject}`);
        },
        (e: unknown) => {
          // Documented: these three and nothing else.
          if (!(e instanceof ClientCertificateRefused || e instanceof ClientCertificateTimeout || e instanceof ClientCertificateAborted)) {
            log().find('untyped-error', `requireClientCertificate rejected with ${e instanceof SecondaryCertsError ? e.code : String(e)}`);
          }
          if (!stream.destroyed && !stream.closed && !stream.headersSent) {
            stream.respond({ ':status': (e as { status?: number }).status ?? 500 });
            stream.end();
          }
        },
      );
      return;
    }
    if (headers[':method'] === 'OPTIONS') return; // installOptionsStar answers it
    if (stream.destroyed || stream.closed) return;
    stream.respond({ ':status': 200 });
    stream.end('open');
  });
}

/** A fresh connection must still be served: GET / answers 200 within the bound. */
export async function liveness(port: number, ca: string, log: CaseLog): Promise<void> {
  const session = http2.connect(`https://a.example:${port}`, {
    createConnection: () => tls.connect({ host: '127.0.0.1', port, servername: 'a.example', ca, ALPNProtocols: ['h2'] }),
  });
  session.on('error', () => {});
  try {
    const status = await within(
      new Promise<number>((resolve) => {
        const req = session.request({ ':path': '/', ':authority': `a.example:${port}` });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', () => resolve(-1));
        req.on('close', () => resolve(-2));
        req.end();
      }),
      BOUND_MS,
    );
    if (status !== 200) log.find('liveness', `a fresh connection after the case got ${status === 'timeout' ? `no answer within ${BOUND_MS} ms` : `status ${status}`}`);
  } finally {
    session.destroy();
  }
}

