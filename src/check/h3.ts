import { X509Certificate } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { rootCertificates } from 'node:tls';
import { Reader } from '../codec/reader.js';
import { readVarintBig, encodeVarint } from '../codec/varint.js';
import { concatBytes } from '../codec/writer.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { encodeHeadersFrame } from '../h3/frames/core.js';
import { encodeFrame, frameTypeName, H3FrameType } from '../h3/frames/frame.js';
import { FrameReader, type FrameEvent } from '../h3/frames/reader.js';
import { encodeSettingsFrame, H3SettingId } from '../h3/frames/settings.js';
import { ControlStreamRules, peekStreamType, RequestStreamRules, UniStreamType } from '../h3/frames/streams.js';
import { H3ConnectionError, H3ErrorCode, h3ErrorName } from '../h3/errors.js';
import { DEFAULT_H3_PROFILE, h3FrameNameOf, type H3Profile } from '../h3/profile.js';
import { decodeFieldSection, encodeFieldSection } from '../h3/qpack.js';
import { connectQuic } from '../h3/transport/index.js';
import type { TransportClose, TransportConnection, TransportStream } from '../h3/transport/transport.js';
import { leafNames, sanNames } from '../identity.js';
import { schemeName } from '../tls/signature-scheme.js';
import { checkSpontaneousAuthenticator } from './authenticator.js';
import { CertificateJudge, originOf, round, startReport } from './common.js';
import { DRAFT, formatReport, hexEvidence, RFC9110, RFC9261, type CertificateRecord, type CheckReport, type CheckResult, type OriginRecord } from './report.js';

// The conformance checker over HTTP/3: one QUIC connection (ALPN h3) as a client that offers the
// extension but only watches. It reads the server's streams itself (FrameReader and the stream rules of
// src/h3/frames/streams.ts, each violation recorded rather than acted on), so a bad frame never ends the
// check early: every frame is recorded and judged, the origins are requested on the same connection, and
// only then does it close, with the code a conforming client would have used. H3Session is not used: it
// closes the connection at the first violation, which is right for a client and wrong for a witness.

export const RFC9114 = 'RFC 9114';

export interface H3CheckOptions {
  /** Trust anchors (PEM) for the QUIC handshake and every secondary certificate; default: the system's. */
  ca?: string | string[];
  /** Origins (or host names) to request on the same connection, besides the target itself. */
  origins?: string[];
  /** Connect here instead of resolving the URL's host (which stays the SNI and :authority). */
  connectAddress?: string;
  /** Limit for the handshake, the server's SETTINGS and each request (default 10 s). */
  timeoutMs?: number;
  /** How long the server may stay quiet before its certificates are taken as all sent (default 300 ms). */
  waitMs?: number;
  profile?: H3Profile;
  crypto?: CryptoProvider;
}

