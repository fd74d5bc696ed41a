import { encodeHandshake, HandshakeType } from './handshake.js';

// Finished (RFC 8446 section 4.4.4): verify_data of Hash.length bytes, with no inner length. The length
// check needs the connection's hash, so it happens where the hash is known (the RFC 9261 layer).

export function encodeFinished(verifyData: Uint8Array): Uint8Array {
  return encodeHandshake(HandshakeType.finished, (w) => w.bytes(verifyData), verifyData.length);
}
