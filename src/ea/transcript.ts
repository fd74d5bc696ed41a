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

/**
 * What CertificateVerify signs, prefix || Hash(transcript), where `transcript` is exactly Handshake Context
 * || request || Certificate (section 5.2.2).
 */
export function signedContentOver(crypto: CryptoProvider, hash: HashName, transcript: Uint8Array): Uint8Array {
  const h = crypto.hash(hash, transcript);
  const out = new Uint8Array(SIGNED_PREFIX.length + h.length);
  out.set(SIGNED_PREFIX);
  out.set(h, SIGNED_PREFIX.length);
  return out;
}

/**
 * Finished verify_data, HMAC(Finished MAC Key, Hash(transcript)), where `transcript` is exactly Handshake
 * Context || request || Certificate || CertificateVerify (section 5.2.3).
 */
export function finishedMacOver(crypto: CryptoProvider, hash: HashName, finishedKey: Uint8Array, transcript: Uint8Array): Uint8Array {
  return crypto.hmac(hash, finishedKey, crypto.hash(hash, transcript));
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
  return signedContentOver(crypto, hash, concatBytes(handshakeContext, request, certificate));
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
  return finishedMacOver(crypto, hash, finishedKey, concatBytes(handshakeContext, request, certificate, certificateVerify));
}

/**
 * Both of the above for a received authenticator, whose CertificateVerify is known up front. The two
 * hashes cover prefixes of the same bytes, so those are laid out once and each hash is one call over a
 * view of them, rather than two concatenations.
 */
export function transcriptValues(
  crypto: CryptoProvider,
  hash: HashName,
  handshakeContext: Uint8Array,
  finishedKey: Uint8Array,
  request: Uint8Array,
  certificate: Uint8Array,
  certificateVerify: Uint8Array,
): { signedContent: Uint8Array; finishedMac: Uint8Array } {
  const all = concatBytes(handshakeContext, request, certificate, certificateVerify);
  return {
    signedContent: signedContentOver(crypto, hash, all.subarray(0, handshakeContext.length + request.length + certificate.length)),
    finishedMac: finishedMacOver(crypto, hash, finishedKey, all),
  };
}
