// One list of error codes: every class's `code` is in ERROR_CODES (the compiler checks the literal
// ones; this also reads the sources, so a code set at run time cannot escape the list), each code
// names one failure kind, and no listed code is dead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../../src/errors.js';

const src = fileURLToPath(new URL('../../../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [readFileSync(p, 'utf8')] : [];
  });
}

test('ERROR_CODES lists each code once, and every code in src/ is one of them and is used', () => {
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  const text = sources(src).join('\n');
  const assigned = [...text.matchAll(/readonly code = '([A-Z0-9_]+)'/g)].map((m) => m[1]!);
  assert.equal(new Set(assigned).size, assigned.length, 'two classes share a code');
  const listed = new Set<string>(ERROR_CODES);
  assert.deepEqual(assigned.filter((c) => !listed.has(c)), []);
  const unused = ERROR_CODES.filter((c) => text.split(`'${c}'`).length < 3);
  assert.deepEqual(unused, [], 'listed but never thrown');
});
