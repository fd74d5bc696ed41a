import { ClientCertificateAborted, ClientCertificateRefused, SecondaryCertsError, type ClientCertRefusal } from '../../errors.js';
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

/**
 * One request's identity from its connection's flow (`require`), the same for HTTP/2 and HTTP/3: kept in
 * `identities` and announced on success; a refusal announced and rethrown, anything untyped turned into
 * ClientCertificateAborted (the request ends without an answer).
 */
export async function settleIdentity<Request, Identity>(
  request: Request,
  require: (request: Request) => Promise<Identity>,
  identities: { set(request: Request, identity: Identity): unknown },
  onIdentity: (identity: Identity) => void,
  onRefused: (error: SecondaryCertsError) => void,
): Promise<Identity> {
  try {
    const identity = await require(request);
    identities.set(request, identity);
    onIdentity(identity);
    return identity;
  } catch (e) {
    const error = e instanceof SecondaryCertsError ? e : new ClientCertificateAborted(`unexpected failure: ${String(e)}`, { cause: e });
    if (!(error instanceof ClientCertificateAborted)) onRefused(error);
    throw error;
  }
}
