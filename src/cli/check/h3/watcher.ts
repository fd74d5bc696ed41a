import { performance } from 'node:perf_hooks';
import { readVarintBig, encodeVarint } from '../../../codec/varint.js';
import { concatBytes } from '../../../codec/writer.js';
import type { CryptoProvider } from '../../../crypto/provider.js';
import { encodeHeadersFrame, parseSingleVarint } from '../../../h3/wire/core.js';
import { encodeFrame, H3FrameType, readPayload } from '../../../h3/wire/frame.js';
import { FrameReader, type FrameEvent } from '../../../h3/wire/reader.js';
import { encodeSettingsFrame, H3SettingId } from '../../../h3/wire/settings.js';
import { ControlStreamRules, peekStreamType, RequestStreamRules, UniStreamType } from '../../../h3/wire/streams.js';
import { H3ConnectionError, H3ErrorCode } from '../../../errors.js';
import { h3FrameNameOf, type H3Profile } from '../../../h3/profile.js';
import { decodeFieldSection, encodeFieldSection } from '../../../h3/qpack.js';
import { connectQuic } from '../../../h3/transport/index.js';
import type { TransportClose, TransportConnection, TransportStream } from '../../../h3/transport/transport.js';
import type { Answer, FrameSeen, SettingsSeen, Violation, WireRecord } from '../judges/records.js';
import { hexEvidence } from '../report.js';

// The HTTP/3 checker's side of the wire: one QUIC connection (ALPN h3) as a client that offers the
// extension but only watches. It reads the server's streams itself (the h3 wire codecs: FrameReader, the
// stream rules, each violation recorded rather than acted on), so a bad frame never ends the check early:
// every frame is recorded, the origins are requested on the same connection, and only then does it close.
// H3Session is not used: it closes the connection at the first violation, which is right for a client and
// wrong for a witness. Nothing here judges.

export const RFC9114 = 'RFC 9114';

/** Largest buffered frame we read: room for a 64 KiB authenticator, as our client allows. */
const MAX_FRAME = 64 * 1024 + 1024;

export interface H3WatchOptions {
  /** Trust anchors (PEM) for the QUIC handshake. */
  anchors: string[];
  connectAddress?: string;
  timeoutMs: number;
  profile: H3Profile;
  crypto?: CryptoProvider;
}

/**
 * Our side of the connection, and a reader of every stream the server opens. Each frame of interest is
 * kept with its time; each rule broken (RFC 9114 stream rules, the extension's) is kept as a violation.
 */
export class H3Watcher implements WireRecord {
  readonly frames: FrameSeen[] = [];
  readonly violations: Violation[] = [];
  /** The server's SETTINGS, at most one (read leniently: every pair as sent, repeats included). */
  readonly settings: SettingsSeen[] = [];
  value1At: number | undefined;
  last = performance.now();
  closedBy: TransportClose | undefined;
  goawayId: number | undefined;
  private readonly writers: WritableStreamDefaultWriter<Uint8Array>[] = [];
  private controlSeen = false;
  private settingsWaiters: (() => void)[] = [];

  /** Connects to `target` over QUIC (ALPN h3); rejects when that fails. */
  static async connect(target: URL, options: H3WatchOptions): Promise<H3Watcher> {
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const transport = await connectQuic({
      host: options.connectAddress ?? host,
      port: Number(target.port || 443),
      servername: host,
      ca: options.anchors.join('\n'),
      timeoutMs: options.timeoutMs,
      ...(options.crypto ? { crypto: options.crypto } : {}),
    });
    return new H3Watcher(transport, options.profile);
  }

  private constructor(
    readonly transport: TransportConnection,
    readonly profile: H3Profile,
  ) {
    void transport.closed.then((info) => {
      this.closedBy ??= info;
      this.wake();
    });
  }

  /** Opens our streams: SETTINGS with the setting = `settingValue` (1; the probes send others). */
  start(settingValue = 1): void {
    const settings = new Map<number, number>([
      [H3SettingId.QPACK_MAX_TABLE_CAPACITY, 0],
      [H3SettingId.QPACK_BLOCKED_STREAMS, 0],
      [H3SettingId.MAX_FIELD_SECTION_SIZE, 64 * 1024],
      [this.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, settingValue],
    ]);
    try {
      // Our control stream (SETTINGS with the setting = 1), and empty QPACK streams (capacity 0 both ways).
      const control = this.transport.openStream('uni').writable!.getWriter();
      control.write(concatBytes(encodeVarint(UniStreamType.CONTROL), encodeSettingsFrame(settings))).catch(() => undefined);
      this.writers.push(control);
      for (const type of [UniStreamType.QPACK_ENCODER, UniStreamType.QPACK_DECODER]) {
        const w = this.transport.openStream('uni').writable!.getWriter();
        w.write(encodeVarint(type)).catch(() => undefined);
        this.writers.push(w);
      }
    } catch {
      // The connection is already gone: closedBy says how.
    }
    this.transport.onStream((stream) => this.onStream(stream));
  }

