import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { debug, debugging } from '../debug.js';
import { NoAddress } from '../errors.js';
import type { AcceptedCertificate } from '../pki/policy.js';

// Which origins a connection may carry requests for, the same for HTTP/2 and HTTP/3: RFC 9110 section
// 4.3, the draft's section 7.1 (a secondary name counts only when DNS for it includes the peer's
// address) and RFC 8336 (once ORIGIN frames arrived, only listed origins count, without DNS).

/** Resolves a host name to its addresses; injectable so tests can map names to 127.0.0.1. */
export type Lookup = (hostname: string) => Promise<string[]>;

export const defaultLookup: Lookup = async (hostname) => (await dnsLookup(hostname, { all: true })).map((a) => a.address);

/**
 * The address to connect to: an IP literal as it is, else the first address the lookup gives (so the
 * injectable DNS that decides authority also decides where we connect); the name stays the SNI.
 */
export async function addressOf(host: string, lookup: Lookup = defaultLookup): Promise<string> {
  if (isIP(host) !== 0) return host;
  let addresses: string[];
  try {
    addresses = await lookup(host);
  } catch (e) {
    throw new NoAddress(`no address for ${host}: ${(e as Error).message}`, { cause: e });
  }
  const [first] = addresses;
  if (first === undefined) throw new NoAddress(`the lookup gave no address for ${host}`);
  return first;
}

/** Why an origin is or is not served by a connection. */
export interface AuthorityAnswer {
  ok: boolean;
  via?: 'tls' | 'secondary';
  reason: string;
}

/** What a connection knows that decides its authority. */
export interface AuthorityFacts {
  /** The origin the connection was opened for. */
  origin: string;
  closed: boolean;
  /** Origins a 421 took away. */
  excluded: ReadonlySet<string>;
  /** Origins from ORIGIN frames; undefined until the first one arrives. */
  originFrameSet: ReadonlySet<string> | undefined;
  coveredByTls(host: string): boolean;
  certificates: readonly AcceptedCertificate[];
  peerAddress: string | undefined;
  lookup: Lookup;
  /** The time of the decision: a held certificate must still be within its validity period (D2). */
  now: Date;
}

/**
 * May a request for `origin` go on the connection? The certificate (the TLS one, or an accepted
 * secondary one) must cover the host; the port must be the connection's; an origin a 421 excluded is
 * refused; once ORIGIN frames arrived, only listed origins count (RFC 8336 section 2.4) and DNS is not
 * consulted; otherwise DNS for the host must include the peer's address (draft section 7.1).
 */
export function decideAuthority(origin: string | URL, facts: AuthorityFacts): Promise<AuthorityAnswer> {
  // With the log off, not even one more promise.
  if (!debugging) return decide(origin, facts);
  return decide(origin, facts).then((answer) => {
    const via = answer.via === 'tls' ? 'TLS certificate' : answer.via === 'secondary' ? 'secondary certificate' : undefined;
    debug('authority: %s on the connection to %s: %s (%s)', new URL(origin).origin, facts.origin, answer.ok ? `allowed, via the ${via}` : 'not allowed', answer.reason);
    return answer;
  });
}

async function decide(origin: string | URL, facts: AuthorityFacts): Promise<AuthorityAnswer> {
  const url = new URL(origin);
  const o = url.origin;
  if (facts.closed) return { ok: false, reason: 'the connection is closed' };
  if (o === facts.origin) return { ok: true, via: 'tls', reason: 'the origin the connection was made for' };
  if (url.protocol !== 'https:') return { ok: false, reason: 'not an https origin' };
  if ((url.port || '443') !== (new URL(facts.origin).port || '443')) return { ok: false, reason: 'another port than the connection' };
  if (facts.excluded.has(o)) return { ok: false, reason: 'a 421 response excluded it' };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let via: 'tls' | 'secondary' | undefined;
  // Each request for an origin is a reuse, judged as a new connection would judge it (RFC 9113 section
  // 9.1.1): a held certificate past its validity period no longer counts (spec-notes connection-reuse D2).
  const current = (c: AcceptedCertificate): boolean => c.leaf.notBefore <= facts.now && facts.now <= c.leaf.notAfter;
  if (facts.coveredByTls(host)) via = 'tls';
  else if (facts.certificates.some((c) => c.covers(host) && current(c))) via = 'secondary';
  if (!via) {
    const expired = facts.certificates.some((c) => c.covers(host));
    return { ok: false, reason: expired ? 'the certificate that covered the host is no longer within its validity period' : 'no certificate of the connection covers the host' };
  }
  if (facts.originFrameSet) {
    return facts.originFrameSet.has(o)
      ? { ok: true, via, reason: 'certificate covers it and the ORIGIN frame lists it' }
      : { ok: false, reason: 'the ORIGIN frames do not list it' };
  }
  let addresses: string[];
  try {
    addresses = await facts.lookup(host);
  } catch (e) {
    return { ok: false, reason: `DNS lookup failed: ${(e as Error).message}` };
  }
  const peer = facts.peerAddress;
  if (peer === undefined || !addresses.includes(peer)) return { ok: false, reason: `DNS for ${host} does not include the peer address ${peer ?? '?'}` };
  return { ok: true, via, reason: 'certificate covers it and DNS includes the peer address' };
}

/** What a client connection tells its ConnectionAuthority; `closed` and `peerAddress` are asked each time. */
export interface ConnectionFacts {
  /** The origin the connection was opened for. */
  origin: string;
  closed(): boolean;
  coveredByTls(host: string): boolean;
  /** The accepted secondary certificates (the live list). */
  certificates: readonly AcceptedCertificate[];
  peerAddress(): string | undefined;
  lookup: Lookup;
  /** The clock (the connection's `now` option). */
  now(): Date;
}

/**
 * What both clients keep around decideAuthority: the origins a 421 took away (RFC 8336 section 2.3 /
 * RFC 9110 section 15.5.20) and the Origin Set from ORIGIN frames (RFC 8336, RFC 9412).
 */
export class ConnectionAuthority {
  /** Origins a 421 took away from this connection. */
  readonly excluded = new Set<string>();
  /** Origins from ORIGIN frames; undefined until the first one arrives, and DNS decides until then. */
  originFrameSet: Set<string> | undefined;

  constructor(private readonly facts: ConnectionFacts) {}

  /** One ORIGIN frame's origins: the Origin Set starts with the connection's own origin, then grows. */
  addOrigins(origins: readonly string[]): void {
    this.originFrameSet ??= new Set([this.facts.origin]);
    for (const o of origins) this.originFrameSet.add(o);
  }

  /** May a request for `origin` go on the connection? See decideAuthority. */
  authorityFor(origin: string | URL): Promise<AuthorityAnswer> {
    const { facts } = this;
    return decideAuthority(origin, {
      origin: facts.origin,
      closed: facts.closed(),
      excluded: this.excluded,
      originFrameSet: this.originFrameSet,
      coveredByTls: (host) => facts.coveredByTls(host),
      certificates: facts.certificates,
      peerAddress: facts.peerAddress(),
      lookup: facts.lookup,
      now: facts.now(),
    });
  }
}
