import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

// What the HTTP/2 (run.ts) and HTTP/3 (h3.ts) matrices share: the outcome of a cell, a timeout, and
// running a peer command that prints one JSON object per line (the Go clients).

export type CellStatus = 'pass' | 'FAIL' | 'n/a';
export interface Outcome {
  status: CellStatus;
  reason: string;
}
export const pass = (reason: string): Outcome => ({ status: 'pass', reason });
export const fail = (reason: string): Outcome => ({ status: 'FAIL', reason });
export const na = (reason: string): Outcome => ({ status: 'n/a', reason });
export const expect = (ok: boolean, good: string, bad: string): Outcome => (ok ? pass(good) : fail(bad));

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One cell of a matrix: n/a when a peer cannot run here, FAIL when its server did not start, else the
 * case's own outcome, with a time limit and any exception as a FAIL.
 */
export async function runCell(unavailable: string | undefined, serverStarted: boolean, server: string, run: () => Promise<Outcome>, ms: number, what: string): Promise<Outcome> {
  if (unavailable) return na(unavailable);
  if (!serverStarted) return fail(`the ${server} server did not start`);
  try {
    return await withTimeout(run(), ms, what);
  } catch (e) {
    return fail(`error: ${(e as Error).message}`);
  }
}

/** Whether `cmd args` runs here and exits 0. */
export function hasCommand(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** SIGTERM, then SIGKILL after 2 s; resolves once the child has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface JsonLinesRun {
  code: number | null;
  events: Record<string, unknown>[];
  stderr: string;
}

/** Runs `bin` to its end (killed after `timeoutMs`) and parses its stdout as JSON lines. */
export function runJsonLines(bin: string, args: string[], timeoutMs: number): Promise<JsonLinesRun> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, events: [], stderr: e.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const events: Record<string, unknown>[] = [];
      for (const line of out.split('\n')) {
        if (!line.trim()) continue;
        try {
          events.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          events.push({ event: 'unparsed', line });
        }
      }
      resolve({ code, events, stderr: err });
    });
  });
}
