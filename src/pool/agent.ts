import { EventEmitter } from 'node:events';
import { AgentClosed, ConnectFailed, NoAddress, SecondaryCertsError } from '../errors.js';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { defaultLookup, type AuthorityAnswer } from '../http/authority.js';
import type { CertificateEvent } from '../pki/accept-chain.js';
import type { PoolableConnection, PooledConnection } from './connection.js';
import { dial, type DialOptions } from './dial.js';
import type { OriginProver } from './prover.js';

export type { PoolableConnection, PooledConnection, PooledH2, PooledH3, PoolRequestInit, PoolResponse } from './connection.js';

// A connection pool whose request(url) reuses a connection that is authoritative for the URL's origin,
// through its TLS certificate or a secondary certificate, and opens a new connection otherwise. It holds
// HTTP/2 and HTTP/3 connections alike, through what both offer (PoolableConnection), under the same
// authority rules (src/http/authority.ts); ways to prove more origins on open connections plug in as
// OriginProvers.

export interface AgentOptions extends DialOptions {
  /**
   * How long to wait, after a connection negotiated the extension, for the certificates a server sends
   * at once, before opening a new connection for an origin it may be about to prove (default 250 ms).
   * Only waited for when DNS (or an ORIGIN frame) already points the origin at that connection's peer.
   */
  certificateGraceMs?: number;
  /**
   * How long a request waits for a connection being opened, for another origin, to the same address and
   * port, which may prove its origin with a secondary certificate (default 1000 ms); then, or when that
   * connection does not prove it, the request opens its own. Requests for one origin always share one
   * pending connect.
   */
  pendingConnectWaitMs?: number;
  /**
   * Before opening a new connection for an origin, each prover in turn may make an open connection
   * authoritative for it (e.g. `optionsStarProver()` from secondary-certs/options-star). None by default.
   */
  provers?: readonly OriginProver[];
}

export interface RequestInit {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: Uint8Array | string;
}

export interface AgentResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Which connection carried it (1 for the first the agent opened). */
  connectionId: number;
  /** Whether the connection was opened for this request or reused. */
  reused: boolean;
  /** Why the connection was chosen. */
  authority: AuthorityAnswer;
}

/** Why a connection was or was not used for an origin. */
export interface PoolDecision {
  origin: string;
  id: number;
  reason: string;
}

/** The agent's events and their listeners' arguments. */
export interface AgentEvents {
  /** A connection was opened. */
  connect: [pooled: PooledConnection];
  /** A SERVER_CERTIFICATE on one of its connections validated, accepted or not. */
  certificate: [pooled: PooledConnection, event: CertificateEvent];
  /** A connection was chosen for an origin. */
  reuse: [decision: PoolDecision];
  /** A connection was passed over for an origin. */
  skip: [decision: PoolDecision];
  /** A 421 took the origin off a connection. */
  misdirected: [event: { origin: string; id: number }];
  /** A connection was closed for a protocol error. */
  protocolError: [pooled: PooledConnection, error: Error];
}

/** A connect under way, shared by every request for its origin. */
interface PendingConnect {
  origin: string;
  port: string;
  /** The address being connected to (undefined once its lookup failed). */
  address: Promise<string | undefined>;
  done: Promise<PooledConnection>;
}

/** Events: see AgentEvents. */
export class SecondaryCertAgent extends EventEmitter<AgentEvents> {
  private readonly pool: PooledConnection[] = [];
  private readonly pending = new Map<string, PendingConnect>();
  private nextId = 1;
  private closed = false;
  private readonly provers: readonly OriginProver[];
  /** When each connection's peer SETTINGS arrived (asked once per connection). */
  private readonly peerSettings = new WeakMap<PooledConnection, Promise<void>>();

  constructor(private readonly options: AgentOptions) {
    super();
    this.provers = options.provers ?? [];
  }

  /** Open connections, oldest first. */
  get connections(): readonly PooledConnection[] {
    return this.pool.filter((p) => !p.connection.closed);
  }

