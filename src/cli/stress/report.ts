import { FAILURE_KINDS } from './drive.js';
import { totalFailures, type AgentResult, type ChurnResult, type FailureCounts, type HeldResult, type ServerSample } from './phases.js';

// The stress run's results as tables for people, and the targets each run is judged by.

export interface StressResults {
  server: { pid?: number; measured: boolean; note: string; fdLimit?: number };
  client: { fdLimit?: number };
  notes: string[];
  levels: HeldResult[];
  churn?: ChurnResult;
  h3?: HeldResult;
  agent?: AgentResult;
}

export interface Target {
  name: string;
  /** 'held', 'failed', or 'not measured' (skipped, or the figure was not available). */
  verdict: 'held' | 'failed' | 'not measured';
  detail: string;
}

const MB = 2 ** 20;
/** Churn shorter than this is reported but not judged. */
export const MIN_CHURN_SECONDS_JUDGED = 60;
const mb = (n: number | undefined): string => (n === undefined ? 'n/a' : (n / MB).toFixed(1));

/** Aligned plain-text columns; the first row is the header. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd();
  return [line(rows[0] ?? []), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n') + '\n';
}

function failureRow(phase: string, connections: number, ok: number, f: FailureCounts, seconds: number): string[] {
  return [phase, String(connections), String(ok), String(totalFailures(f)), ...FAILURE_KINDS.map((k) => String(f[k])), seconds.toFixed(1)];
}

function perConnection(before: number | undefined, after: number | undefined, n: number, unit: number): string {
  if (before === undefined || after === undefined || n === 0) return 'n/a';
  const v = (after - before) / unit / n;
  return v.toFixed(unit === 1 ? 2 : 1);
}

function serverRow(r: HeldResult): string[] {
  const s = (x: ServerSample): string => mb(x.rss);
  const f = (x: ServerSample): string => (x.fds === undefined ? 'n/a' : String(x.fds));
  return [
    r.label,
    String(r.held),
    `${s(r.before)} / ${s(r.atHeld)} / ${s(r.afterClose)}`,
    perConnection(r.before.rss, r.atHeld.rss, r.held, 1024),
    `${f(r.before)} / ${f(r.atHeld)} / ${f(r.afterClose)}`,
    perConnection(r.before.fds, r.atHeld.fds, r.held, 1),
    r.settleSeconds.toFixed(1),
    r.clientFds.map((n) => (n === undefined ? 'n/a' : String(n))).join(' / '),
  ];
}

export function judge(r: StressResults): Target[] {
  const targets: Target[] = [];
  const largest = r.levels.reduce<HeldResult | undefined>((a, l) => (!a || l.connections > a.connections ? l : a), undefined);
  if (largest) {
    const n = totalFailures(largest.failures);
    targets.push({ name: `0 failures at ${largest.connections} HTTP/2 connections held at once`, verdict: n === 0 ? 'held' : 'failed', detail: `${n} failed, ${largest.held} held` });
  } else targets.push({ name: '0 failures at the largest level', verdict: 'not measured', detail: 'no levels run' });
  if (r.churn) {
    const s = r.churn.slopeSecondHalf;
    const figure = `${s?.toFixed(3) ?? 'n/a'} MB per 1000 connections (whole run ${r.churn.slopeAll?.toFixed(3) ?? 'n/a'})`;
    // A short run's second half is still the allocator warming up: its slope says nothing about a leak.
    const tooShort = r.churn.seconds < MIN_CHURN_SECONDS_JUDGED;
    targets.push({
      name: 'churn: server RSS slope under 1 MB per 1000 connections in the second half',
      verdict: s === undefined || tooShort ? 'not measured' : s < 1 ? 'held' : 'failed',
      detail:
        s === undefined
          ? r.server.measured
            ? 'too few samples in the second half'
            : 'server memory not available (give --pid)'
          : tooShort
            ? `not judged: a run under ${MIN_CHURN_SECONDS_JUDGED} s is too short (${figure})`
            : figure,
    });
  } else targets.push({ name: 'churn: server RSS slope under 1 MB per 1000 connections', verdict: 'not measured', detail: 'skipped' });
  if (r.agent) {
    const a = r.agent;
    const ratio = a.heapAfterClose / a.heapStart;
    targets.push({
      name: 'client heap after closing within 10% of its start',
      verdict: ratio <= 1.1 ? 'held' : 'failed',
      detail: `${mb(a.heapStart)} MB at start, ${mb(a.heapHeld)} MB with ${a.ok} held, ${mb(a.heapAfterClose)} MB after close (${((ratio - 1) * 100).toFixed(1)}%)`,
    });
  } else targets.push({ name: 'client heap after closing within 10% of its start', verdict: 'not measured', detail: 'skipped' });
  const others: [string, number][] = [
    ...r.levels.filter((l) => l !== largest).map((l): [string, number] => [l.label, totalFailures(l.failures)]),
    ...(r.churn ? [['churn', totalFailures(r.churn.failures)] as [string, number]] : []),
    ...(r.h3 ? [[r.h3.label, totalFailures(r.h3.failures)] as [string, number]] : []),
    ...(r.agent ? [['agent', totalFailures(r.agent.failures)] as [string, number]] : []),
  ];
  const bad = others.filter(([, n]) => n > 0);
  targets.push({
    name: '0 failures in every other phase',
    verdict: others.length === 0 ? 'not measured' : bad.length === 0 ? 'held' : 'failed',
    detail: bad.length === 0 ? others.map(([p]) => p).join(', ') || 'none run' : bad.map(([p, n]) => `${p}: ${n}`).join(', '),
  });
  return targets;
}

export function formatResults(r: StressResults, targets: Target[]): string {
  let out = '';
  const failureHeader = ['phase', 'conns', 'ok', 'failed', ...FAILURE_KINDS, 'seconds'];
  const rows = [failureHeader, ...r.levels.map((l) => failureRow(l.label, l.connections, l.held, l.failures, l.seconds))];
  if (r.churn) rows.push(failureRow(`churn (${r.churn.workers} at once)`, r.churn.connections + totalFailures(r.churn.failures), r.churn.connections, r.churn.failures, r.churn.seconds));
  if (r.h3) rows.push(failureRow(r.h3.label, r.h3.connections, r.h3.held, r.h3.failures, r.h3.seconds));
  if (r.agent) rows.push(failureRow('agent (HTTP/2)', r.agent.agents, r.agent.ok, r.agent.failures, r.agent.seconds));
  out += '\nConnections and failures by kind (ok: held at once; churn: completed cycles)\n' + formatTable(rows);
  const held = [...r.levels, ...(r.h3 ? [r.h3] : [])];
  if (held.length > 0) {
    out += `\nServer (${r.server.note}): before / while held / after close (s to settle: until its descriptors were back, at most 10 s); and this process's open fds\n`;
    out += formatTable([['phase', 'held', 'RSS MB', 'KB per conn', 'open fds', 'fds per conn', 's to settle', 'client fds'], ...held.map(serverRow)]);
  }
  if (r.churn) {
    const c = r.churn;
    out += `\nChurn: ${c.workers} connections cycling for ${c.seconds.toFixed(0)} s, ${c.connections} completed (${(c.connections / c.seconds).toFixed(1)}/s); server RSS and heap (after a collection) every ${c.intervalSeconds} s\n`;
    out += formatTable([['seconds', 'connections', 'RSS MB', 'heap MB'], ...c.samples.map((s) => [s.seconds.toFixed(0), String(s.connections), mb(s.rss), mb(s.heap)])]);
    out += `slope: ${c.slopeSecondHalf?.toFixed(3) ?? 'n/a'} MB per 1000 connections in the second half (whole run ${c.slopeAll?.toFixed(3) ?? 'n/a'}); the server's heap: ${c.heapSlopeSecondHalf?.toFixed(3) ?? 'n/a'} MB per 1000 in the second half\n`;
  }
  if (r.agent) {
    const a = r.agent;
    out += `\nClient (this process, SecondaryCertAgent, one connection each): heap after a full collection\n`;
    out += formatTable([
      ['at start', `with ${a.ok} held`, 'after close', 'change'],
      [`${mb(a.heapStart)} MB`, `${mb(a.heapHeld)} MB`, `${mb(a.heapAfterClose)} MB`, `${(((a.heapAfterClose - a.heapStart) / a.heapStart) * 100).toFixed(1)}%`],
    ]);
    out += `held: ${a.ok > 0 ? (((a.heapHeld - a.heapStart) / 1024 / a.ok).toFixed(1)) : 'n/a'} KB of heap per agent and connection\n`;
  }
  const examples = [...r.levels, ...(r.churn ? [{ label: 'churn', examples: r.churn.examples }] : []), ...(r.h3 ? [r.h3] : []), ...(r.agent ? [{ label: 'agent', examples: r.agent.examples }] : [])].filter((p) => p.examples.length > 0);
  if (examples.length > 0) {
    out += '\nFirst failures\n';
    for (const p of examples) for (const e of p.examples) out += `  ${p.label}: ${e}\n`;
  }
  if (r.notes.length > 0) out += '\n' + r.notes.map((n) => `note: ${n}\n`).join('');
  out += '\nTargets\n';
  for (const t of targets) out += `  ${t.verdict === 'held' ? 'held  ' : t.verdict === 'failed' ? 'FAILED' : 'n/a   '}  ${t.name}: ${t.detail}\n`;
  return out;
}
