import { H3ConnectionError, H3ErrorCode } from '../../errors.js';
import { DEFAULT_H3_PROFILE, type H3Profile } from '../profile.js';
import {
  encodeAuthenticatorRequestsFrame,
  encodeClientCertificateFrame,
  encodeServerCertificateFrame,
  parseAuthenticatorRequests,
  parseClientCertificate,
  parseServerCertificate,
  type AuthenticatorFrameOptions,
} from './certificates.js';
import {
  encodeCancelPushFrame,
  encodeGoawayFrame,
  encodeHeadersFrame,
  encodeMaxPushIdFrame,
  encodeOriginFrame,
  encodePushPromiseFrame,
  parseOrigin,
  parsePushPromise,
  parseSingleVarint,
} from './core.js';
import { frameTypeName, H3FrameType, profileOf, RESERVED_H2_FRAME_TYPES } from './frame.js';
import { encodeSettingsFrame, parseSettings } from './settings.js';

// One entry point from (type, payload) to a typed frame, for every frame the FrameReader buffers whole.
// DATA is streamed by the reader and unknown types are skipped there, so neither reaches parseFrame.

export type H3Frame =
  | { kind: 'HEADERS'; fieldSection: Uint8Array }
  | { kind: 'SETTINGS'; settings: Map<number, number> }
  | { kind: 'GOAWAY'; id: number }
  | { kind: 'ORIGIN'; origins: string[] }
  | { kind: 'CANCEL_PUSH'; pushId: number }
  | { kind: 'MAX_PUSH_ID'; pushId: number }
  | { kind: 'PUSH_PROMISE'; pushId: number; fieldSection: Uint8Array }
  | { kind: 'SERVER_CERTIFICATE'; authenticator: Uint8Array }
  | { kind: 'AUTHENTICATOR_REQUESTS'; requests: Uint8Array[] }
  | { kind: 'CLIENT_CERTIFICATE'; authenticator: Uint8Array };

/** Whether the FrameReader buffers frames of `type` whole (and parseFrame reads them). */
export function isBufferedFrameType(type: number, profile: H3Profile = DEFAULT_H3_PROFILE): boolean {
  switch (type) {
    case H3FrameType.HEADERS:
    case H3FrameType.SETTINGS:
    case H3FrameType.GOAWAY:
    case H3FrameType.ORIGIN:
    case H3FrameType.CANCEL_PUSH:
    case H3FrameType.MAX_PUSH_ID:
    case H3FrameType.PUSH_PROMISE:
    case profile.frames.SERVER_CERTIFICATE:
    case profile.frames.AUTHENTICATOR_REQUESTS:
    case profile.frames.CLIENT_CERTIFICATE:
      return true;
    default:
      return false;
  }
}

/**
 * Parses a whole frame's payload by type. Throws H3ConnectionError for a bad payload (the code each
 * frame's spec names), H3_FRAME_UNEXPECTED for an HTTP/2-only type, and RangeError for DATA or a type
 * the reader skips (a dispatch bug in the caller).
 */
export function parseFrame(type: number, payload: Uint8Array, options: AuthenticatorFrameOptions = {}): H3Frame {
  const profile = profileOf(options);
  if (RESERVED_H2_FRAME_TYPES.has(type)) {
    throw new H3ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, `${frameTypeName(type)} frame received`);
  }
  switch (type) {
    case H3FrameType.HEADERS:
      return { kind: 'HEADERS', fieldSection: payload.slice() };
    case H3FrameType.SETTINGS:
      return { kind: 'SETTINGS', settings: parseSettings(payload, options) };
    case H3FrameType.GOAWAY:
      return { kind: 'GOAWAY', id: parseSingleVarint(payload, 'GOAWAY') };
    case H3FrameType.ORIGIN:
      return { kind: 'ORIGIN', origins: parseOrigin(payload) };
    case H3FrameType.CANCEL_PUSH:
      return { kind: 'CANCEL_PUSH', pushId: parseSingleVarint(payload, 'CANCEL_PUSH') };
    case H3FrameType.MAX_PUSH_ID:
      return { kind: 'MAX_PUSH_ID', pushId: parseSingleVarint(payload, 'MAX_PUSH_ID') };
    case H3FrameType.PUSH_PROMISE:
      return { kind: 'PUSH_PROMISE', ...parsePushPromise(payload) };
    case profile.frames.SERVER_CERTIFICATE:
      return { kind: 'SERVER_CERTIFICATE', ...parseServerCertificate(payload, options) };
    case profile.frames.AUTHENTICATOR_REQUESTS:
      return { kind: 'AUTHENTICATOR_REQUESTS', ...parseAuthenticatorRequests(payload) };
    case profile.frames.CLIENT_CERTIFICATE:
      return { kind: 'CLIENT_CERTIFICATE', ...parseClientCertificate(payload, options) };
    default:
      throw new RangeError(`parseFrame given a ${frameTypeName(type, profile)} frame, which the reader does not buffer`);
  }
}

/** The whole frame for `frame`. RangeError for values the frame cannot carry. */
export function encodeH3Frame(frame: H3Frame, profile: H3Profile = DEFAULT_H3_PROFILE): Uint8Array {
  switch (frame.kind) {
    case 'HEADERS':
      return encodeHeadersFrame(frame.fieldSection);
    case 'SETTINGS':
      return encodeSettingsFrame(frame.settings);
    case 'GOAWAY':
      return encodeGoawayFrame(frame.id);
    case 'ORIGIN':
      return encodeOriginFrame(frame.origins);
    case 'CANCEL_PUSH':
      return encodeCancelPushFrame(frame.pushId);
    case 'MAX_PUSH_ID':
      return encodeMaxPushIdFrame(frame.pushId);
    case 'PUSH_PROMISE':
      return encodePushPromiseFrame(frame);
    case 'SERVER_CERTIFICATE':
      return encodeServerCertificateFrame(frame, profile);
    case 'AUTHENTICATOR_REQUESTS':
      return encodeAuthenticatorRequestsFrame(frame, profile);
    case 'CLIENT_CERTIFICATE':
      return encodeClientCertificateFrame(frame, profile);
  }
}
