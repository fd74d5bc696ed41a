import { randomBytes } from 'node:crypto';
import * as tls from 'node:tls';
import { encodeSettingsAckFrame, encodeSettingsFrame, parseSettingsPayload, type Setting } from '../../../h2/settings.js';
import { encodeFrame, Flags, FRAME_HEADER_LENGTH, FrameType, parseFrameHeader } from '../../../h2/wire/frame-header.js';

// A raw HTTP/2 client for the probes: TLS with ALPN h2, the preface and SETTINGS we choose (values a
// node:http2 session refuses to send), any frame written as bytes, and a record of what the server sends
// back that matters to a verdict: its SETTINGS, a GOAWAY, PING acknowledgements, the end of the connection.
// It answers the server's SETTINGS with an ACK and nothing else; it never opens a stream.

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** A frame larger than this from the server ends the probe (we never raise SETTINGS_MAX_FRAME_SIZE). */
const MAX_READ_FRAME = 16_384;

export interface RawPeerOptions {
  host: string;
  port: number;
  servername: string | undefined;
  ca?: string | string[];
  insecure?: boolean;
  timeoutMs: number;
  /** Our SETTINGS entries, sent right after the preface. */
  settings: Setting[];
}

export interface RawReaction {
  /** The server's GOAWAY, if one came. */
  goaway?: { code: number; lastStreamId: number; debug: string };
  /** The connection ended (TLS closed or reset). */
  closed: boolean;
  /** The server still answered a PING sent after the probe. */
  pingAnswered: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export class RawH2Peer {
  readonly serverSettings: Setting[][] = [];
  goaway: RawReaction['goaway'];
  closed = false;
  private readonly pings = new Set<string>();
  private readonly acked = new Set<string>();
  private buffer = Buffer.alloc(0);

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {
      // Seen as `closed`: a reset is one way a server ends a connection.
    });
    socket.once('close', () => (this.closed = true));
  }

  /** TLS 1.3 with ALPN h2, then the preface and our SETTINGS. Rejects when no such connection is made. */
  static async connect(options: RawPeerOptions): Promise<RawH2Peer> {
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      ...(options.servername ? { servername: options.servername } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
      rejectUnauthorized: !options.insecure,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no TLS handshake within ${options.timeoutMs} ms`)), options.timeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        if (socket.alpnProtocol !== 'h2') fail(new Error(`ALPN ${String(socket.alpnProtocol)}, not h2`));
        else resolve();
      });
      socket.once('error', fail);
    });
    const peer = new RawH2Peer(socket);
    socket.write(Buffer.concat([PREFACE, encodeSettingsFrame(options.settings)]));
    return peer;
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= FRAME_HEADER_LENGTH) {
      const header = parseFrameHeader(this.buffer);
      if (header.length > MAX_READ_FRAME) {
        this.socket.destroy();
        return;
      }
      if (this.buffer.length < FRAME_HEADER_LENGTH + header.length) return;
      const payload = this.buffer.subarray(FRAME_HEADER_LENGTH, FRAME_HEADER_LENGTH + header.length);
      this.buffer = this.buffer.subarray(FRAME_HEADER_LENGTH + header.length);
      if (header.type === FrameType.SETTINGS && (header.flags & Flags.ACK) === 0) {
        try {
          this.serverSettings.push(parseSettingsPayload(payload));
        } catch {
          this.serverSettings.push([]);
        }
        this.write(encodeSettingsAckFrame());
      } else if (header.type === FrameType.GOAWAY && payload.length >= 8) {
        this.goaway ??= { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4), debug: payload.subarray(8, 208).toString('utf8') };
      } else if (header.type === FrameType.PING && (header.flags & Flags.ACK) !== 0) {
        this.acked.add(payload.toString('hex'));
      }
    }
  }

  /** Writes `bytes` unless the connection is gone. */
  write(bytes: Uint8Array): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(bytes);
  }

  /** Waits for the server's first SETTINGS; false when it did not come in time or the connection closed. */
  async waitForSettings(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.serverSettings.length === 0 && !this.closed && Date.now() < end) await sleep(5);
    return this.serverSettings.length > 0;
  }

  /** The value the server gave `id` in its SETTINGS (the last one), if any. */
  serverValue(id: number): number | undefined {
    let value: number | undefined;
    for (const frame of this.serverSettings) for (const s of frame) if (s.id === id) value = s.value;
    return value;
  }

  /**
   * After a probe: sends a PING and waits until the connection ends, or the PING is answered and `waitMs`
   * more have passed with no GOAWAY (a server may answer the PING before it acts on the probe), or
   * `timeoutMs` in all.
   */
  async reaction(waitMs: number, timeoutMs: number): Promise<RawReaction> {
    const opaque = randomBytes(8);
    const key = opaque.toString('hex');
    this.pings.add(key);
    this.write(encodeFrame(FrameType.PING, 0, 0, opaque));
    const end = Date.now() + timeoutMs;
    let answeredAt: number | undefined;
    while (!this.closed && Date.now() < end) {
      if (this.goaway && this.goaway.code !== 0) {
        // A connection error: the server must close next (RFC 9113 section 5.4.1); wait for it, within the bound.
        while (!this.closed && Date.now() < end) await sleep(5);
        break;
      }
      if (answeredAt === undefined && this.acked.has(key)) answeredAt = Date.now();
      if (answeredAt !== undefined && Date.now() - answeredAt >= waitMs) break;
      await sleep(5);
    }
    return { ...(this.goaway ? { goaway: this.goaway } : {}), closed: this.closed, pingAnswered: this.acked.has(key) };
  }

  destroy(): void {
    this.socket.destroy();
  }
}
