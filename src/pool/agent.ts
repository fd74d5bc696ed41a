import { EventEmitter } from 'node:events';
import { RequestTimeout } from '../errors.js';
import { constants, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect, defaultLookup, type AuthorityAnswer, type CertificateEvent, type ClientOptions, type SecondaryCertConnection } from '../h2/client.js';
import type { H3SecondaryCertConnection } from '../h3/client.js';
import type { H3Profile } from '../h3/profile.js';
import { OptionsStarPool } from '../flows/options-star/pool.js';
import type { ProveOriginOptions } from '../flows/options-star/client.js';

// A connection pool whose request(url) reuses a connection that is authoritative for the URL's origin,
// through its TLS certificate or a secondary certificate, and opens a new connection otherwise. It holds
// HTTP/2 and HTTP/3 connections alike, under the same authority rules (src/http/authority.ts).

export interface AgentOptions extends Omit<ClientOptions, 'connectAddress'> {
  /**
   * How long to wait, after a connection negotiated the extension, for the certificates a server sends
   * at once, before opening a new connection for an origin it may be about to prove (default 250 ms).
   * Only waited for when DNS (or an ORIGIN frame) already points the origin at that connection's peer.
   */
  certificateGraceMs?: number;
  /** Largest response body kept in memory (default 64 MiB); larger fails the request. */
  maxBodySize?: number;
  /** A request with no activity for this long fails with ERR_REQUEST_TIMEOUT (default 30 s). */
  requestTimeoutMs?: number;
  /**
   * Before opening a new connection for an origin, ask an open connection whose server likely serves it
   * (an ORIGIN frame lists it, or Alt-Svc for it names that endpoint) to prove it with OPTIONS * (our
   * proposal, src/flows/options-star). Off by default.
   */
  optionsStar?: boolean | ProveOriginOptions;
  /** The protocol of the connections the agent opens (default 'h2'). OPTIONS * runs on HTTP/2 ones only. */
  protocol?: 'h2' | 'h3';
  /** Codepoints for HTTP/3 connections (`profile` is HTTP/2's). */
  h3Profile?: H3Profile;
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

/** A connection of either protocol. */
export type PoolableConnection = SecondaryCertConnection | H3SecondaryCertConnection;

interface PooledBase {
  /** The agent's number for it (1 for the first it opened). */
  id: number;
  openedFor: string;
  negotiatedAt?: number;
}
export interface PooledH2 extends PooledBase {
  protocol: 'h2';
  connection: SecondaryCertConnection;
}
export interface PooledH3 extends PooledBase {
  protocol: 'h3';
  connection: H3SecondaryCertConnection;
}
/** A connection and the agent's number for it; `protocol` tells which kind. */
export type PooledConnection = PooledH2 | PooledH3;

/**
 * Events: 'connect' (PooledConnection), 'certificate' (PooledConnection, CertificateEvent),
 * 'reuse' / 'skip' ({ origin, id, reason }), 'misdirected' ({ origin, id }), 'protocolError' (PooledConnection, Error),
 * 'optionsStar' (OptionsStarAttempt<PooledConnection>).
 */
export class SecondaryCertAgent extends EventEmitter {
  private readonly pool: PooledConnection[] = [];
  private nextId = 1;
  private closed = false;
  private readonly optionsStar: OptionsStarPool<PooledH2> | undefined;

  constructor(private readonly options: AgentOptions) {
    super();
    if (options.optionsStar) {
      this.optionsStar = new OptionsStarPool(options.optionsStar === true ? {} : options.optionsStar);
      this.optionsStar.on('attempt', (attempt) => this.emit('optionsStar', attempt));
    }
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

  /** The first open connection authoritative for `origin`, or a new one. */
  private async choose(origin: string): Promise<{ pooled: PooledConnection; reused: boolean; authority: AuthorityAnswer }> {
    if (this.closed) throw new Error('the agent is closed');
    for (const pooled of this.connections) {
      await this.graceFor(pooled, origin);
      const answer = await pooled.connection.authorityFor(origin);
      this.emit(answer.ok ? 'reuse' : 'skip', { origin, id: pooled.id, reason: answer.reason });
      if (answer.ok) return { pooled, reused: true, authority: answer };
    }
    const proven = await this.optionsStar?.prove(this.connections.filter(isH2), origin);
    if (proven) return { pooled: proven.pooled, reused: true, authority: proven.authority };
    const pooled = await this.open(origin);
    return { pooled, reused: false, authority: { ok: true, via: 'tls', reason: 'a new connection for this origin' } };
  }

  /**
   * A server sends its certificates right after SETTINGS; a request made at that moment should not race
   * them to a new connection. Wait for pending validations, and while the connection is young, for one more
   * certificate, but only if the origin's DNS already points at this peer.
   */
  private async graceFor(pooled: PooledConnection, origin: string): Promise<void> {
    const c = pooled.connection;
    await c.settled();
    if (!c.negotiated || pooled.negotiatedAt === undefined) return;
    const left = pooled.negotiatedAt + (this.options.certificateGraceMs ?? 250) - Date.now();
    if (left <= 0) return;
    const host = new URL(origin).hostname;
    if (c.certificates.some((cert) => cert.covers(host))) return;
    const addresses = await (this.options.lookup ?? defaultLookup)(host).catch(() => [] as string[]);
    if (!c.peerAddress || !addresses.includes(c.peerAddress)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, left);
      function done(): void {
        clearTimeout(timer);
        c.off('certificate', onCertificate);
        resolve();
      }
      const onCertificate = (e: CertificateEvent): void => {
        if (e.accepted) void c.settled().then(done);
      };
      c.on('certificate', onCertificate);
    });
    await c.settled();
  }

