import { equalBytes } from '../codec/writer.js';
import { CertificateRejected, SecondaryCertsError, type ErrorCode } from '../errors.js';
import type { AcceptedCertificate, CertificatePolicy, OcspOutcome, SctOutcome, Stapled } from './policy.js';
import { leafNames } from './identity.js';

// What a client does with a chain an authenticator validated on its connection, the same over HTTP/2 and
// HTTP/3: the certificate policy decides, an accepted chain joins the connection's certificates (up to a
// cap), and a chain that is not acceptable is reported and ignored, not an error (draft section 6.2).

/** What became of one validated chain. */
export interface CertificateEvent {
  /** Names in the leaf's subjectAltName (empty when the chain did not even decode). */
  names: string[];
  accepted: boolean;
  /** Why a certificate that validated under RFC 9261 was not accepted (untrusted, expired, revoked, ...). */
  reason?: string;
  /** The policy's code for the refusal (e.g. ERR_CERT_REVOKED, ERR_CERT_SCT_TOO_FEW_LOGS). */
  code?: ErrorCode;
  /** The stapled OCSP response's outcome, when the policy looks at OCSP (accepted chains only). */
  ocsp?: OcspOutcome;
  /** The stapled SCTs' outcome, when the policy has CT logs (accepted chains only). */
  sct?: SctOutcome;
}

/** The OCSP and CT outcomes of an accepted certificate, as event properties. */
function staplingOf(accepted: AcceptedCertificate): Pick<CertificateEvent, 'ocsp' | 'sct'> {
  return { ...(accepted.ocsp ? { ocsp: accepted.ocsp } : {}), ...(accepted.sct ? { sct: accepted.sct } : {}) };
}

/** Checks `chain` with `policy` and adds it to `held` (at most `max`); never throws for a bad certificate. */
export async function acceptValidatedChain(policy: CertificatePolicy, held: AcceptedCertificate[], chain: Uint8Array[], max: number, stapled: Stapled = {}): Promise<CertificateEvent> {
  try {
    const accepted = await policy.check(chain, stapled);
    const names = accepted.dnsNames.concat(accepted.ipAddresses);
    // The same leaf again (a repeated SERVER_CERTIFICATE): already held, nothing to add.
    if (held.some((c) => equalBytes(c.chain[0] as Uint8Array, accepted.chain[0] as Uint8Array))) return { names, accepted: true, ...staplingOf(accepted) };
    if (held.length >= max) return { names, accepted: false, reason: 'this connection already holds the most certificates it keeps' };
    held.push(accepted);
    return { names, accepted: true, ...staplingOf(accepted) };
  } catch (e) {
    if (!(e instanceof CertificateRejected) && !(e instanceof SecondaryCertsError)) throw e;
    return { names: leafNames(chain[0]), accepted: false, reason: `${e.code}: ${e.message}`, code: e.code };
  }
}
