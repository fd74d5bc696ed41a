// Prints rows of named columns as an aligned plain-text table.
export type Row = Record<string, string | number>;

export function formatTable(rows: readonly Row[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined): string =>
    v === undefined ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 0)) : v;
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n') + '\n';
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Operations per second of `op`, run for about `ms` milliseconds (awaited one at a time). */
export async function rate(op: () => unknown, ms = 300): Promise<number> {
  const start = performance.now();
  let n = 0;
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 16; i++) await op();
    n += 16;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

/** Operations per second of a synchronous `op` (no await between calls, as raw node:crypto is used). */
export function rateSync(op: () => unknown, ms = 300): number {
  const start = performance.now();
  let n = 0;
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 16; i++) op();
    n += 16;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}
