import { Reader } from '../../codec/reader.js';

// The HTTP/2 frame header (RFC 9113 section 4.1): Length(24) Type(8) Flags(8) R(1) StreamId(31).

export const FRAME_HEADER_LENGTH = 9;
/** SETTINGS_MAX_FRAME_SIZE bounds (RFC 9113 section 6.5.2). */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const MAX_ALLOWED_FRAME_SIZE = 16_777_215;

/** Standard frame types this library needs to recognise (RFC 9113 section 6, RFC 8336). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
  ALTSVC: 0xa,
  ORIGIN: 0xc,
} as const;

export const Flags = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

/** Parses the 9-byte header at the start of `b`. The reserved bit is ignored on receipt, as RFC 9113 requires. */
export function parseFrameHeader(b: Uint8Array): FrameHeader {
  const r = new Reader(b.subarray(0, FRAME_HEADER_LENGTH), 'HTTP/2 frame header');
  const length = r.u24('Length');
  const type = r.u8('Type');
  const flags = r.u8('Flags');
  const streamId = r.u32('Stream Identifier') & 0x7fffffff;
  return { length, type, flags, streamId };
}

/** Encodes a whole frame: header then payload. Throws RangeError for a payload over 2^24-1 or a bad stream id. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_ALLOWED_FRAME_SIZE) throw new RangeError(`frame payload of ${payload.length} bytes exceeds 2^24-1`);
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0x7fffffff) throw new RangeError(`bad stream id ${streamId}`);
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`bad frame type ${type}`);
  const out = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  const n = payload.length;
  out[0] = n >>> 16;
  out[1] = (n >>> 8) & 0xff;
  out[2] = n & 0xff;
  out[3] = type;
  out[4] = flags & 0xff;
  out[5] = (streamId >>> 24) & 0x7f;
  out[6] = (streamId >>> 16) & 0xff;
  out[7] = (streamId >>> 8) & 0xff;
  out[8] = streamId & 0xff;
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}
