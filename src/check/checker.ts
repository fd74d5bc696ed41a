import { X509Certificate } from 'node:crypto';
import type * as http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { rootCertificates, type TLSSocket } from 'node:tls';
import type { CryptoProvider } from '../crypto/provider.js';
import { CertificateRejected, SecondaryCertsError } from '../errors.js';
import type { AuthenticatorKeys } from '../exporter/keys.js';
import { keysFromTlsSocket } from '../exporter/tls-socket.js';
import { encodeFrame, type FrameHeader } from '../h2/frame-header.js';
import { H2ErrorCode } from '../h2/errors.js';
import { DEFAULT_PROFILE, frameNameOf, type H2Profile } from '../h2/profile.js';
import { certificateCovers } from '../h2/server.js';
import { connectSpliced, type SplicedClient } from '../h2/wire.js';
import { CertificatePolicy } from '../pki/policy.js';
import { schemeName } from '../tls/signature-scheme.js';
import { checkSpontaneousAuthenticator } from './authenticator.js';
import { exchange } from './exchange.js';
import { checkOptionsStar } from './options-star.js';
import {
  DRAFT,
  hexEvidence,
  RFC9110,
  RFC9113,
  summarize,
  type CertificateRecord,
  type CheckReport,
  type CheckResult,
  type OriginRecord,
  type RecordedFrame,
  type Verdict,
} from './report.js';

// The conformance checker: one connection to a server, as a client that supports the extension, but one
// that only watches. It never closes the connection over what it sees (SecondaryCertConnection would, on
// the first bad authenticator), so every frame is recorded and judged; then it asks for the origins it was
// given on the same connection, optionally tries OPTIONS *, and only then says goodbye, with the error
// code a conforming client would have used.

