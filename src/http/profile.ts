import { InvalidProfile } from '../errors.js';

// What HTTP/2 and HTTP/3 codepoint profiles share: the provisional values with the caller's overrides
// merged in (an unknown name is refused), each value checked by the protocol's rule, no value twice within
// a group, and the result frozen. Which values a protocol allows stays with the protocol.

/** A profile's three groups of codepoints, by name. */
export interface ProfileGroups<Frames, Settings, Errors> {
  frames: Frames;
  settings: Settings;
  errors: Errors;
}

export type ProfileOverridesOf<Frames, Settings, Errors> = { frames?: Partial<Frames>; settings?: Partial<Settings>; errors?: Partial<Errors> };

/** A profile as built: frozen, with its name. */
export type ProfileOf<Frames, Settings, Errors> = { readonly name: string; readonly frames: Readonly<Frames>; readonly settings: Readonly<Settings>; readonly errors: Readonly<Errors> };

/** Why a value (whatever the caller gave) may not be used, said after "<what> <name> = "; undefined when it may. */
export type CodepointRule = (value: unknown) => string | undefined;

const WHAT = { frames: 'frame type', settings: 'setting id', errors: 'error code' } as const;

/**
 * Builds a frozen profile from `provisional` with `overrides` applied, and checks every value with its
 * group's rule and against the other values of its group. Throws InvalidProfile.
 */
export function buildProfile<Frames extends object, Settings extends object, Errors extends object>(
  name: string,
  provisional: ProfileGroups<Frames, Settings, Errors>,
  overrides: ProfileOverridesOf<Frames, Settings, Errors>,
  rules: ProfileGroups<CodepointRule, CodepointRule, CodepointRule>,
): ProfileOf<Frames, Settings, Errors> {
  if (typeof name !== 'string' || name === '') throw new InvalidProfile('a profile needs a name');
  const frames = merge('frames', provisional.frames, overrides.frames);
  const settings = merge('settings', provisional.settings, overrides.settings);
  const errors = merge('errors', provisional.errors, overrides.errors);
  check(WHAT.frames, frames, rules.frames);
  check(WHAT.settings, settings, rules.settings);
  check(WHAT.errors, errors, rules.errors);
  return Object.freeze({ name, frames: Object.freeze(frames), settings: Object.freeze(settings), errors: Object.freeze(errors) });
}

function merge<T extends object>(group: string, base: T, overrides: Partial<T> | undefined): T {
  const out = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (!Object.hasOwn(base, key)) throw new InvalidProfile(`unknown ${group} name ${key}`);
    (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

function check(what: string, values: object, rule: CodepointRule): void {
  const seen = new Map<number, string>();
  for (const [key, v] of Object.entries(values) as [string, unknown][]) {
    const problem = rule(v);
    if (problem !== undefined) throw new InvalidProfile(`${what} ${key} = ${problem}`);
    const value = v as number;
    const other = seen.get(value);
    if (other !== undefined) throw new InvalidProfile(`${what} 0x${value.toString(16)} is used by both ${other} and ${key}`);
    seen.set(value, key);
  }
}
