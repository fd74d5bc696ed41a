// `npm run prepare`: npm runs it after `npm install` / `npm ci` here, for `npm install <this folder>`
// (in this folder, which npm links without installing its dependencies) and for git installs (in a
// clone where npm has installed every dependency). A folder without TypeScript gets its dependencies
// first, as npm does for a git dependency, so that a fresh clone installs and builds either way.
// Registry tarballs hold dist/ already; npm never runs prepare for them.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
const run = (args) => execFileSync(npm[0], [...npm.slice(1), ...args], { cwd: root, stdio: 'inherit' });

if (!existsSync(join(root, 'node_modules', 'typescript', 'bin', 'tsc'))) {
  console.error('secondary-certs: installing its dependencies here to build dist/ (TypeScript is a devDependency)');
  run(['install', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund']);
}
run(['run', 'build']);
