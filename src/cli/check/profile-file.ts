import { InvalidProfile } from '../../errors.js';
import { makeProfile, type H2Profile, type H2ProfileOverrides } from '../../h2/profile.js';
import { makeH3Profile, type H3Profile, type H3ProfileOverrides } from '../../h3/profile.js';

// `check --profile FILE`, `--setting N`, `--frame-type N`, `--error-code N`: the codepoints of a server
// that does not use ours. The file is JSON: either the groups of one profile, applied to the protocol
// checked, or one such object per protocol:
//   { "settings": { "SETTINGS_HTTP_SERVER_CERT_AUTH": "0x1234" }, "frames": { "SERVER_CERTIFICATE": 250 } }
//   { "h2": { "frames": { ... } }, "h3": { "frames": { ... } } }
// Names are those of src/h2/profile.ts and src/h3/profile.ts; values are integers or "0x" hex strings.
// The three flags apply after the file, to the draft's setting, frame and error.

export interface ProfileGroupsJson {
  frames?: Record<string, number | string>;
  settings?: Record<string, number | string>;
  errors?: Record<string, number | string>;
}

/** The JSON a --profile file holds. */
export type CheckProfileFile = ProfileGroupsJson | { h2?: ProfileGroupsJson; h3?: ProfileGroupsJson };

/** The three codepoints the flags set. */
export interface CodepointFlags {
  setting?: number;
  frameType?: number;
  errorCode?: number;
}

/** A codepoint from a flag or the file: decimal or 0x hex, a safe non-negative integer. Throws TypeError. */
export function parseCodepoint(value: unknown, what: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`${what} must be an integer (decimal or 0x hex), not ${JSON.stringify(value)}`);
  return n;
}

const GROUPS = ['frames', 'settings', 'errors'] as const;

function groupsOf(json: unknown, where: string): Required<Record<(typeof GROUPS)[number], Record<string, number>>> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TypeError(`${where} must be a JSON object`);
  const out = { frames: {}, settings: {}, errors: {} } as Required<Record<(typeof GROUPS)[number], Record<string, number>>>;
  for (const [key, value] of Object.entries(json)) {
    if (!(GROUPS as readonly string[]).includes(key)) throw new TypeError(`${where}: unknown key ${key} (expected frames, settings, errors)`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`${where}.${key} must be an object of names to codepoints`);
    for (const [name, v] of Object.entries(value)) out[key as (typeof GROUPS)[number]][name] = parseCodepoint(v, `${where}.${key}.${name}`);
  }
  return out;
}

/** The overrides a file gives each protocol. Throws TypeError for a file that is not of the documented shape. */
export function parseProfileFile(text: string): { h2: ProfileGroupsJson; h3: ProfileGroupsJson } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TypeError(`the profile is not JSON: ${(e as Error).message}`);
  }
  if (typeof json === 'object' && json !== null && ('h2' in json || 'h3' in json)) {
    const extra = Object.keys(json).filter((k) => k !== 'h2' && k !== 'h3');
    if (extra.length > 0) throw new TypeError(`the profile mixes h2/h3 with ${extra.join(', ')}`);
    const per = json as { h2?: unknown; h3?: unknown };
    return { h2: per.h2 === undefined ? {} : groupsOf(per.h2, 'h2'), h3: per.h3 === undefined ? {} : groupsOf(per.h3, 'h3') };
  }
  const both = groupsOf(json, 'the profile');
  return { h2: both, h3: both };
}

function withFlags(groups: ProfileGroupsJson, flags: CodepointFlags): ProfileGroupsJson {
  return {
    frames: { ...groups.frames, ...(flags.frameType !== undefined ? { SERVER_CERTIFICATE: flags.frameType } : {}) },
    settings: { ...groups.settings, ...(flags.setting !== undefined ? { SETTINGS_HTTP_SERVER_CERT_AUTH: flags.setting } : {}) },
    errors: { ...groups.errors, ...(flags.errorCode !== undefined ? { SERVER_CERTIFICATE_INVALID: flags.errorCode } : {}) },
  };
}

/** The HTTP/2 profile to check with. Throws InvalidProfile (an unknown name, a value the protocol does not allow). */
export function checkProfileH2(groups: ProfileGroupsJson, flags: CodepointFlags): H2Profile {
  return makeProfile('check', withFlags(groups, flags) as H2ProfileOverrides);
}

/** The HTTP/3 profile to check with. Throws InvalidProfile. */
export function checkProfileH3(groups: ProfileGroupsJson, flags: CodepointFlags): H3Profile {
  return makeH3Profile('check', withFlags(groups, flags) as H3ProfileOverrides);
}

export { InvalidProfile };
