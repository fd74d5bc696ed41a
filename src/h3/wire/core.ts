import { Reader } from '../../codec/reader.js';
import { concatBytes, Writer } from '../../codec/writer.js';
import { encodeVarint, readVarint } from '../../codec/varint.js';
import { encodeFrame, H3FrameType, readPayload } from './frame.js';

// The frames of RFC 9114 besides SETTINGS: DATA and HEADERS (opaque payloads), GOAWAY, CANCEL_PUSH and
// MAX_PUSH_ID (one varint each), PUSH_PROMISE (a push ID then a field section). Ids above 2^53-1 come
// back rounded; no stream or push id this library deals with gets near that.

export function encodeDataFrame(data: Uint8Array): Uint8Array {
  return encodeFrame(H3FrameType.DATA, data);
}

/** `fieldSection` is a QPACK-encoded field section (see qpack.ts). */
export function encodeHeadersFrame(fieldSection: Uint8Array): Uint8Array {
  return encodeFrame(H3FrameType.HEADERS, fieldSection);
}

/** The payload of GOAWAY, CANCEL_PUSH and MAX_PUSH_ID: exactly one varint, else H3_FRAME_ERROR. */
export function parseSingleVarint(payload: Uint8Array, name: string): number {
  return readPayload(payload, name, (r) => readVarint(r, name));
}

/** GOAWAY: from a server, the first client bidirectional stream id it will not process; from a client, a push id (RFC 9114 section 5.2). */
export function encodeGoawayFrame(id: number): Uint8Array {
  return encodeFrame(H3FrameType.GOAWAY, encodeVarint(id));
}

export function encodeCancelPushFrame(pushId: number): Uint8Array {
  return encodeFrame(H3FrameType.CANCEL_PUSH, encodeVarint(pushId));
}

export function encodeMaxPushIdFrame(pushId: number): Uint8Array {
  return encodeFrame(H3FrameType.MAX_PUSH_ID, encodeVarint(pushId));
}

export interface PushPromiseFields {
  pushId: number;
  fieldSection: Uint8Array;
}

export function encodePushPromiseFrame(fields: PushPromiseFields): Uint8Array {
  return encodeFrame(H3FrameType.PUSH_PROMISE, concatBytes(encodeVarint(fields.pushId), fields.fieldSection));
}

/** A push id then the field section (a copy); a missing push id is H3_FRAME_ERROR. */
export function parsePushPromise(payload: Uint8Array): PushPromiseFields {
  return readPayload(payload, 'PUSH_PROMISE', (r: Reader) => ({ pushId: readVarint(r, 'Push ID'), fieldSection: r.rest().slice() }));
}

/**
 * ORIGIN (RFC 9412, payload as RFC 8336): Origin-Entry fields, each a 16-bit length and an ASCII origin.
 * RangeError for an origin that is not ASCII or longer than 65535 bytes.
 */
export function encodeOriginFrame(origins: readonly string[]): Uint8Array {
  const w = new Writer();
  for (const origin of origins) {
    if (!/^[\x20-\x7e]*$/.test(origin)) throw new RangeError(`origin ${JSON.stringify(origin)} is not printable ASCII`);
    w.opaque(2, new TextEncoder().encode(origin), 'ASCII-Origin');
  }
  return encodeFrame(H3FrameType.ORIGIN, w.finish());
}

/** The origins of an ORIGIN payload, as sent; a truncated entry is H3_FRAME_ERROR. */
export function parseOrigin(payload: Uint8Array): string[] {
  return readPayload(payload, 'ORIGIN', (r: Reader) => {
    const origins: string[] = [];
    while (r.remaining > 0) origins.push(new TextDecoder('latin1').decode(r.vector(2, 'ASCII-Origin')));
    return origins;
  });
}
