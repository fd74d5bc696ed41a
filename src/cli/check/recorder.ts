import type { ClientHttp2Session } from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { FrameHeader } from '../../h2/wire/frame-header.js';
import type { FrameSplicer } from '../../h2/node/spliced-session.js';

// Records what a server sends on the checker's connection, in arrival order, with times: its SETTINGS
// (as the splicer reads them), every intercepted extension frame, a GOAWAY, the end of the connection.
// Nothing here judges; the checker does that once the server has gone quiet.

export interface SeenSettings {
  at: number;
  entries: [number, number][];
}

export interface SeenFrame {
  at: number;
  header: FrameHeader;
  payload: Uint8Array;
  /** Whether the server's SETTINGS carrying the setting = 1 had arrived before this frame. */
  afterValue1: boolean;
  /** Larger than our SETTINGS_MAX_FRAME_SIZE: the splicer skipped the payload. */
  oversize: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export class WireRecorder {
  readonly connectedAt = performance.now();
  readonly settings: SeenSettings[] = [];
  readonly frames: SeenFrame[] = [];
  firstSettingsAt: number | undefined;
  /** When SETTINGS_HTTP_SERVER_CERT_AUTH = 1 first arrived. */
  value1At: number | undefined;
  goaway: { code: number; lastStreamId: number; debug: string } | undefined;
  closed = false;
  private lastActivity = this.connectedAt;

  constructor(
    private readonly session: ClientHttp2Session,
    splicer: FrameSplicer,
    settingId: number,
  ) {
    splicer.on('peerSettings', (m: Map<number, number>) => {
      const at = this.touch();
      this.firstSettingsAt ??= at;
      this.settings.push({ at, entries: [...m] });
      if (m.get(settingId) === 1) this.value1At ??= at;
    });
    splicer.on('frame', (header: FrameHeader, payload: Uint8Array) => {
      this.frames.push({ at: this.touch(), header, payload: payload.slice(), afterValue1: this.value1At !== undefined, oversize: false });
    });
    splicer.on('oversizeFrame', (header: FrameHeader) => {
      this.frames.push({ at: this.touch(), header, payload: new Uint8Array(0), afterValue1: this.value1At !== undefined, oversize: true });
    });
    session.on('goaway', (code: number, lastStreamId: number, opaque?: Buffer) => {
      this.goaway = { code, lastStreamId, debug: opaque ? opaque.toString('utf8').slice(0, 200) : '' };
    });
    session.on('error', () => {
      // Seen through the GOAWAY, the requests and 'close'; never a crash.
    });
    session.once('close', () => (this.closed = true));
  }

  /** Time zero of the report: the server's first SETTINGS (or the handshake, if none came). */
  get t0(): number {
    return this.firstSettingsAt ?? this.connectedAt;
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
    while (this.firstSettingsAt === undefined && !this.closed && performance.now() < deadline) await sleep(10);
    if (this.closed || this.firstSettingsAt === undefined) return;
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
}