  async request(url: string | URL, init: RequestInit = {}): Promise<AgentResponse> {
    const target = new URL(url);
    if (target.protocol !== 'https:') throw new TypeError(`only https URLs: ${target.href}`);
    let pick = await this.choose(target.origin);
    let response = await this.send(pick.pooled, target, init, pick);
    if (response.status === 421) {
      // Misdirected: this connection is not authoritative after all (RFC 9110 section 15.5.20, RFC 8336
      // section 2.3). Take the origin off it and retry once, on a connection opened for the origin.
      pick.pooled.connection.excluded.add(target.origin);
      this.emit('misdirected', { origin: target.origin, id: pick.pooled.id });
      pick = await this.choose(target.origin);
      response = await this.send(pick.pooled, target, init, pick);
    }
    return response;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.pool.map((p) => p.connection.close()));
  }

  /**
   * The first open connection authoritative for `origin`; else the connect already under way for it; else,
   * after a bounded wait for connects under way to the same address (one may prove the origin), a new one.
   */
  private async choose(origin: string): Promise<{ pooled: PooledConnection; reused: boolean; authority: AuthorityAnswer }> {
    const waitedFor = new Set<PendingConnect>();
    for (;;) {
      if (this.closed) throw new AgentClosed('the agent is closed');
      for (const pooled of this.connections) {
        await this.graceFor(pooled, origin);
        const answer = await pooled.connection.authorityFor(origin);
        this.emit(answer.ok ? 'reuse' : 'skip', { origin, id: pooled.id, reason: answer.reason });
        if (answer.ok) return { pooled, reused: true, authority: answer };
      }
      const open = this.connections;
      for (const prover of open.length > 0 ? this.provers : []) {
        const proven = await prover.prove(open, origin);
        if (proven) return { pooled: proven.pooled, reused: true, authority: proven.authority };
      }
      const own = this.pending.get(origin);
      if (own) {
        // Its failure is every waiter's failure: the same error, once.
        await own.done;
        continue;
      }
      // From the pending check to open() nothing is awaited, so requests for one origin start one connect.
      const candidates = [...this.pending.values()].filter((p) => p.port === portOf(origin) && !waitedFor.has(p));
      if (candidates.length > 0) {
        for (const p of candidates) waitedFor.add(p);
        await this.waitForSameAddress(origin, candidates);
        continue;
      }
      const pooled = await this.open(origin).done;
      return { pooled, reused: false, authority: { ok: true, via: 'tls', reason: 'a new connection for this origin' } };
    }
  }

  /** Waits (at most pendingConnectWaitMs) for those of `candidates` that connect to the address `origin` resolves to. */
  private async waitForSameAddress(origin: string, candidates: PendingConnect[]): Promise<void> {
    const addresses = await (this.options.lookup ?? defaultLookup)(new URL(origin).hostname).catch(() => [] as string[]);
    const same: PendingConnect[] = [];
    for (const p of candidates) {
      const address = await p.address;
      if (address !== undefined && addresses.includes(address)) same.push(p);
    }
    if (same.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(same.map((p) => p.done)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.pendingConnectWaitMs ?? 1000))),
    ]);
    clearTimeout(timer);
  }

  /**
   * A server sends its certificates right after SETTINGS; a request made at that moment should not race
   * them to a new connection. Wait for pending validations, and while the connection is young (grace from
   * its negotiation, or from its connect while the peer's SETTINGS are still awaited), for more
   * certificates, but only if the origin's DNS already points at this peer.
   */
  private async graceFor(pooled: PooledConnection, origin: string): Promise<void> {
    const c: PoolableConnection = pooled.connection;
    const grace = this.options.certificateGraceMs ?? 250;
    const host = new URL(origin).hostname;
    let dnsChecked = false;
    for (;;) {
      await c.settled();
      if (c.closed || c.certificates.some((cert) => cert.covers(host))) return;
      // A connection that has not negotiated yet may still do so until the peer's SETTINGS arrive; the grace
      // then runs from the connect instead.
      if (!c.negotiated && (pooled.peerSettingsSeen || this.options.extension === false)) return;
      const left = (pooled.negotiatedAt ?? pooled.openedAt) + grace - Date.now();
      if (left <= 0) return;
      if (!dnsChecked) {
        const addresses = await (this.options.lookup ?? defaultLookup)(host).catch(() => [] as string[]);
        if (!c.peerAddress || !addresses.includes(c.peerAddress)) return;
        dnsChecked = true;
      }
      if (!(await this.nextStep(pooled, left))) {
        await c.settled();
        return;
      }
    }
  }

  /** Resolves true at the next accepted certificate, negotiation or peer SETTINGS; false after `ms` or at close. */
  private nextStep(pooled: PooledConnection, ms: number): Promise<boolean> {
    const c: PoolableConnection = pooled.connection;
    const settings = this.peerSettings.get(pooled);
    return new Promise((resolve) => {
      let finished = false;
      const timer = setTimeout(() => done(false), ms);
      const onCertificate = (e: CertificateEvent): void => {
        if (e.accepted) done(true);
      };
      const onStep = (): void => done(true);
      const onClose = (): void => done(false);
      function done(progress: boolean): void {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        c.off('certificate', onCertificate);
        c.off('negotiated', onStep);
        c.off('close', onClose);
        resolve(progress);
      }
      c.on('certificate', onCertificate);
      c.on('negotiated', onStep);
      c.on('close', onClose);
      // Only SETTINGS still awaited are a step; once they are in, waiting on them would resolve at once.
      if (!pooled.peerSettingsSeen) void settings?.then(onStep);
    });
  }

  /** Starts a connect for `origin` and registers it (synchronously) as the one its requests share. */
  private open(origin: string): PendingConnect {
    const url = new URL(origin);
    const address = (async () => {
      let addresses: string[];
      try {
        addresses = await (this.options.lookup ?? defaultLookup)(url.hostname);
      } catch (e) {
        throw new ConnectFailed(`no connection to ${origin}: DNS for ${url.hostname} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      const first = addresses[0];
      if (!first) throw new NoAddress(`no address for ${url.hostname}`);
      return first;
    })();
    const done = address.then((a) => this.connectTo(url, origin, a));
    const entry: PendingConnect = { origin, port: portOf(origin), address: address.catch(() => undefined), done };
    this.pending.set(origin, entry);
    const forget = (): void => {
      if (this.pending.get(origin) === entry) this.pending.delete(origin);
    };
    done.then(forget, forget);
    return entry;
  }

  private async connectTo(url: URL, origin: string, address: string): Promise<PooledConnection> {
    let pooled: PooledConnection;
    try {
      pooled = { id: 0, ...(await dial(url, address, this.options)), openedFor: origin, openedAt: 0 };
    } catch (e) {
      if (e instanceof SecondaryCertsError) throw e;
      throw new ConnectFailed(`no connection to ${origin} (${address}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const connection: PoolableConnection = pooled.connection;
    if (this.closed) {
      await connection.close();
      throw new AgentClosed('the agent was closed while connecting');
    }
    pooled.id = this.nextId++;
    pooled.openedAt = Date.now();
    if (connection.negotiated) pooled.negotiatedAt = Date.now();
    connection.on('negotiated', () => (pooled.negotiatedAt = Date.now()));
    const settings = connection.settingsReceived();
    this.peerSettings.set(pooled, settings);
    void settings.then(() => (pooled.peerSettingsSeen = true));
    connection.on('certificate', (e: CertificateEvent) => this.emit('certificate', pooled, e));
    connection.on('protocolError', (e: Error) => this.emit('protocolError', pooled, e));
    for (const prover of this.provers) prover.observeConnection?.(pooled);
    this.pool.push(pooled);
    this.emit('connect', pooled);
    return pooled;
  }

  private async send(pooled: PooledConnection, url: URL, init: RequestInit, pick: { reused: boolean; authority: AuthorityAnswer }): Promise<AgentResponse> {
    const connection: PoolableConnection = pooled.connection;
    const headers = Object.fromEntries(Object.entries(init.headers ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    const r = await connection.request(url, { ...(init.method ? { method: init.method } : {}), headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    for (const prover of this.provers) prover.observeResponse?.(url.origin, r.headers, pooled);
    return { status: r.status, headers: { ...r.headers, ':status': String(r.status) } as IncomingHttpHeaders, body: r.body, connectionId: pooled.id, reused: pick.reused, authority: pick.authority };
  }
}

function portOf(origin: string): string {
  return new URL(origin).port || '443';
}
