import { DRAFT, RFC9110, type CheckReport, type OriginRecord } from '../report.js';
import type { CertificateJudge } from './certificate.js';
import type { Answer, ProtocolTerms } from './records.js';

/** The origins a client would send on this connection: those a certificate of it covers. */
export function provenOrigins(origins: URL[], certificates: CertificateJudge): URL[] {
  return origins.filter((o) => certificates.coveredBy(o.hostname));
}

/**
 * Each origin: covered by a certificate of this connection, then served on it (not 421). An origin not
 * proven either fails (`unprovenOrigins: 'fail'`, not asked for) or was asked for anyway, 421 being then
 * the right answer. `answers` holds the origins asked for; a proven one missing was not asked for because
 * the connection had closed.
 */
export function judgeOrigins(report: CheckReport, terms: ProtocolTerms, origins: URL[], answers: Map<string, Answer>, certificates: CertificateJudge): void {
  const supported = report.extension === 'supported';
  const ask = terms.unprovenOrigins === 'ask';
  for (const origin of origins) {
    const h = origin.hostname;
    const record: OriginRecord = { origin: origin.origin };
    report.origins.push(record);
    const id = `origin[${origin.host}]`;
    const coveredTitle = `a certificate on this connection covers ${h}`;
    if (!supported && !ask) {
      report.checks.push({ id: `${id}.covered`, section: `${DRAFT} §3.2`, title: coveredTitle, status: 'skip', detail: 'the server does not support the extension' });
      continue;
    }
    const via = certificates.coveredBy(h);
    if (via) record.coveredBy = via;
    const answer = answers.get(origin.origin);
    if (answer?.status !== undefined) record.status = answer.status;
    if (answer) record.body = answer.body;
    const unproven = !supported
      ? 'the server does not support the extension'
      : ask
        ? 'no valid, accepted certificate covers it: a client would not send it here'
        : `neither the TLS certificate nor a ${certificates.insecure ? 'valid' : 'valid, accepted'} secondary certificate covers it`;
    report.checks.push({
      id: `${id}.covered`,
      section: `${DRAFT} §3.2, ${RFC9110} §4.3.3`,
      title: coveredTitle,
      status: via ? 'pass' : ask ? 'skip' : 'fail',
      detail: via ? `the ${via === 'tls' ? 'TLS' : 'secondary'} certificate` : unproven,
    });
    const served = { id: `${id}.served`, section: `${RFC9110} §15.5.20` };
    if (!answer) {
      const why = ask ? 'not requested: the connection is closed' : via ? 'the connection is closed' : 'not requested: no certificate covers it';
      report.checks.push({ ...served, title: `${origin.host} answered on this connection${ask ? '' : ' (not 421)'}`, status: 'skip', detail: why });
      continue;
    }
    const evidence = answer.body ? { evidence: JSON.stringify(answer.body.slice(0, 60)) } : {};
    if (via) {
      report.checks.push({
        ...served,
        title: `${origin.host} answered on this connection (not 421)`,
        status: !answer.error && answer.status !== undefined && answer.status !== 421 ? 'pass' : 'fail',
        detail: answer.error ?? `status ${answer.status}${answer.status === 421 ? ': the server proved an origin it will not serve here (draft §3.2)' : ''}`,
        ...evidence,
      });
    } else {
      report.checks.push({ ...served, title: `${origin.host}, not proven here, answered (421 acceptable)`, status: answer.error ? 'fail' : 'pass', detail: answer.error ?? `status ${answer.status}`, ...evidence });
    }
  }
}
