import type { CheckResult, ProbeName, ProbeRecord } from './report.js';

// What the HTTP/2 and HTTP/3 probes share: how a reaction is judged. A probe sends, on a fresh
// connection of its own, something a server must reject; a server with the extension (it sent the
// setting = 1 on that connection) must end the connection with the named error code, and a server
// without it must ignore what it does not know and keep serving (RFC 9113 sections 5.5 and 6.5.2,
// RFC 9114 sections 7.2.4.1 and 9).

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
      stillServes: outcome.stillServes,
    },
  };
  const id = `probe.${rule.name}`;
  const ended = outcome.errorCode !== undefined ? `closed the connection with ${codeName(outcome.errorCode)} (0x${outcome.errorCode.toString(16)})` : outcome.closed ? 'closed the connection without an error code' : undefined;
  if (outcome.error || outcome.serverSupports === undefined) {
    const detail = outcome.error ?? 'no SETTINGS from the server on the probe connection';
    record.reaction.detail = detail;
    return { check: { id, section: rule.section, title: rule.title, status: 'skip', detail }, record };
  }
  if (!outcome.serverSupports) {
    const ok = !outcome.closed && outcome.errorCode === undefined && outcome.stillServes;
    const detail = ok ? 'ignored, and the connection still serves' : (ended ?? 'stopped answering');
    record.reaction.detail = detail;
    return { check: { id, section: rule.ignoreSection, title: rule.ignoreTitle, status: ok ? 'pass' : 'fail', detail, ...(sent.bytes ? { evidence: sent.bytes } : {}) }, record };
  }
  const ok = outcome.closed && outcome.errorCode === rule.expectedCode;
  const detail = ok
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
  record.reaction.detail = detail;
  return { check: { id, section: rule.section, title: rule.title, status: ok ? 'pass' : 'fail', detail, ...(sent.bytes ? { evidence: sent.bytes } : {}) }, record };
}
