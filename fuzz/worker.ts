import { CaseLog, type Target } from './oracle.js';
import { hex } from './rng.js';

// The child process that runs cases: the parent sends { target, seed }, we answer with the case's
// findings. Exceptions and rejections that reach the process hooks are findings of the running case;
// if the process dies, the parent names the case it was running.

export type WorkerRequest = { target: string; seed: number };
export type WorkerReply = { ready: true; targets: string[] } | { target: string; seed: number; findings: CaseLog['findings']; observations: CaseLog['observations']; frames: string[] };

const factories: Record<string, () => Promise<Target>> = {
  'h2-server': async () => (await import('./h2-server-target.js')).h2ServerTarget(),
  'h2-client': async () => (await import('./h2-client-target.js')).h2ClientTarget(),
  'h3-server': async () => (await import('./h3-targets.js')).h3ServerTarget(),
  'h3-client': async () => (await import('./h3-targets.js')).h3ClientTarget(),
  // Not a real target: cases that crash in each way the oracles must catch, for the fuzzer's own test.
  selftest: async () => ({
    name: 'selftest',
    async runCase(seed) {
      const kind = seed % 4;
      if (kind === 1) setTimeout(() => {
        throw new Error('selftest: an exception nobody catches');
      });
      if (kind === 2) process.exit(7);
      if (kind === 3) void Promise.reject(new Error('selftest: a rejection nobody handles'));
      await new Promise((r) => setTimeout(r, 10));
    },
    close: async () => undefined,
  }),
};

export const TARGETS = Object.keys(factories);

const targets = new Map<string, Promise<Target>>();
let current: CaseLog | undefined;

function hook(kind: string, e: unknown): void {
  const text = e instanceof Error ? `${e.constructor.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 8).join('\n')}` : String(e);
  if (current) current.find('crash', `${kind}: ${text}`);
  else process.stderr.write(`fuzz worker: ${kind} outside a case: ${text}\n`);
}
process.on('uncaughtException', (e) => hook('uncaughtException', e));
process.on('unhandledRejection', (e) => hook('unhandledRejection', e));

function send(reply: WorkerReply): void {
  process.send?.(reply);
}

process.on('message', (msg: WorkerRequest) => {
  void (async () => {
    const log = new CaseLog(msg.target, `${msg.target}:${hex(msg.seed)}`);
    current = log;
    try {
      let t = targets.get(msg.target);
      if (!t) {
        const factory = factories[msg.target];
        if (!factory) throw new Error(`no target ${msg.target}`);
        t = factory();
        targets.set(msg.target, t);
      }
      await (await t).runCase(msg.seed, log);
      // Let late events of the case (a close, an error emitted on the next tick) reach its log.
      await new Promise((r) => setTimeout(r, 20));
    } catch (e) {
      log.find('crash', `the fuzzer's case code threw (a harness bug, or a library call that threw where it should not): ${e instanceof Error ? `${e.message}\n${e.stack}` : String(e)}`);
    }
    send({ target: msg.target, seed: msg.seed, findings: log.findings, observations: log.observations, frames: log.frames });
  })();
});

process.on('disconnect', () => {
  // A target whose close never returns must not keep the run from ending.
  setTimeout(() => process.exit(0), 10_000);
  void (async () => {
    for (const t of targets.values()) await (await t).close().catch(() => undefined);
    process.exit(0);
  })();
});

send({ ready: true, targets: TARGETS });
