import { encodeHandshake, HandshakeType } from './handshake.js';

// Finished (RFC 8446 section 4.4.4): verify_data of Hash.length bytes, with no inner length. The length
// check needs the connection's hash, so it happens where the hash is known (the RFC 9261 layer).

export function encodeFinished(verifyData: Uint8Array): Uint8Array {
  return encodeHandshake(HandshakeType.finished, (w) => w.bytes(verifyData), verifyData.length);
}

/** Writes a Finished (msg_type, uint24 length, verify_data) into `out` at `at`. Returns the end. */
export function writeFinished(out: Uint8Array, at: number, verifyData: Uint8Array): number {
  const n = verifyData.length;
  out[at] = HandshakeType.finished;
  out[at + 1] = n >>> 16;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
  out.set(verifyData, at + 4);
  return at + 4 + n;
}
