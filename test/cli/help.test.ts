// Every command's --help, and the command run as a user runs it: through a bin link, not `node cli.js`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMON_OPTIONS } from '../../src/cli/commands/args.js';
import { CHECK_OPTIONS } from '../../src/cli/commands/check.js';
import { DEMO_OPTIONS } from '../../src/cli/commands/demo.js';
import { SERVE_OPTIONS } from '../../src/cli/commands/serve.js';
import { VECTORS_OPTIONS } from '../../src/cli/commands/vectors.js';
import { PROXY_OPTIONS } from '../../src/cli/commands/proxy.js';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;

/** What each command parses, read from the command modules, so the lists below cannot drift from them. */
const COMMANDS: Record<string, Record<string, { short?: string; type: string }>> = {
  demo: { ...DEMO_OPTIONS, ...COMMON_OPTIONS },
  serve: { ...SERVE_OPTIONS, ...COMMON_OPTIONS },
  vectors: { ...VECTORS_OPTIONS, ...COMMON_OPTIONS },
  check: { ...CHECK_OPTIONS, ...COMMON_OPTIONS },
  proxy: { ...PROXY_OPTIONS, ...COMMON_OPTIONS },
};

test('the built command is executable and runs through a bin link, as npx and npm link run it', () => {
  assert.ok((statSync(cli).mode & 0o111) !== 0, `${cli} lost its executable bit`);
  const dir = mkdtempSync(join(tmpdir(), 'bin-'));
  try {
    const link = join(dir, 'secondary-certs');
    symlinkSync(cli, link);
    const top = spawnSync(link, ['--help'], { encoding: 'utf8' });
    assert.equal(top.status, 0, `${top.error ?? ''}${top.stderr}`);
    assert.match(top.stdout, /usage: secondary-certs <command>/);
    const serve = spawnSync(link, ['serve', '--help'], { encoding: 'utf8' });
    assert.equal(serve.status, 0, serve.stderr);
    assert.match(serve.stdout, /usage: secondary-certs serve/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [command, options] of Object.entries(COMMANDS)) {
  test(`${command} --help and -h print its options and exit status, and exit 0 without running it`, () => {
    for (const flag of ['--help', '-h']) {
      const r = spawnSync(process.execPath, [cli, command, flag], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^usage: secondary-certs ${command}`));
      for (const [name, o] of Object.entries(options)) {
        assert.match(r.stdout, new RegExp(`--${name}\\b`), `${command} --help does not name --${name}`);
        if (o.short) assert.match(r.stdout, new RegExp(`-${o.short}, --${name}`));
      }
      assert.match(r.stdout, /exit status: 0 /);
      // It printed help and did not run: no demo output, no server, no vector file named --help.
      assert.doesNotMatch(r.stdout, /With the extension|listening on|\d+ passed, \d+ failed/);
    }
  });
}

test('the top-level help names every option each command parses', () => {
  const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  for (const [command, options] of Object.entries(COMMANDS)) {
    assert.match(r.stdout, new RegExp(`^  ${command}\\b`, 'm'), `the help does not list ${command}`);
    for (const name of Object.keys(options)) assert.match(r.stdout, new RegExp(`--${name}\\b`), `the help does not name ${command}'s --${name}`);
  }
});

test('a usage error prints the command usage and exits 2', () => {
  for (const args of [['serve', '--nonsense'], ['demo', '--rtt', 'fast'], ['demo', '--rtt', '-5'], ['vectors'], ['check'], ['proxy'], ['proxy', '--backend', 'http://127.0.0.1:1']]) {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`usage: secondary-certs ${args[0]}`));
  }
});
