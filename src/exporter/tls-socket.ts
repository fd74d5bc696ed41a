import type { TLSSocket } from 'node:tls';
import { HandshakeIncomplete, UnsupportedTlsVersion } from '../errors.js';
import { hashForCipherSuite, keysFromExporter, type AuthenticatorKeys } from './keys.js';

// In TLS 1.3 an empty context and no context give the same exporter output (RFC 8446 section 7.5).
const EMPTY = Buffer.alloc(0);

/**
 * The four authenticator values from a Node TLSSocket through exportKeyingMaterial. TLS 1.3 only: in
 * TLS 1.2 RFC 9261 needs extended master secret, which Node cannot report (see spec-notes).
 */
export function keysFromTlsSocket(socket: TLSSocket): AuthenticatorKeys {
  // getProtocol() is 'unknown' mid-handshake and null on a closed socket.
  const version = socket.getProtocol?.();
  if (version === null || version === undefined || version === 'unknown' || !socket.getCipher?.()) {
    throw new HandshakeIncomplete('the TLS handshake has not completed on this socket');
  }
  if (version !== 'TLSv1.3') throw new UnsupportedTlsVersion(`exported authenticators need TLS 1.3, this connection is ${version}`);
  const cipher = socket.getCipher();
  const hash = hashForCipherSuite(cipher.standardName ?? cipher.name);
  return keysFromExporter(hash, (label, length) => new Uint8Array(socket.exportKeyingMaterial(length, label, EMPTY)));
}
