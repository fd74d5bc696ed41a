import { ContextReused, H2ConnectionError, H2ErrorCode, MalformedMessage, SecondaryCertsError, TooManyContexts, UnexpectedMessage } from '../../errors.js';
import { parseRequest, type AuthenticatorRequest, type ConnectionState } from '../../ea/index.js';
import type { H2ExtensionContext } from '../../h2/extension.js';
import type { H2Profile } from '../../h2/profile.js';
import { certificateFlags, encodeCertificate, fragmentCertificate, type CertificateAnswer } from '../../h2/wire/certificate.js';
import { encodeUseCertificate, useCertificateFlags } from '../../h2/wire/use-certificate.js';

// What both ends of -06's server-certificate flow share: the Request-ID rules of the context
// (section 3.3.1), sending an authenticator as CERTIFICATE frames, and the ids' bookkeeping.

/** Request-ID, then at least 96 bits (section 3.3.1). */
export const MIN_CONTEXT_LENGTH = 2 + 12;
/** Random bytes after the Request-ID in the contexts we make: 30, well over 96 bits. */
export const CONTEXT_RANDOM_BYTES = 30;

/** A context of the Request-ID then random bytes. */
export function contextFor(requestId: number, random: Uint8Array): Uint8Array {
  const context = new Uint8Array(2 + random.length);
  context[0] = requestId >> 8;
  context[1] = requestId & 0xff;
  context.set(random, 2);
  return context;
}

/**
 * Parses a CERTIFICATE_REQUEST's request and checks it against section 3.3.1 and RFC 9261: a request made
 * by `creator`, a context that begins with the Request-ID and carries 96 more bits, never seen on the
 * connection. Every failure is a connection error (PROTOCOL_ERROR; too many contexts ENHANCE_YOUR_CALM).
 */
export function acceptRequest(bytes: Uint8Array, requestId: number, creator: 'client' | 'server', state: ConnectionState): AuthenticatorRequest {
  let request: AuthenticatorRequest;
  try {
    request = parseRequest(bytes);
  } catch (e) {
    if (e instanceof MalformedMessage || e instanceof UnexpectedMessage) throw protocolError(`CERTIFICATE_REQUEST: ${e.message}`, e);
    throw e;
  }
  if (request.creator !== creator) {
    throw protocolError(`CERTIFICATE_REQUEST from a ${creator} holds a ${request.creator === 'client' ? 'ClientCertificateRequest (17)' : 'CertificateRequest (13)'} (RFC 9261 section 4)`);
  }
  const c = request.context;
  if (c.length < MIN_CONTEXT_LENGTH || c[0] !== requestId >> 8 || c[1] !== (requestId & 0xff)) {
    throw protocolError('certificate_request_context must begin with the Request-ID and carry at least 96 more bits (-06 section 3.3.1)');
  }
  try {
    state.recordRequest(c);
  } catch (e) {
    if (e instanceof ContextReused) throw protocolError(e.message, e);
    if (e instanceof TooManyContexts) throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, e.message, { cause: e });
    throw e;
  }
  return request;
}

/** Sends one authenticator as CERTIFICATE frames that fit the peer's SETTINGS_MAX_FRAME_SIZE. */
export function sendCertificate(context: H2ExtensionContext, certId: number, authenticator: Uint8Array, answer: CertificateAnswer): void {
  const type = context.profile.frames.CERTIFICATE;
  for (const f of fragmentCertificate(certId, authenticator, context.peerMaxFrameSize(), answer)) context.sendFrame(type, certificateFlags(f), encodeCertificate(f));
}

export function sendUse(profile: H2Profile, context: H2ExtensionContext, streamId: number, certId: number | undefined, unsolicited = false): void {
  const fields = { streamId, unsolicited, ...(certId !== undefined ? { certId } : {}) };
  context.sendFrame(profile.frames.USE_CERTIFICATE, useCertificateFlags(fields), encodeUseCertificate(fields));
}

/** One bit per 16-bit id: Request-IDs and Cert-IDs are unique per sender for the connection's life (section 3). */
export class IdSet {
  private readonly bits = new Uint8Array(0x10000 / 8);
  has(id: number): boolean {
    return (this.bits[id >>> 3]! & (1 << (id & 7))) !== 0;
  }
  add(id: number): void {
    this.bits[id >>> 3] = this.bits[id >>> 3]! | (1 << (id & 7));
  }
}

export function protocolError(message: string, cause?: SecondaryCertsError): H2ConnectionError {
  return new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, message, cause ? { cause } : undefined);
}

export function describe(e: unknown): string {
  if (e instanceof SecondaryCertsError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export function positive(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, not ${v}`);
  return v;
}