  /** Writes `bytes` (whole frames) on our control stream, after our SETTINGS; for the probes. */
  sendOnControl(bytes: Uint8Array): void {
    this.writers[0]?.write(bytes).catch(() => undefined);
  }

  get t0(): number | undefined {
    return this.settings[0]?.at;
  }

  get closed(): boolean {
    return this.closedBy !== undefined;
  }

  private wake(): void {
    for (const w of this.settingsWaiters) w();
    this.settingsWaiters = [];
  }

  private violate(code: number, message: string, section: string, evidence?: string): void {
    this.violations.push({ code, message, section, ...(evidence ? { evidence } : {}) });
  }

  /**
   * Checks each frame of a stream against its rules, and records the first rule broken: after it a client
   * would be gone, so the later frames are only recorded. Returns the frame's type.
   */
  private ruleChecker(rules: { check(type: number): void }, where: string, section: string): (event: Exclude<FrameEvent, { kind: 'data' }>) => number {
    let broken = false;
    return (event) => {
      const type = event.kind === 'data-start' ? H3FrameType.DATA : event.type;
      if (broken) return type;
      try {
        rules.check(type);
      } catch (e) {
        broken = true;
        this.violate((e as H3ConnectionError).wireCode, `${where}: ${(e as Error).message}`, section, event.kind === 'frame' ? hexEvidence(encodeFrame(type, event.payload)) : undefined);
      }
      return type;
    };
  }

  private onStream(stream: TransportStream): void {
    if (stream.bidirectional) {
      this.violate(H3ErrorCode.H3_STREAM_CREATION_ERROR, `the server opened bidirectional stream ${stream.id}`, `${RFC9114} §6.1`);
      stream.abort(H3ErrorCode.H3_STREAM_CREATION_ERROR);
      return;
    }
    void this.readUni(stream).catch(() => undefined);
  }

