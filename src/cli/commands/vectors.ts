import { nodeCrypto, portableCrypto } from '../../crypto/index.js';
import { runVectorFiles } from '../vectors.js';
import { parseCommand, usageError } from './args.js';

/** The options `vectors` parses besides --help and --verbose (none). */
export const VECTORS_OPTIONS = {} as const;

export const VECTORS_USAGE = `usage: secondary-certs vectors FILE... [options]
  runs RFC 9261 vector files with both crypto providers (node:crypto and the portable one);
  one line per vector and provider, then "N passed, N failed"
  --verbose             the debug log on stderr (as NODE_DEBUG=secondary-certs)
  -h, --help            this help
exit status: 0 every vector passed, 1 a vector failed, 2 usage error
`;

export async function vectorsCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand('vectors', argv, VECTORS_OPTIONS, VECTORS_USAGE, true);
  if (typeof parsed === 'number') return parsed;
  const files = parsed.positionals;
  if (files.length === 0) return usageError('vectors', VECTORS_USAGE, 'no vector file given');
  const { passed, failed } = await runVectorFiles(files, [nodeCrypto, portableCrypto], (r) => {
    process.stdout.write(`${r.ok ? 'PASS' : 'FAIL'}  ${r.vector}  [${r.provider}]  ${r.detail}\n`);
  });
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}
