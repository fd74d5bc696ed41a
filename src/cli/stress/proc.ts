import { readFileSync, readdirSync } from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

// What the stress run measures of a process: its resident memory and open descriptors from /proc (Linux),
// and, for this process, its JavaScript heap after a full collection.

/** VmRSS of process `pid` in bytes, or undefined when /proc cannot tell (not Linux, no such process). */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** How many descriptors process `pid` has open, or undefined when /proc cannot tell. */
export function fdsOf(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** The soft and hard limits on open descriptors of process `pid` (Infinity for unlimited). */
export function fdLimitOf(pid: number | 'self'): { soft: number; hard: number } | undefined {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    if (!m) return undefined;
    const n = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(m[1] as string), hard: n(m[2] as string) };
  } catch {
    return undefined;
  }
}

let collect: (() => void) | undefined;

/** A full garbage collection, without needing node to be started with --expose-gc. */
export function fullGc(): void {
  if (!collect) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) collect = g;
    else {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    }
  }
  // Twice: the first collection can leave objects that only the second frees (weak callbacks, finalizers).
  collect();
  collect();
}

/** This process's heap in use after a full collection, in bytes. */
export async function heapAfterGc(): Promise<number> {
  // Let closing sockets and timers run their callbacks first, so what they hold can go.
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  fullGc();
  return process.memoryUsage().heapUsed;
}
