import type { CryptoProvider, HashName } from '../crypto/provider.js';
import { HASH_LENGTH } from '../crypto/provider.js';
import { ExporterUnavailable } from '../errors.js';
import { fromHex } from '../codec/writer.js';
import { Writer } from '../codec/writer.js';
import { keysFromExporter, type AuthenticatorKeys } from './keys.js';

// The TLS 1.3 exporter computed from exporter_master_secret (RFC 8446 section 7.5), for stacks that give
// a key log but no exporter API (QUIC libraries, key log files):
//   TLS-Exporter(label, "", L) = HKDF-Expand-Label(Derive-Secret(secret, label, ""), "exporter", Hash(""), L)

function hkdfExpand(p: CryptoProvider, hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const n = HASH_LENGTH[hash];
  if (length > 255 * n) throw new RangeError('HKDF-Expand length too large');
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    const block = new Uint8Array(t.length + info.length + 1);
    block.set(t, 0);
    block.set(info, t.length);
    block[block.length - 1] = i;
    t = p.hmac(hash, prk, block);
    out.set(t.subarray(0, Math.min(n, length - at)), at);
    at += n;
  }
  return out;
}

const ascii = (s: string) => new TextEncoder().encode(s);

/** HKDF-Expand-Label of RFC 8446 section 7.1. */
export function hkdfExpandLabel(
  p: CryptoProvider,
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const info = new Writer(64)
    .u16(length)
    .opaque(1, ascii('tls13 ' + label), 'HkdfLabel.label')
    .opaque(1, context, 'HkdfLabel.context')
    .finish();
  return hkdfExpand(p, hash, secret, info, length);
}

/** The four authenticator values from a TLS 1.3 exporter_master_secret. */
export function keysFromExporterSecret(p: CryptoProvider, hash: HashName, exporterSecret: Uint8Array): AuthenticatorKeys {
  if (exporterSecret.length !== HASH_LENGTH[hash]) {
    throw new ExporterUnavailable(`EXPORTER_SECRET is ${exporterSecret.length} bytes; ${hash} needs ${HASH_LENGTH[hash]}`);
  }
  const emptyHash = p.hash(hash, new Uint8Array(0));
  return keysFromExporter(hash, (label, length) => {
    const derived = hkdfExpandLabel(p, hash, exporterSecret, label, emptyHash, HASH_LENGTH[hash]); // Derive-Secret(s, label, "")
    return hkdfExpandLabel(p, hash, derived, 'exporter', emptyHash, length);
  });
}

/** One EXPORTER_SECRET entry of an NSS key log. */
export interface KeyLogExporterSecret {
  clientRandom: Uint8Array;
  secret: Uint8Array;
}

/**
 * Finds EXPORTER_SECRET lines in key log text (one or many lines). With `clientRandom`, only the line for
 * that connection counts, so one log can serve many connections.
 */
export function parseKeyLogExporterSecrets(text: string): KeyLogExporterSecret[] {
  const out: KeyLogExporterSecret[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^EXPORTER_SECRET ([0-9a-fA-F]{64}) ([0-9a-fA-F]+)\s*$/.exec(line);
    if (m) out.push({ clientRandom: fromHex(m[1]!), secret: fromHex(m[2]!) });
  }
  return out;
}

/**
 * The four values from key log text. The hash is inferred from the secret's length (32 or 48 bytes)
 * unless given. Throws ExporterUnavailable if no matching EXPORTER_SECRET line is present.
 */
export function keysFromKeyLog(
  p: CryptoProvider,
  keyLog: string,
  options: { clientRandom?: Uint8Array; hash?: HashName } = {},
): AuthenticatorKeys {
  const entries = parseKeyLogExporterSecrets(keyLog).filter(
    (e) => !options.clientRandom || equal(e.clientRandom, options.clientRandom),
  );
  const entry = entries[entries.length - 1];
  if (!entry) throw new ExporterUnavailable('no EXPORTER_SECRET line in the key log' + (options.clientRandom ? ' for this client random' : ''));
  const hash = options.hash ?? (entry.secret.length === 48 ? 'sha384' : entry.secret.length === 32 ? 'sha256' : undefined);
  if (!hash) throw new ExporterUnavailable(`EXPORTER_SECRET of ${entry.secret.length} bytes matches no TLS 1.3 hash`);
  return keysFromExporterSecret(p, hash, entry.secret);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
