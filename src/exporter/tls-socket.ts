import type { TLSSocket } from 'node:tls';
import { HandshakeIncomplete, UnsupportedTlsVersion } from '../errors.js';
import { hashForCipherSuite, keysFromExporter, type AuthenticatorKeys } from './keys.js';

// In TLS 1.3 an empty context and no context give the same exporter output (RFC 8446 section 7.5).
const EMPTY = Buffer.alloc(0);

/**
 * Whether both Finished messages have crossed and Node has declared the connection established. On a
 * server socket mid-handshake getProtocol() already says TLSv1.3 and getCipher() answers, so neither
 * tells; the Finished messages do (the client's is what a server must have verified, RFC 9261 section 9),
 * and Node's own flag (internal, read only when present) covers the last moment, when the client's
 * Finished is in but Node has not yet finished its part.
 */
function handshakeDone(socket: TLSSocket): boolean {
  if (typeof socket.getFinished === 'function' && socket.getFinished() === undefined) return false;
  if (typeof socket.getPeerFinished === 'function' && socket.getPeerFinished() === undefined) return false;
  return (socket as { _secureEstablished?: boolean })._secureEstablished !== false;
}

/**
 * The four authenticator values from a Node TLSSocket through exportKeyingMaterial. TLS 1.3 only: in
 * TLS 1.2 RFC 9261 needs extended master secret, which Node cannot report (see spec-notes). Throws
 * HandshakeIncomplete on a socket (client or server) whose handshake is not complete, never Node's error.
 */
export function keysFromTlsSocket(socket: TLSSocket): AuthenticatorKeys {
  // getProtocol() is 'unknown' early in the handshake and null on a closed socket.
  const version = socket.getProtocol?.();
  if (version === null || version === undefined || version === 'unknown' || !socket.getCipher?.() || !handshakeDone(socket)) {
    throw new HandshakeIncomplete('the TLS handshake has not completed on this socket');
  }
  if (version !== 'TLSv1.3') throw new UnsupportedTlsVersion(`exported authenticators need TLS 1.3, this connection is ${version}`);
  const cipher = socket.getCipher();
  const hash = hashForCipherSuite(cipher.standardName ?? cipher.name);
  return keysFromExporter(hash, (label, length) => {
    try {
      return new Uint8Array(socket.exportKeyingMaterial(length, label, EMPTY));
    } catch (e) {
      // Node refuses before its 'secure' event; should its state move on without our checks seeing it.
      if ((e as { code?: string }).code === 'ERR_TLS_INVALID_STATE') throw new HandshakeIncomplete('the TLS handshake has not completed on this socket');
      throw e;
    }
  });
}
