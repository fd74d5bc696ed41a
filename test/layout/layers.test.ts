// The layout's one rule, checked on every src/ import: a file imports only its own floor or a lower
// one, and no two files import each other, directly or around a loop. A failure names the edge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const srcRoot = resolve(new URL('../../../src', import.meta.url).pathname);

/** Floors from the bottom up; a folder of src/ (or a root file) on each. Same floor: allowed. */
const FLOORS: readonly (readonly string[])[] = [
  ['errors.ts', 'debug.ts'],
  ['codec'],
  ['tls'],
  ['crypto'],
  ['exporter'],
  ['ea'],
  ['pki'],
  ['http'],
  ['h2', 'h3'],
  ['pool'],
  ['flows'],
  ['index.ts', 'testing'],
  ['cli'],
];
/** Folders on one floor that still may not import each other. */
const APART: readonly (readonly [string, string])[] = [['h2', 'h3'], ['h3', 'h2'], ['index.ts', 'testing']];

function floorOf(file: string): { name: string; level: number } {
  const first = relative(srcRoot, file).split('/')[0]!;
  const level = FLOORS.findIndex((names) => names.includes(first));
  if (level < 0) throw new Error(`src/${relative(srcRoot, file)} is on no floor: add ${first} to FLOORS`);
  return { name: first, level };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports of a file, static and dynamic, as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\s)(?:import|export)\s[^;'"]*?from\s*['"](\.[^'"]+)['"]|(?:^|\s)import\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)]
    .map((m) => m[1] ?? m[2] ?? m[3]!);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

const files = sourceFiles(srcRoot);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const name = (f: string): string => `src/${relative(srcRoot, f)}`;

test('every src/ import points at an existing file', () => {
  const missing = [...graph].flatMap(([f, targets]) => targets.filter((t) => !graph.has(t)).map((t) => `${name(f)} -> ${name(t)}`));
  assert.deepEqual(missing, []);
});

test('no src/ file imports a higher floor, and h2 and h3 never import each other', () => {
  const bad: string[] = [];
  for (const [f, targets] of graph) {
    const from = floorOf(f);
    for (const t of targets) {
      if (!graph.has(t)) continue;
      const to = floorOf(t);
      if (to.level > from.level) bad.push(`${name(f)} -> ${name(t)} (${from.name} may not import ${to.name}: a higher floor)`);
      else if (APART.some(([a, b]) => a === from.name && b === to.name)) bad.push(`${name(f)} -> ${name(t)} (${from.name} and ${to.name} stay apart)`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no import cycle between src/ files', () => {
  // Tarjan's strongly connected components: any component of two or more files is a cycle.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(name(w));
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort().join(' <-> '));
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});
