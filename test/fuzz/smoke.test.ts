// The fuzzer's own machinery (npm run fuzz): a real process with its worker. What is asserted is that a
// crash is a finding named by a seed that replays it, and that the run exits 1 when there is one. The
// live run over every target, which must find nothing, is budget.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const fuzz = new URL('../../fuzz/main.js', import.meta.url).pathname;
const run = (args: string[]) => spawnSync(process.execPath, [fuzz, ...args], { encoding: 'utf8', timeout: 120_000 });

test('a crash in the worker (exception, rejection, exit) is a finding named by its case, and the run goes on', () => {
  const r = run(['--cases', '16', '--targets', 'selftest', '--seed', '1']);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /selftest crash: uncaughtException: Error: selftest: an exception nobody catches/);
  assert.match(r.stdout, /selftest crash: unhandledRejection: Error: selftest: a rejection nobody handles/);
  assert.match(r.stdout, /selftest crash: the worker process exited \(code N, signal null\)/);
  assert.match(r.stdout, /fuzz: 16 cases, \d+ findings/);
  // The seed printed replays the same case.
  const id = /first (selftest:0x[0-9a-f]{8}) \(replay[^\n]*\n  the worker process exited/.exec(r.stdout)?.[1];
  assert.ok(id, r.stdout);
  const again = run(['--seed', id]);
  assert.equal(again.status, 1);
  assert.match(again.stdout, /fuzz: 1 cases, 1 findings[\s\S]*the worker process exited \(code 7/);
});

// Cases the live runs found, fixed since: each seed replays with no finding (fuzz/FINDINGS.md).
const FIXED = ['h3-server:0x5b32a828', 'h3-server:0xe3775e04'];
test('every fixed finding of fuzz/FINDINGS.md replays with no finding', () => {
  for (const id of FIXED) {
    const r = run(['--seed', id]);
    assert.equal(r.status, 0, `${id}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /fuzz: 1 cases, no findings/);
  }
});
