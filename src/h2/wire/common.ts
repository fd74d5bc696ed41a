import { readWhole, type Reader } from '../../codec/reader.js';
import { DEFAULT_MAX_FRAME_SIZE, MAX_ALLOWED_FRAME_SIZE, type FrameHeader } from './frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';

// Checks shared by the extension frame codecs. Every frame of the extension travels on stream 0.

export interface FrameParseOptions {
  /** The codepoints in use; DEFAULT_PROFILE if absent. */
  profile?: H2Profile;
}

/** The largest authenticator we accept by default (spec-notes/secondary-server-certs-h2.md, C4). */
export const DEFAULT_MAX_AUTHENTICATOR_SIZE = 64 * 1024;

/**
 * Header checks every extension frame shares. A header of another type is the caller's dispatch bug
 * (RangeError); a length that disagrees with the payload is FRAME_SIZE_ERROR; any stream but 0 is a
 * connection error PROTOCOL_ERROR (the drafts leave the code open: spec-notes/secondary-server-certs-h2.md, C2; for -06 frames a
 * "stream error" about a stream-0 frame can only be a connection error).
 */
export function checkHeader(header: FrameHeader, payload: Uint8Array, type: number, name: string): void {
  if (header.type !== type) throw new RangeError(`${name} parser given a frame of type 0x${header.type.toString(16)}`);
  if (header.length !== payload.length) {
    throw new H2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, `${name}: header says ${header.length} bytes, payload has ${payload.length}`);
  }
  if (header.streamId !== 0) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `${name} on stream ${header.streamId}, not 0`);
}

/** Runs a payload parser, turning MalformedMessage (truncation, trailing bytes) into PROTOCOL_ERROR. */
export function readPayload<T>(payload: Uint8Array, name: string, parse: (r: Reader) => T): T {
  return readWhole(payload, name, parse, (e) => new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, e.message, { cause: e }));
}

export function profileOf(options: FrameParseOptions): H2Profile {
  return options.profile ?? DEFAULT_PROFILE;
}

/** An encoder's own argument checks: these are caller bugs, so RangeError. */
export function checkU16(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what} ${v} is not a 16-bit integer`);
}

export function checkStreamId(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new RangeError(`${what} ${v} is not a 31-bit stream id`);
}

export function checkMaxFrameSize(maxFrameSize: number): void {
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < DEFAULT_MAX_FRAME_SIZE || maxFrameSize > MAX_ALLOWED_FRAME_SIZE) {
    throw new RangeError(`max frame size ${maxFrameSize} is outside 16384..16777215`);
  }
}

/** Refuses to build a frame the peer would reject with FRAME_SIZE_ERROR. */
export function checkFits(payload: Uint8Array, maxFrameSize: number, name: string): void {
  checkMaxFrameSize(maxFrameSize);
  if (payload.length > maxFrameSize) {
    throw new RangeError(`${name} payload of ${payload.length} bytes exceeds the peer's SETTINGS_MAX_FRAME_SIZE ${maxFrameSize}`);
  }
}

/**
 * A payload that is exactly one whole authenticator (SERVER_CERTIFICATE, CLIENT_CERTIFICATE): over
 * `maxSize` is ENHANCE_YOUR_CALM (spec-notes/secondary-server-certs-h2.md, C4), empty is `emptyCode` (no authenticator is zero bytes).
 * Returns a copy, so the caller's frame buffer may be reused.
 */
export function readWholeAuthenticator(payload: Uint8Array, name: string, maxSize: number, emptyCode: number): Uint8Array {
  if (payload.length > maxSize) {
    throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `${name}: authenticator of ${payload.length} bytes exceeds the limit of ${maxSize}`);
  }
  if (payload.length === 0) throw new H2ConnectionError(emptyCode, `${name}: empty payload, no authenticator`);
  return payload.slice();
}
