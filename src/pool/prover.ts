import type { AuthorityAnswer } from '../http/authority.js';
import type { PooledConnection, PoolResponse } from './connection.js';

// A way to make an open connection authoritative for one more origin without a new connection (e.g. our
// OPTIONS * profile, secondary-certs/options-star): the agent asks its provers, in order, before it opens
// a connection for an origin no open one may carry. Provers come from above the pool; the pool knows
// only this interface.

export interface ProvenOrigin {
  pooled: PooledConnection;
  /** Why `pooled` may now carry the origin's requests. */
  authority: AuthorityAnswer;
}

export interface OriginProver {
  /**
   * Proves `origin` on one of `candidates` (the agent's open connections, oldest first), or resolves
   * undefined when none could be made authoritative for it.
   */
  prove(candidates: readonly PooledConnection[], origin: string): Promise<ProvenOrigin | undefined>;
  /** Sees the header fields of every response the agent got for `origin` (e.g. Alt-Svc). */
  observeResponse?(origin: string, headers: PoolResponse['headers'], pooled: PooledConnection): void;
  /** Sees every connection the agent opens. */
  observeConnection?(pooled: PooledConnection): void;
}
