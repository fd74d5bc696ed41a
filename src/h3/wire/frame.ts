import { readWhole, type Reader } from '../../codec/reader.js';
import { concatBytes } from '../../codec/writer.js';
import { encodeVarint } from '../../codec/varint.js';
import { H3ConnectionError, H3ErrorCode } from '../../errors.js';
import { DEFAULT_H3_PROFILE, h3FrameNameOf, isReservedGrease, type H3Profile } from '../profile.js';

// The HTTP/3 frame layout (RFC 9114 section 7.1): Type (varint), Length (varint), Payload. No flags, no
// stream id: the stream a frame arrives on is its context.

/** Frame types of RFC 9114 section 7.2, and ORIGIN (RFC 9412). */
export const H3FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  /** RFC 9412: the origins a server says the connection is or could be authoritative for. */
  ORIGIN: 0x0c,
  MAX_PUSH_ID: 0x0d,
} as const;

/** HTTP/2 frame types with no HTTP/3 meaning (PRIORITY, PING, WINDOW_UPDATE, CONTINUATION): receipt is H3_FRAME_UNEXPECTED (RFC 9114 section 7.2.8). */
export const RESERVED_H2_FRAME_TYPES: ReadonlySet<number> = new Set([0x02, 0x06, 0x08, 0x09]);

/** The largest payload buffered for one frame by default (an authenticator's bound: spec-notes/secondary-server-certs-h2.md, C4). */
export const DEFAULT_MAX_PAYLOAD_SIZE = 64 * 1024;

export interface FrameOptions {
  /** The codepoints in use; DEFAULT_H3_PROFILE if absent. */
  profile?: H3Profile;
  /**
   * Whether the receiver speaks the extension (default true). Without it, SETTINGS_HTTP_SERVER_CERT_AUTH
   * is a setting it does not understand, which RFC 9114 section 7.2.4 says to ignore, whatever its value.
   */
  extension?: boolean;
}

export function profileOf(options: FrameOptions): H3Profile {
  return options.profile ?? DEFAULT_H3_PROFILE;
}

/** A whole frame: type, length, payload. RangeError for a type outside the varint range. */
export function encodeFrame(type: number | bigint, payload: Uint8Array): Uint8Array {
  return concatBytes(encodeVarint(type), encodeVarint(payload.length), payload);
}

/** A frame type's name for messages: "SETTINGS", "SERVER_CERTIFICATE", "reserved 0x21", "unknown 0x1234". */
export function frameTypeName(type: number, profile: H3Profile = DEFAULT_H3_PROFILE): string {
  for (const [name, value] of Object.entries(H3FrameType)) if (value === type) return name;
  const extension = h3FrameNameOf(profile, type);
  if (extension !== undefined) return extension;
  const hex = `0x${type.toString(16)}`;
  if (RESERVED_H2_FRAME_TYPES.has(type)) return `HTTP/2-only ${hex}`;
  return isReservedGrease(type) ? `reserved ${hex}` : `unknown ${hex}`;
}

/**
 * Runs a payload parser that must consume the whole payload. Truncation and trailing bytes are
 * H3_FRAME_ERROR (RFC 9114 section 7.1) unless the frame's own spec names another code.
 */
export function readPayload<T>(payload: Uint8Array, name: string, parse: (r: Reader) => T, wireCode: number = H3ErrorCode.H3_FRAME_ERROR): T {
  return readWhole(payload, name, parse, (e) => new H3ConnectionError(wireCode, e.message, { cause: e }));
}
