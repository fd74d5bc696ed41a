import { Writer, concatBytes } from '../../codec/writer.js';
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, type FrameHeader } from './frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';
import {
  checkFits,
  checkHeader,
  checkMaxFrameSize,
  checkU16,
  DEFAULT_MAX_AUTHENTICATOR_SIZE,
  profileOf,
  readPayload,
  type FrameParseOptions,
} from './common.js';

// CERTIFICATE (http2-secondary-certs-06 sections 3.4, 3.4.1): on stream 0: Cert-ID(16), then
// Request-ID(16) unless UNSOLICITED is set, then a fragment of the authenticator. An authenticator is
// zero or more frames with TO_BE_CONTINUED set and one final frame without it, all with the same Cert-ID,
// UNSOLICITED flag and Request-ID.

export const CERTIFICATE_TO_BE_CONTINUED = 0x1;
export const CERTIFICATE_UNSOLICITED = 0x2;

/** Whether a certificate answers a CERTIFICATE_REQUEST (then it names it) or comes unasked. */
export type CertificateAnswer = { unsolicited: true } | { unsolicited: false; requestId: number };

export type CertificateFields = CertificateAnswer & {
  certId: number;
  toBeContinued: boolean;
  fragment: Uint8Array;
};

export function encodeCertificate(fields: CertificateFields): Uint8Array {
  checkU16(fields.certId, 'CERTIFICATE Cert-ID');
  const w = new Writer(4 + fields.fragment.length).u16(fields.certId);
  if (!fields.unsolicited) {
    checkU16(fields.requestId, 'CERTIFICATE Request-ID');
    w.u16(fields.requestId);
  }
  return w.bytes(fields.fragment).finish();
}

export function certificateFlags(fields: CertificateFields): number {
  return (fields.toBeContinued ? CERTIFICATE_TO_BE_CONTINUED : 0) | (fields.unsolicited ? CERTIFICATE_UNSOLICITED : 0);
}

/** A wrong stream or missing IDs is PROTOCOL_ERROR. The fragment may be empty; the reassembler bounds that. */
export function parseCertificate(header: FrameHeader, payload: Uint8Array, options: FrameParseOptions = {}): CertificateFields {
  checkHeader(header, payload, profileOf(options).frames.CERTIFICATE, 'CERTIFICATE');
  const toBeContinued = (header.flags & CERTIFICATE_TO_BE_CONTINUED) !== 0;
  const unsolicited = (header.flags & CERTIFICATE_UNSOLICITED) !== 0;
  return readPayload(payload, 'CERTIFICATE', (r): CertificateFields => {
    const certId = r.u16('Cert-ID');
    if (unsolicited) return { unsolicited, certId, toBeContinued, fragment: r.rest().slice() };
    const requestId = r.u16('Request-ID');
    return { unsolicited, requestId, certId, toBeContinued, fragment: r.rest().slice() };
  });
}

/** One whole CERTIFICATE frame. Throws RangeError if it does not fit the peer's max frame size. */
export function encodeCertificateFrame(fields: CertificateFields, profile: H2Profile = DEFAULT_PROFILE, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): Uint8Array {
  const payload = encodeCertificate(fields);
  checkFits(payload, maxFrameSize, 'CERTIFICATE');
  return encodeFrame(profile.frames.CERTIFICATE, certificateFlags(fields), 0, payload);
}

/**
 * Splits an authenticator into CERTIFICATE frames that each fit `maxFrameSize` (the peer's
 * SETTINGS_MAX_FRAME_SIZE): every fragment non-empty, all but the last with TO_BE_CONTINUED.
 */
export function fragmentCertificate(certId: number, authenticator: Uint8Array, maxFrameSize: number, answer: CertificateAnswer): CertificateFields[] {
  checkU16(certId, 'CERTIFICATE Cert-ID');
  if (!answer.unsolicited) checkU16(answer.requestId, 'CERTIFICATE Request-ID');
  checkMaxFrameSize(maxFrameSize);
  if (authenticator.length === 0) throw new RangeError('CERTIFICATE needs a non-empty authenticator');
  const room = maxFrameSize - (answer.unsolicited ? 2 : 4);
  const out: CertificateFields[] = [];
  for (let at = 0; at < authenticator.length; at += room) {
    const fragment = authenticator.slice(at, at + room);
    out.push({ ...answer, certId, toBeContinued: at + room < authenticator.length, fragment });
  }
  return out;
}

/** fragmentCertificate, as whole frames ready to write. */
export function encodeCertificateFrames(
  certId: number,
  authenticator: Uint8Array,
  maxFrameSize: number,
  answer: CertificateAnswer,
  profile: H2Profile = DEFAULT_PROFILE,
): Uint8Array[] {
  return fragmentCertificate(certId, authenticator, maxFrameSize, answer).map((f) => encodeCertificateFrame(f, profile, maxFrameSize));
}

