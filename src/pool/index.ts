// The connection pool above both protocols: one agent that routes each origin to a connection whose
// certificates cover it, over HTTP/2 or HTTP/3.
export { SecondaryCertAgent, type AgentOptions, type AgentResponse, type RequestInit, type AgentEvents, type PoolDecision } from './agent.js';
export type { PoolableConnection, PooledConnection, PooledH2, PooledH3, PoolRequestInit, PoolResponse } from './connection.js';
export type { OriginProver, ProvenOrigin } from './prover.js';
