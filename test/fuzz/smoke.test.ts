// The fuzzer (npm run fuzz) as CI runs it: a real process with its worker, real connections. Its own
// findings are not asserted here (the lead decides on those); what is asserted is that it runs, counts,
// names every failure with a seed that replays it, and exits 1 exactly when there are findings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const fuzz = new URL('../../fuzz/main.js', import.meta.url).pathname;
const run = (args: string[]) => spawnSync(process.execPath, [fuzz, ...args], { encoding: 'utf8', timeout: 120_000 });

test('fuzz --seconds 5 with a fixed seed runs every target, reports its case count, and exits 1 only with findings', () => {
  const r = run(['--seconds', '5', '--seed', '0x5eed']);
  assert.match(r.stderr, /fuzz: seed 0x00005eed \(replay the run with --seed 0x00005eed\), 5 s, targets h2-server, h2-client, h3-server, h3-client/);
  const summary = /fuzz: (\d+) cases, (no findings|(\d+) findings of \d+ kinds:)/.exec(r.stdout);
  assert.ok(summary, r.stdout + r.stderr);
  assert.ok(Number(summary[1]) >= 4, `only ${summary[1]} cases`);
  assert.match(r.stderr, /fuzz: \d+ s, \d+ cases \(h2-server \d+, h2-client \d+, h3-server \d+, h3-client \d+\), \d+ findings/);
  assert.equal(r.status, summary[2] === 'no findings' ? 0 : 1, r.stdout);
  if (summary[3]) assert.match(r.stdout, /replay: npm run fuzz -- --seed (h2|h3)-(server|client):0x[0-9a-f]{8}/);
});

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