/** A whole authenticator put back together from its CERTIFICATE frames. */
export type ReassembledCertificate = CertificateAnswer & { certId: number; authenticator: Uint8Array };

export interface CertificateReassemblerOptions extends FrameParseOptions {
  /** Most bytes one authenticator may have; more is ENHANCE_YOUR_CALM. Default 64 KiB. */
  maxAuthenticatorSize?: number;
  /** Most frames one authenticator may take (empty fragments cost nothing else); more is ENHANCE_YOUR_CALM. Default 64. */
  maxFragments?: number;
  /** Most Cert-IDs in progress at once; more is ENHANCE_YOUR_CALM. Default 4. */
  maxPending?: number;
}

interface Pending {
  answer: CertificateAnswer;
  parts: Uint8Array[];
  size: number;
}

/**
 * Collects CERTIFICATE fragments per Cert-ID (interleaving allowed) for one connection and direction.
 * Errors are H2ConnectionError: a Cert-ID seen again after its final fragment, or fragments that
 * disagree on UNSOLICITED / Request-ID, are PROTOCOL_ERROR (-06 section 3.4); limits are
 * ENHANCE_YOUR_CALM; an authenticator of zero bytes is CERTIFICATE_UNREADABLE.
 */
export class CertificateReassembler {
  private readonly pendingById = new Map<number, Pending>();
  /** One bit per Cert-ID already completed: IDs are unique per sender for the connection's life. */
  private readonly done = new Uint8Array(0x10000 / 8);
  private readonly profile: H2Profile;
  private readonly maxAuthenticatorSize: number;
  private readonly maxFragments: number;
  private readonly maxPending: number;

  constructor(options: CertificateReassemblerOptions = {}) {
    this.profile = profileOf(options);
    this.maxAuthenticatorSize = options.maxAuthenticatorSize ?? DEFAULT_MAX_AUTHENTICATOR_SIZE;
    this.maxFragments = options.maxFragments ?? 64;
    this.maxPending = options.maxPending ?? 4;
  }

  /** Number of Cert-IDs with fragments but no final frame yet. */
  get pending(): number {
    return this.pendingById.size;
  }

  /** Whether the final fragment for `certId` has been received. */
  isComplete(certId: number): boolean {
    checkU16(certId, 'Cert-ID');
    return (this.done[certId >>> 3]! & (1 << (certId & 7))) !== 0;
  }

  /** Adds one parsed frame; returns the whole authenticator when this was its final fragment. */
  push(frame: CertificateFields): ReassembledCertificate | undefined {
    const { certId } = frame;
    if (this.isComplete(certId)) throw protocolError(`CERTIFICATE for Cert-ID ${certId}, which is already complete`);
    let p = this.pendingById.get(certId);
    if (p === undefined) {
      if (this.pendingById.size >= this.maxPending) {
        throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.maxPending} certificates in progress at once`);
      }
      const answer: CertificateAnswer = frame.unsolicited ? { unsolicited: true } : { unsolicited: false, requestId: frame.requestId };
      p = { answer, parts: [], size: 0 };
      this.pendingById.set(certId, p);
    } else if (!sameAnswer(frame, p.answer)) {
      throw protocolError(`CERTIFICATE fragments for Cert-ID ${certId} disagree on UNSOLICITED or Request-ID`);
    }
    p.size += frame.fragment.length;
    p.parts.push(frame.fragment);
    if (p.size > this.maxAuthenticatorSize) {
      throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `authenticator for Cert-ID ${certId} exceeds ${this.maxAuthenticatorSize} bytes`);
    }
    if (p.parts.length > this.maxFragments) {
      throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `authenticator for Cert-ID ${certId} takes more than ${this.maxFragments} frames`);
    }
    if (frame.toBeContinued) return undefined;

    this.pendingById.delete(certId);
    this.done[certId >>> 3] = this.done[certId >>> 3]! | (1 << (certId & 7));
    if (p.size === 0) throw new H2ConnectionError(this.profile.errors.CERTIFICATE_UNREADABLE, `authenticator for Cert-ID ${certId} is empty`);
    return { ...p.answer, certId, authenticator: concatBytes(...p.parts) };
  }
}

function sameAnswer(a: CertificateAnswer, b: CertificateAnswer): boolean {
  if (a.unsolicited || b.unsolicited) return a.unsolicited === b.unsolicited;
  return a.requestId === b.requestId;
}

function protocolError(message: string): H2ConnectionError {
  return new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, message);
}
