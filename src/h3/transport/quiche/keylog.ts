import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CryptoProvider } from '../../../crypto/provider.js';
import { ExporterUnavailable } from '../../../errors.js';
import { keysFromKeyLog } from '../../../exporter/exporter-secret.js';
import type { AuthenticatorKeys } from '../../../exporter/keys.js';
import type { NativeConnection } from './binding.js';

// quiche has no exporter API, but it writes a TLS key log per native connection: the RFC 9261 values
// come from that connection's EXPORTER_SECRET. Each connection gets a file of its own in a private
// directory; it is read once, when quiche says the handshake is established (the line is written by
// then, in both roles), and removed at once.

let counter = 0;

/** A private directory for key logs (they hold secrets): mode 0700, removed when the endpoint closes. */
export function keylogDirectory(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'secondary-certs-keylog-'));
}

/** Points the connection's key log at a fresh file in `dir`; returns its path. */
export function attachKeylog(native: NativeConnection, dir: string): string {
  const file = path.join(dir, `conn-${process.pid}-${++counter}.keylog`);
  fs.writeFileSync(file, '', { mode: 0o600 });
  native.setKeylog(file);
  return file;
}

/**
 * The RFC 9261 values of one connection from its own key log, which is then deleted. The file must
 * name one client random only: the EXPORTER_SECRET of that random is this connection's, which is what
 * binds the exporter to the connection.
 */
export function exporterKeys(file: string, crypto: CryptoProvider): AuthenticatorKeys {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(file, { force: true });
  }
  const randoms = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^[A-Z_0-9]+ ([0-9a-fA-F]{64}) /.exec(line);
    if (m) randoms.add(m[1]!.toLowerCase());
  }
  if (randoms.size !== 1) throw new ExporterUnavailable(`the connection's key log names ${randoms.size} client randoms, not one`);
  return keysFromKeyLog(crypto, text, { clientRandom: Buffer.from([...randoms][0]!, 'hex') });
}
