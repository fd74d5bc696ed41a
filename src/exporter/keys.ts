import type { HashName } from '../crypto/provider.js';
import { HASH_LENGTH } from '../crypto/provider.js';
import { ExporterUnavailable } from '../errors.js';

export type Role = 'client' | 'server';

/** The two RFC 9261 section 5.1 exporter values for authenticators created by one role. */
export interface RoleKeys {
  readonly handshakeContext: Uint8Array;
  readonly finishedKey: Uint8Array;
}

/**
 * The four exporter values of RFC 9261 section 5.1 for one TLS connection, and the connection's hash.
 * Index by the role of whoever *creates* the authenticator: a client validating a server's authenticator
 * uses `keys.server`.
 */
export interface AuthenticatorKeys {
  readonly hash: HashName;
  readonly client: RoleKeys;
  readonly server: RoleKeys;
}

/** RFC 9261 section 5.1 labels, by creator role. */
export const EXPORTER_LABELS = {
  client: {
    handshakeContext: 'EXPORTER-client authenticator handshake context',
    finishedKey: 'EXPORTER-client authenticator finished key',
  },
  server: {
    handshakeContext: 'EXPORTER-server authenticator handshake context',
    finishedKey: 'EXPORTER-server authenticator finished key',
  },
} as const;

/** A TLS exporter: (label, length) -> bytes, with an empty context (RFC 9261 section 5.1). */
export type Exporter = (label: string, length: number) => Uint8Array;

/** Builds the four values from any exporter. The length is the hash length, never a fixed 32. */
export function keysFromExporter(hash: HashName, exporter: Exporter): AuthenticatorKeys {
  const n = HASH_LENGTH[hash];
  const role = (r: Role): RoleKeys => ({
    handshakeContext: checkLength(exporter(EXPORTER_LABELS[r].handshakeContext, n), n),
    finishedKey: checkLength(exporter(EXPORTER_LABELS[r].finishedKey, n), n),
  });
  return { hash, client: role('client'), server: role('server') };
}

/** The four values given directly (from another stack, a test vector, a config file). */
export function keysFromValues(hash: HashName, values: { client: RoleKeys; server: RoleKeys }): AuthenticatorKeys {
  const n = HASH_LENGTH[hash];
  for (const r of ['client', 'server'] as const) {
    checkLength(values[r].handshakeContext, n);
    checkLength(values[r].finishedKey, n);
  }
  return { hash, client: values.client, server: values.server };
}

function checkLength(v: Uint8Array, n: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== n) {
    throw new ExporterUnavailable(`exporter value must be ${n} bytes for this hash, got ${v?.length}`);
  }
  return v;
}

/** The hash of a TLS 1.3 cipher suite (RFC 8446 appendix B.4), by IANA or OpenSSL name. */
export function hashForCipherSuite(name: string): HashName {
  const n = name.toUpperCase().replace(/-/g, '_');
  if (n.endsWith('SHA384')) return 'sha384';
  if (n.endsWith('SHA256')) return 'sha256';
  throw new ExporterUnavailable(`cipher suite ${name} is not a TLS 1.3 suite this library knows`);
}