/** The HTTP/2 report, plus how each side ended the connection. */
export interface H3CheckReport extends CheckReport {
  /** The code we closed with: what a conforming client would have used. */
  clientClose?: { code: number; name: string; reason: string };
  /** The server closed the connection first. */
  serverClose?: { code: number; app: boolean; reason: string };
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_WAIT_MS = 300;
/** Largest buffered frame we read: room for a 64 KiB authenticator, as our client allows. */
const MAX_FRAME = 64 * 1024 + 1024;

/** A frame of interest seen on one of the server's streams. */
interface SeenFrame {
  type: number;
  payload: Uint8Array;
  streamId: number;
  control: boolean;
  at: number;
  /** Whether the server's SETTINGS with the setting = 1 had arrived. */
  afterValue1: boolean;
}

/** A rule the server broke, as a conforming client would have seen it. */
interface Violation {
  code: number;
  message: string;
  section: string;
  evidence?: string;
}

/** Checks the HTTP/3 server at `url` (https://HOST:PORT, UDP). Never throws for what the server does; bad options throw TypeError. */
export async function checkH3Server(url: string | URL, options: H3CheckOptions = {}): Promise<H3CheckReport> {
  const target = new URL(url);
  if (target.protocol !== 'https:' || target.hostname === '') throw new TypeError(`the target must be an https URL, not ${String(url)}`);
  const self = new URL(target.origin);
  const origins = [self, ...(options.origins ?? []).map((o) => originOf(o, target))].filter((o, i, all) => all.findIndex((x) => x.origin === o.origin) === i);
  const profile = options.profile ?? DEFAULT_H3_PROFILE;
  const settingId = profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const { report, finish } = startReport<H3CheckReport>(target, options.connectAddress, {
    setting: settingId,
    frame: profile.frames.SERVER_CERTIFICATE,
    errorCode: profile.errors.SERVER_CERTIFICATE_INVALID,
  });

  const anchors = options.ca ? ([] as string[]).concat(options.ca) : [...rootCertificates];
  let transport: TransportConnection;
  try {
    transport = await connectQuic({
      host: options.connectAddress ?? host,
      port: Number(target.port || 443),
      servername: host,
      ca: anchors.join('\n'),
      timeoutMs,
      ...(options.crypto ? { crypto: options.crypto } : {}),
    });
  } catch (e) {
    report.error = `no QUIC connection with ALPN h3: ${(e as Error).message}`;
    return finish('unreachable');
  }
  const tlsLeaf = leafOf(transport.peerCertificates()[0]);
  report.tls = { protocol: 'TLSv1.3', cipher: '(QUIC)', alpn: transport.alpnProtocol, peerNames: sanNames(tlsLeaf) };
  report.checks.push({
    id: 'connection',
    section: `${RFC9114} §3.1, RFC 9001 §4, RFC 9261 §5.1`,
    title: 'QUIC (TLS 1.3) with ALPN h3',
    status: transport.alpnProtocol === 'h3' ? 'pass' : 'fail',
    detail: `ALPN ${transport.alpnProtocol}, server certificate for ${report.tls.peerNames.join(', ') || '(no names)'}`,
  });

  const watcher = new Watcher(transport, profile);
  watcher.start();
  await watcher.waitForSettings(timeoutMs);
  await watcher.quiet(waitMs, timeoutMs);
  judgeSettings(report, watcher, settingId, timeoutMs);

  const judge = new CertificateJudge({ ca: anchors }, () => tlsLeaf);
  // The target itself first: its response stream is where a server that misplaces SERVER_CERTIFICATE puts it.
  const answers = new Map<string, Answer>();
  const [first, ...rest] = origins;
  answers.set(first!.origin, await watcher.request(first!, timeoutMs));
  await watcher.quiet(waitMs, timeoutMs);
  const found = await judgeFrames(report, watcher, profile, judge, options.crypto);
  for (const origin of rest) {
    if (!judge.coveredBy(origin.hostname) || watcher.closedBy) continue;
    answers.set(origin.origin, await watcher.request(origin, timeoutMs));
  }
  // Requests to origins not proven: a 421 is the right answer, so they go last (a server may close on them).
  for (const origin of rest) if (!answers.has(origin.origin) && !watcher.closedBy) answers.set(origin.origin, await watcher.request(origin, timeoutMs));
  judgeOrigins(report, origins, answers, judge);
  // Request-stream frames may have come with the later responses too.
  found.wrongStream ||= await judgeLateFrames(report, watcher, profile, found.judged);
  judgeRules(report, watcher);

  const close = watcher.closedBy;
  if (close && close.by !== 'local') {
    report.serverClose = { code: close.code, app: close.app, reason: close.reason };
    const clean = close.by === 'idle' || (close.app && close.code === H3ErrorCode.H3_NO_ERROR);
    report.checks.push({
      id: 'connection.close',
      section: `${RFC9114} §5.2, §8`,
      title: 'the server does not end the connection with an error',
      status: clean ? 'pass' : 'fail',
      detail: `${close.by === 'idle' ? 'idle timeout' : `${close.app ? 'application' : 'transport'} code 0x${close.code.toString(16)}${close.app && h3ErrorName(close.code) ? ` (${h3ErrorName(close.code)})` : ''}`}${close.reason ? ` "${close.reason}"` : ''}`,
    });
  } else {
    // Goodbye with the code a conforming client would have used (draft §6, RFC 9114 §8).
    const violation = watcher.violations[0];
    const code = found.invalidAuthenticator ? profile.errors.SERVER_CERTIFICATE_INVALID : found.wrongStream ? H3ErrorCode.H3_FRAME_UNEXPECTED : violation ? violation.code : H3ErrorCode.H3_NO_ERROR;
    const name = code === profile.errors.SERVER_CERTIFICATE_INVALID ? 'SERVER_CERTIFICATE_INVALID' : (h3ErrorName(code) ?? `0x${code.toString(16)}`);
    const reason = found.invalidAuthenticator ? 'SERVER_CERTIFICATE does not validate' : found.wrongStream ? 'SERVER_CERTIFICATE on a request stream' : violation ? violation.message.slice(0, 200) : '';
    report.clientClose = { code, name, reason };
    await watcher.close(code, reason);
  }
  return finish();
}

/** The text report, with how the connection ended. */
export function formatH3Report(report: H3CheckReport): string {
  const lines = formatReport(report).trimEnd().split('\n');
  const extra: string[] = [];
  if (report.serverClose) extra.push(`the server closed the connection: ${report.serverClose.app ? 'application' : 'transport'} code 0x${report.serverClose.code.toString(16)}${report.serverClose.reason ? ` "${report.serverClose.reason}"` : ''}`);
  if (report.clientClose) extra.push(`closed the connection with 0x${report.clientClose.code.toString(16)} (${report.clientClose.name})${report.clientClose.reason ? `: ${report.clientClose.reason}` : ''}`);
  lines.splice(lines.length - 1, 0, ...extra);
  return `${lines.join('\n')}\n`;
}

interface Answer {
  status?: number;
  body: string;
  error?: string;
}

/**
 * Our side of the connection, and a reader of every stream the server opens. Each frame of interest is
 * kept with its time; each rule broken (RFC 9114 stream rules, the extension's) is kept as a violation.
 */
class Watcher {
  readonly frames: SeenFrame[] = [];
  readonly violations: Violation[] = [];
  /** The server's SETTINGS (our lenient parse: every pair, the last of duplicates). */
  settings: { at: number; entries: [number, number][]; raw: Uint8Array } | undefined;
  value1At: number | undefined;
  t0 = 0;
  last = performance.now();
  closedBy: TransportClose | undefined;
  goawayId: number | undefined;
  private readonly writers: WritableStreamDefaultWriter<Uint8Array>[] = [];
  private controlSeen = false;
  private settingsWaiters: (() => void)[] = [];

