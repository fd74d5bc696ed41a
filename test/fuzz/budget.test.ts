// Live fuzzing as CI runs it: `npm run fuzz -- --seconds 60` over every target, a new seed each run
// (FUZZ_SEED=0x... replays one). Any finding fails the test, and the failure shows the run's seed and
// each finding's own seed to replay it with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

const fuzz = new URL('../../fuzz/main.js', import.meta.url).pathname;
const SECONDS = 60;
const seed = process.env['FUZZ_SEED'] ?? `0x${randomInt(0x7fffffff).toString(16).padStart(8, '0')}`;

test(`fuzz --seconds ${SECONDS} over every target finds nothing (crash, hang, half-open, untyped error, a fresh connection not served)`, { timeout: (SECONDS + 120) * 1000 }, () => {
  // Past the budget, the case under way finishes (each is bounded at 60 s by the fuzzer itself).
  const r = spawnSync(process.execPath, [fuzz, '--seconds', String(SECONDS), '--seed', seed], { encoding: 'utf8', timeout: (SECONDS + 90) * 1000 });
  const output = `fuzz run seed ${seed} (replay: FUZZ_SEED=${seed}, or npm run fuzz -- --seconds ${SECONDS} --seed ${seed})\n${r.stdout}\n${r.stderr.split('\n').slice(-20).join('\n')}`;
  assert.equal(r.error, undefined, `the fuzzer did not finish: ${String(r.error)}\n${output}`);
  assert.match(r.stderr, new RegExp(`fuzz: seed ${seed} \\(replay the run with --seed ${seed}\\), ${SECONDS} s, targets h2-server, h2-client, h3-server, h3-client`), output);
  assert.match(r.stderr, /fuzz: \d+ s, \d+ cases \(h2-server [1-9]\d*, h2-client [1-9]\d*, h3-server [1-9]\d*, h3-client [1-9]\d*\), \d+ findings/, `every target ran\n${output}`);
  assert.match(r.stdout, /fuzz: \d+ cases, no findings/, output);
  assert.equal(r.status, 0, output);
});
