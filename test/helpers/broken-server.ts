import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { defaultCrypto } from '../../src/crypto/index.js';
import type { Signer } from '../../src/crypto/provider.js';
import { createAuthenticator } from '../../src/ea/index.js';
import { keysFromTlsSocket } from '../../src/exporter/tls-socket.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import { certificateCovers, createSecondaryCertServer, type ServerConnection } from '../../src/h2/server.js';
import { spliceServerSession, type FrameSplicer } from '../../src/h2/node/spliced-session.js';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';

// Servers that break exactly one rule of the extension on purpose: the negative cases of the checker's
// tests and of the interop runner. Each proves one secondary origin after the TLS one, and answers
// "hello from HOST" (200) for origins its certificates cover, 421 otherwise. Test use only.

export type BreakMode =
  /** The CertificateVerify signature is corrupted by the signer; the Finished is computed over it. */
  | 'bad-signature'
  /** The authenticator is made with the client's exporter labels. */
  | 'wrong-exporter'
  /** SERVER_CERTIFICATE on stream 1. */
  | 'nonzero-stream'
  /** SERVER_CERTIFICATE before the SETTINGS that carries SETTINGS_HTTP_SERVER_CERT_AUTH = 1. */
  | 'before-settings'
  /** The same authenticator (same context) sent twice. */
  | 'reused-context';

export const BREAK_MODES: readonly BreakMode[] = ['bad-signature', 'wrong-exporter', 'nonzero-stream', 'before-settings', 'reused-context'];

export interface BrokenServer {
  port: number;
  pki: TestPki;
  mode: BreakMode;
  close(): Promise<void>;
}

export interface BrokenServerOptions {
  mode: BreakMode;
  /** The TLS origin first, then the secondary one (default a.example, b.example). */
  origins?: [string, string];
  pki?: TestPki;
  host?: string;
}

/** A signer whose signatures have their last bit flipped: the signature cannot verify. */
export function corruptingSigner(signer: Signer): Signer {
  return {
    schemes: signer.schemes,
    async sign(scheme, message) {
      const sig = new Uint8Array(await signer.sign(scheme, message));
      sig[sig.length - 1] = (sig[sig.length - 1] as number) ^ 0x01;
      return sig;
    },
  };
}

export async function startBrokenServer(options: BrokenServerOptions): Promise<BrokenServer> {
  const [primaryName, secondaryName] = options.origins ?? ['a.example', 'b.example'];
  const pki = options.pki ?? (await TestPki.create({ commonName: 'secondary-certs broken-server CA' }));
  const primary = await pki.issue({ dnsNames: [primaryName], keyType: 'p256' });
  const secondary = await pki.issue({ dnsNames: [secondaryName], keyType: 'p256' });
  const signer = await defaultCrypto().signerFromPrivateKey(secondary.keyPkcs8Der);
  const profile = DEFAULT_PROFILE;
  const sessions = new Set<http2.ServerHttp2Session>();
  let server: http2.Http2SecureServer;
  const covered = (session: http2.Http2Session | undefined, host: string): boolean => {
    const tlsCert = (session?.socket as TLSSocket | undefined)?.getX509Certificate?.();
    return (tlsCert !== undefined && certificateCovers(tlsCert, host)) || host === secondaryName;
  };

  if (options.mode === 'bad-signature') {
    // The project's own server, given a signer that lies: the real code path with one broken part.
    const made = await createSecondaryCertServer({ key: primary.keyPem, cert: primary.chainPem, minVersion: 'TLSv1.3', identities: [{ chain: secondary.chainDer, signer: corruptingSigner(signer) }] });
    server = made.server;
  } else if (options.mode === 'before-settings') {
    server = beforeSettingsServer(primary, secondary, signer);
  } else {
    const made = await createSecondaryCertServer({ key: primary.keyPem, cert: primary.chainPem, minVersion: 'TLSv1.3', sendOnConnect: false });
    server = made.server;
    made.extension.on('negotiated', (connection: ServerConnection) => {
      void sendBroken(connection.tlsSocket, connection.splicer, options.mode, secondary, signer).catch(() => connection.session.destroy());
    });
  }
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const host = String(headers[':authority'] ?? '').replace(/:\d+$/, '').toLowerCase();
    const ok = covered(stream.session, host);
    stream.respond({ ':status': ok ? 200 : 421, 'content-type': 'text/plain' });
    stream.end(ok ? `hello from ${host}\n` : `not authoritative for ${host}\n`);
  });
  server.on('sessionError', () => {
    // Clients are expected to close these connections with an error.
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    pki,
    mode: options.mode,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends the secondary identity once the feature is negotiated, broken as `mode` says. */
async function sendBroken(tlsSocket: TLSSocket, splicer: FrameSplicer, mode: BreakMode, id: IssuedIdentity, signer: Signer): Promise<void> {
  const keys = keysFromTlsSocket(tlsSocket);
  const type = DEFAULT_PROFILE.frames.SERVER_CERTIFICATE;
  const madeWith = mode === 'wrong-exporter' ? { ...keys, server: keys.client } : keys;
  const authenticator = await createAuthenticator({ keys: madeWith, creator: 'server', certificateChain: id.chainDer, signer });
  splicer.sendFrame(type, 0, mode === 'nonzero-stream' ? 1 : 0, authenticator);
  if (mode === 'reused-context') splicer.sendFrame(type, 0, 0, authenticator);
}

/**
 * A server whose first SETTINGS lacks the setting: it sends the certificate as soon as that SETTINGS is
 * out, then a second SETTINGS with the value 1. Built from node:http2 and the splicer directly, because
 * the project's server always advertises the setting in its first SETTINGS.
 */
function beforeSettingsServer(primary: IssuedIdentity, secondary: IssuedIdentity, signer: Signer): http2.Http2SecureServer {
  const settingId = DEFAULT_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const server = http2.createSecureServer({ key: primary.keyPem, cert: primary.chainPem, minVersion: 'TLSv1.3', remoteCustomSettings: [settingId] });
  spliceServerSession(server, {
    interceptTypes: new Set([DEFAULT_PROFILE.frames.SERVER_CERTIFICATE]),
    onSession: (session, splicer, tlsSocket) => {
      const go = async (): Promise<void> => {
        const authenticator = await createAuthenticator({ keys: keysFromTlsSocket(tlsSocket), creator: 'server', certificateChain: secondary.chainDer, signer });
        // Our first SETTINGS is out (sendFrame only injects after it), so the frame goes straight after it.
        if (!splicer.localSettingsSent) await new Promise((resolve) => splicer.once('localSettings', resolve));
        splicer.sendFrame(DEFAULT_PROFILE.frames.SERVER_CERTIFICATE, 0, 0, authenticator);
        if (!session.destroyed) session.settings({ customSettings: { [settingId]: 1 } });
      };
      void go().catch(() => session.destroy());
    },
  });
  return server;
}
