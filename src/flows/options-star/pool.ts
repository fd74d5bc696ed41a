import { EventEmitter } from 'node:events';
import type { PoolableConnection, PooledConnection, PooledH2, PoolResponse } from '../../pool/connection.js';
import type { OriginProver, ProvenOrigin } from '../../pool/prover.js';
import { proveOrigin, type ProveOriginOptions, type ProveOriginResult } from './client.js';

// For a connection pool: before opening a new connection for an origin, ask an open connection whose
// server likely serves it (an ORIGIN frame lists the origin, or Alt-Svc for the origin names that
// connection's endpoint) to prove it with OPTIONS *. One round trip instead of a new TLS handshake
// (spec-notes/options-star.md, "Why OPTIONS *"). OPTIONS * runs on the pool's HTTP/2 connections.

/** Why a connection was thought to serve an origin. */
export type ServesHint = 'origin-frame' | 'alt-svc';

/** One OPTIONS * attempt, for the prover's events. */
export interface OptionsStarAttempt<T = PooledH2> {
  origin: string;
  pooled: T;
  hint: ServesHint;
  result?: ProveOriginResult;
  error?: unknown;
}

/** The events of an OptionsStarPool and their listeners' arguments. */
export interface OptionsStarPoolEvents {
  attempt: [attempt: OptionsStarAttempt];
}

interface Alternative {
  host: string;
  port: string;
  expires: number;
}

/** What `likelyServes` reads of a connection. */
type ServesFacts = Pick<PoolableConnection, 'origin' | 'originFrameSet' | 'peerAddress'>;

/**
 * The agent's OriginProver for OPTIONS * (`provers: [optionsStarProver()]`): remembers Alt-Svc
 * advertisements and which origins were already asked of which connection, and runs the attempts.
 * Event: 'attempt' (OptionsStarAttempt).
 */
export class OptionsStarPool extends EventEmitter<OptionsStarPoolEvents> implements OriginProver {
  private readonly altSvc = new Map<string, Alternative[]>();
  /** Origins asked per connection; '*' once the server showed it does not do OPTIONS *. */
  private readonly asked = new WeakMap<PoolableConnection, Set<string>>();

  constructor(private readonly options: ProveOriginOptions = {}) {
    super();
  }

  /**
   * Learns an Alt-Svc field value (RFC 7838 section 3) for `origin`: its h2 alternatives replace those
   * known; "clear" forgets them. Unparsable members are skipped.
   */
  learnAltSvc(origin: string, value: string, now = Date.now()): void {
    if (value.trim() === 'clear') {
      this.altSvc.delete(origin);
      return;
    }
    const alternatives: Alternative[] = [];
    for (const member of splitOutsideQuotes(value, ',')) {
      const [alternative, ...params] = splitOutsideQuotes(member, ';').map((p) => p.trim());
      const m = /^([^=\s]+)="([^"]*)"$/.exec(alternative ?? '');
      if (!m || m[1] !== 'h2') continue;
      const authority = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(m[2]!);
      if (!authority) continue;
      const ma = params.map((p) => /^ma=(\d+)$/.exec(p)?.[1]).find((v) => v !== undefined);
      alternatives.push({ host: authority[1]!.toLowerCase(), port: authority[2]!, expires: now + Number(ma ?? 86_400) * 1000 });
    }
    if (alternatives.length > 0) this.altSvc.set(origin, alternatives);
  }

  /** Does `connection` likely serve `origin` (an ORIGIN frame lists it, or Alt-Svc names its endpoint)? */
  likelyServes(connection: ServesFacts, origin: string, now = Date.now()): ServesHint | undefined {
    if (connection.originFrameSet?.has(origin)) return 'origin-frame';
    const own = new URL(connection.origin);
    const port = own.port || '443';
    const hosts = [own.hostname.toLowerCase(), connection.peerAddress].filter((h) => h !== undefined);
    const originHost = new URL(origin).hostname.toLowerCase();
    const named = this.altSvc.get(origin)?.some((a) => a.expires > now && a.port === port && hosts.includes(a.host === '' ? originHost : a.host));
    return named ? 'alt-svc' : undefined;
  }

  /**
   * Asks each open HTTP/2 connection that likely serves `origin`, and was not asked for it before, to
   * prove it. Resolves with the first one that may then carry the origin's requests, or undefined.
   */
  async prove(candidates: readonly PooledConnection[], origin: string): Promise<ProvenOrigin | undefined> {
    for (const pooled of candidates) {
      if (pooled.protocol !== 'h2') continue;
      const c = pooled.connection;
      const asked = this.asked.get(c) ?? new Set<string>();
      this.asked.set(c, asked);
      if (c.closed || asked.has('*') || asked.has(origin)) continue;
      const hint = this.likelyServes(c, origin);
      if (!hint) continue;
      asked.add(origin);
      const attempt: OptionsStarAttempt = { origin, pooled, hint };
      try {
        attempt.result = await proveOrigin(c, origin, this.options);
      } catch (e) {
        attempt.error = e;
      }
      this.emit('attempt', attempt);
      if (attempt.result?.outcome === 'not-supported') asked.add('*');
      if (attempt.result?.outcome === 'proven' && attempt.result.authority?.ok) return { pooled, authority: attempt.result.authority };
    }
    return undefined;
  }

  /** Alt-Svc in a response header. */
  observeResponse(origin: string, headers: PoolResponse['headers']): void {
    const value = headers['alt-svc'];
    if (value !== undefined) this.learnAltSvc(origin, String(value));
  }

  /** Alt-Svc in ALTSVC frames (RFC 7838 section 4) on HTTP/2 connections; node:http2 reports them on the session. */
  observeConnection(pooled: PooledConnection): void {
    if (pooled.protocol === 'h2') pooled.connection.session.on('altsvc', (value: string, altOrigin: string) => this.learnAltSvc(altOrigin, value));
  }
}

/** The agent's prover for OPTIONS *: `new SecondaryCertAgent({ ..., provers: [optionsStarProver()] })`. */
export function optionsStarProver(options: ProveOriginOptions = {}): OptionsStarPool {
  return new OptionsStarPool(options);
}

/** Splits on `sep` where it is not inside a quoted string. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && quoted) {
      current += ch + (text[++i] ?? '');
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}
