// `npm run bench`: every benchmark, each printed as a table of figures and ratios against its baseline
// measured in the same run. `npm run bench -- NAME...` runs only the named ones.
import { formatTable, type Row } from './table.js';

const benches: Record<string, () => Promise<{ run(options?: { log?: (s: string) => void }): Promise<Row[]> }>> = {
  authenticator: () => import('./authenticator.js'),
  'h2-first-response': () => import('./h2-first-response.js'),
  'h2-throughput': () => import('./h2-throughput.js'),
  h3: () => import('./h3.js'),
  policy: () => import('./policy.js'),
};

const wanted = process.argv.slice(2);
for (const [name, load] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stdout.write(`\n== ${name} ==\n`);
  const rows = await (await load()).run({ log: (s) => process.stderr.write(`  ... ${s}\n`) });
  process.stdout.write(formatTable(rows));
}
