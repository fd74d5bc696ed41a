import { InvalidProfile } from '../errors.js';
import { buildProfile, type CodepointRule, type ProfileGroups, type ProfileOf, type ProfileOverridesOf } from '../http/profile.js';

// Every HTTP/2 codepoint of the extension in one place. None is assigned by IANA yet (all "TBD" in the
// drafts), so each is configurable and DEFAULT_PROFILE holds provisional values (listed in the README).

/** Frame types: secondary-server-certs (-02), rosomakho client certs (-00), and the older -06 draft. */
export interface H2FrameTypes {
  SERVER_CERTIFICATE: number;
  AUTHENTICATOR_REQUESTS: number;
  /** Our distinct type for the client's CERTIFICATE frame (the server draft forbids clients sending SERVER_CERTIFICATE: spec-notes/client-certs-h2.md). */
  CLIENT_CERTIFICATE: number;
  CERTIFICATE_NEEDED: number;
  CERTIFICATE_REQUEST: number;
  CERTIFICATE: number;
  USE_CERTIFICATE: number;
}

/** SETTINGS identifiers. */
export interface H2SettingIds {
  SETTINGS_HTTP_SERVER_CERT_AUTH: number;
  SETTINGS_HTTP_CLIENT_CERT_AUTH: number;
  /** The -06 family's exporter-valued setting (one id for the legacy negotiation; -02..-05 naming). */
  SETTINGS_HTTP_CERT_AUTH: number;
  /** -06 section 2.1's two settings (0xSETTING-TBD1/TBD2), used when `draft06.settings` is 'split'. */
  SETTINGS_HTTP_CLIENT_CERT_AUTH_06: number;
  SETTINGS_HTTP_SERVER_CERT_AUTH_06: number;
}

/** Extension error codes (32-bit, carried in GOAWAY and RST_STREAM). */
export interface H2ErrorCodes {
  SERVER_CERTIFICATE_INVALID: number;
  // -06 (section 4)
  CERTIFICATE_UNREADABLE: number;
  CERTIFICATE_OVERUSED: number;
  CERTIFICATE_WITHOUT_CONSENT: number;
  // -00 .. -05, dropped in -06; kept so a legacy peer's GOAWAY can be named
  BAD_CERTIFICATE: number;
  UNSUPPORTED_CERTIFICATE: number;
  CERTIFICATE_REVOKED: number;
  CERTIFICATE_EXPIRED: number;
  CERTIFICATE_GENERAL: number;
}

/**
 * How the http2-secondary-certs-06 family negotiates, and its one certificate codepoint.
 * - settings 'single': one SETTINGS_HTTP_CERT_AUTH for both directions, from a 4-byte exporter, as in -02..-05
 *   (the default profile, unchanged);
 * - settings 'split': -06 section 2.1 as written: SETTINGS_HTTP_CLIENT_CERT_AUTH_06 and
 *   SETTINGS_HTTP_SERVER_CERT_AUTH_06, the two halves of an 8-byte exporter, one per direction.
 * - requiredDomainOid: the Required Domain certificate extension (-06 section 5, "id-ce TBD1").
 */
export interface Draft06Options {
  settings: 'single' | 'split';
  requiredDomainOid: string;
}

export type H2Profile = ProfileOf<H2FrameTypes, H2SettingIds, H2ErrorCodes> & { readonly draft06: Readonly<Draft06Options> };
export type H2ProfileOverrides = ProfileOverridesOf<H2FrameTypes, H2SettingIds, H2ErrorCodes> & { draft06?: Partial<Draft06Options> };

/**
 * OUR PICK for -06's unassigned "id-ce TBD1": an arc under PEN 32473, which RFC 5612 reserves for
 * documentation, so it squats on no real arc and no real CA issues it. Configurable
 * (`draft06.requiredDomainOid`). (A UUID arc under 2.25 was the other candidate; @peculiar/x509 encodes
 * 128-bit arcs wrongly.)
 */
export const PROVISIONAL_REQUIRED_DOMAIN_OID = '1.3.6.1.4.1.32473.6.1';

