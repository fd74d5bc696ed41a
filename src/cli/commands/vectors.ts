import { nodeCrypto, portableCrypto } from '../../crypto/index.js';
import { runVectorFiles } from '../vectors.js';

export async function vectorsCommand(files: string[]): Promise<number> {
  if (files.length === 0) {
    process.stderr.write('usage: secondary-certs vectors FILE...\n');
    return 2;
  }
  const { passed, failed } = await runVectorFiles(files, [nodeCrypto, portableCrypto], (r) => {
    process.stdout.write(`${r.ok ? 'PASS' : 'FAIL'}  ${r.vector}  [${r.provider}]  ${r.detail}\n`);
  });
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}
