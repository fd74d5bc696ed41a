// Does a certificate's subjectAltName cover a host? RFC 9110 section 4.3.4 points at RFC 6125 section 6.4
// (dNSName) and section 6.2.2 of RFC 9525 / 6125 (iPAddress); this file implements that matching and nothing
// more. It is pure string and byte work, with no platform dependency.
//
// Internationalised names are compared only as A-labels ("xn--..."): a host with any non-ASCII character
// matches nothing. Convert U-labels first; `new URL(...)` does it, and so `originCoveredBy` gets A-labels.

/** The names a certificate's subjectAltName carries, as `AcceptedCertificate` reports them. */
export interface SubjectNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** A host in the form it is compared in: a DNS name or an IP address. */
export type ParsedHost = { kind: 'dns'; name: string } | { kind: 'ip'; bytes: Uint8Array };

const MAX_DNS_NAME = 253;
const MAX_LABEL = 63;
// Letters, digits, hyphen; underscore too, since real hostnames carry it (service labels, some intranets).
const LABEL = /^[a-z0-9_-]+$/;
// RFC 9110 hosts come from URIs, where a name ending in a numeric label is an IPv4 address (WHATWG URL's
// "ends in a number"). Such a host that is not a plain dotted quad ("127.1", "0x7f.0.0.1") matches nothing.
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/;

/**
 * Parses an IPv4 address in dotted-quad form (no leading zeros, which some parsers read as octal) or an
 * IPv6 address in any RFC 4291 text form, with or without [brackets]. Returns 4 or 16 bytes, or undefined.
 * Zone identifiers ("fe80::1%eth0") are refused: they name no address a certificate could hold.
 */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) return undefined;
    return parseIpv6(text.slice(1, -1));
  }
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = ipv6Words(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? ipv6Words(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  // Without "::" all eight groups are written; with it, "::" stands for one or more zero groups.
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return undefined;
  const words = [...head, ...new Array<number>(zeros).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

/** 16-bit words of colon-separated hex groups; a dotted IPv4 address may end the address (two words). */
function ipv6Words(part: string, endsAddress: boolean): number[] | undefined {
  if (part === '') return [];
  const groups = part.split(':');
  const words: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
      words.push(parseInt(g, 16));
    } else if (endsAddress && i === groups.length - 1 && g.includes('.')) {
      const v4 = parseIpv4(g);
      if (!v4) return undefined;
      words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      return undefined;
    }
  }
  return words;
}

/** Text for 4 or 16 address bytes: dotted quad, or the RFC 5952 canonical IPv6 form (no brackets). */
export function formatIpAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952 section 4.2: the longest run of two or more zero groups becomes "::", the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hexWords = words.map((w) => w.toString(16));
  if (bestStart < 0) return hexWords.join(':');
  return `${hexWords.slice(0, bestStart).join(':')}::${hexWords.slice(bestStart + bestLength).join(':')}`;
}

/**
 * Classifies and normalises a host as it appears in a URI authority (without the port): an IP address
 * (IPv6 with or without brackets) or a DNS name, lower-cased, with one trailing dot removed. Undefined for
 * a host that can match no certificate: empty labels, characters outside letters, digits, '-' and '_'
 * (so any non-ASCII or '*'), over-long names, a numeric last label that is no IPv4 address.
 */
export function parseHost(host: string): ParsedHost | undefined {
  if (host.startsWith('[') || host.includes(':')) {
    const bytes = parseIpAddress(host);
    return bytes ? { kind: 'ip', bytes } : undefined;
  }
  const name = stripOneTrailingDot(lowerAscii(host));
  const v4 = parseIpv4(name);
  if (v4) return { kind: 'ip', bytes: v4 };
  if (name.length === 0 || name.length > MAX_DNS_NAME) return undefined;
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length > MAX_LABEL || !LABEL.test(label)) return undefined;
  }
  if (NUMERIC_LABEL.test(labels[labels.length - 1]!)) return undefined;
  return { kind: 'dns', name };
}

/**
 * The canonical text of a host: a lower-case DNS name without trailing dot, a dotted-quad IPv4 address or
 * an RFC 5952 IPv6 address without brackets. Undefined when `parseHost` refuses the host.
 */
export function normalizeHost(host: string): string | undefined {
  const parsed = parseHost(host);
  if (!parsed) return undefined;
  return parsed.kind === 'dns' ? parsed.name : formatIpAddress(parsed.bytes);
}

/**
 * True when the subjectAltName entries cover `host` (RFC 9110 section 4.3.4, RFC 6125 section 6.4):
 * - DNS hosts match dNSName entries only, case-insensitively, ignoring one trailing dot on either side;
 * - a wildcard counts only as the whole left-most label of an entry with at least two more labels:
 *   "*.example.com" covers "a.example.com" but neither "example.com" nor "a.b.example.com"; partial-label
 *   wildcards ("f*.example.com"), a '*' anywhere else, "*.com" and "*" match nothing. (Wildcards over a
 *   multi-label public suffix such as "*.co.uk" are not detected: that needs the Public Suffix List.)
 * - IP hosts match iPAddress entries only, by bytes, so "::1" and "0:0:0:0:0:0:0:1" are the same host;
 *   they never match a dNSName, wildcard or not.
 * The subject common name is never consulted.
 */
export function hostCoveredBy(host: string, names: SubjectNames): boolean {
  const parsed = parseHost(host);
  if (!parsed) return false;
  if (parsed.kind === 'ip') {
    return names.ipAddresses.some((entry) => {
      const bytes = parseIpAddress(entry);
      return bytes !== undefined && equalAddress(bytes, parsed.bytes);
    });
  }
  return names.dnsNames.some((entry) => dnsNameMatches(entry, parsed.name));
}

/**
 * True when `origin` (an "https://host[:port]" string or URL) has a host the names cover. Only https
 * origins can be covered by a certificate; any other scheme, or text that is no URL, gives false.
 */
export function originCoveredBy(origin: string | URL, names: SubjectNames): boolean {
  let url: URL;
  try {
    url = typeof origin === 'string' ? new URL(origin) : origin;
  } catch {
    return false;
  }
  return url.protocol === 'https:' && hostCoveredBy(url.hostname, names);
}

/** `host` is already normalised (lower case, no trailing dot, valid labels). */
function dnsNameMatches(entry: string, host: string): boolean {
  const pattern = stripOneTrailingDot(lowerAscii(entry));
  if (!isAscii(pattern)) return false;
  if (!pattern.includes('*')) return pattern === host;
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(2);
  // The rest must be a plain name of at least two labels: no second '*', no empty label.
  if (suffix.includes('*') || !suffix.includes('.') || suffix.split('.').some((l) => l === '')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === suffix;
}

function equalAddress(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ASCII-only lower-casing: toLowerCase() would also fold non-ASCII letters (and 'İ' into two characters).
function lowerAscii(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function stripOneTrailingDot(s: string): string {
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}
