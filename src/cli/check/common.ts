import { performance } from 'node:perf_hooks';
import { CHECK_SCHEMA_VERSION, summarize, type CheckReport, type Verdict } from './report.js';

// What the HTTP/2 checker (h2/check.ts) and the HTTP/3 one (h3/check.ts) share besides the judges: the
// report they start from and how it is concluded, and parsing the origins asked for.

/** An origin from `https://host[:port]` or a bare host; without a port, the target's. */
export function originOf(value: string, target: URL): URL {
  const url = new URL(/^[a-z]+:\/\//i.test(value) ? value : `https://${value}`);
  if (url.protocol !== 'https:' || url.hostname === '') throw new TypeError(`not an https origin: ${value}`);
  if (url.port === '' && target.port !== '') url.port = target.port;
  return new URL(url.origin);
}

/** Milliseconds to one decimal, for reports. */
export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * An empty report for `target`, and `finish`, which sums the checks, sets the verdict (the one given, or
 * the one the checks make) and the duration, and returns the report.
 */
export function startReport<R extends CheckReport>(
  protocol: CheckReport['protocol'],
  target: URL,
  connectAddress: string | undefined,
  profile: CheckReport['profile'],
): { report: R; finish(verdict?: Verdict): R } {
  const started = performance.now();
  const report = {
    schemaVersion: CHECK_SCHEMA_VERSION,
    protocol,
    target: target.origin,
    ...(connectAddress ? { connectAddress } : {}),
    startedAt: new Date().toISOString(),
    durationMs: 0,
    profile,
    extension: 'unknown',
    settings: [],
    frames: [],
    certificates: [],
    origins: [],
    probes: [],
    checks: [],
    summary: { passed: 0, failed: 0, skipped: 0 },
    verdict: 'unreachable',
  } as CheckReport as R;
  const finish = (verdict?: Verdict): R => {
    report.summary = summarize(report.checks);
    report.verdict = verdict ?? (report.summary.failed > 0 ? 'does-not-conform' : report.extension === 'supported' ? 'conforms' : 'no-extension');
    report.durationMs = Math.round(performance.now() - started);
    return report;
  };
  return { report, finish };
}
