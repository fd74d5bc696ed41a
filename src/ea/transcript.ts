import type { CryptoProvider, HashName } from '../crypto/provider.js';
import { concatBytes } from '../codec/writer.js';

// The two transcript computations of RFC 9261 section 5.2.

const ASCII_CONTEXT = new TextEncoder().encode('Exported Authenticator');
/** 64 spaces || "Exported Authenticator" || 0x00: the fixed prefix of the signed content (section 5.2.2). */
const SIGNED_PREFIX = (() => {
  const b = new Uint8Array(64 + ASCII_CONTEXT.length + 1);
  b.fill(0x20, 0, 64);
  b.set(ASCII_CONTEXT, 64);
  return b;
})();

function hashOf(crypto: CryptoProvider, hash: HashName, parts: Uint8Array[]): Uint8Array {
  return crypto.hash(hash, concatBytes(...parts));
}

/**
 * What CertificateVerify signs: prefix || Hash(Handshake Context || request || Certificate). `request` is
 * the whole framed request, or empty for a spontaneous authenticator.
 */
export function signedContent(
  crypto: CryptoProvider,
  hash: HashName,
  handshakeContext: Uint8Array,
  request: Uint8Array,
  certificate: Uint8Array,
): Uint8Array {
  const h = hashOf(crypto, hash, [handshakeContext, request, certificate]);
  const out = new Uint8Array(SIGNED_PREFIX.length + h.length);
  out.set(SIGNED_PREFIX);
  out.set(h, SIGNED_PREFIX.length);
  return out;
}

/**
 * Finished verify_data: HMAC(Finished MAC Key, Hash(Handshake Context || request || Certificate ||
 * CertificateVerify)) (section 5.2.3). For an empty authenticator, `certificate` is the unsent Certificate
 * with an empty list and `certificateVerify` is empty (section 6).
 */
export function finishedMac(
  crypto: CryptoProvider,
  hash: HashName,
  handshakeContext: Uint8Array,
  finishedKey: Uint8Array,
  request: Uint8Array,
  certificate: Uint8Array,
  certificateVerify: Uint8Array,
): Uint8Array {
  return crypto.hmac(hash, finishedKey, hashOf(crypto, hash, [handshakeContext, request, certificate, certificateVerify]));
}
