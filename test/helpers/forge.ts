// Builds authenticators from hand-chosen parts, with a correct Finished, so that a test can break exactly
// one rule (a wrong scheme, a bad signature, an empty list) and see that rule's error.
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { concatBytes } from '../../src/codec/writer.js';
import { finishedMac, signedContent } from '../../src/ea/transcript.js';
import type { AuthenticatorKeys, Role } from '../../src/exporter/keys.js';
import { encodeCertificate, type CertificateEntry } from '../../src/tls/certificate.js';
import { encodeCertificateVerify } from '../../src/tls/certificate-verify.js';
import { encodeFinished } from '../../src/tls/finished.js';

export interface ForgeParts {
  keys: AuthenticatorKeys;
  creator: Role;
  request?: Uint8Array;
  context: Uint8Array;
  entries: CertificateEntry[];
  scheme: number;
  /** Signs the real signed content; return any bytes to forge a bad signature. */
  sign: (content: Uint8Array) => Promise<Uint8Array> | Uint8Array;
  crypto: CryptoProvider;
}

export async function forgeAuthenticator(p: ForgeParts): Promise<Uint8Array> {
  const role = p.keys[p.creator];
  const req = p.request ?? new Uint8Array(0);
  const certificate = encodeCertificate({ context: p.context, entries: p.entries });
  const signature = await p.sign(signedContent(p.crypto, p.keys.hash, role.handshakeContext, req, certificate));
  const cv = encodeCertificateVerify({ scheme: p.scheme, signature });
  const fin = encodeFinished(finishedMac(p.crypto, p.keys.hash, role.handshakeContext, role.finishedKey, req, certificate, cv));
  return concatBytes(certificate, cv, fin);
}