  constructor(
    readonly transport: TransportConnection,
    readonly profile: H3Profile,
  ) {
    void transport.closed.then((info) => {
      this.closedBy ??= info;
      this.wake();
    });
  }

  start(): void {
    const settings = new Map<number, number>([
      [H3SettingId.QPACK_MAX_TABLE_CAPACITY, 0],
      [H3SettingId.QPACK_BLOCKED_STREAMS, 0],
      [H3SettingId.MAX_FIELD_SECTION_SIZE, 64 * 1024],
      [this.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, 1],
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

  private wake(): void {
    for (const w of this.settingsWaiters) w();
    this.settingsWaiters = [];
  }

  private violate(code: number, message: string, section: string, evidence?: string): void {
    this.violations.push({ code, message, section, ...(evidence ? { evidence } : {}) });
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
    const rules = new ControlStreamRules('client', this.profile);
    const frames = new FrameReader({ profile: this.profile, maxPayloadSize: MAX_FRAME });
    let broken = false;
    for (let chunk = first; ; ) {
      this.last = performance.now();
      let events: FrameEvent[] = [];
      try {
        events = frames.push(chunk);
      } catch (e) {
        this.violate(e instanceof H3ConnectionError ? e.h3Code : H3ErrorCode.H3_FRAME_ERROR, `control stream: ${(e as Error).message}`, `${RFC9114} §7.1`);
        return;
      }
      for (const event of events) {
        if (event.kind === 'data') continue;
        const type = event.kind === 'data-start' ? H3FrameType.DATA : event.type;
        if (!broken) {
          try {
            rules.check(type);
          } catch (e) {
            // After the first violation a client would be gone; the later frames are still recorded.
            broken = true;
            this.violate((e as H3ConnectionError).h3Code, `control stream: ${(e as Error).message}`, `${RFC9114} §6.2.1, §7.2`, event.kind === 'frame' ? hexEvidence(encodeFrame(type, event.payload)) : undefined);
          }
        }
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
      if (this.settings) return; // a second SETTINGS is a rule violation, already recorded
      const entries = lenientSettings(payload);
      if (!entries) this.violate(H3ErrorCode.H3_FRAME_ERROR, 'SETTINGS payload ends inside a pair', `${RFC9114} §7.2.4`, hexEvidence(payload));
      this.settings = { at: now, entries: entries ?? [], raw: payload };
      this.t0 = now;
      if (entries?.some(([id, v]) => id === this.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH && v === 1)) this.value1At = now;
      this.wake();
      return;
    }
    if (type === H3FrameType.GOAWAY) {
      this.goawayId = Number(lenientVarint(payload) ?? -1);
      return;
    }
    if (h3FrameNameOf(this.profile, type)) this.frames.push({ type, payload, streamId, control: true, at: now, afterValue1: this.value1At !== undefined });
  }

  /** Resolves once the server's SETTINGS arrived, the connection closed, or `timeoutMs` passed. */
  waitForSettings(timeoutMs: number): Promise<void> {
    if (this.settings || this.closedBy) return Promise.resolve();
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
    const rules = new RequestStreamRules('client', this.profile);
    const frames = new FrameReader({ profile: this.profile, maxPayloadSize: MAX_FRAME });
    const reader = stream.readable!.getReader();
    const answer: Answer = { body: '' };
    const body: Uint8Array[] = [];
    let broken = false;
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
          const type = event.kind === 'data-start' ? H3FrameType.DATA : event.type;
          if (!broken) {
            try {
              rules.check(type);
            } catch (e) {
              broken = true;
              this.violate((e as H3ConnectionError).h3Code, `request stream ${stream.id}: ${(e as Error).message}`, `${RFC9114} §4.1`, event.kind === 'frame' ? hexEvidence(encodeFrame(type, event.payload)) : undefined);
            }
          }
          if (event.kind !== 'frame') continue;
          if (h3FrameNameOf(this.profile, type)) {
            this.frames.push({ type, payload: event.payload, streamId: stream.id, control: false, at: performance.now(), afterValue1: this.value1At !== undefined });
          } else if (type === H3FrameType.HEADERS && answer.status === undefined) {
            const status = decodeFieldSection(event.payload).find((f) => f.name === ':status')?.value;
            if (status && !status.startsWith('1')) answer.status = Number(status);
          }
        }
      }
    } catch (e) {
      if (e instanceof H3ConnectionError) this.violate(e.h3Code, `request stream ${stream.id}: ${e.message}`, `${RFC9114} §4.1, §7.1`);
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

/** The SETTINGS pairs as sent, or undefined when the payload ends inside a pair. Ids past 2^53 are rounded. */
function lenientSettings(payload: Uint8Array): [number, number][] | undefined {
  const r = new Reader(payload, 'SETTINGS');
  const out: [number, number][] = [];
  try {
    while (r.remaining > 0) out.push([Number(readVarintBig(r, 'Identifier')), Number(readVarintBig(r, 'Value'))]);
  } catch {
    return undefined;
  }
  return out;
}

function lenientVarint(payload: Uint8Array): bigint | undefined {
  try {
    return readVarintBig(new Reader(payload, 'GOAWAY'), 'id');
  } catch {
    return undefined;
  }
}

/** RFC 9114 §6.2.1 (SETTINGS first) and draft §3.1 / §4.2 (the setting, its value). */
function judgeSettings(report: CheckReport, w: Watcher, settingId: number, timeoutMs: number): void {
  const s = w.settings;
  if (s) report.settings = [{ atMs: 0, entries: s.entries }];
  report.checks.push({
    id: 'settings.received',
    section: `${RFC9114} §6.2.1`,
    title: 'the server opens its control stream with SETTINGS',
    status: s ? 'pass' : 'fail',
    detail: s ? `${s.entries.length} setting(s)` : w.closedBy ? 'the connection closed before any SETTINGS' : `no SETTINGS within ${timeoutMs} ms`,
    ...(s ? { evidence: hexEvidence(encodeFrame(H3FrameType.SETTINGS, s.raw)) } : {}),
  });
  report.extension = w.value1At !== undefined ? 'supported' : s ? 'not-supported' : 'unknown';
  const values = (s?.entries ?? []).filter(([id]) => id === settingId).map(([, v]) => v);
  const name = `SETTINGS_HTTP_SERVER_CERT_AUTH (0x${settingId.toString(16)})`;
  if (values.length === 0) {
    report.checks.push({ id: 'settings.advertised', section: `${DRAFT} §3.1, §4.2`, title: `server advertises ${name}`, status: 'skip', detail: s ? 'the server does not support the extension: the setting is absent from its SETTINGS' : 'no SETTINGS' });
    return;
  }
  const evidence = values.map((v) => Buffer.from(concatBytes(encodeVarint(settingId), encodeVarint(v))).toString('hex')).join(' ');
  report.checks.push({
    id: 'settings.advertised',
    section: `${DRAFT} §3.1, §4.2`,
    title: `server advertises ${name}`,
    status: values.includes(1) ? 'pass' : 'skip',
    detail: values.includes(1) ? 'value 1' : `the server does not support the extension: value ${values.join(', ')}`,
    evidence,
  });
  const bad = values.filter((v) => v !== 0 && v !== 1);
  report.checks.push({
    id: 'settings.value',
    section: `${DRAFT} §3.1, §4.2`,
    title: 'setting value is 0 or 1',
    status: bad.length === 0 && values.length === 1 ? 'pass' : 'fail',
    detail: bad.length > 0 ? `value ${bad.join(', ')} (a client closes with H3_SETTINGS_ERROR)` : values.length > 1 ? `the setting appears ${values.length} times (H3_SETTINGS_ERROR)` : `value ${values[0]}`,
    evidence,
  });
}

/** Each SERVER_CERTIFICATE: its stream, negotiation, then RFC 9261 and the certificate policy. */
async function judgeFrames(report: CheckReport, w: Watcher, profile: H3Profile, judge: CertificateJudge, crypto: CryptoProvider | undefined): Promise<{ invalidAuthenticator: boolean; wrongStream: boolean; judged: number }> {
  const contexts = new Set<string>();
  let invalidAuthenticator = false;
  let wrongStream = false;
  const frames = [...w.frames];
  for (const [i, seen] of frames.entries()) {
    const n = i + 1;
    const frame = recordFrame(report, w, profile, seen, n);
    if (seen.type !== profile.frames.SERVER_CERTIFICATE) continue;
    const id = `frame${n}`;
    const where = `(frame #${n})`;
    wrongStream ||= !seen.control;
    report.checks.push(...frameRuleChecks(seen, id, where, frame.hex.slice(0, 24), w, profile));
    if (!seen.control || !seen.afterValue1) {
      const why = !seen.control ? 'a client closes the connection with H3_FRAME_UNEXPECTED instead' : 'the extension was not negotiated, so a client ignores the frame';
      report.checks.push({ id: `${id}.authenticator`, section: `${RFC9261} §5`, title: `authenticator checked ${where}`, status: 'skip', detail: `not checked: ${why}` });
      continue;
    }
    const outcome = await checkSpontaneousAuthenticator({ keys: w.transport.keys, authenticator: seen.payload, id, where, seenContexts: contexts, ...(crypto ? { crypto } : {}) });
    report.checks.push(...outcome.checks);
    invalidAuthenticator ||= !outcome.valid;
    const record: CertificateRecord = { frame: n, via: 'SERVER_CERTIFICATE', names: outcome.chain?.[0] ? leafNames(outcome.chain[0]) : [], chainLength: outcome.chain?.length ?? 0, valid: outcome.valid };
    if (outcome.scheme !== undefined) record.scheme = schemeName(outcome.scheme);
    if (outcome.valid && outcome.chain?.length) await judge.judgeInto(report.checks, record, outcome.chain, id, where);
    report.certificates.push(record);
  }
  return { invalidAuthenticator, wrongStream, judged: frames.length };
}

/** Frames that came with the later responses: recorded and judged for their stream only. */
async function judgeLateFrames(report: CheckReport, w: Watcher, profile: H3Profile, judged: number): Promise<boolean> {
  let wrongStream = false;
  for (const [i, seen] of w.frames.slice(judged).entries()) {
    const n = judged + i + 1;
    const frame = recordFrame(report, w, profile, seen, n);
    if (seen.type !== profile.frames.SERVER_CERTIFICATE) continue;
    wrongStream ||= !seen.control;
    report.checks.push(...frameRuleChecks(seen, `frame${n}`, `(frame #${n})`, frame.hex.slice(0, 24), w, profile));
    report.checks.push({ id: `frame${n}.authenticator`, section: `${RFC9261} §5`, title: `authenticator checked (frame #${n})`, status: 'skip', detail: 'not checked: it arrived after the origins were requested' });
  }
  return wrongStream;
}

function recordFrame(report: CheckReport, w: Watcher, profile: H3Profile, seen: SeenFrame, n: number): CheckReport['frames'][number] {
  const frame = {
    index: n,
    type: seen.type,
    name: h3FrameNameOf(profile, seen.type) ?? frameTypeName(seen.type, profile),
    flags: 0,
    streamId: seen.streamId,
    length: seen.payload.length,
    atMs: round(seen.at - (w.settings ? w.t0 : seen.at)),
    afterSettingValue1: seen.afterValue1,
    hex: hexEvidence(encodeFrame(seen.type, seen.payload), 64),
  };
  report.frames.push(frame);
  return frame;
}

/** Draft §5.2 (the server's control stream only) and §3.1 (only once both sent the setting = 1). */
function frameRuleChecks(seen: SeenFrame, id: string, where: string, evidence: string, w: Watcher, profile: H3Profile): CheckResult[] {
  const name = `SETTINGS_HTTP_SERVER_CERT_AUTH (0x${profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH.toString(16)})`;
  return [
    {
      id: `${id}.stream`,
      section: `${DRAFT} §5.2`,
      title: `SERVER_CERTIFICATE on the server's control stream ${where}`,
      status: seen.control ? 'pass' : 'fail',
      detail: seen.control ? `control stream ${seen.streamId}` : `sent on request stream ${seen.streamId} (a client closes with H3_FRAME_UNEXPECTED)`,
      evidence,
    },
    {
      id: `${id}.negotiated`,
      section: `${DRAFT} §3.1, §3.2`,
      title: `sent only after the server's SETTINGS carried the setting = 1 ${where}`,
      status: seen.afterValue1 ? 'pass' : 'fail',
      detail: seen.afterValue1
        ? `+${round(seen.at - w.t0)} ms after the server's SETTINGS with ${name} = 1`
        : `the server's SETTINGS ${w.settings ? `does not carry ${name} = 1` : 'had not arrived'}: the feature was not negotiated, so a client must not use it (it ignores the frame)`,
      evidence,
    },
  ];
}

/** The stream rules of RFC 9114 as a client applies them: one check per violation, or one pass. */
function judgeRules(report: CheckReport, w: Watcher): void {
  if (w.violations.length === 0) {
    report.checks.push({ id: 'streams.rules', section: `${RFC9114} §4.1, §6.2, §7.2`, title: 'frames on the right streams, in the right order', status: 'pass', detail: 'no violation on the control stream or the request streams' });
    return;
  }
  for (const [i, v] of w.violations.entries()) {
    report.checks.push({
      id: `streams.rule${i + 1}`,
      section: v.section,
      title: 'frames on the right streams, in the right order',
      status: 'fail',
      detail: `${v.message} (a client closes with ${h3ErrorName(v.code) ?? `0x${v.code.toString(16)}`})`,
      ...(v.evidence ? { evidence: v.evidence } : {}),
    });
  }
}

/** The target and each --origin: proven ones answered on this connection (not 421); 421 is fine for the others. */
function judgeOrigins(report: CheckReport, origins: URL[], answers: Map<string, Answer>, judge: CertificateJudge): void {
  for (const origin of origins) {
    const h = origin.hostname;
    const record: OriginRecord = { origin: origin.origin };
    report.origins.push(record);
    const id = `origin[${origin.host}]`;
    const via = judge.coveredBy(h);
    if (via) record.coveredBy = via;
    const answer = answers.get(origin.origin);
    if (answer?.status !== undefined) record.status = answer.status;
    if (answer) record.body = answer.body;
    const supported = report.extension === 'supported';
    report.checks.push({
      id: `${id}.covered`,
      section: `${DRAFT} §3.2, ${RFC9110} §4.3.3`,
      title: `a certificate on this connection covers ${h}`,
      status: via ? 'pass' : 'skip',
      detail: via ? `the ${via === 'tls' ? 'TLS' : 'secondary'} certificate` : supported ? 'no valid, accepted certificate covers it: a client would not send it here' : 'the server does not support the extension',
    });
    if (!answer) {
      report.checks.push({ id: `${id}.served`, section: `${RFC9110} §15.5.20`, title: `${origin.host} answered on this connection`, status: 'skip', detail: 'not requested: the connection is closed' });
      continue;
    }
    const evidence = answer.body ? { evidence: JSON.stringify(answer.body.slice(0, 60)) } : {};
    if (via) {
      report.checks.push({
        id: `${id}.served`,
        section: `${RFC9110} §15.5.20`,
        title: `${origin.host} answered on this connection (not 421)`,
        status: !answer.error && answer.status !== 421 ? 'pass' : 'fail',
        detail: answer.error ?? `status ${answer.status}${answer.status === 421 ? ': the server proved an origin it will not serve here (draft §3.2)' : ''}`,
        ...evidence,
      });
    } else {
      report.checks.push({
        id: `${id}.served`,
        section: `${RFC9110} §15.5.20`,
        title: `${origin.host}, not proven here, answered (421 acceptable)`,
        status: answer.error ? 'fail' : 'pass',
        detail: answer.error ?? `status ${answer.status}`,
        ...evidence,
      });
    }
  }
}

function leafOf(der: Uint8Array | undefined): X509Certificate | undefined {
  try {
    return der ? new X509Certificate(der) : undefined;
  } catch {
    return undefined;
  }
}