  private async readUni(stream: TransportStream): Promise<void> {
    const reader = stream.readable!.getReader();
    let head: Uint8Array = new Uint8Array(0);
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true, value: undefined }) as const);
      if (r.done) return;
      head = concatBytes(head, r.value);
      const peeked = peekStreamType(head);
      if (!peeked) continue;
      const rest = head.subarray(peeked.length);
      if (peeked.value === BigInt(UniStreamType.CONTROL)) return this.readControl(stream, reader, rest);
      if (peeked.value === BigInt(UniStreamType.PUSH)) {
        this.violate(H3ErrorCode.H3_ID_ERROR, 'a push stream, though we never sent MAX_PUSH_ID', `${RFC9114} §4.6`);
        stream.abort(H3ErrorCode.H3_ID_ERROR);
        return;
      }
      if (peeked.value === BigInt(UniStreamType.QPACK_ENCODER) || peeked.value === BigInt(UniStreamType.QPACK_DECODER)) {
        // With a table of capacity 0 nothing here matters; drain it so the server's credit stays open.
        while (!(await reader.read().catch(() => ({ done: true }) as const)).done);
        return;
      }
      stream.abort(H3ErrorCode.H3_STREAM_CREATION_ERROR); // unknown type: not ours to read (RFC 9114 §6.2)
      return;
    }
  }

  private async readControl(stream: TransportStream, reader: ReadableStreamDefaultReader<Uint8Array>, first: Uint8Array): Promise<void> {
    if (this.controlSeen) {
      this.violate(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'a second control stream', `${RFC9114} §6.2.1`);
      return;
    }
    this.controlSeen = true;
    const check = this.ruleChecker(new ControlStreamRules('client', this.profile), 'control stream', `${RFC9114} §6.2.1, §7.2`);
    const frames = new FrameReader({ profile: this.profile, maxPayloadSize: MAX_FRAME });
    for (let chunk = first; ; ) {
      this.last = performance.now();
      let events: FrameEvent[] = [];
      try {
        events = frames.push(chunk);
      } catch (e) {
        this.violate(e instanceof H3ConnectionError ? e.wireCode : H3ErrorCode.H3_FRAME_ERROR, `control stream: ${(e as Error).message}`, `${RFC9114} §7.1`);
        return;
      }
      for (const event of events) {
        if (event.kind === 'data') continue;
        check(event);
        if (event.kind === 'frame') this.onControlFrame(stream.id, event.type, event.payload);
      }
      const r = await reader.read().catch(() => ({ done: true, value: undefined }) as const);
      if (r.done) {
        // Ended or reset while the connection lives on: a closed critical stream (as in H3Session, choice H13).
        await new Promise((res) => setTimeout(res, 50));
        if (!this.transport.closing && !this.closedBy) this.violate(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, 'the server closed its control stream', `${RFC9114} §6.2.1`);
        return;
      }
      chunk = r.value;
    }
  }

  private onControlFrame(streamId: number, type: number, payload: Uint8Array): void {
    const now = performance.now();
    if (type === H3FrameType.SETTINGS) {
      if (this.settings.length > 0) return; // a second SETTINGS is a rule violation, already recorded
      const entries = settingsAsSent(payload);
      if (!entries) this.violate(H3ErrorCode.H3_FRAME_ERROR, 'SETTINGS payload ends inside a pair', `${RFC9114} §7.2.4`, hexEvidence(payload));
      this.settings.push({ at: now, entries: entries ?? [], wire: encodeFrame(H3FrameType.SETTINGS, payload) });
      if (entries?.some(([id, v]) => id === this.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH && v === 1)) this.value1At = now;
      this.wake();
      return;
    }
    if (type === H3FrameType.GOAWAY) {
      try {
        this.goawayId = parseSingleVarint(payload, 'GOAWAY');
      } catch {
        this.goawayId = -1;
      }
      return;
    }
    if (h3FrameNameOf(this.profile, type)) this.record(type, payload, streamId, true, now);
  }

  private record(type: number, payload: Uint8Array, streamId: number, control: boolean, at: number): void {
    const stream = `${control ? 'control' : 'request'} stream ${streamId}`;
    this.frames.push({ type, flags: 0, streamId, length: payload.length, payload, at, afterValue1: this.value1At !== undefined, oversize: false, rightStream: control, stream, wire: encodeFrame(type, payload) });
  }

  /** Resolves once the server's SETTINGS arrived, the connection closed, or `timeoutMs` passed. */
  waitForSettings(timeoutMs: number): Promise<void> {
    if (this.settings.length > 0 || this.closedBy) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.settingsWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves once the server's control stream has been quiet for `waitMs` (at most `limitMs`). */
  async quiet(waitMs: number, limitMs: number): Promise<void> {
    const end = performance.now() + limitMs;
    for (;;) {
      const now = performance.now();
      const due = this.last + waitMs;
      if (now >= due || now >= end || this.closedBy) return;
      await new Promise((r) => setTimeout(r, Math.min(due, end) - now + 1));
    }
  }

  /** GET / for `origin` on a new request stream; frames other than HEADERS and DATA are recorded. */
  async request(origin: URL, timeoutMs: number): Promise<Answer> {
    let stream: TransportStream;
    try {
      stream = await this.transport.openStreamWhenAllowed('bidi', timeoutMs);
    } catch (e) {
      return { body: '', error: `no request stream: ${(e as Error).message}` };
    }
    const fields = [
      { name: ':method', value: 'GET' },
      { name: ':scheme', value: 'https' },
      { name: ':authority', value: origin.host },
      { name: ':path', value: '/' },
    ];
    const writer = stream.writable!.getWriter();
    void writer
      .write(encodeHeadersFrame(encodeFieldSection(fields)))
      .then(() => writer.close())
      .catch(() => undefined);
    const check = this.ruleChecker(new RequestStreamRules('client', this.profile), `request stream ${stream.id}`, `${RFC9114} §4.1`);
    const frames = new FrameReader({ profile: this.profile, maxPayloadSize: MAX_FRAME });
    const reader = stream.readable!.getReader();
    const answer: Answer = { body: '' };
    const body: Uint8Array[] = [];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    try {
      for (;;) {
        const r = await Promise.race([reader.read(), timeout]);
        if (r === 'timeout') {
          answer.error = `no response within ${timeoutMs} ms`;
          stream.abort(H3ErrorCode.H3_REQUEST_CANCELLED);
          break;
        }
        if (r.done) break;
        for (const event of frames.push(r.value)) {
          if (event.kind === 'data') {
            body.push(event.chunk.slice());
            continue;
          }
          const type = check(event);
          if (event.kind !== 'frame') continue;
          if (h3FrameNameOf(this.profile, type)) {
            this.record(type, event.payload, stream.id, false, performance.now());
          } else if (type === H3FrameType.HEADERS && answer.status === undefined) {
            const status = decodeFieldSection(event.payload).find((f) => f.name === ':status')?.value;
            if (status && !status.startsWith('1')) answer.status = Number(status);
          }
        }
      }
    } catch (e) {
      if (e instanceof H3ConnectionError) this.violate(e.wireCode, `request stream ${stream.id}: ${e.message}`, `${RFC9114} §4.1, §7.1`);
      answer.error ??= (e as Error).message;
    } finally {
      clearTimeout(timer);
      try {
        reader.releaseLock();
      } catch {
        // a read still pending after a timeout
      }
    }
    answer.body = Buffer.concat(body).subarray(0, 200).toString('utf8');
    if (answer.status === undefined) answer.error ??= this.closedBy ? 'the connection closed before a response' : 'the stream ended without a response';
    return answer;
  }

  async close(code: number, reason: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.transport.close(code, reason), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
  }
}

/**
 * The SETTINGS pairs as sent, or undefined when the payload ends inside a pair. The codec's parseSettings
 * refuses what a witness must record (a repeated identifier, a value other than 0 or 1), so the pairs are
 * read here, within the codec's readPayload. Ids past 2^53 are rounded.
 */
function settingsAsSent(payload: Uint8Array): [number, number][] | undefined {
  try {
    return readPayload(payload, 'SETTINGS', (r) => {
      const out: [number, number][] = [];
      while (r.remaining > 0) out.push([Number(readVarintBig(r, 'Identifier')), Number(readVarintBig(r, 'Value'))]);
      return out;
    });
  } catch {
    return undefined;
  }
}
