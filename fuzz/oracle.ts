import { SecondaryCertsError } from '../src/errors.js';

// What counts as a finding, and what an acceptable error looks like.

export type FindingKind =
  /** The worker process died, or an exception / rejection reached the process hooks. */
  | 'crash'
  /** The connection neither closed nor answered within the bound; or the worker stopped answering. */
  | 'hang'
  /** A GOAWAY (or CONNECTION_CLOSE) went out, but the connection stayed open past the bound. */
  | 'half-open'
  /** An error reached the API that is neither a SecondaryCertsError nor Node's own typed HTTP/2 / socket error. */
  | 'untyped-error'
  /** After the case, a fresh connection was not served. */
  | 'liveness';

export interface Finding {
  kind: FindingKind;
  target: string;
  /** target:seed, what --seed takes to replay it. */
  caseId: string;
  detail: string;
  /** The frames of the case, one line each. */
  frames: string[];
}

/** Things that break no oracle but that a reader of the report should see (RFC rules bent, say). */
export interface Observation {
  caseId: string;
  what: string;
}

/** How long a connection has to close or answer after the last fuzzed frame. */
export const BOUND_MS = 5000;
/** How long a connection may stay open after it sent GOAWAY for an error (our own close waits 1 s). */
export const CLOSE_AFTER_GOAWAY_MS = 2000;

/** Node's own errors carry a code: ERR_HTTP2_*, ERR_SSL_*, ECONNRESET, EPIPE... */
const NODE_CODE = /^(ERR_HTTP2_|ERR_SSL_|ERR_STREAM_|ERR_TLS_|ERR_SOCKET_|E[A-Z]+$)/;

/** Undefined when `e` is an acceptable error at the API; otherwise what is wrong with it. */
export function untyped(e: unknown): string | undefined {
  if (e instanceof SecondaryCertsError) return typeof e.code === 'string' && (e.code as string) !== '' ? undefined : `SecondaryCertsError without a code: ${e.message}`;
  const code = (e as { code?: unknown } | undefined)?.code;
  if (e instanceof Error && typeof code === 'string' && NODE_CODE.test(code)) return undefined;
  return `${e instanceof Error ? `${e.constructor.name}${code ? ` (${String(code)})` : ''}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}` : String(e)}`;
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with the promise's value, or 'timeout' after `ms`. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

/** Records findings and observations for one case. */
export class CaseLog {
  readonly findings: Finding[] = [];
  readonly observations: Observation[] = [];
  readonly frames: string[] = [];
  constructor(
    readonly target: string,
    readonly caseId: string,
  ) {}

  find(kind: FindingKind, detail: string): void {
    if (this.findings.some((f) => f.kind === kind && f.detail === detail)) return;
    this.findings.push({ kind, target: this.target, caseId: this.caseId, detail, frames: this.frames });
  }

  /** An error that reached the API: a finding unless typed. */
  error(where: string, e: unknown): void {
    const problem = untyped(e);
    if (problem) this.find('untyped-error', `${where}: ${problem}`);
  }

  observe(what: string): void {
    if (!this.observations.some((o) => o.what === what)) this.observations.push({ caseId: this.caseId, what });
  }
}

export interface Target {
  readonly name: string;
  /** Runs one case; findings go to the log. Must return within a few bounds. */
  runCase(seed: number, log: CaseLog): Promise<void>;
  close(): Promise<void>;
}
