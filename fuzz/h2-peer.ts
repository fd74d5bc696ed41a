import type { TLSSocket } from 'node:tls';
import { F } from './h2-frames.js';
import type { H2Context } from './h2-frames.js';
import { encodeRaw, FrameParser, peerFraming, readSettings, T, type ParsedFrame, type RawFrame } from './h2-raw.js';
import { BOUND_MS, CLOSE_AFTER_GOAWAY_MS, type CaseLog } from './oracle.js';

// The fuzzing end of one HTTP/2 connection, client or server: answers SETTINGS and PING as any peer
// must, remembers what the other side asked for, sends fuzzed frames, then checks the oracle.

export class RawPeer {
  readonly frames: ParsedFrame[] = [];
  closed = false;
  goaway: number | undefined;
  /** The other side's SETTINGS_MAX_FRAME_SIZE. */
  peerMaxFrameSize = 16_384;
  peerSettingsSeen = false;
  /** Once set (a server after its case), every request is answered 200 at once. */
  autoRespond = false;
  private readonly answered = new Set<number>();
  /** Streams the case answers itself (an OPTIONS * exchange). */
  readonly skipAnswer = new Set<number>();
  private waiters: (() => void)[] = [];
  private readonly parser: FrameParser;

  constructor(
    readonly socket: TLSSocket,
    readonly ctx: H2Context,
    prefaceFromPeer: boolean,
  ) {
    this.parser = new FrameParser((f) => this.onFrame(f), prefaceFromPeer ? 24 : 0);
    socket.on('data', (chunk: Buffer) => this.parser.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private onFrame(f: ParsedFrame): void {
    this.frames.push(f);
    if (f.type === T.SETTINGS && (f.flags & 1) === 0) {
      const s = readSettings(f.payload);
      const max = s.get(0x5);
      if (max !== undefined && max >= 16_384 && max <= 16_777_215) this.peerMaxFrameSize = max;
      this.peerSettingsSeen = true;
      this.write(encodeRaw({ name: 'SETTINGS ACK', type: T.SETTINGS, flags: 1, streamId: 0, payload: new Uint8Array(0), mutations: [] }));
    } else if (f.type === T.PING && (f.flags & 1) === 0 && f.payload.length === 8) {
      this.write(encodeRaw({ name: 'PING ACK', type: T.PING, flags: 1, streamId: 0, payload: f.payload, mutations: [] }));
    } else if (f.type === T.GOAWAY && f.payload.length >= 8) {
      this.goaway = f.payload.readUInt32BE(4);
    } else if (f.type === F.CERTIFICATE_REQUEST && f.payload.length >= 2) {
      this.ctx.certRequests.set(f.payload.readUInt16BE(0), Uint8Array.from(f.payload.subarray(2)));
    } else if (f.type === F.CERTIFICATE_NEEDED && f.payload.length === 6) {
      this.ctx.needed.push({ streamId: f.payload.readUInt32BE(0) & 0x7fffffff, requestId: f.payload.readUInt16BE(4) });
    } else if (f.type === F.AUTHENTICATOR_REQUESTS) {
      // Each request is handshake-framed: type(1) length(3) body.
      for (let at = 0; at + 4 <= f.payload.length; ) {
        const n = f.payload.readUIntBE(at + 1, 3);
        this.ctx.authRequests.push(Uint8Array.from(f.payload.subarray(at, at + 4 + n)));
        at += 4 + n;
      }
    } else if (f.type === T.DATA && this.ctx.bodies) {
      // Padding (flag 0x8) is not expected from our client; the body is kept as sent.
      this.ctx.bodies.set(f.streamId, [...(this.ctx.bodies.get(f.streamId) ?? []), f.payload]);
      if (f.flags & 1) this.ctx.ended?.add(f.streamId);
    } else if (f.type === T.HEADERS && f.streamId % 2 === 1) {
      if (!this.ctx.streams.includes(f.streamId)) this.ctx.streams.push(f.streamId);
      if (f.flags & 1) this.ctx.ended?.add(f.streamId);
      if (this.autoRespond) this.respond(f.streamId);
    }
    this.wake();
  }

  /** Answers a request: HEADERS :status 200 (HPACK static index 8) with END_STREAM. */
  respond(streamId: number): void {
    if (this.answered.has(streamId) || this.skipAnswer.has(streamId)) return;
    this.answered.add(streamId);
    this.write(encodeRaw({ name: 'HEADERS 200', type: T.HEADERS, flags: 0x5, streamId, payload: Uint8Array.of(0x88), mutations: [] }));
  }

  /** From now on answer every request, and those already open. */
  serveRequests(): void {
    this.autoRespond = true;
    for (const id of this.ctx.streams) this.respond(id);
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Resolves when `check` holds (checked after every frame and on close), or after `ms`. */
  async until(check: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (this.closed) return check();
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

  /**
   * Sends the case's frames, brings the peer's parser back to a frame boundary, then checks the oracle:
   * the connection answers a PING or closes within the bound. A GOAWAY must be followed by the close.
   */
  async sendAndCheck(frames: RawFrame[], log: CaseLog, who: string): Promise<'answered' | 'closed' | 'open-frame'> {
    const bytes = Buffer.concat(frames.map(encodeRaw));
    const framing = peerFraming(bytes, this.peerMaxFrameSize);
    this.write(Buffer.concat([bytes, framing.padding]));
    // For minimal reproductions: the exact bytes of the case, one hex line per frame.
    if (process.env['FUZZ_DUMP']) for (const f of frames) process.stderr.write(`dump ${encodeRaw(f).toString('hex')}\n`);
    if (process.env['FUZZ_DUMP'] && framing.padding.length > 0) process.stderr.write(`dump-padding ${framing.padding.length}\n`);
    const ping = this.ctx.rng.bytes(8);
    if (!framing.open) this.write(encodeRaw({ name: 'PING', type: T.PING, flags: 0, streamId: 0, payload: ping, mutations: [] }));
    const pingAcked = (): boolean => this.frames.some((f) => f.type === T.PING && (f.flags & 1) === 1 && Buffer.compare(f.payload, ping) === 0);
    const settled = await this.until(() => this.closed || this.goaway !== undefined || (!framing.open && pingAcked()), BOUND_MS);
    // After a connection error the TCP connection must close (RFC 9113 section 5.4.1). A GOAWAY with
    // NO_ERROR is a graceful shutdown (section 6.8): streams in flight may still finish (node:http2 answers
    // a server's graceful GOAWAY with its own and waits for them), so it is judged by the request checks
    // that follow, not as half-open.
    if (this.goaway !== undefined && this.goaway !== 0 && !this.closed) {
      if (!(await this.until(() => this.closed, CLOSE_AFTER_GOAWAY_MS))) log.find('half-open', `${who} sent GOAWAY (code 0x${this.goaway.toString(16)}) but kept the connection open for ${CLOSE_AFTER_GOAWAY_MS} ms`);
      return 'closed';
    }
    if (this.closed || this.goaway !== undefined) return 'closed';
    if (pingAcked()) {
      for (const o of framing.oversize) {
        log.observe(`${who} kept the connection after a frame of type 0x${o.type.toString(16)} with length ${o.length}, over its SETTINGS_MAX_FRAME_SIZE ${this.peerMaxFrameSize} (RFC 9113 section 4.2: FRAME_SIZE_ERROR)`);
      }
      return 'answered';
    }
    if (framing.open) {
      // The last frame claims more than we send: a peer may wait for it, unless the claim is over its limit.
      const over = framing.oversize.at(-1);
      if (over) log.find('hang', `${who} neither closed nor refused a frame of type 0x${over.type.toString(16)} claiming ${over.length} bytes, over its SETTINGS_MAX_FRAME_SIZE ${this.peerMaxFrameSize}, for ${BOUND_MS} ms`);
      return 'open-frame';
    }
    if (!settled) log.find('hang', `${who} neither answered a PING nor closed within ${BOUND_MS} ms`);
    return 'answered';
  }
}
