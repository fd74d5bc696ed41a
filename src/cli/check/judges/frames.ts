import type { CryptoProvider } from '../../../crypto/provider.js';
import type { AuthenticatorKeys } from '../../../exporter/keys.js';
import { leafNames } from '../../../pki/identity.js';
import { schemeName } from '../../../tls/signature-scheme.js';
import { round } from '../common.js';
import { hexEvidence, RFC9261, type CertificateRecord, type CheckReport, type CheckResult, type RecordedFrame } from '../report.js';
import { checkSpontaneousAuthenticator } from './authenticator.js';
import type { CertificateJudge } from './certificate.js';
import type { FrameSeen, ProtocolTerms, WireRecord } from './records.js';
import { settingName } from './settings.js';

export interface FrameJudging {
  terms: ProtocolTerms;
  settingId: number;
  serverCertificateType: number;
  /** The connection's exporter values; undefined when they could not be had (then `keysProblem` says why). */
  keys: AuthenticatorKeys | undefined;
  keysProblem?: string;
  certificates: CertificateJudge;
  crypto?: CryptoProvider;
}

export interface FramesFound {
  invalidAuthenticator: boolean;
  /** A SERVER_CERTIFICATE on the wrong stream. */
  wrongStream: boolean;
  /** How many frames were judged: the next call starts there. */
  judged: number;
}

/**
 * Records each extension frame from `from` on; judges each SERVER_CERTIFICATE: its stream, flags,
 * negotiation and size, then RFC 9261 and the certificate policy. `late` frames came after the origins were
 * requested: judged for the frame rules only.
 */
export async function judgeFrames(report: CheckReport, wire: WireRecord, j: FrameJudging, contexts: Set<string>, from = 0, late = false): Promise<FramesFound> {
  const found = { invalidAuthenticator: false, wrongStream: false, judged: from };
  for (; found.judged < wire.frames.length; found.judged++) {
    const seen = wire.frames[found.judged]!;
    const n = found.judged + 1;
    const frame = recordFrame(report, wire, j.terms, seen, n);
    if (seen.type !== j.serverCertificateType) continue;
    const id = `frame${n}`;
    const where = `(frame #${n})`;
    found.wrongStream ||= !seen.rightStream;
    report.checks.push(...frameRuleChecks(seen, frame, id, where, wire, j));
    if (seen.oversize) continue;
    const skip = (section: string, title: string, detail: string): void => {
      report.checks.push({ id: `${id}.authenticator`, section: `${RFC9261} ${section}`, title: `${title} ${where}`, status: 'skip', detail });
    };
    if (late) {
      skip('§5', 'authenticator checked', 'not checked: it arrived after the origins were requested');
      continue;
    }
    if (!j.terms.checkMisplacedAuthenticators && (!seen.rightStream || !seen.afterValue1)) {
      const why = !seen.rightStream ? `a client closes the connection with ${j.terms.codeName(j.terms.codes.wrongStream)} instead` : 'the extension was not negotiated: a client that offered it closes the connection (PROTOCOL_ERROR over HTTP/2, H3_FRAME_UNEXPECTED over HTTP/3; rosomakho-00 §4.2), one that did not ignores an unknown frame';
      skip('§5', 'authenticator checked', `not checked: ${why}`);
      continue;
    }
    if (!j.keys) {
      skip('§5.1', 'authenticator can be checked', `no exporter: ${j.keysProblem ?? ''}`);
      continue;
    }
    const outcome = await checkSpontaneousAuthenticator({ keys: j.keys, authenticator: seen.payload, id, where, seenContexts: contexts, ...(j.crypto ? { crypto: j.crypto } : {}) });
    report.checks.push(...outcome.checks);
    found.invalidAuthenticator ||= !outcome.valid;
    const record: CertificateRecord = { frame: n, via: 'SERVER_CERTIFICATE', names: outcome.chain?.[0] ? leafNames(outcome.chain[0]) : [], chainLength: outcome.chain?.length ?? 0, valid: outcome.valid };
    if (outcome.scheme !== undefined) record.scheme = schemeName(outcome.scheme);
    if (outcome.valid && outcome.chain?.length) await j.certificates.judgeInto(report.checks, record, outcome.chain, id, where);
    report.certificates.push(record);
  }
  return found;
}

function recordFrame(report: CheckReport, wire: WireRecord, terms: ProtocolTerms, seen: FrameSeen, n: number): RecordedFrame {
  const frame: RecordedFrame = {
    index: n,
    type: seen.type,
    name: terms.frameName(seen.type),
    flags: seen.flags,
    streamId: seen.streamId,
    length: seen.length,
    atMs: round(seen.at - (wire.t0 ?? seen.at)),
    afterSettingValue1: seen.afterValue1,
    ...(seen.oversize ? { oversize: true } : {}),
    hex: hexEvidence(seen.wire, 64),
  };
  report.frames.push(frame);
  return frame;
}

/** The extension's frame rules: its stream, unused flags unset, not before negotiation, within our size. */
function frameRuleChecks(seen: FrameSeen, frame: RecordedFrame, id: string, where: string, wire: WireRecord, j: FrameJudging): CheckResult[] {
  const terms = j.terms;
  const evidence = frame.hex.slice(0, terms.headerHexChars);
  const name = settingName(j.settingId);
  const since = (at: number): string => `+${round(at - (wire.t0 ?? 0))} ms`;
  const out: CheckResult[] = [
    {
      id: `${id}.stream`,
      section: terms.frameStream.section,
      title: `SERVER_CERTIFICATE on ${terms.frameStream.title} ${where}`,
      status: seen.rightStream ? 'pass' : 'fail',
      detail: seen.rightStream ? seen.stream : `sent on ${seen.stream} (a client closes with ${terms.codeName(terms.codes.wrongStream)})`,
      evidence,
    },
  ];
  if (terms.flagsSection !== undefined) {
    out.push({ id: `${id}.flags`, section: terms.flagsSection, title: `unused flags left unset ${where}`, status: seen.flags === 0 ? 'pass' : 'fail', detail: `flags 0x${seen.flags.toString(16).padStart(2, '0')}`, evidence });
  }
  const v1 = wire.value1At;
  const notNegotiated = 'the feature was not negotiated, so a client must not use it';
  // Where SETTINGS comes once, the setting's time is that frame's; where it may come again, both times are shown.
  const detail = terms.settingsOnce
    ? seen.afterValue1
      ? `${since(seen.at)} after the server's SETTINGS with ${name} = 1`
      : `the server's SETTINGS ${wire.settings.length > 0 ? `does not carry ${name} = 1` : 'had not arrived'}: ${notNegotiated} (it ignores the frame)`
    : seen.afterValue1
      ? `+${frame.atMs} ms, after the server's ${name} = 1 (${since(v1!)})`
      : `+${frame.atMs} ms, before the server's ${name} = 1 (${v1 === undefined ? 'never sent' : `sent at ${since(v1)}`}): ${notNegotiated}`;
  out.push({
    id: `${id}.${terms.negotiated.id}`,
    section: terms.negotiated.section,
    title: `${terms.negotiated.title} ${where}`,
    status: seen.afterValue1 ? 'pass' : 'fail',
    detail,
    evidence,
  });
  const m = terms.maxFrame;
  if (seen.oversize && m) {
    out.push({ id: `${id}.size`, section: m.section, title: `fits our ${m.setting} ${where}`, status: 'fail', detail: `${seen.length} bytes, more than the ${m.size} we allowed (${m.error})`, evidence });
  }
  return out;
}