// The new drafts' values are the digest's 8.2 proposal. The -06 items are our own picks: frames 0xf8-0xfa
// and 0xfc skip proxygen's deployed 0xf0-0xf3 and 0xfb and our 0xf5-0xf7; the setting 0xf5ee sits next
// to ours and away from proxygen's 0xff00, 0xf100 and 0xfbfb; the errors follow 0x5ec0 in one block.
const PROVISIONAL: ProfileGroups<H2FrameTypes, H2SettingIds, H2ErrorCodes> = {
  frames: {
    SERVER_CERTIFICATE: 0xf5,
    AUTHENTICATOR_REQUESTS: 0xf6,
    CLIENT_CERTIFICATE: 0xf7,
    CERTIFICATE_NEEDED: 0xf8,
    CERTIFICATE_REQUEST: 0xf9,
    CERTIFICATE: 0xfa,
    USE_CERTIFICATE: 0xfc,
  },
  settings: {
    SETTINGS_HTTP_SERVER_CERT_AUTH: 0xf5ec,
    SETTINGS_HTTP_CLIENT_CERT_AUTH: 0xf5ed,
    SETTINGS_HTTP_CERT_AUTH: 0xf5ee,
    SETTINGS_HTTP_CLIENT_CERT_AUTH_06: 0xf5ef,
    SETTINGS_HTTP_SERVER_CERT_AUTH_06: 0xf5f0,
  },
  errors: {
    SERVER_CERTIFICATE_INVALID: 0x5ec0,
    CERTIFICATE_UNREADABLE: 0x5ec1,
    CERTIFICATE_OVERUSED: 0x5ec2,
    CERTIFICATE_WITHOUT_CONSENT: 0x5ec3,
    BAD_CERTIFICATE: 0x5ec4,
    UNSUPPORTED_CERTIFICATE: 0x5ec5,
    CERTIFICATE_REVOKED: 0x5ec6,
    CERTIFICATE_EXPIRED: 0x5ec7,
    CERTIFICATE_GENERAL: 0x5ec8,
  },
};

/** Frame types an extension must not take: RFC 9113 0x0-0x9, ALTSVC 0xa, ORIGIN 0xc, PRIORITY_UPDATE 0x10. */
const STANDARD_FRAME_TYPES = new Set([0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xa, 0xc, 0x10]);
/**
 * Setting ids below 7 are refused because Node maps custom ids 1-6 onto the standard settings; 8
 * (ENABLE_CONNECT_PROTOCOL, RFC 8441) and 9 (NO_RFC7540_PRIORITIES, RFC 9218) are registered.
 */
const STANDARD_SETTING_IDS = new Set([0x8, 0x9]);
/** RFC 9113's own error codes (0x0-0xd): an extension code equal to one would be unreadable in a GOAWAY. */
const LAST_STANDARD_ERROR = 0xd;

/**
 * Builds a frozen profile from the provisional values with `overrides` applied, and checks it: frame
 * types in 0x0b..0xff and not standard, setting ids in 7..0xffff and not standard, error codes 32-bit
 * and not standard, no duplicates within each group, no unknown names. Throws InvalidProfile.
 */
export function makeProfile(name: string, overrides: H2ProfileOverrides = {}): H2Profile {
  const { draft06, ...groups } = overrides;
  const built = buildProfile(name, PROVISIONAL, groups, {
    frames: allowed((v) => v >= 0x0b && v <= 0xff && !STANDARD_FRAME_TYPES.has(v), '0x0b..0xff, not a standard type'),
    settings: allowed((v) => v >= 7 && v <= 0xffff && !STANDARD_SETTING_IDS.has(v), '7..0xffff, not 8 or 9'),
    errors: allowed((v) => v > LAST_STANDARD_ERROR && v <= 0xffffffff, '0xe..0xffffffff'),
  });
  return Object.freeze({ ...built, draft06: Object.freeze(draft06Options(draft06 ?? {})) });
}

function draft06Options(o: Partial<Draft06Options>): Draft06Options {
  for (const key of Object.keys(o)) if (key !== 'settings' && key !== 'requiredDomainOid') throw new InvalidProfile(`unknown draft06 option ${key}`);
  const settings = o.settings ?? 'single';
  if (settings !== 'single' && settings !== 'split') throw new InvalidProfile(`draft06.settings = ${String(settings)} is not allowed (must be 'single' or 'split')`);
  const requiredDomainOid = o.requiredDomainOid ?? PROVISIONAL_REQUIRED_DOMAIN_OID;
  if (typeof requiredDomainOid !== 'string' || !/^[0-2](\.(0|[1-9][0-9]*))+$/.test(requiredDomainOid)) {
    throw new InvalidProfile(`draft06.requiredDomainOid = ${String(requiredDomainOid)} is not a dotted OID`);
  }
  return { settings, requiredDomainOid };
}

/** An integer that passes `test`, else "is not allowed (must be <range>)". */
function allowed(test: (v: number) => boolean, range: string): CodepointRule {
  return (v) => (typeof v === 'number' && Number.isInteger(v) && test(v) ? undefined : `${String(v)} is not allowed (must be ${range})`);
}

/** The provisional codepoints (ours, plus our -06 picks). */
export const DEFAULT_PROFILE: H2Profile = makeProfile('provisional');

/** The same codepoints with -06's two settings (section 2.1 as written) instead of the single one. */
export const DRAFT_06_PROFILE: H2Profile = makeProfile('draft-06', { draft06: { settings: 'split' } });

/** Which extension frame a type byte is under `profile`, or undefined for any other frame type. */
export function frameNameOf(profile: H2Profile, type: number): keyof H2FrameTypes | undefined {
  for (const [name, value] of Object.entries(profile.frames)) if (value === type) return name as keyof H2FrameTypes;
  return undefined;
}
