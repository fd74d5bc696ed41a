import { SecondaryCertAgent } from '../../pool/index.js';
import { ConnectionFailure, FAILURE_KINDS, connectFailureKind, errorText, type FailureKind, type HeldConnection, type StressTarget } from './drive.js';
import { fdsOf, heapAfterGc, rssOf } from './proc.js';

// The phases of a stress run: connections held at once (HTTP/2 levels, HTTP/3), connections cycling for a
// set time (churn), and the project's own agent holding connections while its heap is measured.
// Every loop is bounded by a count and by time.

export type FailureCounts = Record<FailureKind, number>;

export function noFailures(): FailureCounts {
  return Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as FailureCounts;
}

export function totalFailures(f: FailureCounts): number {
  return FAILURE_KINDS.reduce((n, k) => n + f[k], 0);
}

/** What is known of the server process; every figure is undefined when it cannot be read. */
export interface ServerSample {
  rss?: number;
  fds?: number;
  /** Its JavaScript heap in use after the collection (only from our own server). */
  heap?: number;
}

/** The server's process, when it can be measured: its pid and a way to ask it to collect first. */
export interface ServerProbe {
  pid: number | undefined;
  /** Asks the server to run a full collection (when it is ours); resolves with its heap in use, or undefined after a bound. */
  collect?: () => Promise<number | undefined>;
}

export async function sampleServer(probe: ServerProbe): Promise<ServerSample> {
  if (probe.pid === undefined) return {};
  const heap = await probe.collect?.();
  return { rss: rssOf(probe.pid), fds: fdsOf(probe.pid), ...(heap !== undefined ? { heap } : {}) };
}

/** Progress, for a line on stderr. */
export type Progress = (line: string) => void;

class Tally {
  readonly failures = noFailures();
  /** A few failures as they were, to say what went wrong. */
  readonly examples: string[] = [];

