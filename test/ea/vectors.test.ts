// The shared RFC 9261 vectors (from an independent implementation), with both providers, and every
// single-byte mutation of each valid authenticator rejected with a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCrypto, portableCrypto } from '../../src/crypto/index.js';
import { parseVector, runVector, runVectorFiles } from '../../src/cli/vectors.js';
import { ConnectionState, parseRequest, validateAuthenticator } from '../../src/ea/index.js';
import { keysFromExporterSecret } from '../../src/exporter/exporter-secret.js';
import { SecondaryCertsError } from '../../src/errors.js';

// The committed vectors (test/vectors: the independent shared set, ours and the Go package's), plus any
// file of the shared directory beside the project that the copy lacks (CI's clone has no ../shared).
const own = join(process.cwd(), 'test', 'vectors');
const shared = join(process.cwd(), '..', 'shared', 'vectors');
const jsonIn = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.json'));
const files = [
  ...jsonIn(own).map((f) => join(own, f)),
  ...(existsSync(shared) ? jsonIn(shared).filter((f) => !existsSync(join(own, f))).map((f) => join(shared, f)) : []),
];

test('there are vectors to run: the independent set, ours and the Go package\'s', () => {
  const names = files.map((f) => f.split('/').pop()!);
  assert.ok(names.filter((n) => n.startsWith('server-')).length >= 3, 'the independent shared vectors');
  assert.ok(names.filter((n) => n.startsWith('ours-')).length >= 10, 'the vectors made by test/vectors/generate.ts');
  assert.ok(names.filter((n) => n.startsWith('go-')).length >= 8, 'the vectors made by the Go EA package');
});

for (const file of files) {
  const vector = parseVector(JSON.parse(readFileSync(file, 'utf8')), file);
  for (const crypto of [nodeCrypto, portableCrypto]) {
    test(`${vector.name} [${crypto.name}]`, async () => {
      const r = await runVector(vector, crypto);
      assert.ok(r.ok, r.detail);
    });
  }
  if (vector.expect !== 'valid') continue;
  test(`${vector.name}: every one-byte change is rejected with a typed error`, async () => {
    const keys = keysFromExporterSecret(nodeCrypto, vector.hash, vector.exporterSecret);
    const validator = vector.creator === 'server' ? 'client' : 'server';
    for (let i = 0; i < vector.authenticator.length; i++) {
      const mutated = vector.authenticator.slice();
      mutated[i] = (mutated[i] as number) ^ 0x01;
      const state = new ConnectionState(validator);
      if (vector.request) state.recordRequest(parseRequest(vector.request).context);
      await assert.rejects(
        validateAuthenticator({ keys, creator: vector.creator, authenticator: mutated, state, ...(vector.request ? { request: vector.request } : {}) }),
        (e: unknown) => e instanceof SecondaryCertsError,
        `byte ${i} flipped was accepted`,
      );
    }
  });
}

test('a vector file that is not of the format fails its line, not the run', async () => {
  const lines: string[] = [];
  const result = await runVectorFiles([join(process.cwd(), 'package.json'), ...files], [nodeCrypto], (r) => lines.push(`${r.ok} ${r.vector}`));
  assert.equal(result.failed, 1);
  assert.equal(result.passed, files.length);
});

test('secondary-certs vectors prints a line per vector and provider, a summary, and its exit status', async () => {
  const { spawnSync } = await import('node:child_process');
  const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
  const ok = spawnSync(process.execPath, [cli, 'vectors', ...files], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const lines = ok.stdout.trim().split('\n');
  assert.equal(lines.length, files.length * 2 + 1);
  assert.equal(lines.at(-1), `${files.length * 2} passed, 0 failed`);
  const bad = spawnSync(process.execPath, [cli, 'vectors', join(process.cwd(), 'package.json')], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /0 passed, 2 failed/);
});
