import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { CryptoProvider } from '../crypto/provider.js';
import { parseVector, runVector, type Vector, type VectorResult } from '../ea/vectors.js';

export { parseVector, runVector, type Vector, type VectorResult };

/** Loads files and runs each vector with each provider, reporting as it goes. */
export async function runVectorFiles(
  files: readonly string[],
  providers: readonly CryptoProvider[],
  report: (r: VectorResult) => void,
): Promise<{ passed: number; failed: number }> {
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    let vector: Vector;
    try {
      vector = parseVector(JSON.parse(await readFile(file, 'utf8')), basename(file, '.json'));
    } catch (e) {
      for (const p of providers) {
        report({ vector: file, provider: p.name, ok: false, detail: `unreadable vector: ${e instanceof Error ? e.message : String(e)}` });
        failed++;
      }
      continue;
    }
    for (const p of providers) {
      const r = await runVector(vector, p);
      report(r);
      if (r.ok) passed++;
      else failed++;
    }
  }
  return { passed, failed };
}
