import { debuglog, format } from 'node:util';

// What happened on the wire, in Node's convention: NODE_DEBUG=secondary-certs turns it on (through
// util.debuglog, which reads NODE_DEBUG once at startup), and the CLI's --verbose turns on the same lines
// from inside the process. Callers test `debugging` before building a line, so the log costs one boolean
// test when it is off.

const nodeLog = debuglog('secondary-certs');

/** Whether debug lines are written. A live binding: `enableDebug` can turn it on later. */
export let debugging: boolean = nodeLog.enabled;

let write: (line: string) => void = (line) => nodeLog('%s', line);

/** Writes one debug line (as util.debuglog does: "SECONDARY-CERTS <pid>: ...", to stderr). Test `debugging` first. */
export function debug(message: string, ...args: unknown[]): void {
  if (!debugging) return;
  write(args.length === 0 ? message : format(message, ...args));
}

/** Turns the log on from inside the process (the CLI's --verbose), in the same format as NODE_DEBUG's. */
export function enableDebug(): void {
  if (debugging) return;
  debugging = true;
  write = (line) => process.stderr.write(`SECONDARY-CERTS ${process.pid}: ${line}\n`);
}

/** A frame type's name in a profile (frames: name → code), or its hex code. */
export function frameName(type: number, frames: Readonly<Record<string, number>>): string {
  for (const [name, code] of Object.entries(frames)) if (code === type) return `${name} (0x${type.toString(16)})`;
  return `type 0x${type.toString(16)}`;
}

/** SETTINGS entries as "0x1=4096 0xf5ec=1", in the order received. */
export function formatSettings(settings: ReadonlyMap<number | bigint, number | bigint>): string {
  return [...settings].map(([id, value]) => `0x${id.toString(16)}=${value}`).join(' ') || '(empty)';
}
