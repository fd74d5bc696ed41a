import { ClientCertificateRefused, type ClientCertRefusal } from '../../errors.js';
import type { AcceptedCertificate } from '../../pki/policy.js';

// What became of one client authenticator on the server, shared by both flows: an accepted certificate, or
// the refusal a request that relies on it gets.

export type CertificateOutcome =
  | { ok: true; certificate: AcceptedCertificate; chain: Uint8Array[] }
  | { ok: false; error: ClientCertificateRefused };

export function refused(reason: ClientCertRefusal, message: string, cause?: unknown): CertificateOutcome {
  return { ok: false, error: new ClientCertificateRefused(reason, message, 403, cause === undefined ? undefined : { cause }) };
}

/** A promise with its resolve function outside, for answers that arrive as frames. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T | Promise<T>): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T | Promise<T>) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
