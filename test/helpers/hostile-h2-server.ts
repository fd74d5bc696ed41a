// A hostile HTTP/2 server for tests of our client: real TLS on loopback, HTTP/2 spoken by hand with raw
// frames, so a test can send what no honest server (and none of our codecs) would. Each connection runs
// the next script a test queued; without one it behaves: SETTINGS with the extension, ACKs, PINGs
// answered, every request answered 200. Everything the client sends is recorded (raw-h2.ts).
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { defaultCrypto } from '../../src/crypto/index.js';
import type { Signer } from '../../src/crypto/provider.js';
import { createAuthenticator } from '../../src/ea/index.js';
import type { AuthenticatorKeys } from '../../src/exporter/keys.js';
import { keysFromTlsSocket } from '../../src/exporter/tls-socket.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import { encodeSettingsFrame, type Setting } from '../../src/h2/settings.js';
import { encodeFrame, FrameType } from '../../src/h2/wire/frame-header.js';
import type { IssuedIdentity } from '../../src/testing/test-pki.js';
import { goawayCodes, recordFrames, type RawFrame } from './raw-h2.js';

export const SERVER_CERT_AUTH = DEFAULT_PROFILE.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
export const SERVER_CERTIFICATE = DEFAULT_PROFILE.frames.SERVER_CERTIFICATE;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_ACK = 0x1;

/** One connection of the hostile server, as a script sees it. */
export class HostileConnection {
  /** Every frame the client sent, in order (the preface skipped). */
  readonly frames: RawFrame[];
  /** Resolves with `frames` once the connection closed. */
  readonly closed: Promise<RawFrame[]>;
  isClosed = false;
  /** The connection's RFC 9261 exporter values, as the server's end derives them. */
  readonly keys: AuthenticatorKeys;
  private serving = false;
  /** Frames of `frames` already acted on (PINGs answered). */
  private handled = 0;
  private readonly answered = new Set<number>();
  private waiters: (() => void)[] = [];

  constructor(readonly socket: tls.TLSSocket) {
    const recorded = recordFrames(socket, { ackSettings: true, skipPreface: true });
    this.frames = recorded.frames;
    this.closed = recorded.closed;
    this.keys = keysFromTlsSocket(socket);
    socket.on('data', () => this.afterData());
    socket.once('close', () => {
      this.isClosed = true;
      this.wake();
    });
  }

  /** Runs after recordFrames' own 'data' listener, so the new frames are in `frames`. */
  private afterData(): void {
    for (; this.handled < this.frames.length; this.handled++) {
      const f = this.frames[this.handled]!;
      if (f.header.type === FrameType.PING && (f.header.flags & FLAG_ACK) === 0) this.write(encodeFrame(FrameType.PING, FLAG_ACK, 0, f.payload));
    }
    if (this.serving) for (const id of this.requestStreams()) this.respond(id);
    this.wake();
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
  }

  /** The server's SETTINGS frame; by default it advertises the extension (SETTINGS_HTTP_SERVER_CERT_AUTH = 1). */
  sendSettings(settings: Setting[] = [{ id: SERVER_CERT_AUTH, value: 1 }]): void {
    this.write(encodeSettingsFrame(settings));
  }

  sendFrame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    this.write(encodeFrame(type, flags, streamId, payload));
  }

  /** A SERVER_CERTIFICATE frame carrying `payload`, as is. */
  sendServerCertificate(payload: Uint8Array, streamId = 0): void {
    this.sendFrame(SERVER_CERTIFICATE, 0, streamId, payload);
  }

  /** GOAWAY with `code` and `lastStreamId` (RFC 9113 section 6.8). */
  sendGoaway(code: number, lastStreamId = 0): void {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
    payload.writeUInt32BE(code >>> 0, 4);
    this.sendFrame(FrameType.GOAWAY, 0, 0, payload);
  }

  /** A valid spontaneous authenticator for this connection, proving `identity`. */
  async authenticator(identity: IssuedIdentity | { chainDer: Uint8Array[]; signer: Signer }): Promise<Uint8Array> {
    const signer = 'signer' in identity ? identity.signer : await defaultCrypto().signerFromPrivateKey(identity.keyPkcs8Der);
    return createAuthenticator({ keys: this.keys, creator: 'server', certificateChain: identity.chainDer, signer });
  }

  /** From now on, answer every request (and those already sent) with :status 200 and no body. */
  serveRequests(): void {
    this.serving = true;
    this.afterData();
  }

  /** Requests the client sent so far (stream ids of its HEADERS). */
  requestStreams(): number[] {
    return this.frames.filter((f) => f.header.type === FrameType.HEADERS && f.header.streamId % 2 === 1).map((f) => f.header.streamId);
  }

  private respond(streamId: number): void {
    if (this.answered.has(streamId)) return;
    this.answered.add(streamId);
    // HPACK static table index 8 is ":status: 200" (RFC 7541 appendix A).
    this.write(encodeFrame(FrameType.HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, streamId, Uint8Array.of(0x88)));
  }

  /** The client's GOAWAY frames so far, as error codes. */
  goaways(): number[] {
    return goawayCodes(this.frames);
  }

  /**
   * Sends a PING and waits for its ACK: the client has read every frame sent before it. False when the
   * connection closed first or no ACK came within `ms`.
   */
  async roundTrip(ms = 5000): Promise<boolean> {
    const data = Buffer.from(defaultCrypto().randomBytes(8));
    this.sendFrame(FrameType.PING, 0, 0, data);
    return this.until(() => this.frames.some((f) => f.header.type === FrameType.PING && (f.header.flags & FLAG_ACK) !== 0 && f.payload.equals(data)), ms);
  }

  /** Resolves true once `check` holds (tested after each chunk from the client), false at close or after `ms`. */
  async until(check: () => boolean, ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (this.isClosed) return check();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export type HostileScript = (connection: HostileConnection) => Promise<void> | void;

export interface HostileServer {
  port: number;
  /** The next connection runs `script`; resolves with that connection once it is accepted. */
  next(script: HostileScript): Promise<HostileConnection>;
  close(): Promise<void>;
}

/** Listens on loopback with `identity` as the TLS certificate (TLS 1.3, ALPN h2). */
export async function startHostileServer(identity: IssuedIdentity): Promise<HostileServer> {
  const scripts: { script: HostileScript; accepted: (c: HostileConnection) => void }[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ key: identity.keyPem, cert: identity.chainPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const connection = new HostileConnection(socket);
    const queued = scripts.shift();
    if (!queued) {
      connection.sendSettings();
      connection.serveRequests();
      return;
    }
    queued.accepted(connection);
    void (async () => queued.script(connection))().catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    next: (script) => new Promise((accepted) => scripts.push({ script, accepted })),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
