// The interop matrix (`npm run interop`) as part of the suite, so CI runs it on every clean clone. It
// skips peers this machine cannot run, each with a line, and fails on any failed cell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('the interop matrix: every applicable case passes for every server and client pair', () => {
  const runner = new URL('../../interop/run.js', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [runner], { encoding: 'utf8', timeout: 240_000 });
  process.stdout.write(r.stdout.split('\n').map((l) => `# ${l.replace(/^#\s*/, '')}`).join('\n') + '\n');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\d+ passed, 0 failed/);
});
