import type { AuthorityAnswer } from '../http/authority.js';
import type { CertificateEvent } from '../pki/accept-chain.js';
import type { AcceptedCertificate } from '../pki/policy.js';
import type { SecondaryCertConnection } from '../h2/client.js';
import type { H3SecondaryCertConnection } from '../h3/client.js';

// What the pool needs of a connection, whatever its protocol. HTTP/2's SecondaryCertConnection and
// HTTP/3's H3SecondaryCertConnection both have this shape without knowing of it (the agent checks that
// they fit); the pool holds them through it and has no protocol code of its own.

export interface PoolRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

export interface PoolResponse {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
}

/** A client connection the pool can hold and route requests to. */
export interface PoolableConnection {
  /** The origin it was opened for. */
  readonly origin: string;
  /** Secondary certificates accepted on it. */
  readonly certificates: readonly AcceptedCertificate[];
  /** Origins a 421 took away from it. */
  readonly excluded: Set<string>;
  /** Origins from ORIGIN frames; undefined until the first one arrives. */
  readonly originFrameSet: ReadonlySet<string> | undefined;
  readonly closed: boolean;
  /** Whether both sides turned the secondary-certificate extension on. */
  readonly negotiated: boolean;
  readonly peerAddress: string | undefined;
  /** May a request for `origin` go on it, and why (or why not). */
  authorityFor(origin: string | URL): Promise<AuthorityAnswer>;
  /** Resolves once every certificate received so far has been processed. */
  settled(): Promise<void>;
  /** Resolves once the peer's SETTINGS arrived: a connection not negotiated by then never will be. */
  settingsReceived(): Promise<void>;
  request(url: string | URL, init?: PoolRequestInit): Promise<PoolResponse>;
  close(): Promise<void>;
  on(event: 'certificate', listener: (event: CertificateEvent) => void): this;
  on(event: 'negotiated' | 'close', listener: () => void): this;
  on(event: 'protocolError', listener: (error: Error) => void): this;
  off(event: 'certificate', listener: (event: CertificateEvent) => void): this;
  off(event: 'negotiated' | 'close', listener: () => void): this;
  off(event: 'protocolError', listener: (error: Error) => void): this;
}

interface PooledBase {
  /** The agent's number for it (1 for the first it opened). */
  id: number;
  openedFor: string;
  /** When its connect completed (Date.now()). */
  openedAt: number;
  negotiatedAt?: number;
  /** The peer's SETTINGS arrived: if it has not negotiated the extension by then, it never will. */
  peerSettingsSeen?: boolean;
}
export interface PooledH2 extends PooledBase {
  protocol: 'h2';
  connection: SecondaryCertConnection;
}
export interface PooledH3 extends PooledBase {
  protocol: 'h3';
  connection: H3SecondaryCertConnection;
}
/** A connection and the agent's number for it; `protocol` tells which kind, for users who need more than the pool's view. */
export type PooledConnection = PooledH2 | PooledH3;