export interface CheckOptions {
  /** Trust anchors (PEM) for the TLS certificate and every secondary certificate; default: the system's. */
  ca?: string | string[];
  /** Accept any TLS certificate, and record secondary chains without judging them. */
  insecure?: boolean;
  /** Origins (or host names) to request on the same connection. */
  origins?: string[];
  /** Origins (or host names) to ask for with OPTIONS * (our proposal). */
  optionsStar?: string[];
  /** Connect here instead of resolving the URL's host (which stays the SNI and :authority). */
  connectAddress?: string;
  /** Limit for the TLS handshake, the server's SETTINGS, and each request (default 10 s). */
  timeoutMs?: number;
  /** How long the server may stay quiet before its certificates are taken as all sent (default 300 ms). */
  waitMs?: number;
  profile?: H2Profile;
  crypto?: CryptoProvider;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_WAIT_MS = 300;
/** Our SETTINGS_MAX_FRAME_SIZE: room for a 64 KiB authenticator, as the project's client allows. */
const OUR_MAX_FRAME_SIZE = 64 * 1024 + 1024;

interface Seen {
  at: number;
  header: FrameHeader;
  payload: Uint8Array;
  afterValue1: boolean;
  oversize: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Checks the server at `url` (https://HOST:PORT). Never throws for what the server does; bad options throw TypeError. */
export async function checkServer(url: string | URL, options: CheckOptions = {}): Promise<CheckReport> {
  const target = new URL(url);
  if (target.protocol !== 'https:' || target.hostname === '') throw new TypeError(`the target must be an https URL, not ${String(url)}`);
  const origins = (options.origins ?? []).map((o) => originOf(o, target));
  const optionsStarOrigins = (options.optionsStar ?? []).map((o) => originOf(o, target));
  const profile = options.profile ?? DEFAULT_PROFILE;
  const settingId = profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const frameType = profile.frames.SERVER_CERTIFICATE;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const isIp = /^[0-9.]+$/.test(host) || host.includes(':');
  const started = performance.now();

  const report: CheckReport = {
    target: target.origin,
    ...(options.connectAddress ? { connectAddress: options.connectAddress } : {}),
    startedAt: new Date().toISOString(),
    durationMs: 0,
    profile: { setting: settingId, frame: frameType, errorCode: profile.errors.SERVER_CERTIFICATE_INVALID },
    extension: 'unknown',
    settings: [],
    frames: [],
    certificates: [],
    origins: [],
    checks: [],
    summary: { passed: 0, failed: 0, skipped: 0 },
    verdict: 'unreachable',
  };
  const checks = report.checks;
  const finish = (verdict?: Verdict): CheckReport => {
    report.summary = summarize(checks);
    report.verdict = verdict ?? (report.summary.failed > 0 ? 'does-not-conform' : report.extension === 'supported' ? 'conforms' : 'no-extension');
    report.durationMs = Math.round(performance.now() - started);
    return report;
  };

  let client: SplicedClient;
  try {
    client = await connectSpliced(target, {
      host: options.connectAddress ?? host,
      servername: isIp ? undefined : host,
      ...(options.ca ? { ca: options.ca } : {}),
      rejectUnauthorized: !options.insecure,
      settings: { customSettings: { [settingId]: 1 }, maxFrameSize: OUR_MAX_FRAME_SIZE },
      remoteCustomSettings: [settingId],
      // Every extension frame type of the profile, so that the report shows whatever the server sends.
      interceptTypes: new Set(Object.values(profile.frames)),
      handshakeTimeoutMs: timeoutMs,
    });
  } catch (e) {
    report.error = `no TLS 1.3 connection with ALPN h2: ${(e as Error).message}`;
    return finish('unreachable');
  }
  const { session, tlsSocket } = client;
  const splicer = client.splicer!;
  const connectedAt = performance.now();
  report.tls = {
    protocol: String(tlsSocket.getProtocol()),
    cipher: tlsSocket.getCipher().standardName ?? tlsSocket.getCipher().name,
    alpn: String(tlsSocket.alpnProtocol),
    peerNames: sanNames(tlsSocket.getPeerX509Certificate()),
  };

  // ---- record ----
  let firstSettingsAt: number | undefined;
  let value1At: number | undefined;
  let lastActivity = connectedAt;
  let closed = false;
  const settingsSeen: { at: number; entries: [number, number][] }[] = [];
  const seen: Seen[] = [];
  splicer.on('peerSettings', (m: Map<number, number>) => {
    const at = performance.now();
    firstSettingsAt ??= at;
    lastActivity = at;
    settingsSeen.push({ at, entries: [...m] });
    if (m.get(settingId) === 1) value1At ??= at;
  });
  splicer.on('frame', (header: FrameHeader, payload: Uint8Array) => {
    lastActivity = performance.now();
    seen.push({ at: lastActivity, header, payload: payload.slice(), afterValue1: value1At !== undefined, oversize: false });
  });
  splicer.on('oversizeFrame', (header: FrameHeader) => {
    lastActivity = performance.now();
    seen.push({ at: lastActivity, header, payload: new Uint8Array(0), afterValue1: value1At !== undefined, oversize: true });
  });
  session.on('goaway', (code: number, lastStreamId: number, opaque?: Buffer) => {
    report.goaway = { code, lastStreamId, debug: opaque ? opaque.toString('utf8').slice(0, 200) : '' };
  });
  session.on('error', () => {
    // Reported through the GOAWAY, the requests, and 'close'; never a crash.
  });
  session.once('close', () => (closed = true));

  // ---- wait: the server's SETTINGS, a PING round trip (it has read ours), then quiet ----
  const deadline = connectedAt + timeoutMs;
  while (firstSettingsAt === undefined && !closed && performance.now() < deadline) await sleep(10);
  if (!closed && firstSettingsAt !== undefined) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      try {
        session.ping(() => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
    lastActivity = Math.max(lastActivity, performance.now());
    while (!closed && performance.now() - lastActivity < waitMs && performance.now() < deadline + waitMs) {
      await sleep(waitMs - (performance.now() - lastActivity));
    }
  }
  const t0 = firstSettingsAt ?? connectedAt;

  // ---- judge the connection and the SETTINGS ----
  checks.push({
    id: 'connection',
    section: `${RFC9113} §3.2, RFC 9261 §5.1`,
    title: 'TLS 1.3 with ALPN h2 (exporters need TLS 1.3)',
    status: report.tls.protocol === 'TLSv1.3' && report.tls.alpn === 'h2' ? 'pass' : 'fail',
    detail: `${report.tls.protocol}, ${report.tls.cipher}, ALPN ${report.tls.alpn}`,
  });
  report.settings = settingsSeen.map((s) => ({ atMs: round(s.at - t0), entries: s.entries }));
  if (firstSettingsAt === undefined) {
    checks.push({ id: 'settings.received', section: `${RFC9113} §3.4`, title: 'the server sends SETTINGS first', status: 'fail', detail: closed ? 'the connection closed before any SETTINGS' : `no SETTINGS within ${timeoutMs} ms` });
  } else {
    checks.push({ id: 'settings.received', section: `${RFC9113} §3.4`, title: 'the server sends SETTINGS first', status: 'pass', detail: `${settingsSeen.length} SETTINGS frame(s)` });
  }
  const values = settingsSeen.flatMap((s) => s.entries.filter(([id]) => id === settingId).map(([, v]) => v));
  const settingHex = (v: number): string => Buffer.from([settingId >> 8, settingId & 0xff, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]).toString('hex');
  const settingName = `SETTINGS_HTTP_SERVER_CERT_AUTH (0x${settingId.toString(16)})`;
  report.extension = value1At !== undefined ? 'supported' : firstSettingsAt !== undefined ? 'not-supported' : 'unknown';
  if (values.length === 0) {
    checks.push({ id: 'settings.advertised', section: `${DRAFT} §3.1`, title: `server advertises ${settingName}`, status: 'skip', detail: 'the server does not support the extension: the setting is absent from its SETTINGS' });
  } else {
    checks.push({
      id: 'settings.advertised',
      section: `${DRAFT} §3.1`,
      title: `server advertises ${settingName}`,
      status: value1At !== undefined ? 'pass' : 'skip',
      detail: value1At !== undefined ? `value 1 at +${round(value1At - t0)} ms` : `the server does not support the extension: values sent ${values.join(', ')}`,
      evidence: values.map(settingHex).join(' '),
    });
    const bad = values.filter((v) => v !== 0 && v !== 1);
    checks.push({
      id: 'settings.value',
      section: `${DRAFT} §3.1`,
      title: 'setting value is 0 or 1',
      status: bad.length === 0 ? 'pass' : 'fail',
      detail: bad.length === 0 ? `values: ${values.join(', ')}` : `values other than 0 or 1: ${bad.join(', ')} (a client closes with PROTOCOL_ERROR)`,
      evidence: values.map(settingHex).join(' '),
    });
    const lowered = values.some((v, i) => i > 0 && v === 0 && values.slice(0, i).includes(1));
    checks.push({
      id: 'settings.not-lowered',
      section: `${DRAFT} §3.1`,
      title: 'never 0 after 1',
      status: lowered ? 'fail' : 'pass',
      detail: lowered ? `the setting went from 1 to 0: ${values.join(' → ')}` : values.length > 1 ? `values in order: ${values.join(' → ')}` : 'sent once',
    });
  }

  // ---- judge every extension frame ----
  let keys: AuthenticatorKeys | undefined;
  let keysProblem: string | undefined;
  try {
    keys = keysFromTlsSocket(tlsSocket);
  } catch (e) {
    keysProblem = (e as Error).message;
  }
  const policy = options.insecure ? undefined : new CertificatePolicy({ trustAnchors: options.ca ? ([] as string[]).concat(options.ca) : [...rootCertificates], role: 'server' });
  const accepted: { covers(host: string): boolean }[] = [];
  const recorded: X509Certificate[] = [];
  const contexts = new Set<string>();
  let invalidAuthenticator = false;
  let frameRuleBroken = false;
  for (const [i, s] of seen.entries()) {
    const n = i + 1;
    const frame: RecordedFrame = {
      index: n,
      type: s.header.type,
      name: frameNameOf(profile, s.header.type) ?? 'unknown',
      flags: s.header.flags,
      streamId: s.header.streamId,
      length: s.header.length,
      atMs: round(s.at - t0),
      afterSettingValue1: s.afterValue1,
      ...(s.oversize ? { oversize: true } : {}),
      hex: hexEvidence(encodeFrame(s.header.type, s.header.flags, s.header.streamId, s.payload), 64),
    };
    report.frames.push(frame);
    if (s.header.type !== frameType) continue;
    const where = `(frame #${n})`;
    const id = `frame${n}`;
    const header = frame.hex.slice(0, 18);
    const streamOk = s.header.streamId === 0;
    frameRuleBroken ||= !streamOk;
    checks.push({ id: `${id}.stream`, section: `${DRAFT} §5.1`, title: `SERVER_CERTIFICATE on stream 0 ${where}`, status: streamOk ? 'pass' : 'fail', detail: streamOk ? 'stream 0' : `sent on stream ${s.header.streamId} (a client closes with PROTOCOL_ERROR)`, evidence: header });
    checks.push({ id: `${id}.flags`, section: `${RFC9113} §4.1`, title: `unused flags left unset ${where}`, status: s.header.flags === 0 ? 'pass' : 'fail', detail: `flags 0x${s.header.flags.toString(16).padStart(2, '0')}`, evidence: header });
    checks.push({
      id: `${id}.timing`,
      section: `${DRAFT} §3.2`,
      title: `not sent before SETTINGS ${where}`,
      status: s.afterValue1 ? 'pass' : 'fail',
      detail: s.afterValue1
        ? `+${frame.atMs} ms, after the server's ${settingName} = 1 (+${round((value1At as number) - t0)} ms)`
        : `+${frame.atMs} ms, before the server's ${settingName} = 1 (${value1At === undefined ? 'never sent' : `sent at +${round(value1At - t0)} ms`}): the feature was not negotiated, so a client must not use it`,
      evidence: header,
    });
    if (s.oversize) {
      checks.push({ id: `${id}.size`, section: `${RFC9113} §4.2`, title: `fits our SETTINGS_MAX_FRAME_SIZE ${where}`, status: 'fail', detail: `${s.header.length} bytes, more than the ${OUR_MAX_FRAME_SIZE} we allowed (FRAME_SIZE_ERROR)`, evidence: header });
      continue;
    }
    if (!keys) {
      checks.push({ id: `${id}.authenticator`, section: 'RFC 9261 §5.1', title: `authenticator can be checked ${where}`, status: 'skip', detail: `no exporter: ${keysProblem ?? ''}` });
      continue;
    }
    const outcome = await checkSpontaneousAuthenticator({ keys, authenticator: s.payload, id, where, seenContexts: contexts, ...(options.crypto ? { crypto: options.crypto } : {}) });
    checks.push(...outcome.checks);
    invalidAuthenticator ||= !outcome.valid;
    const leaf = outcome.chain?.[0];
    const record: CertificateRecord = { frame: n, via: 'SERVER_CERTIFICATE', names: leaf ? leafNames(leaf) : [], chainLength: outcome.chain?.length ?? 0, valid: outcome.valid };
    if (outcome.scheme !== undefined) record.scheme = schemeName(outcome.scheme);
    if (outcome.valid && outcome.chain && leaf) {
      if (policy) {
        try {
          const cert = await policy.check(outcome.chain);
          record.accepted = true;
          accepted.push(cert);
          checks.push({ id: `${id}.certificate`, section: `${DRAFT} §6.2`, title: `certificate acceptable (trust, dates, usage) ${where}`, status: 'pass', detail: `accepted: ${record.names.join(', ')}` });
        } catch (e) {
          if (!(e instanceof CertificateRejected) && !(e instanceof SecondaryCertsError)) throw e;
          record.accepted = false;
          record.reason = `${e.code}: ${e.message}`;
          checks.push({ id: `${id}.certificate`, section: `${DRAFT} §6.2`, title: `certificate acceptable (trust, dates, usage) ${where}`, status: 'fail', detail: `not accepted (a client ignores it; not a protocol error): ${record.reason}` });
        }
      } else {
        try {
          recorded.push(new X509Certificate(leaf));
        } catch {
          // An undecodable leaf covers nothing.
        }
        checks.push({ id: `${id}.certificate`, section: `${DRAFT} §6.2`, title: `certificate acceptable (trust, dates, usage) ${where}`, status: 'skip', detail: `--insecure: chain recorded only (${record.names.join(', ')})` });
      }
    }
    report.certificates.push(record);
  }

  // ---- origins on the same connection ----
  const authority = target.host;
  const coveredBy = (h: string): 'tls' | 'secondary' | undefined => {
    const tlsCert = tlsSocket.getPeerX509Certificate();
    if (tlsCert && certificateCovers(tlsCert, h)) return 'tls';
    if (accepted.some((c) => c.covers(h)) || recorded.some((c) => certificateCovers(c, h))) return 'secondary';
    return undefined;
  };
  for (const origin of origins) {
    const h = origin.hostname;
    const record: OriginRecord = { origin: origin.origin };
    report.origins.push(record);
    const id = `origin[${origin.host}]`;
    if (report.extension !== 'supported') {
      checks.push({ id: `${id}.covered`, section: `${DRAFT} §3.2`, title: `a certificate on this connection covers ${h}`, status: 'skip', detail: 'the server does not support the extension' });
      continue;
    }
    const via = coveredBy(h);
    if (via) record.coveredBy = via;
    checks.push({
      id: `${id}.covered`,
      section: `${DRAFT} §3.2, ${RFC9110} §4.3.3`,
      title: `a certificate on this connection covers ${h}`,
      status: via ? 'pass' : 'fail',
      detail: via ? `the ${via === 'tls' ? 'TLS' : 'secondary'} certificate` : `neither the TLS certificate nor a ${policy ? 'valid, accepted' : 'valid'} secondary certificate covers it`,
    });
    if (!via || closed) {
      checks.push({ id: `${id}.served`, section: `${RFC9110} §15.5.20`, title: `${origin.host} answered on this connection (not 421)`, status: 'skip', detail: closed ? 'the connection is closed' : 'not requested: no certificate covers it' });
      continue;
    }
    const answer = await exchange(session, { ':method': 'GET', ':scheme': 'https', ':authority': origin.host, ':path': '/' }, undefined, timeoutMs);
    if (answer.status) record.status = answer.status;
    record.body = answer.body.subarray(0, 200).toString('utf8');
    const ok = !answer.error && answer.status !== 0 && answer.status !== 421;
    checks.push({
      id: `${id}.served`,
      section: `${RFC9110} §15.5.20`,
      title: `${origin.host} answered on this connection (not 421)`,
      status: ok ? 'pass' : 'fail',
      detail: answer.error ? answer.error : `status ${answer.status}${answer.status === 421 ? ': the server sent a certificate for an origin it will not serve here (draft §3.2)' : ''}`,
      ...(answer.body.length ? { evidence: JSON.stringify(record.body.slice(0, 60)) } : {}),
    });
  }

  // ---- OPTIONS * (our proposal) ----
  if (optionsStarOrigins.length > 0) {
    if (!keys || closed) {
      checks.push({ id: 'options.discovery', section: 'OPTIONS * proposal (digest §4.2)', title: 'capability discovery', status: 'skip', detail: closed ? 'the connection is closed' : `no exporter: ${keysProblem ?? ''}` });
    } else {
      const out = await checkOptionsStar(
        {
          session,
          keys,
          authority,
          judge: policy
            ? async (chain, h) => {
                try {
                  const cert = await policy.check(chain);
                  accepted.push(cert);
                  return { accepted: true, covers: cert.covers(h), names: cert.dnsNames.concat(cert.ipAddresses) };
                } catch (e) {
                  return { accepted: false, covers: false, names: leafNames(chain[0] as Uint8Array), reason: e instanceof SecondaryCertsError ? `${e.code}: ${e.message}` : String(e) };
                }
              }
            : undefined,
          namesOf: leafNames,
          timeoutMs,
          ...(options.crypto ? { crypto: options.crypto } : {}),
        },
        optionsStarOrigins,
      );
      checks.push(...out.checks);
      report.certificates.push(...out.certificates);
    }
  }

  // ---- the end of the connection ----
  if (report.goaway) {
    const g = report.goaway;
    checks.push({
      id: 'connection.goaway',
      section: `${RFC9113} §6.8`,
      title: 'the server does not end the connection with an error',
      status: g.code === H2ErrorCode.NO_ERROR ? 'pass' : 'fail',
      detail: `GOAWAY code 0x${g.code.toString(16)}${g.debug ? ` "${g.debug}"` : ''}`,
    });
  }
  // Goodbye with the code a conforming client would have used (draft §6, digest 2.3).
  const code = invalidAuthenticator ? profile.errors.SERVER_CERTIFICATE_INVALID : frameRuleBroken ? H2ErrorCode.PROTOCOL_ERROR : H2ErrorCode.NO_ERROR;
  await closeSession(session, tlsSocket, code);
  return finish();
}

/** GOAWAY with `code`, close, and destroy if the server keeps the connection open. */
function closeSession(session: http2.ClientHttp2Session, tlsSocket: TLSSocket, code: number): Promise<void> {
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

/** An origin from `https://host[:port]` or a bare host; without a port, the target's. */
function originOf(value: string, target: URL): URL {
  const url = new URL(/^[a-z]+:\/\//i.test(value) ? value : `https://${value}`);
  if (url.protocol !== 'https:' || url.hostname === '') throw new TypeError(`not an https origin: ${value}`);
  if (url.port === '' && target.port !== '') url.port = target.port;
  return new URL(url.origin);
}

function sanNames(cert: X509Certificate | undefined): string[] {
  const san = cert?.subjectAltName ?? '';
  return san.split(/,\s*/).map((s) => s.replace(/^(DNS|IP Address):/, '')).filter((s) => s !== '');
}

function leafNames(der: Uint8Array): string[] {
  try {
    return sanNames(new X509Certificate(der));
  } catch {
    return [];
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
