import type { CheckReport } from '../report.js';
import type { FramesFound } from './frames.js';
import type { ProtocolTerms, ServerClose, Violation } from './records.js';

/** `connection.goaway` / `connection.close`: the server ended the connection cleanly, if it did. */
export function judgeServerClose(report: CheckReport, terms: ProtocolTerms, close: ServerClose): void {
  const clean = close.idle || (close.app && close.code === terms.codes.noError);
  report.checks.push({ id: terms.serverClose.id, section: terms.serverClose.section, title: 'the server does not end the connection with an error', status: clean ? 'pass' : 'fail', detail: close.description });
}

/** The code a conforming client would have closed with, and why. */
export function clientCloseCode(terms: ProtocolTerms, found: Pick<FramesFound, 'invalidAuthenticator' | 'wrongStream'>, violations: readonly Violation[] = []): { code: number; name: string; reason: string } {
  const violation = violations[0];
  if (found.invalidAuthenticator) return { code: terms.codes.certificateInvalid, name: 'SERVER_CERTIFICATE_INVALID', reason: 'SERVER_CERTIFICATE does not validate' };
  if (found.wrongStream) return { code: terms.codes.wrongStream, name: terms.codeName(terms.codes.wrongStream), reason: 'SERVER_CERTIFICATE on a request stream' };
  if (violation) return { code: violation.code, name: terms.codeName(violation.code), reason: violation.message.slice(0, 200) };
  return { code: terms.codes.noError, name: terms.codeName(terms.codes.noError), reason: '' };
}

/** The stream rules as a client applies them: one check per violation, or one pass. */
export function judgeStreamRules(report: CheckReport, terms: ProtocolTerms, section: string, violations: readonly Violation[]): void {
  const title = 'frames on the right streams, in the right order';
  if (violations.length === 0) {
    report.checks.push({ id: 'streams.rules', section, title, status: 'pass', detail: 'no violation on the control stream or the request streams' });
    return;
  }
  for (const [i, v] of violations.entries()) {
    report.checks.push({ id: `streams.rule${i + 1}`, section: v.section, title, status: 'fail', detail: `${v.message} (a client closes with ${terms.codeName(v.code)})`, ...(v.evidence ? { evidence: v.evidence } : {}) });
  }
}