  private async open(origin: string): Promise<PooledConnection> {
    const url = new URL(origin);
    const addresses = await (this.options.lookup ?? defaultLookup)(url.hostname);
    const address = addresses[0];
    if (!address) throw new Error(`no address for ${url.hostname}`);
    const pooled: PooledConnection =
      this.options.protocol === 'h3'
        ? { id: this.nextId++, protocol: 'h3', connection: await this.openH3(url, address), openedFor: origin }
        : { id: this.nextId++, protocol: 'h2', connection: await connect(url, { ...this.options, connectAddress: address }), openedFor: origin };
    const connection = pooled.connection;
    if (connection.negotiated) pooled.negotiatedAt = Date.now();
    connection.on('negotiated', () => (pooled.negotiatedAt = Date.now()));
    connection.on('certificate', (e: CertificateEvent) => this.emit('certificate', pooled, e));
    connection.on('protocolError', (e: Error) => this.emit('protocolError', pooled, e));
    if (this.optionsStar && isH2(pooled)) pooled.connection.session.on('altsvc', (value: string, altOrigin: string) => this.optionsStar?.learnAltSvc(altOrigin, value));
    this.pool.push(pooled);
    this.emit('connect', pooled);
    return pooled;
  }

  private async openH3(url: URL, address: string): Promise<H3SecondaryCertConnection> {
    // Loaded on first use, so HTTP/2-only users never load the QUIC native module.
    const { connectH3 } = await import('../h3/client.js');
    const o = this.options;
    return connectH3(url, {
      ca: o.ca,
      connectAddress: address,
      ...(o.extension !== undefined ? { extension: o.extension } : {}),
      ...(o.h3Profile ? { profile: o.h3Profile } : {}),
      ...(o.crypto ? { crypto: o.crypto } : {}),
      ...(o.lookup ? { lookup: o.lookup } : {}),
      ...(o.maxCertificates !== undefined ? { maxCertificates: o.maxCertificates } : {}),
      ...(o.maxAuthenticatorSize !== undefined ? { maxAuthenticatorSize: o.maxAuthenticatorSize } : {}),
      ...(o.now ? { now: o.now } : {}),
      ...(o.maxBodySize !== undefined ? { maxBodySize: o.maxBodySize } : {}),
      ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    });
  }

  private async send(pooled: PooledConnection, url: URL, init: RequestInit, pick: { reused: boolean; authority: AuthorityAnswer }): Promise<AgentResponse> {
    if (!isH2(pooled)) {
      const headers = Object.fromEntries(Object.entries(init.headers ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
      const r = await pooled.connection.request(url, { ...(init.method ? { method: init.method } : {}), headers, ...(init.body !== undefined ? { body: init.body } : {}) });
      return { status: r.status, headers: { ...r.headers, ':status': String(r.status) } as IncomingHttpHeaders, body: r.body, connectionId: pooled.id, reused: pick.reused, authority: pick.authority };
    }
    return this.sendH2(pooled, url, init, pick);
  }

  private sendH2(pooled: PooledH2, url: URL, init: RequestInit, pick: { reused: boolean; authority: AuthorityAnswer }): Promise<AgentResponse> {
    const maxBody = this.options.maxBodySize ?? 64 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      const stream = pooled.connection.session.request({
        ':method': init.method ?? 'GET',
        ':scheme': 'https',
        ':authority': url.host,
        ':path': `${url.pathname}${url.search}`,
        ...init.headers,
      });
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('response', (h) => {
        headers = h;
        if (h['alt-svc'] !== undefined) this.optionsStar?.learnAltSvc(url.origin, String(h['alt-svc']));
      });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) stream.destroy(new RangeError(`response body larger than ${maxBody} bytes`));
        else chunks.push(chunk);
      });
      stream.on('error', reject);
      const timeoutMs = this.options.requestTimeoutMs ?? 30_000;
      stream.setTimeout(timeoutMs, () => {
        reject(new RequestTimeout(`no response from ${url.origin} in ${timeoutMs} ms`));
        stream.close(constants.NGHTTP2_CANCEL);
      });
      stream.on('close', () => reject(new Error(`the stream closed before the response ended (code ${stream.rstCode ?? 'none'})`)));
      stream.on('end', () =>
        resolve({
          status: Number(headers[':status']),
          headers,
          body: Buffer.concat(chunks),
          connectionId: pooled.id,
          reused: pick.reused,
          authority: pick.authority,
        }),
      );
      stream.end(init.body);
    });
  }
}

function isH2(pooled: PooledConnection): pooled is PooledH2 {
  return pooled.protocol === 'h2';
}