  add(e: unknown): void {
    const f = e instanceof ConnectionFailure ? e : new ConnectionFailure('other', errorText(e));
    this.failures[f.kind]++;
    if (this.examples.length < 5) this.examples.push(f.message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`, or undefined once `ms` have passed. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `task(i)` for i in 0..count-1 with at most `concurrency` at once; stops starting new ones past `until`. */
async function pool(count: number, concurrency: number, until: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < until) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return count - next;
}

export interface HeldResult {
  label: string;
  connections: number;
  /** Connections that did everything and were still open when all had been opened. */
  held: number;
  failures: FailureCounts;
  examples: string[];
  seconds: number;
  before: ServerSample;
  atHeld: ServerSample;
  afterClose: ServerSample;
  /** How long the server took to close its side (its descriptors back to their count before; at most 10 s). */
  settleSeconds: number;
  /** This process's open descriptors (after a full collection), at the same three moments. */
  clientFds: [number | undefined, number | undefined, number | undefined];
}

/** This process's open descriptors once collected objects have released theirs. */
async function ownFds(): Promise<number | undefined> {
  await heapAfterGc();
  return fdsOf(process.pid);
}

export interface HeldOptions {
  label: string;
  connections: number;
  drive: (target: StressTarget) => Promise<HeldConnection>;
  target: StressTarget;
  /** Connects under way at once. */
  concurrency: number;
  /** Past this many milliseconds no new connection starts; the ones not started count as timeouts. */
  budgetMs: number;
  probe: ServerProbe;
  progress: Progress;
}

/** Opens `connections` connections, holds them all at once, measures the server, closes them. */
export async function runHeld(o: HeldOptions): Promise<HeldResult> {
  const before = await sampleServer(o.probe);
  const clientBefore = await ownFds();
  const start = Date.now();
  const tally = new Tally();
  const held: HeldConnection[] = [];
  const ticker = setInterval(() => o.progress(`${o.label}: ${held.length} held, ${totalFailures(tally.failures)} failed of ${o.connections}`), 2000);
  let notStarted: number;
  try {
    notStarted = await pool(o.connections, o.concurrency, start + o.budgetMs, async () => {
      try {
        held.push(await o.drive(o.target));
      } catch (e) {
        tally.add(e);
      }
    });
  } finally {
    clearInterval(ticker);
  }
  for (let i = 0; i < notStarted; i++) tally.add(new ConnectionFailure('timeout', `not started within the level's ${o.budgetMs / 1000} s`));
  const seconds = (Date.now() - start) / 1000;
  // Give late events (a GOAWAY, a close) a moment to arrive before counting the connections as held.
  await sleep(200);
  const atHeld = await sampleServer(o.probe);
  const clientHeld = await ownFds();
  const lost = held.filter((h) => h.lost);
  for (const h of lost) tally.add(h.lost);
  o.progress(`${o.label}: ${held.length - lost.length} held, ${totalFailures(tally.failures)} failed; closing`);
  const heldCount = held.length - lost.length;
  const closeStart = Date.now();
  const closed = await Promise.all(held.map((h) => within(h.close().then(() => true, () => true), 10_000)));
  const unclosed = closed.filter((c) => c !== true).length;
  o.progress(`${o.label}: closed in ${((Date.now() - closeStart) / 1000).toFixed(1)} s${unclosed > 0 ? `; ${unclosed} close() calls still pending after 10 s` : ''}`);
  // Dropped, so that what a closed connection releases only when collected is released before measuring.
  held.length = 0;
  lost.length = 0;
  const settleStart = Date.now();
  const afterClose = await settledServer(o.probe, before.fds);
  const settleSeconds = (Date.now() - settleStart) / 1000;
  // A closed QUIC connection keeps its descriptors for a moment after close() (about a second here).
  let clientAfter = await ownFds();
  for (const until = Date.now() + 10_000; clientBefore !== undefined && clientAfter !== undefined && clientAfter > clientBefore && Date.now() < until; ) {
    await sleep(250);
    clientAfter = await ownFds();
  }
  return { label: o.label, connections: o.connections, held: heldCount, failures: tally.failures, examples: tally.examples, seconds, before, atHeld, afterClose, settleSeconds, clientFds: [clientBefore, clientHeld, clientAfter] };
}

/** The server once its descriptors are back to `fds` (or after 10 s). */
async function settledServer(probe: ServerProbe, fds: number | undefined): Promise<ServerSample> {
  const until = Date.now() + 10_000;
  // Collected each time: a closed QUIC connection lets go of its descriptors only when collected.
  let s = await sampleServer(probe);
  while (fds !== undefined && s.fds !== undefined && s.fds > fds && Date.now() < until) {
    await sleep(250);
    s = await sampleServer(probe);
  }
  return s;
}

export interface ChurnSample {
  seconds: number;
  connections: number;
  rss?: number;
  heap?: number;
}

export interface ChurnResult {
  workers: number;
  seconds: number;
  connections: number;
  failures: FailureCounts;
  examples: string[];
  samples: ChurnSample[];
  intervalSeconds: number;
  /** Least-squares slope of the server's RSS against connections made, MB per 1000 connections. */
  slopeAll?: number;
  slopeSecondHalf?: number;
  /** The same for the server's heap after collection, which tells retained objects from allocator pages. */
  heapSlopeSecondHalf?: number;
}

export interface ChurnOptions {
  workers: number;
  seconds: number;
  drive: (target: StressTarget) => Promise<HeldConnection>;
  target: StressTarget;
  probe: ServerProbe;
  progress: Progress;
}

/** `workers` connections cycling (connect, certificates, requests, close) for `seconds`, the server's RSS sampled. */
export async function runChurn(o: ChurnOptions): Promise<ChurnResult> {
  const tally = new Tally();
  let connections = 0;
  const start = Date.now();
  const end = start + o.seconds * 1000;
  // Every 15 s; a short run gets at least four intervals, so it still has a second half to fit.
  const intervalMs = Math.min(15_000, (o.seconds * 1000) / 4);
  const samples: ChurnSample[] = [];
  const sample = async (): Promise<void> => {
    const s = await sampleServer(o.probe);
    samples.push({ seconds: (Date.now() - start) / 1000, connections, ...(s.rss !== undefined ? { rss: s.rss } : {}), ...(s.heap !== undefined ? { heap: s.heap } : {}) });
    const last = samples[samples.length - 1] as ChurnSample;
    o.progress(`churn: ${Math.round(last.seconds)} of ${o.seconds} s, ${connections} connections, ${totalFailures(tally.failures)} failed${last.rss !== undefined ? `, server RSS ${(last.rss / 2 ** 20).toFixed(1)} MB` : ''}`);
  };
  await sample();
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling || Date.now() >= end) return;
    sampling = true;
    void sample().finally(() => (sampling = false));
  }, intervalMs);
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      try {
        const h = await o.drive(o.target);
        await within(h.close().catch(() => undefined), 10_000);
        if (h.lost) tally.add(h.lost);
        else connections++;
      } catch (e) {
        tally.add(e);
        // A failing server should not be hammered in a tight loop.
        await sleep(50);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.workers }, worker));
  } finally {
    clearInterval(sampler);
  }
  while (sampling) await sleep(20);
  await sample();
  const seconds = (Date.now() - start) / 1000;
  const withRss = samples.filter((s) => s.rss !== undefined);
  const half = withRss.filter((s) => s.seconds >= seconds / 2);
  return {
    workers: o.workers,
    seconds,
    connections,
    failures: tally.failures,
    examples: tally.examples,
    samples,
    intervalSeconds: intervalMs / 1000,
    ...optional('slopeAll', slopeMbPer1000(withRss)),
    ...optional('slopeSecondHalf', slopeMbPer1000(half)),
    ...optional('heapSlopeSecondHalf', slopeMbPer1000(half.filter((s) => s.heap !== undefined).map((s) => ({ ...s, rss: s.heap })))),
  };
}

function optional<K extends string>(key: K, v: number | undefined): Partial<Record<K, number>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, number>);
}

