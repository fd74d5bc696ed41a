import type { CheckResult, ProbeName, ProbeRecord } from './report.js';

// What the HTTP/2 and HTTP/3 probes share: how a reaction is judged. A probe sends, on a fresh
// connection of its own, something a server must reject; a server with the extension (it sent the
// setting = 1 on that connection) must end the connection with the named error code; a server without it
// must ignore what it does not know and keep serving (RFC 9113 sections 5.5 and 6.5.2, RFC 9114 sections
// 7.2.4 and 9), or, if it knows the extension without offering it, may reject it as the draft says.

/** The rule a probe tests, for a server with the extension and for one without it. */
export interface ProbeRule {
  name: ProbeName;
  /** With the extension: where the rule is written, and the connection error expected. */
  section: string;
  title: string;
  expectedCode: number;
  expectedName: string;
  /** Without the extension: where "ignore it" is written. */
  ignoreSection: string;
  ignoreTitle: string;
}

/** What came back on the probe's connection. */
export interface ProbeOutcome {
  /** The server's SETTINGS carried the setting = 1; undefined when no SETTINGS came. */
  serverSupports: boolean | undefined;
  /** The connection ended. */
  closed: boolean;
  /** The error code it ended with (GOAWAY, or QUIC CONNECTION_CLOSE), if any. */
  errorCode?: number;
  /** HTTP/3: the QUIC transport error code, when the server closed with one rather than an application code. */
  transportCode?: number;
  /** The server still answered after the probe (a PING, a request). */
  stillServes: boolean;
  /** Why the probe could not run. */
  error?: string;
}

/** The check a frame or setting probe makes, and its record. */
export function judgeProbe(rule: ProbeRule, sent: { what: string; bytes?: string }, outcome: ProbeOutcome, codeName: (code: number) => string): { check: CheckResult; record: ProbeRecord } {
  const record: ProbeRecord = {
    name: rule.name,
    sent: sent.what,
    ...(sent.bytes ? { bytes: sent.bytes } : {}),
    serverSupports: outcome.serverSupports ?? null,
    reaction: {
      closed: outcome.closed,
      ...(outcome.errorCode !== undefined ? { errorCode: outcome.errorCode, errorName: codeName(outcome.errorCode) } : {}),
      ...(outcome.transportCode !== undefined ? { transportCode: outcome.transportCode } : {}),
      stillServes: outcome.stillServes,
    },
  };
  const id = `probe.${rule.name}`;
  const ended = outcome.errorCode !== undefined ? `closed the connection with ${codeName(outcome.errorCode)} (0x${outcome.errorCode.toString(16)})` : outcome.transportCode !== undefined
      ? `closed the connection with QUIC transport error 0x${outcome.transportCode.toString(16)}, not an HTTP/3 code`
      : outcome.closed
        ? 'closed the connection without an error code'
        : undefined;
  const rejected = outcome.closed && outcome.errorCode === rule.expectedCode;
  const evidence = sent.bytes ? { evidence: sent.bytes } : {};
  const verdict = (section: string, title: string, ok: boolean, detail: string): { check: CheckResult; record: ProbeRecord } => {
    record.reaction.detail = detail;
    return { check: { id, section, title, status: ok ? 'pass' : 'fail', detail, ...(ok ? {} : evidence) }, record };
  };
  if (outcome.error || outcome.serverSupports === undefined) {
    // No SETTINGS came, but the server may have closed on ours before its own reached us.
    if (!outcome.error && rejected) return verdict(rule.section, rule.title, true, `${ended}, before its SETTINGS reached us`);
    const detail = outcome.error ?? 'no SETTINGS from the server on the probe connection';
    record.reaction.detail = detail;
    return { check: { id, section: rule.section, title: rule.title, status: 'skip', detail }, record };
  }
  if (!outcome.serverSupports) {
    // Without the setting = 1 the server may not know the extension (it must ignore the unknown), or know it
    // and not offer it (the draft's rule still applies): either answer is right, nothing else is.
    const ignored = !outcome.closed && outcome.errorCode === undefined && outcome.stillServes;
    const detail = ignored ? 'ignored, and the connection still serves' : rejected ? `${ended}: it knows the extension, though it does not advertise it` : (ended ?? 'stopped answering');
    return verdict(`${rule.ignoreSection}; ${rule.section}`, `${rule.ignoreTitle}, or rejects it as the draft says`, ignored || rejected, detail);
  }
  const detail = rejected
    ? `${ended}`
    : outcome.errorCode !== undefined && outcome.errorCode !== rule.expectedCode
      ? `${ended}, not ${rule.expectedName}`
      : outcome.errorCode !== undefined
        ? `sent ${codeName(outcome.errorCode)} but kept the connection open`
        : ended
          ? `${ended} (${rule.expectedName} expected)`
          : outcome.stillServes
            ? 'the connection stayed open and still serves'
            : 'the connection stayed open, and stopped answering';
  return verdict(rule.section, rule.title, rejected, detail);
}
