// RFC 9261 vectors across two implementations that share no code: the Go EA package (interop/go/ea)
// validates, and rebuilds where deterministic, every committed vector and a fresh set made by our
// generator; our runner checks a fresh set made by the Go package, with both crypto providers.
// Go comes from Debian (.ci/run installs it); without it these tests fail under CI and skip elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCrypto, portableCrypto } from '../../src/crypto/index.js';
import { runVectorFiles } from '../../src/cli/vectors.js';
import { generateVectors } from '../vectors/generate.js';

const script = join(process.cwd(), 'interop', 'go-ea-vectors.sh');

function goVectors(env: Record<string, string>): { status: number | null; out: string } {
  const r = spawnSync('sh', [script], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const noGo = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).status !== 0;
const skip = noGo && !process.env['CI'] ? 'go is not installed (Debian golang-go; .ci/run installs it)' : false;

/** The names of the sub-tests go test -v reports as passed. */
function passedNames(out: string, parent: string): string[] {
  return [...out.matchAll(new RegExp(`--- PASS: ${parent}/(\\S+)`, 'g'))].map((m) => m[1]!);
}

test('the Go EA package validates every committed vector (test/vectors), and fails when it finds none', { skip }, () => {
  const committed = readdirSync(join(process.cwd(), 'test', 'vectors')).filter((f) => f.endsWith('.json'));
  const r = goVectors({});
  assert.equal(r.status, 0, r.out);
  assert.deepEqual(passedNames(r.out, 'TestVectors').sort(), committed.map((f) => f.replace(/\.json$/, '')).sort(), r.out);

  const empty = mkdtempSync(join(tmpdir(), 'ea-none-'));
  try {
    const none = goVectors({ EA_VECTORS: empty });
    assert.notEqual(none.status, 0, 'an empty vector directory must fail the Go run, not skip it');
    assert.match(none.out, /no vector files found/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('vectors made now by our code are validated by the Go EA package', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ea-ours-'));
  try {
    const made = await generateVectors();
    for (const [file, text] of made) writeFileSync(join(dir, file), text);
    const r = goVectors({ EA_VECTORS: dir });
    assert.equal(r.status, 0, r.out);
    assert.equal(passedNames(r.out, 'TestVectors').length, made.size, r.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vectors made now by the Go EA package pass our runner with both providers', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ea-go-'));
  try {
    const r = goVectors({ EA_VECTORS_OUT: dir });
    assert.equal(r.status, 0, r.out);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => join(dir, f));
    assert.ok(files.length >= 8, `the Go generator wrote ${files.length} files`);
    const failed: string[] = [];
    const result = await runVectorFiles(files, [nodeCrypto, portableCrypto], (line) => {
      if (!line.ok) failed.push(`${line.vector} [${line.provider}]: ${line.detail}`);
    });
    assert.deepEqual(failed, []);
    assert.equal(result.passed, files.length * 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
