import { Writer } from '../../codec/writer.js';
import { readVarint, readVarintBig, writeVarint } from '../../codec/varint.js';
import { H3ConnectionError, H3ErrorCode } from '../../errors.js';
import { encodeFrame, H3FrameType, profileOf, readPayload, type FrameOptions } from './frame.js';

// The SETTINGS frame (RFC 9114 section 7.2.4): a list of (identifier, value) varint pairs, each
// identifier at most once. Unknown identifiers, GREASE ones included, are kept in the result for the
// caller to ignore.

/** Setting identifiers of RFC 9114, RFC 9204, RFC 9220 and RFC 9297. */
export const H3SettingId = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
  ENABLE_CONNECT_PROTOCOL: 0x08,
  H3_DATAGRAM: 0x33,
} as const;

/** HTTP/2 settings with no HTTP/3 counterpart: sending or receiving one is H3_SETTINGS_ERROR (RFC 9114 section 7.2.4.1). */
export const RESERVED_H2_SETTING_IDS: ReadonlySet<number> = new Set([0x02, 0x03, 0x04, 0x05]);

/** Settings by identifier, in the order they were written or received. */
export type H3Settings = ReadonlyMap<number, number>;

/**
 * Encodes a SETTINGS payload. RangeError for an id the receiver must reject (0x02-0x05) or a value
 * outside the varint range. A Map cannot hold duplicates, so none are sent.
 */
export function encodeSettings(settings: H3Settings): Uint8Array {
  const w = new Writer();
  for (const [id, value] of settings) {
    if (RESERVED_H2_SETTING_IDS.has(id)) throw new RangeError(`setting 0x${id.toString(16)} is reserved in HTTP/3`);
    writeVarint(w, id);
    writeVarint(w, value);
  }
  return w.finish();
}

export function encodeSettingsFrame(settings: H3Settings): Uint8Array {
  return encodeFrame(H3FrameType.SETTINGS, encodeSettings(settings));
}

/**
 * Parses a SETTINGS payload. A truncated pair is H3_FRAME_ERROR; a repeated identifier, an HTTP/2-only
 * identifier (0x02-0x05), or SETTINGS_HTTP_SERVER_CERT_AUTH other than 0 or 1 (our choice: spec-notes/secondary-server-certs-h2.md, C1)
 * is H3_SETTINGS_ERROR. Identifiers beyond 2^53-1 are checked for repeats and then dropped: no
 * registered setting is that large, so they can only be ones the receiver must ignore. Values above
 * 2^53-1 come back rounded (meaningful only as "very large").
 */
export function parseSettings(payload: Uint8Array, options: FrameOptions = {}): Map<number, number> {
  const profile = profileOf(options);
  const pairs = readPayload(payload, 'SETTINGS', (r) => {
    const out: [bigint, number][] = [];
    while (r.remaining > 0) out.push([readVarintBig(r, 'Identifier'), readVarint(r, 'Value')]);
    return out;
  });
  const seen = new Set<bigint>();
  const settings = new Map<number, number>();
  for (const [bigId, value] of pairs) {
    const hex = `0x${bigId.toString(16)}`;
    if (seen.has(bigId)) throw new H3ConnectionError(H3ErrorCode.H3_SETTINGS_ERROR, `SETTINGS repeats identifier ${hex}`);
    seen.add(bigId);
    if (bigId > BigInt(Number.MAX_SAFE_INTEGER)) continue;
    const id = Number(bigId);
    if (RESERVED_H2_SETTING_IDS.has(id)) throw new H3ConnectionError(H3ErrorCode.H3_SETTINGS_ERROR, `SETTINGS carries the HTTP/2-only identifier ${hex}`);
    if (id === profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH && options.extension !== false && value !== 0 && value !== 1) {
      throw new H3ConnectionError(H3ErrorCode.H3_SETTINGS_ERROR, `SETTINGS_HTTP_SERVER_CERT_AUTH must be 0 or 1, got ${value}`);
    }
    settings.set(id, value);
  }
  return settings;
}
