import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { connect } from '../src/h2/client.js';
import { createSecondaryCertServer } from '../src/h2/server.js';
import { ClientAuthServer } from '../src/flows/client-auth/server.js';
import { encodeRaw, frame, hpackLiterals, PREFACE, settingsPayload } from './h2-raw.js';
import { S } from './h2-frames.js';
import { fuzzPki } from './pki.js';

// Minimal reproductions by hand: `node dist/fuzz/replay-bytes.js h2-client|h2-server [--plain] HEX...`
// sends the given frames (hex, as FUZZ_DUMP prints them) after the SETTINGS exchange, with one request
// open, to our client (from a raw server) or our server (from a raw client), and prints what happened
// over 3 s. --plain uses node:http2 without the library, to tell Node's behaviour from ours.

const [who, ...rest] = process.argv.slice(2);
const plain = rest.includes('--plain');
const frames = rest.filter((a) => a !== '--plain').map((h) => Buffer.from(h, 'hex'));
const t0 = Date.now();
const say = (what: string): void => void process.stdout.write(`${String(Date.now() - t0).padStart(5)} ms  ${what}\n`);
process.on('uncaughtException', (e) => {
  say(`CRASH: uncaughtException ${e.constructor.name}: ${e.message}`);
  process.exit(1);
});
process.on('unhandledRejection', (e) => {
  say(`CRASH: unhandledRejection ${String(e)}`);
  process.exit(1);
});

const { pki, ids } = await fuzzPki();
const watchSocket = (s: tls.TLSSocket, side: string): void => {
  s.on('data', (d: Buffer) => {
    for (let at = 0; at + 9 <= d.length; at += 9 + d.readUIntBE(at, 3)) {
      if (d[at + 3] === 0x7 && at + 17 <= d.length) say(`${side} sent GOAWAY, code 0x${d.readUInt32BE(at + 13).toString(16)}`);
    }
  });
  s.on('close', () => say(`the TCP connection closed`));
  s.on('error', () => {});
};

if (who === 'h2-client') {
  const server = tls.createServer({ key: ids.a.keyPem, cert: ids.a.chainPem, ALPNProtocols: ['h2'] }, (s) => {
    watchSocket(s, 'the client');
    s.write(encodeRaw(frame('SETTINGS', 4, 0, 0, settingsPayload([[S.SETTINGS_HTTP_SERVER_CERT_AUTH, 1]]))));
    setTimeout(() => {
      say(`sending ${frames.length} frame(s)`);
      for (const f of frames) s.write(f);
    }, 200);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const session = plain
    ? http2.connect(`https://a.example:${port}`, { createConnection: () => tls.connect({ host: '127.0.0.1', port, servername: 'a.example', ca: pki.caPem, ALPNProtocols: ['h2'] }) })
    : (await connect(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' })).session;
  session.on('error', (e) => say(`session error ${(e as { code?: string }).code ?? e.message}`));
  const req = session.request({ ':path': '/', ':authority': `a.example:${port}` });
  req.on('error', (e) => say(`request error ${(e as { code?: string }).code ?? e.message}`));
  req.end();
} else if (who === 'h2-server') {
  const options = { key: ids.a.keyPem, cert: ids.a.chainPem };
  const server = plain ? http2.createSecureServer(options) : (await createSecondaryCertServer({ ...options, identities: [{ chain: ids.b.chainDer, key: ids.b.keyPkcs8Der }], extensions: [new ClientAuthServer({ trustAnchors: [pki.caPem] })] })).server;
  server.on('sessionError', (e) => say(`sessionError ${(e as { code?: string }).code ?? e.message}`));
  server.on('stream', (stream) => stream.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.example', ca: pki.caPem, ALPNProtocols: ['h2'] });
  watchSocket(s, 'the server');
  await new Promise((r) => s.once('secureConnect', r));
  s.write(Buffer.concat([PREFACE, encodeRaw(frame('SETTINGS', 4, 0, 0, settingsPayload([[S.SETTINGS_HTTP_SERVER_CERT_AUTH, 1]])))]));
  s.write(encodeRaw(frame('HEADERS', 1, 0x5, 1, hpackLiterals([[':method', 'GET'], [':scheme', 'https'], [':authority', `a.example:${port}`], [':path', '/hold']]))));
  setTimeout(() => {
    say(`sending ${frames.length} frame(s)`);
    for (const f of frames) s.write(f);
  }, 200);
} else {
  process.stderr.write('usage: node dist/fuzz/replay-bytes.js h2-client|h2-server [--plain] HEX...\n');
  process.exit(2);
}
setTimeout(() => {
  say('done (3 s)');
  process.exit(0);
}, 3000);
