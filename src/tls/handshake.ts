import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { UnexpectedMessage } from '../errors.js';

// TLS handshake message framing (RFC 8446 section 4): msg_type(1) || uint24 length || body. RFC 9261
// messages carry this header but no record layer.

export const HandshakeType = {
  certificate: 11,
  certificate_request: 13,
  certificate_verify: 15,
  client_certificate_request: 17,
  finished: 20,
} as const;

const NAMES: Record<number, string> = {
  11: 'Certificate',
  13: 'CertificateRequest',
  15: 'CertificateVerify',
  17: 'ClientCertificateRequest',
  20: 'Finished',
};

export function handshakeName(type: number): string {
  return NAMES[type] ?? `handshake type ${type}`;
}

export interface HandshakeMessage {
  type: number;
  body: Uint8Array;
  /** The whole framed message, header included: what goes into transcript hashes. */
  raw: Uint8Array;
}

export function encodeHandshake(type: number, body: (w: Writer) => void, sizeHint = 256): Uint8Array {
  const w = new Writer(sizeHint + 4);
  w.u8(type).vector(3, body, handshakeName(type));
  return w.finish();
}

/** Splits bytes into framed handshake messages; fails on any truncated or trailing byte. */
export function readHandshakes(bytes: Uint8Array, structure: string): HandshakeMessage[] {
  const out: HandshakeMessage[] = [];
  let at = 0;
  while (at < bytes.length) {
    const r = new Reader(bytes.subarray(at), structure);
    const type = r.u8('msg_type');
    const body = r.vector(3, `${handshakeName(type)} body`);
    const end = at + 4 + body.length;
    out.push({ type, body, raw: bytes.subarray(at, end) });
    at = end;
  }
  return out;
}

/** Parses bytes that must be exactly one handshake message of one of `types`. */
export function readSingleHandshake(bytes: Uint8Array, types: readonly number[], structure: string): HandshakeMessage {
  const msgs = readHandshakes(bytes, structure);
  if (msgs.length !== 1) new Reader(bytes, structure).fail(msgs.length === 0 ? 'empty' : `${msgs.length} messages where one was expected`);
  const m = msgs[0]!;
  if (!types.includes(m.type)) {
    throw new UnexpectedMessage(`${structure}: got ${handshakeName(m.type)}, expected ${types.map(handshakeName).join(' or ')}`);
  }
  return m;
}
