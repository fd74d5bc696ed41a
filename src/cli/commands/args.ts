import { parseArgs, type ParseArgsConfig } from 'node:util';
import { enableDebug } from '../../debug.js';

// What every command shares: --help (-h) prints the command's usage and exits 0, --verbose turns on the
// debug log (the same lines as NODE_DEBUG=secondary-certs, on stderr), and a usage error prints the usage
// and exits 2.

export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** The options every command takes besides its own. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
} as const satisfies CommandOptions;

/** Prints `message` and the usage to stderr; returns the usage exit status, 2. */
export function usageError(command: string, usage: string, message: string): number {
  process.stderr.write(`${command}: ${message}\n${usage}`);
  return 2;
}

/**
 * Parses a command's arguments. Returns the exit status to end with (0 after --help, 2 for a usage
 * error), or the values and positionals; --verbose has already turned the debug log on.
 */
export function parseCommand<O extends CommandOptions>(
  command: string,
  argv: string[],
  options: O,
  usage: string,
  allowPositionals = false,
): number | { values: ReturnType<typeof parseArgs<{ options: O & typeof COMMON_OPTIONS; allowPositionals: true; strict: true }>>['values']; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, ...COMMON_OPTIONS }, allowPositionals, strict: true });
  } catch (e) {
    return usageError(command, usage, (e as Error).message);
  }
  const values = parsed.values as { help?: boolean; verbose?: boolean };
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.verbose) enableDebug();
  return parsed as never;
}

/** Resolves at the first SIGINT or SIGTERM (Ctrl-C), for commands that run until stopped. */
export function untilStopped(): Promise<void> {
  return new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
