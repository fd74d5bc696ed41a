import type * as http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { CryptoProvider } from '../../crypto/provider.js';
import type { AuthenticatorKeys } from '../../exporter/keys.js';
import { keysFromTlsSocket } from '../../exporter/tls-socket.js';
import { encodeFrame } from '../../h2/wire/frame-header.js';
import { H2ErrorCode } from '../../h2/errors.js';
import { DEFAULT_PROFILE, frameNameOf, type H2Profile } from '../../h2/profile.js';
import { leafNames, sanNames } from '../../pki/identity.js';
import { connectSpliced, type SplicedClient } from '../../h2/node/spliced-session.js';
import { schemeName } from '../../tls/signature-scheme.js';
import { checkSpontaneousAuthenticator } from './authenticator.js';
import { exchange } from './exchange.js';
import { checkOptionsStar } from './options-star.js';
import { WireRecorder, type SeenFrame } from './recorder.js';
import { CertificateJudge, originOf, round, startReport } from './common.js';
import { DRAFT, hexEvidence, RFC9110, RFC9113, type CertificateRecord, type CheckReport, type CheckResult, type OriginRecord } from './report.js';

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

/** Checks the server at `url` (https://HOST:PORT). Never throws for what the server does; bad options throw TypeError. */
export async function checkServer(url: string | URL, options: CheckOptions = {}): Promise<CheckReport> {
  const target = new URL(url);
  if (target.protocol !== 'https:' || target.hostname === '') throw new TypeError(`the target must be an https URL, not ${String(url)}`);
  const origins = (options.origins ?? []).map((o) => originOf(o, target));
  const optionsStarOrigins = (options.optionsStar ?? []).map((o) => originOf(o, target));
  const profile = options.profile ?? DEFAULT_PROFILE;
  const settingId = profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const { report, finish } = startReport<CheckReport>(target, options.connectAddress, {
    setting: settingId,
    frame: profile.frames.SERVER_CERTIFICATE,
    errorCode: profile.errors.SERVER_CERTIFICATE_INVALID,
  });

  let client: SplicedClient;
  try {
    client = await connectSpliced(target, {
      host: options.connectAddress ?? host,
      servername: /^[0-9.]+$/.test(host) || host.includes(':') ? undefined : host,
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
  const recorder = new WireRecorder(session, client.splicer!, settingId);
  const cipher = tlsSocket.getCipher();
  report.tls = { protocol: String(tlsSocket.getProtocol()), cipher: cipher.standardName ?? cipher.name, alpn: String(tlsSocket.alpnProtocol), peerNames: sanNames(tlsSocket.getPeerX509Certificate()) };
  await recorder.waitForServer(timeoutMs, options.waitMs ?? DEFAULT_WAIT_MS);

  report.checks.push({
    id: 'connection',
    section: `${RFC9113} §3.2, RFC 9261 §5.1`,
    title: 'TLS 1.3 with ALPN h2 (exporters need TLS 1.3)',
    status: report.tls.protocol === 'TLSv1.3' && report.tls.alpn === 'h2' ? 'pass' : 'fail',
    detail: `${report.tls.protocol}, ${report.tls.cipher}, ALPN ${report.tls.alpn}`,
  });
  judgeSettings(report, recorder, settingId, timeoutMs);

  let keys: AuthenticatorKeys | undefined;
  let keysProblem = '';
  try {
    keys = keysFromTlsSocket(tlsSocket);
  } catch (e) {
    keysProblem = (e as Error).message;
  }
  const certificates = new CertificateJudge(options, () => tlsSocket.getPeerX509Certificate());
  const found = await judgeFrames(report, recorder, { profile, keys, keysProblem, certificates, ...(options.crypto ? { crypto: options.crypto } : {}) });
  await judgeOrigins(report, recorder, session, origins, certificates, timeoutMs);

  if (optionsStarOrigins.length > 0) {
    if (!keys || recorder.closed) {
      report.checks.push({ id: 'options.discovery', section: 'OPTIONS * proposal (digest §4.2)', title: 'capability discovery', status: 'skip', detail: recorder.closed ? 'the connection is closed' : `no exporter: ${keysProblem}` });
    } else {
      const out = await checkOptionsStar(
        { session, keys, authority: target.host, judge: certificates.insecure ? undefined : (chain, h) => certificates.judgeFor(chain, h), namesOf: leafNames, timeoutMs, ...(options.crypto ? { crypto: options.crypto } : {}) },
        optionsStarOrigins,
      );
      report.checks.push(...out.checks);
      report.certificates.push(...out.certificates);
    }
  }

  if (recorder.goaway) {
    const g = (report.goaway = recorder.goaway);
    report.checks.push({
      id: 'connection.goaway',
      section: `${RFC9113} §6.8`,
      title: 'the server does not end the connection with an error',
      status: g.code === H2ErrorCode.NO_ERROR ? 'pass' : 'fail',
      detail: `GOAWAY code 0x${g.code.toString(16)}${g.debug ? ` "${g.debug}"` : ''}`,
    });
  }
  // Goodbye with the code a conforming client would have used (draft §6, digest 2.3).
  const code = found.invalidAuthenticator ? profile.errors.SERVER_CERTIFICATE_INVALID : found.frameRuleBroken ? H2ErrorCode.PROTOCOL_ERROR : H2ErrorCode.NO_ERROR;
  await closeSession(session, tlsSocket, code);
  return finish();
}

/** RFC 9113 §3.4 (SETTINGS first) and draft §3.1 (the setting's presence, values, never lowered). */
function judgeSettings(report: CheckReport, recorder: WireRecorder, settingId: number, timeoutMs: number): void {
  const checks = report.checks;
  const t0 = recorder.t0;
  report.settings = recorder.settings.map((s) => ({ atMs: round(s.at - t0), entries: s.entries }));
  const received = recorder.firstSettingsAt !== undefined;
  checks.push({
    id: 'settings.received',
    section: `${RFC9113} §3.4`,
    title: 'the server sends SETTINGS first',
    status: received ? 'pass' : 'fail',
    detail: received ? `${recorder.settings.length} SETTINGS frame(s)` : recorder.closed ? 'the connection closed before any SETTINGS' : `no SETTINGS within ${timeoutMs} ms`,
  });
  report.extension = recorder.value1At !== undefined ? 'supported' : received ? 'not-supported' : 'unknown';
  const values = recorder.settings.flatMap((s) => s.entries.filter(([id]) => id === settingId).map(([, v]) => v));
  const name = settingName(settingId);
  const evidence = values.map((v) => Buffer.from([settingId >> 8, settingId & 0xff, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]).toString('hex')).join(' ');
  if (values.length === 0) {
    checks.push({ id: 'settings.advertised', section: `${DRAFT} §3.1`, title: `server advertises ${name}`, status: 'skip', detail: 'the server does not support the extension: the setting is absent from its SETTINGS' });
    return;
  }
  const v1 = recorder.value1At;
  checks.push({
    id: 'settings.advertised',
    section: `${DRAFT} §3.1`,
    title: `server advertises ${name}`,
    status: v1 !== undefined ? 'pass' : 'skip',
    detail: v1 !== undefined ? `value 1 at +${round(v1 - t0)} ms` : `the server does not support the extension: values sent ${values.join(', ')}`,
    evidence,
  });
  const bad = values.filter((v) => v !== 0 && v !== 1);
  checks.push({
    id: 'settings.value',
    section: `${DRAFT} §3.1`,
    title: 'setting value is 0 or 1',
    status: bad.length === 0 ? 'pass' : 'fail',
    detail: bad.length === 0 ? `values: ${values.join(', ')}` : `values other than 0 or 1: ${bad.join(', ')} (a client closes with PROTOCOL_ERROR)`,
    evidence,
  });
  const lowered = values.some((v, i) => v === 0 && values.slice(0, i).includes(1));
  checks.push({
    id: 'settings.not-lowered',
    section: `${DRAFT} §3.1`,
    title: 'never 0 after 1',
    status: lowered ? 'fail' : 'pass',
    detail: lowered ? `the setting went from 1 to 0: ${values.join(' → ')}` : values.length > 1 ? `values in order: ${values.join(' → ')}` : 'sent once',
  });
}

interface FrameJudging {
  profile: H2Profile;
  keys: AuthenticatorKeys | undefined;
  keysProblem: string;
  certificates: CertificateJudge;
  crypto?: CryptoProvider;
}

/** Records every extension frame; judges each SERVER_CERTIFICATE: frame rules, RFC 9261, then the policy. */
async function judgeFrames(report: CheckReport, recorder: WireRecorder, j: FrameJudging): Promise<{ invalidAuthenticator: boolean; frameRuleBroken: boolean }> {
  const contexts = new Set<string>();
  let invalidAuthenticator = false;
  let frameRuleBroken = false;
  for (const [i, seen] of recorder.frames.entries()) {
    const n = i + 1;
    const { header } = seen;
    const hex = hexEvidence(encodeFrame(header.type, header.flags, header.streamId, seen.payload), 64);
    const atMs = round(seen.at - recorder.t0);
    report.frames.push({
      index: n,
      type: header.type,
      name: frameNameOf(j.profile, header.type) ?? 'unknown',
      flags: header.flags,
      streamId: header.streamId,
      length: header.length,
      atMs,
      afterSettingValue1: seen.afterValue1,
      ...(seen.oversize ? { oversize: true } : {}),
      hex,
    });
    if (header.type !== j.profile.frames.SERVER_CERTIFICATE) continue;
    const id = `frame${n}`;
    const where = `(frame #${n})`;
    frameRuleBroken ||= header.streamId !== 0;
    report.checks.push(...frameRuleChecks(seen, id, where, atMs, hex.slice(0, 18), recorder, j.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH));
    if (seen.oversize) continue;
    if (!j.keys) {
      report.checks.push({ id: `${id}.authenticator`, section: 'RFC 9261 §5.1', title: `authenticator can be checked ${where}`, status: 'skip', detail: `no exporter: ${j.keysProblem}` });
      continue;
    }
    const outcome = await checkSpontaneousAuthenticator({ keys: j.keys, authenticator: seen.payload, id, where, seenContexts: contexts, ...(j.crypto ? { crypto: j.crypto } : {}) });
    report.checks.push(...outcome.checks);
    invalidAuthenticator ||= !outcome.valid;
    const record: CertificateRecord = { frame: n, via: 'SERVER_CERTIFICATE', names: outcome.chain?.[0] ? leafNames(outcome.chain[0]) : [], chainLength: outcome.chain?.length ?? 0, valid: outcome.valid };
    if (outcome.scheme !== undefined) record.scheme = schemeName(outcome.scheme);
    if (outcome.valid && outcome.chain?.length) await j.certificates.judgeInto(report.checks, record, outcome.chain, id, where);
    report.certificates.push(record);
  }
  return { invalidAuthenticator, frameRuleBroken };
}

/** Draft §5.1 (stream 0), RFC 9113 §4.1 (no flags) and §4.2 (size), draft §3.2 (not before the setting). */
function frameRuleChecks(seen: SeenFrame, id: string, where: string, atMs: number, evidence: string, recorder: WireRecorder, settingId: number): CheckResult[] {
  const { header } = seen;
  const v1 = recorder.value1At;
  const name = settingName(settingId);
  const out: CheckResult[] = [
    {
      id: `${id}.stream`,
      section: `${DRAFT} §5.1`,
      title: `SERVER_CERTIFICATE on stream 0 ${where}`,
      status: header.streamId === 0 ? 'pass' : 'fail',
      detail: header.streamId === 0 ? 'stream 0' : `sent on stream ${header.streamId} (a client closes with PROTOCOL_ERROR)`,
      evidence,
    },
    { id: `${id}.flags`, section: `${RFC9113} §4.1`, title: `unused flags left unset ${where}`, status: header.flags === 0 ? 'pass' : 'fail', detail: `flags 0x${header.flags.toString(16).padStart(2, '0')}`, evidence },
    {
      id: `${id}.timing`,
      section: `${DRAFT} §3.2`,
      title: `not sent before SETTINGS ${where}`,
      status: seen.afterValue1 ? 'pass' : 'fail',
      detail: seen.afterValue1
        ? `+${atMs} ms, after the server's ${name} = 1 (+${round((v1 as number) - recorder.t0)} ms)`
        : `+${atMs} ms, before the server's ${name} = 1 (${v1 === undefined ? 'never sent' : `sent at +${round(v1 - recorder.t0)} ms`}): the feature was not negotiated, so a client must not use it`,
      evidence,
    },
  ];
  if (seen.oversize) {
    out.push({ id: `${id}.size`, section: `${RFC9113} §4.2`, title: `fits our SETTINGS_MAX_FRAME_SIZE ${where}`, status: 'fail', detail: `${header.length} bytes, more than the ${OUR_MAX_FRAME_SIZE} we allowed (FRAME_SIZE_ERROR)`, evidence });
  }
  return out;
}

/** Each --origin: covered by a certificate of this connection (draft §3.2), then served on it (not 421). */
async function judgeOrigins(report: CheckReport, recorder: WireRecorder, session: http2.ClientHttp2Session, origins: URL[], certificates: CertificateJudge, timeoutMs: number): Promise<void> {
  for (const origin of origins) {
    const h = origin.hostname;
    const record: OriginRecord = { origin: origin.origin };
    report.origins.push(record);
    const id = `origin[${origin.host}]`;
    const served = { id: `${id}.served`, section: `${RFC9110} §15.5.20`, title: `${origin.host} answered on this connection (not 421)` };
    if (report.extension !== 'supported') {
      report.checks.push({ id: `${id}.covered`, section: `${DRAFT} §3.2`, title: `a certificate on this connection covers ${h}`, status: 'skip', detail: 'the server does not support the extension' });
      continue;
    }
    const via = certificates.coveredBy(h);
    if (via) record.coveredBy = via;
    report.checks.push({
      id: `${id}.covered`,
      section: `${DRAFT} §3.2, ${RFC9110} §4.3.3`,
      title: `a certificate on this connection covers ${h}`,
      status: via ? 'pass' : 'fail',
      detail: via ? `the ${via === 'tls' ? 'TLS' : 'secondary'} certificate` : `neither the TLS certificate nor a ${certificates.insecure ? 'valid' : 'valid, accepted'} secondary certificate covers it`,
    });
    if (!via || recorder.closed) {
      report.checks.push({ ...served, status: 'skip', detail: recorder.closed ? 'the connection is closed' : 'not requested: no certificate covers it' });
      continue;
    }
    const answer = await exchange(session, { ':method': 'GET', ':scheme': 'https', ':authority': origin.host, ':path': '/' }, undefined, timeoutMs);
    if (answer.status) record.status = answer.status;
    record.body = answer.body.subarray(0, 200).toString('utf8');
    report.checks.push({
      ...served,
      status: !answer.error && answer.status !== 0 && answer.status !== 421 ? 'pass' : 'fail',
      detail: answer.error ?? `status ${answer.status}${answer.status === 421 ? ': the server sent a certificate for an origin it will not serve here (draft §3.2)' : ''}`,
      ...(answer.body.length ? { evidence: JSON.stringify(record.body.slice(0, 60)) } : {}),
    });
  }
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

function settingName(id: number): string {
  return `SETTINGS_HTTP_SERVER_CERT_AUTH (0x${id.toString(16)})`;
}
