// An extension of our own plugs into both HTTP/2 connections through the context they offer, and nothing
// else: over real TLS on loopback, the client's extension sends SETTINGS and then a frame of a type only it
// knows, the server's extension answers it, each sees the other side's streams, both derive the same
// exporter value, and fail() ends the connection with the code asked for.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type * as http2 from 'node:http2';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer, type ServerConnection } from '../../src/h2/server.js';
import { connect, type SecondaryCertConnection } from '../../src/h2/client.js';
import type { H2Extension, H2ExtensionContext } from '../../src/h2/extension.js';
import { H2ConnectionError, H2ErrorCode } from '../../src/errors.js';

const ECHO = 0xe0; // a frame type no profile uses
const SETTING = 0xe0e0;

let pki: TestPki;
let a: IssuedIdentity;
before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example'] });
});

const exporter = (context: H2ExtensionContext): string => Buffer.from(context.exportKeyingMaterial(16, 'EXPORTER-extension-test')).toString('hex');

test('an extension gets its frames, the peer SETTINGS, the streams and the keys through the context, on both sides', async () => {
  const seen: { serverSettings?: number; serverPaths: string[]; serverExporter?: string; servedAfterExtension: boolean[] } = { serverPaths: [], servedAfterExtension: [] };
  const serverSide: H2Extension<ServerConnection> = {
    frameTypes: () => [ECHO],
    attach(context) {
      assert.equal(context.role, 'server');
      seen.serverExporter = exporter(context);
      context.onPeerSettings((settings) => {
        if (settings.has(SETTING)) seen.serverSettings = settings.get(SETTING);
      });
      context.onFrame((header, payload) => {
        if (header.type === ECHO) context.sendFrame(ECHO, 0, Buffer.from(payload).reverse());
      });
      context.onStream((_stream, headers) => seen.serverPaths.push(String(headers[':path'])));
    },
  };
  const { server } = await createSecondaryCertServer({ key: a.keyPem, cert: a.chainPem, extensions: [serverSide] });
  const goaways: number[] = [];
  server.on('session', (s: http2.ServerHttp2Session) => {
    s.on('error', () => {});
    s.on('goaway', (code: number) => goaways.push(code));
  });
  server.on('stream', (stream, headers) => {
    // The extension saw the stream before the application did.
    seen.servedAfterExtension.push(seen.serverPaths.includes(String(headers[':path'])));
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  let clientContext: H2ExtensionContext | undefined;
  const clientAuthorities: string[] = [];
  let echoed!: (payload: string) => void;
  const echo = new Promise<string>((r) => (echoed = r));
  const clientSide: H2Extension<SecondaryCertConnection> = {
    frameTypes: () => [ECHO],
    attach(context, connection) {
      assert.equal(context.role, 'client');
      assert.equal(context.origin, connection.origin);
      clientContext = context;
      // The frame leaves only once the SETTINGS announcing it are on the wire.
      context.sendSettings({ customSettings: { [SETTING]: 7 } }, () => context.sendFrame(ECHO, 0, Buffer.from('ping')));
      context.onFrame((_header, payload) => echoed(Buffer.from(payload).toString()));
      context.onStream((_stream, headers) => clientAuthorities.push(String(headers[':authority'])));
    },
  };
  const conn = await connect(`https://a.example:${port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', extensions: [clientSide] });
  try {
    assert.equal(await echo, 'gnip');
    const r = await conn.request(`https://a.example:${port}/x`);
    assert.equal(r.status, 200);
    assert.deepEqual(seen.serverPaths, ['/x']);
    assert.deepEqual(seen.servedAfterExtension, [true]);
    assert.deepEqual(clientAuthorities, [`a.example:${port}`]);
    assert.equal(seen.serverSettings, 7);
    assert.equal(exporter(clientContext!), seen.serverExporter, 'both ends of one TLS connection');
    assert.equal(clientContext!.tlsProtocol, 'TLSv1.3');
    assert.equal(clientContext!.closed, false);

    // fail(): the connection's 'protocolError', then GOAWAY with the code.
    const closed = new Promise<void>((r) => conn.once('close', () => r()));
    const reported = new Promise<H2ConnectionError>((r) => conn.once('protocolError', r));
    clientContext!.fail(new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, 'the extension gave up'));
    assert.equal((await reported).wireCode, H2ErrorCode.ENHANCE_YOUR_CALM);
    assert.equal(clientContext!.closed, true);
    await closed;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(goaways, [H2ErrorCode.ENHANCE_YOUR_CALM]);
  } finally {
    await conn.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
