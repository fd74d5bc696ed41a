import { buildProfile, type CodepointRule, type ProfileGroups, type ProfileOf, type ProfileOverridesOf } from '../http/profile.js';

// Every HTTP/3 codepoint of the extension in one place. None is assigned by IANA yet ("TBD" in the
// drafts), so each is configurable and DEFAULT_H3_PROFILE holds provisional values (listed in the README).

/** Frame types: secondary-server-certs (-02 section 5.2) and rosomakho client certs (-00 section 4). */
export interface H3FrameTypes {
  SERVER_CERTIFICATE: number;
  AUTHENTICATOR_REQUESTS: number;
  /** Our distinct type for the client's certificate frame (spec-notes/client-certs-h2.md, as in HTTP/2). */
  CLIENT_CERTIFICATE: number;
}

/** SETTINGS identifiers. */
export interface H3SettingIds {
  SETTINGS_HTTP_SERVER_CERT_AUTH: number;
  SETTINGS_HTTP_CLIENT_CERT_AUTH: number;
}

/** Extension error codes (application error codes of CONNECTION_CLOSE / RESET_STREAM). */
export interface H3ErrorCodes {
  SERVER_CERTIFICATE_INVALID: number;
}

export type H3Profile = ProfileOf<H3FrameTypes, H3SettingIds, H3ErrorCodes>;
export type H3ProfileOverrides = ProfileOverridesOf<H3FrameTypes, H3SettingIds, H3ErrorCodes>;

const PROVISIONAL: ProfileGroups<H3FrameTypes, H3SettingIds, H3ErrorCodes> = {
  frames: { SERVER_CERTIFICATE: 0x5ec1, AUTHENTICATOR_REQUESTS: 0x5ec4, CLIENT_CERTIFICATE: 0x5ec5 },
  settings: { SETTINGS_HTTP_SERVER_CERT_AUTH: 0x5ec0, SETTINGS_HTTP_CLIENT_CERT_AUTH: 0x5ec3 },
  errors: { SERVER_CERTIFICATE_INVALID: 0x5ec2 },
};

/**
 * True for the reserved "GREASE" values 0x1f * N + 0x21 (RFC 9114 sections 6.2.3, 7.2.4.1, 7.2.8 and
 * 8.1): they exist to be ignored, so no extension may take one.
 */
export function isReservedGrease(v: number | bigint): boolean {
  const n = BigInt(v);
  return n >= 0x21n && (n - 0x21n) % 0x1fn === 0n;
}

/**
 * Registered frame types an extension must not take: RFC 9114's 0x00-0x0d (0x02, 0x06, 0x08, 0x09 are
 * the reserved HTTP/2 types, 0x0a and 0x0b are refused too so the whole low block stays clear), ORIGIN
 * 0x0c (RFC 9412), PRIORITY_UPDATE 0xf0700-0xf0701 (RFC 9218).
 */
const STANDARD_FRAME_TYPES = new Set([...Array.from({ length: 0x0e }, (_, i) => i), 0xf0700, 0xf0701]);
/**
 * Registered setting ids: 0x00 and the HTTP/2-only 0x02-0x05 (reserved), QPACK 0x01 and 0x07, 0x06
 * MAX_FIELD_SECTION_SIZE, 0x08 ENABLE_CONNECT_PROTOCOL (RFC 9220), 0x33 H3_DATAGRAM (RFC 9297).
 */
const STANDARD_SETTING_IDS = new Set([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x33]);
/** RFC 9114's 0x0100-0x0110, QPACK's 0x0200-0x0202 and H3_DATAGRAM_ERROR 0x33 (RFC 9297). */
const isStandardErrorCode = (v: number) => (v >= 0x0100 && v <= 0x0110) || (v >= 0x0200 && v <= 0x0202) || v === 0x33;

/**
 * Builds a frozen profile from the provisional values with `overrides` applied, and checks it: every
 * value an integer in 0..2^53-1 (a varint this library can hold as a number), not a GREASE value, not a
 * standard codepoint, no duplicates within a group, no unknown names. Throws InvalidProfile.
 */
export function makeH3Profile(name: string, overrides: H3ProfileOverrides = {}): H3Profile {
  return buildProfile(name, PROVISIONAL, overrides, {
    frames: usable((v) => STANDARD_FRAME_TYPES.has(v), 'a standard frame type'),
    settings: usable((v) => STANDARD_SETTING_IDS.has(v), 'a standard setting id'),
    errors: usable(isStandardErrorCode, 'a standard error code'),
  });
}

/** A varint this library can hold as a number, neither GREASE nor `taken` (which is `what`). */
function usable(taken: (v: number) => boolean, what: string): CodepointRule {
  return (v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `${String(v)} is not an integer in 0..2^53-1`;
    const hex = `0x${v.toString(16)}`;
    if (isReservedGrease(v)) return `${hex} is a reserved GREASE value (0x1f * N + 0x21)`;
    if (taken(v)) return `${hex} is ${what}`;
    return undefined;
  };
}

/** The provisional codepoints (ours; none is registered). */
export const DEFAULT_H3_PROFILE: H3Profile = makeH3Profile('provisional');

/** Which extension frame a type is under `profile`, or undefined for any other type. */
export function h3FrameNameOf(profile: H3Profile, type: number): keyof H3FrameTypes | undefined {
  for (const [name, value] of Object.entries(profile.frames)) if (value === type) return name as keyof H3FrameTypes;
  return undefined;
}
