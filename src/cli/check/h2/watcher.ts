import type { ClientHttp2Session } from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { encodeFrame, type FrameHeader } from '../../../h2/wire/frame-header.js';
import { connectSpliced, type FrameSplicer } from '../../../h2/node/spliced-session.js';
import type { H2Profile } from '../../../h2/profile.js';
import type { Answer, FrameSeen, SettingsSeen, WireRecord } from '../judges/records.js';
import { exchange } from './exchange.js';

// The HTTP/2 checker's side of the wire: connects through the splicer (which hands over the server's
// SETTINGS and every extension frame), records what the server sends, in arrival order, with times (its
// SETTINGS, the extension frames, a GOAWAY, the end of the connection), asks for origins and closes.
// Nothing here judges: the judges read `record` once the server has gone quiet.

/** Our SETTINGS_MAX_FRAME_SIZE: room for a 64 KiB authenticator, as the project's client allows. */
export const OUR_MAX_FRAME_SIZE = 64 * 1024 + 1024;

export interface H2WatchOptions {
  ca?: string | string[];
  insecure?: boolean;
  connectAddress?: string;
  timeoutMs: number;
  profile: H2Profile;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export class H2Watcher implements WireRecord {
  readonly connectedAt = performance.now();
  readonly settings: SettingsSeen[] = [];
  readonly frames: FrameSeen[] = [];
  /** When SETTINGS_HTTP_SERVER_CERT_AUTH = 1 first arrived. */
  value1At: number | undefined;
  goaway: { code: number; lastStreamId: number; debug: string } | undefined;
  closed = false;
  private lastActivity = this.connectedAt;

  /** Connects to `target` (TLS 1.3, ALPN h2, our SETTINGS with the setting = 1); rejects when that fails. */
  static async connect(target: URL, options: H2WatchOptions): Promise<H2Watcher> {
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const settingId = options.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
    const client = await connectSpliced(target, {
      host: options.connectAddress ?? host,
      servername: /^[0-9.]+$/.test(host) || host.includes(':') ? undefined : host,
      ...(options.ca ? { ca: options.ca } : {}),
      rejectUnauthorized: !options.insecure,
      settings: { customSettings: { [settingId]: 1 }, maxFrameSize: OUR_MAX_FRAME_SIZE },
      remoteCustomSettings: [settingId],
      // Every extension frame type of the profile, so that the report shows whatever the server sends.
      interceptTypes: new Set(Object.values(options.profile.frames)),
      handshakeTimeoutMs: options.timeoutMs,
    });
    return new H2Watcher(client.session, client.tlsSocket, client.splicer!, settingId);
  }

  private constructor(
    readonly session: ClientHttp2Session,
    readonly tlsSocket: TLSSocket,
    splicer: FrameSplicer,
    settingId: number,
  ) {
    splicer.on('peerSettings', (m: Map<number, number>) => {
      const at = this.touch();
      this.settings.push({ at, entries: [...m] });
      if (m.get(settingId) === 1) this.value1At ??= at;
    });
    splicer.on('frame', (header: FrameHeader, payload: Uint8Array) => this.onFrame(header, payload.slice(), false));
    splicer.on('oversizeFrame', (header: FrameHeader) => this.onFrame(header, new Uint8Array(0), true));
    session.on('goaway', (code: number, lastStreamId: number, opaque?: Buffer) => {
      this.goaway = { code, lastStreamId, debug: opaque ? opaque.toString('utf8').slice(0, 200) : '' };
    });
    session.on('error', () => {
      // Seen through the GOAWAY, the requests and 'close'; never a crash.
    });
    session.once('close', () => (this.closed = true));
  }

  private onFrame(header: FrameHeader, payload: Uint8Array, oversize: boolean): void {
    const { type, flags, streamId, length } = header;
    this.frames.push({ type, flags, streamId, length, payload, at: this.touch(), afterValue1: this.value1At !== undefined, oversize, rightStream: streamId === 0, stream: `stream ${streamId}`, wire: encodeFrame(type, flags, streamId, payload) });
  }

  /** Time zero of the report: the server's first SETTINGS (or the handshake, if none came). */
  get t0(): number {
    return this.settings[0]?.at ?? this.connectedAt;
  }

  private touch(): number {
    this.lastActivity = performance.now();
    return this.lastActivity;
  }

  /**
   * Waits for the server's SETTINGS (up to `timeoutMs`), then a PING round trip (the server has read our
   * SETTINGS by then, so it knows we support the extension), then until it has been quiet for `waitMs`.
   */
  async waitForServer(timeoutMs: number, waitMs: number): Promise<void> {
    const deadline = this.connectedAt + timeoutMs;
    while (this.settings.length === 0 && !this.closed && performance.now() < deadline) await sleep(10);
    if (this.closed || this.settings.length === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      try {
        this.session.ping(done);
      } catch {
        done();
      }
    });
    this.touch();
    while (!this.closed && performance.now() - this.lastActivity < waitMs && performance.now() < deadline + waitMs) {
      await sleep(waitMs - (performance.now() - this.lastActivity));
    }
  }

  /** GET / for each origin in turn on this connection, until it closes. */
  async request(origins: URL[], timeoutMs: number): Promise<Map<string, Answer>> {
    const answers = new Map<string, Answer>();
    for (const origin of origins) {
      if (this.closed) break;
      const a = await exchange(this.session, { ':method': 'GET', ':scheme': 'https', ':authority': origin.host, ':path': '/' }, undefined, timeoutMs);
      answers.set(origin.origin, { ...(a.status ? { status: a.status } : {}), body: a.body.subarray(0, 200).toString('utf8'), ...(a.error ? { error: a.error } : {}) });
    }
    return answers;
  }

  /** GOAWAY with `code`, close, and destroy if the server keeps the connection open. */
  close(code: number): Promise<void> {
    const { session, tlsSocket } = this;
    return new Promise((resolve) => {
      if (session.destroyed) {
        tlsSocket.destroy();
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        session.destroy();
        tlsSocket.destroy();
        resolve();
      }, 500);
      session.once('close', () => {
        clearTimeout(timer);
        tlsSocket.destroy();
        resolve();
      });
      try {
        session.goaway(code);
        session.close();
      } catch {
        session.destroy();
      }
    });
  }
}
