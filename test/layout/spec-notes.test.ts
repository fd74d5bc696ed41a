// spec-notes/ cites tests by exact name; this keeps every citation true. A requirement table is one
// whose header has a `status` and a `test` column. Every backticked span in its test column must be the
// name of a test() defined under test/ (a template name's ${…} parts match any text), and its status must
// be one of README.md's. Rows with status `pending` (work another branch is doing) are exempt, and must
// carry a `<!-- pending: TOPIC -->` marker so the lead can find them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const notesDir = join(root, 'spec-notes');
const testDir = join(root, 'test');

const STATUSES = ['tested', 'by construction', 'not done by choice', 'not done', 'pending'] as const;
/** Statuses that must say why, after a colon. */
const NEEDS_REASON = new Set(['by construction', 'not done by choice']);

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).sort().flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p, ext) : p.endsWith(ext) ? [p] : [];
  });
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One matcher per test() name in test/: exact for plain strings, a pattern for template literals. */
function definedTestNames(sources: readonly string[]): { exact: Set<string>; patterns: RegExp[] } {
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  // test( or it( (not x.test( of a RegExp), optional .skip/.only/.todo, then a string literal.
  const call = /(?:^|[^.\w$])(?:test|it)(?:\.(?:skip|only|todo))?\(\s*(['"`])((?:\\[\s\S]|(?!\1)[^\\])*)\1/g;
  for (const text of sources) {
    for (const m of text.matchAll(call)) {
      const quote = m[1]!;
      const raw = m[2]!;
      if (quote === '`' && raw.includes('${')) {
        const parts = raw.split(/\$\{[^}]*\}/).map((p) => regexEscape(unescape(p)));
        patterns.push(new RegExp(`^${parts.join('.+?')}$`, 's'));
      } else {
        exact.add(unescape(raw));
      }
    }
  }
  return { exact, patterns };
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Cells of a Markdown table row, split on unescaped pipes. */
function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => c.trim());
}

interface Row { file: string; line: number; status: string; test: string; raw: string; cells: number; columns: number }

/** Rows of every requirement table (header with `status` and `test` columns) in one note. */
function requirementRows(file: string, text: string): Row[] {
  const rows: Row[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1] ?? '')) continue;
    const header = cells(lines[i]!).map((h) => h.toLowerCase());
    const statusCol = header.indexOf('status');
    const testCol = header.indexOf('test');
    i += 2;
    for (; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
      if (statusCol < 0 || testCol < 0) continue;
      const c = cells(lines[i]!);
      rows.push({ file, line: i + 1, status: c[statusCol] ?? '', test: c[testCol] ?? '', raw: lines[i]!, cells: c.length, columns: header.length });
    }
  }
  return rows;
}

/** The backticked test names in a test cell. */
function citedNames(cell: string): string[] {
  // A pipe inside a table cell is written \| (GFM), also inside backticks.
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\\\|/g, '|'));
}

function statusOf(cell: string): string | undefined {
  const s = cell.replace(/<!--[\s\S]*?-->/g, '').replace(/\*\*/g, '').trim().toLowerCase();
  // Longest first, so "not done by choice" is not read as "not done".
  return [...STATUSES].sort((a, b) => b.length - a.length).find((k) => s === k || s.startsWith(`${k}:`) || s.startsWith(`${k} (`) || s.startsWith(`${k};`));
}

const notes = files(notesDir, '.md');
const rows = notes.flatMap((f) => requirementRows(relative(root, f), readFileSync(f, 'utf8')));
const defined = definedTestNames(files(testDir, '.ts').map((f) => readFileSync(f, 'utf8')));
const isDefined = (name: string): boolean => defined.exact.has(name) || defined.patterns.some((p) => p.test(name));
const where = (r: Row): string => `${r.file}:${r.line}`;

test('the spec-notes have requirement tables, and test/ defines the tests they cite from', () => {
  assert.ok(rows.length > 100, `only ${rows.length} requirement rows found`);
  assert.ok(defined.exact.size > 100, `only ${defined.exact.size} test names found under test/`);
});

test('every test a spec-notes requirement row cites is a test defined under test/, by its exact name', () => {
  const unknown = rows
    .filter((r) => statusOf(r.status) !== 'pending')
    .flatMap((r) => citedNames(r.test).filter((n) => !isDefined(n)).map((n) => `${where(r)}: \`${n}\``));
  assert.deepEqual(unknown, []);
});

test('every spec-notes requirement row has its columns and a known status; tested rows cite a test; pending rows carry a marker', () => {
  const wrong: string[] = [];
  for (const r of rows) {
    const status = statusOf(r.status);
    if (r.cells !== r.columns) wrong.push(`${where(r)}: ${r.cells} cells under ${r.columns} columns (an unescaped pipe?)`);
    else if (status === undefined) wrong.push(`${where(r)}: unknown status "${r.status}"`);
    else if (status === 'tested' && citedNames(r.test).length === 0) wrong.push(`${where(r)}: tested, but no test cited`);
    else if (NEEDS_REASON.has(status) && !/:\s*\S/.test(r.status)) wrong.push(`${where(r)}: "${status}" must say why after a colon`);
    else if (status === 'pending' && !/<!-- pending: [^>]+ -->/.test(r.raw)) wrong.push(`${where(r)}: pending without <!-- pending: TOPIC -->`);
  }
  assert.deepEqual(wrong, []);
});

test('the spec-notes index lists every note', () => {
  const index = readFileSync(join(notesDir, 'README.md'), 'utf8');
  const missing = notes.map((f) => relative(notesDir, f)).filter((n) => n !== 'README.md' && !index.includes(`(${n})`));
  assert.deepEqual(missing, []);
});
