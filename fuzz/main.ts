import { fork, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Finding, Observation } from './oracle.js';
import { caseSeed, hex } from './rng.js';
import type { WorkerReply } from './worker.js';

// `npm run fuzz -- --seconds N [--seed S | --seed target:S] [--targets a,b] [--verbose]`: mutated and random
// frames sent over real connections to our servers and clients for a time budget. Any crash, hang or
// untyped error is a finding; the run exits 1 when there is one, printing each finding's seed to replay.

const ALL_TARGETS = ['h2-server', 'h2-client', 'h3-server', 'h3-client'];
/** Accepted by --targets and --seed but not run by default: cases that crash on purpose (the fuzzer's own test). */
const HIDDEN_TARGETS = ['selftest'];
/** The worker must answer a case within this; otherwise it is stuck (an event loop that never returns). */
const CASE_DEADLINE_MS = 60_000;

interface Args {
  seconds: number;
  runSeed: number;
  /** A single case to replay. */
  only?: { target: string; seed: number };
  /** Run exactly this many cases instead of a time budget: with --seed, replays a run's first cases. */
  cases?: number;
  targets: string[];
  verbose: boolean;
}

function usage(problem: string): never {
  process.stderr.write(`fuzz: ${problem}\nusage: npm run fuzz -- [--seconds N | --cases N] [--seed S | --seed TARGET:S] [--targets ${ALL_TARGETS.join(',')}] [--verbose]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seconds: 60, runSeed: randomInt(0x7fffffff), targets: ALL_TARGETS, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--seconds') {
      args.seconds = Number(value());
      if (!(args.seconds > 0)) usage('--seconds must be a positive number');
    } else if (a === '--seed') {
      const v = value();
      const m = /^(?:([a-z0-9-]+):)?(0x[0-9a-f]+|\d+)$/i.exec(v);
      if (!m) usage(`bad seed ${v}`);
      const seed = Number(m[2]) >>> 0;
      if (m[1]) {
        if (![...ALL_TARGETS, ...HIDDEN_TARGETS].includes(m[1])) usage(`no target ${m[1]}`);
        args.only = { target: m[1], seed };
      } else args.runSeed = seed;
    } else if (a === '--cases') {
      args.cases = Number(value());
      if (!Number.isInteger(args.cases) || args.cases < 1) usage('--cases must be a positive integer');
    } else if (a === '--targets') {
      args.targets = value().split(',');
      for (const t of args.targets) if (![...ALL_TARGETS, ...HIDDEN_TARGETS].includes(t)) usage(`no target ${t}`);
    } else if (a === '--verbose') args.verbose = true;
    else if (a === '--help' || a === '-h') usage('help');
    else usage(`unknown argument ${a}`);
  }
  return args;
}

class Worker {
  private child: ChildProcess;
  private pending: ((r: WorkerReply | { died: string }) => void) | undefined;
  readonly ready: Promise<void>;

  constructor() {
    this.child = fork(fileURLToPath(new URL('./worker.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let readyResolve!: () => void;
    this.ready = new Promise((r) => (readyResolve = r));
    this.child.on('message', (m: WorkerReply) => {
      if ('ready' in m) return readyResolve();
      const p = this.pending;
      this.pending = undefined;
      p?.(m);
    });
    this.child.on('exit', (code, signal) => {
      readyResolve();
      const p = this.pending;
      this.pending = undefined;
      p?.({ died: `the worker process exited (code ${code}, signal ${signal})` });
    });
  }

  run(target: string, seed: number): Promise<WorkerReply | { died: string }> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.child.kill('SIGKILL');
        resolve({ died: `the worker did not finish the case within ${CASE_DEADLINE_MS} ms (killed)` });
      }, CASE_DEADLINE_MS);
      this.pending = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.child.send({ target, seed });
    });
  }

  stop(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const findings: Finding[] = [];
  const observations: Observation[] = [];
  const counts = new Map<string, number>();
  const started = Date.now();
  const deadline = started + args.seconds * 1000;
  if (args.only) process.stderr.write(`fuzz: replaying ${args.only.target}:${hex(args.only.seed)}\n`);
  else process.stderr.write(`fuzz: seed ${hex(args.runSeed)} (replay the run with --seed ${hex(args.runSeed)}), ${args.cases !== undefined ? `${args.cases} cases` : `${args.seconds} s`}, targets ${args.targets.join(', ')}\n`);
  let worker = new Worker();
  await worker.ready;
  let total = 0;
  let lastProgress = Date.now();
  const progress = (): void => {
    const per = [...counts].map(([t, n]) => `${t} ${n}`).join(', ');
    process.stderr.write(`fuzz: ${Math.round((Date.now() - started) / 1000)} s, ${total} cases (${per}), ${findings.length} findings\n`);
  };
  // Every target runs at least once, however short the budget.
  const more = (i: number): boolean => (args.only ? i < 1 : args.cases !== undefined ? i < args.cases : Date.now() < deadline || i < args.targets.length);
  for (let i = 0; more(i); i++) {
    const target = args.only?.target ?? args.targets[i % args.targets.length]!;
    const seed = args.only?.seed ?? caseSeed(args.runSeed, i);
    const id = `${target}:${hex(seed)}`;
    const r = await worker.run(target, seed);
    total++;
    counts.set(target, (counts.get(target) ?? 0) + 1);
    if ('died' in r) {
      findings.push({ kind: r.died.includes('within') ? 'hang' : 'crash', target, caseId: id, detail: r.died, frames: [] });
      worker.stop();
      worker = new Worker();
      await worker.ready;
    } else if ('findings' in r) {
      findings.push(...r.findings);
      for (const o of r.observations) if (!observations.some((x) => x.what === o.what)) observations.push(o);
      if (args.verbose || args.only) process.stderr.write(`case ${id}:\n  ${r.frames.join('\n  ')}\n  ${r.findings.length === 0 ? 'ok' : r.findings.map((f) => `${f.kind}: ${f.detail}`).join('\n  ')}\n`);
      for (const f of r.findings) process.stderr.write(`fuzz: FINDING ${f.kind} in ${f.caseId}: ${f.detail.split('\n')[0]}\n`);
    }
    if (Date.now() - lastProgress > 5000) {
      lastProgress = Date.now();
      progress();
    }
  }
  worker.stop();
  progress();
  for (const o of observations) process.stdout.write(`observation (${o.caseId}): ${o.what}\n`);
  if (findings.length === 0) {
    process.stdout.write(`fuzz: ${total} cases, no findings\n`);
    return;
  }
  // One entry per kind of failure (numbers stripped), with its cases: one bug often fails many cases.
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const key = `${f.target} ${f.kind}: ${f.detail.split('\n')[0]!.replace(/0x[0-9a-f]+|\d+/gi, 'N')}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  process.stdout.write(`fuzz: ${total} cases, ${findings.length} findings of ${groups.size} kinds:\n`);
  for (const [key, group] of groups) {
    const f = group[0]!;
    const others = group.slice(1, 6).map((g) => g.caseId);
    process.stdout.write(`\n${key}\n  ${group.length} case(s); first ${f.caseId} (replay: npm run fuzz -- --seed ${f.caseId})${others.length > 0 ? `; also ${others.join(', ')}${group.length > 6 ? ', ...' : ''}` : ''}\n  ${f.detail.replace(/\n/g, '\n  ')}\n  frames of ${f.caseId}:\n    ${f.frames.join('\n    ')}\n`);
  }
  process.exitCode = 1;
}

void main();
