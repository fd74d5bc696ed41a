import { InvalidProfile } from '../../errors.js';

// The names of our OPTIONS * profile (OUR PROPOSAL: spec-notes/options-star.md). None is registered: every one is
// configurable, and the defaults are written in spec-notes/options-star.md so that independent peers (interop/go) agree on them.

export interface OptionsStarNames {
  /** Media type of a request body holding a ClientCertificateRequest (type 17). */
  readonly requestMediaType: string;
  /** Media type of a response body holding an authenticator (or an empty one). */
  readonly authenticatorMediaType: string;
  /** Response field listing what the server does with exported authenticators (SF List of Tokens). */
  readonly capabilityField: string;
  /** Request field naming the origin to prove, port included (SF String); server_name carries no port. */
  readonly originField: string;
}

export const DEFAULT_OPTIONS_STAR_NAMES: OptionsStarNames = Object.freeze({
  requestMediaType: 'application/exported-authenticator-request',
  authenticatorMediaType: 'application/exported-authenticator',
  capabilityField: 'exported-auth',
  originField: 'exported-auth-origin',
});

/** The capability token meaning "I answer ClientCertificateRequests with authenticators". */
export const SERVER_CAPABILITY = 'server';

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** The default names with some replaced; checks each (InvalidProfile) and lower-cases them. */
export function makeOptionsStarNames(overrides: Partial<OptionsStarNames> = {}): OptionsStarNames {
  const names = { ...DEFAULT_OPTIONS_STAR_NAMES, ...overrides };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(names)) {
    if (typeof value !== 'string') throw new InvalidProfile(`${key} must be a string`);
    const v = value.toLowerCase();
    const ok = key.endsWith('MediaType') ? v.split('/').length === 2 && v.split('/').every((p) => TOKEN.test(p)) : TOKEN.test(v);
    if (!ok) throw new InvalidProfile(`${key} ${JSON.stringify(value)} is not a valid ${key.endsWith('MediaType') ? 'media type' : 'field name'}`);
    out[key] = v;
  }
  const o = out as unknown as OptionsStarNames;
  if (o.requestMediaType === o.authenticatorMediaType) throw new InvalidProfile('the request and authenticator media types must differ');
  if (o.capabilityField === o.originField) throw new InvalidProfile('the capability and origin fields must differ');
  return Object.freeze(o);
}

/** The media type of a Content-Type value without its parameters, lower-cased; undefined when absent. */
export function mediaTypeOf(contentType: string | string[] | undefined): string | undefined {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  if (value === undefined) return undefined;
  return value.split(';')[0]!.trim().toLowerCase();
}

/** An RFC 9651 String: printable ASCII, with `"` and `\` escaped. */
export function serializeSfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new TypeError('a structured-field String holds printable ASCII only');
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** Parses an RFC 9651 String item (parameters are ignored); undefined when the value is not one. */
export function parseSfString(value: string): string | undefined {
  const s = value.trim();
  if (!s.startsWith('"')) return undefined;
  let out = '';
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const next = s[++i];
      if (next !== '"' && next !== '\\') return undefined;
      out += next;
    } else if (c === '"') {
      const rest = s.slice(i + 1).trim();
      return rest === '' || rest.startsWith(';') ? out : undefined;
    } else if (c < '\x20' || c > '\x7e') {
      return undefined;
    } else {
      out += c;
    }
  }
  return undefined; // no closing quote
}

/** The tokens of an RFC 9651 List of Tokens, lower-cased, parameters dropped; unparsable members are skipped. */
export function parseTokenList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(',') : value;
  return joined
    .split(',')
    .map((m) => m.split(';')[0]!.trim().toLowerCase())
    .filter((t) => /^[a-z*][!#$%&'*+.^_`|~0-9a-z:/-]*$/.test(t));
}

/** The origin to name in the origin field: scheme, host and the port, always written out. */
export function originWithPort(url: URL): string {
  return `${url.protocol}//${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}