/** Least-squares slope of RSS (MB) against connections (thousands); undefined with fewer than two distinct points. */
export function slopeMbPer1000(samples: readonly ChurnSample[]): number | undefined {
  const pts = samples.filter((s) => s.rss !== undefined).map((s) => [s.connections / 1000, (s.rss as number) / 2 ** 20] as const);
  if (pts.length < 2) return undefined;
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  return pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
}

export interface AgentResult {
  agents: number;
  /** Agents that made all their requests on one connection with every certificate accepted. */
  ok: number;
  failures: FailureCounts;
  examples: string[];
  seconds: number;
  heapStart: number;
  heapHeld: number;
  heapAfterClose: number;
}

export interface AgentOptions {
  agents: number;
  target: StressTarget;
  concurrency: number;
  budgetMs: number;
  progress: Progress;
}

/**
 * The project's client: `agents` SecondaryCertAgents, one connection each (one agent pools every origin onto
 * one connection), each requesting every origin after validating the certificates; this process's heap at
 * the start, while all are held, and after all are closed.
 */
export async function runAgents(o: AgentOptions): Promise<AgentResult> {
  const t = o.target;
  const options = { ca: t.ca, lookup: t.lookup };
  const port = t.url.port ? `:${t.url.port}` : '';
  const urls = t.origins.map((h) => `https://${h}${port}/`);
  /** Runs one agent through every origin; returns it open, or throws the failure. */
  const one = async (): Promise<SecondaryCertAgent> => {
    const agent = new SecondaryCertAgent({ ...options, requestTimeoutMs: t.timeoutMs });
    let accepted = 0;
    const rejected: string[] = [];
    agent.on('certificate', (_p, e) => (e.accepted ? accepted++ : rejected.push(`${e.names.join(', ')}: ${e.reason}`)));
    const work = (async () => {
      for (const url of urls) {
        let r;
        try {
          r = await agent.request(url);
        } catch (e) {
          const code = (e as { code?: string }).code;
          const cause = (e as { cause?: unknown }).cause;
          const kind: FailureKind = code === 'ERR_CONNECT_FAILED' ? connectFailureKind(cause) : code === 'ERR_REQUEST_TIMEOUT' ? 'timeout' : code === 'ERR_STREAM_CLOSED' ? 'reset' : 'other';
          throw new ConnectionFailure(kind, `${url}: ${errorText(e)}`);
        }
        if (r.status !== 200) throw new ConnectionFailure('status', `${url}: status ${r.status}`);
        if (r.connectionId !== 1) throw new ConnectionFailure('auth missing', `${url} went on a new connection (#${r.connectionId})`);
      }
      if (rejected.length > 0) throw new ConnectionFailure('auth invalid', rejected.join('; '));
      if (accepted < t.certificates) throw new ConnectionFailure('auth missing', `${accepted} of ${t.certificates} certificates accepted`);
      if (agent.connections.length !== 1) throw new ConnectionFailure('reset', `${agent.connections.length} connections open, not 1`);
    })();
    const timedOut = await within(work.then(() => false), t.timeoutMs).catch(async (e: unknown) => {
      await within(agent.close(), 5000);
      throw e;
    });
    if (timedOut !== false) {
      work.catch(() => undefined);
      await within(agent.close(), 5000);
      throw new ConnectionFailure('timeout', `agent not done in ${t.timeoutMs} ms`);
    }
    return agent;
  };
  // One agent first, untimed and unmeasured: the modules and caches it loads stay for the process's life.
  await one().then((a) => a.close(), () => undefined);
  const heapStart = await heapAfterGc();
  const start = Date.now();
  const tally = new Tally();
  let agents: SecondaryCertAgent[] = [];
  const ticker = setInterval(() => o.progress(`agent: ${agents.length} held, ${totalFailures(tally.failures)} failed of ${o.agents}`), 2000);
  let notStarted: number;
  try {
    notStarted = await pool(o.agents, o.concurrency, start + o.budgetMs, async () => {
      try {
        agents.push(await one());
      } catch (e) {
        tally.add(e);
      }
    });
  } finally {
    clearInterval(ticker);
  }
  for (let i = 0; i < notStarted; i++) tally.add(new ConnectionFailure('timeout', 'not started in time'));
  const seconds = (Date.now() - start) / 1000;
  const heapHeld = await heapAfterGc();
  const ok = agents.filter((a) => a.connections.length === 1).length;
  for (let i = ok; i < agents.length; i++) tally.add(new ConnectionFailure('reset', 'an agent lost its connection while held'));
  await Promise.all(agents.map((a) => within(a.close(), 10_000)));
  agents = [];
  // Closed sessions finish on later turns of the event loop; let them before measuring.
  await sleep(500);
  const heapAfterClose = await heapAfterGc();
  return { agents: o.agents, ok, failures: tally.failures, examples: tally.examples, seconds, heapStart, heapHeld, heapAfterClose };
}
