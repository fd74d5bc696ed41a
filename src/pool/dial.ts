import { connect, type ClientOptions, type SecondaryCertConnection } from '../h2/client.js';
import type { H3SecondaryCertConnection } from '../h3/client.js';
import type { H3Extension } from '../h3/extension.js';
import type { H3Profile } from '../h3/profile.js';

// How the agent opens a connection of each protocol: the one place in the pool that names HTTP/2 and
// HTTP/3. Everything else holds the connections as PoolableConnections.

export interface DialOptions extends Omit<ClientOptions, 'connectAddress'> {
  /** The protocol of the connections the agent opens (default 'h2'). */
  protocol?: 'h2' | 'h3';
  /** Codepoints for HTTP/3 connections (`profile` is HTTP/2's). */
  h3Profile?: H3Profile;
  /** Extensions of HTTP/3 connections (`extensions` are HTTP/2's), e.g. H3ClientAuthClient. */
  h3Extensions?: readonly H3Extension<H3SecondaryCertConnection>[];
}

export type Dialed = { protocol: 'h2'; connection: SecondaryCertConnection } | { protocol: 'h3'; connection: H3SecondaryCertConnection };

/** Opens a connection to `url` at `address` (the URL's host stays the SNI name and the origin). */
export async function dial(url: URL, address: string, options: DialOptions): Promise<Dialed> {
  if (options.protocol !== 'h3') return { protocol: 'h2', connection: await connect(url, { ...options, connectAddress: address }) };
  // Loaded on first use, so HTTP/2-only users never load the QUIC native module.
  const { connectH3 } = await import('../h3/client.js');
  const o = options;
  const connection = await connectH3(url, {
    ca: o.ca,
    connectAddress: address,
    ...(o.extension !== undefined ? { extension: o.extension } : {}),
    ...(o.h3Profile ? { profile: o.h3Profile } : {}),
    ...(o.h3Extensions ? { extensions: o.h3Extensions } : {}),
    ...(o.crypto ? { crypto: o.crypto } : {}),
    ...(o.lookup ? { lookup: o.lookup } : {}),
    ...(o.maxCertificates !== undefined ? { maxCertificates: o.maxCertificates } : {}),
    ...(o.maxAuthenticators !== undefined ? { maxAuthenticators: o.maxAuthenticators } : {}),
    ...(o.maxAuthenticatorSize !== undefined ? { maxAuthenticatorSize: o.maxAuthenticatorSize } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.maxBodySize !== undefined ? { maxBodySize: o.maxBodySize } : {}),
    ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    // requestOCSP is HTTP/2's: the QUIC stack sends no status_request, so HTTP/3 SERVER_CERTIFICATEs staple nothing.
    ...(o.stapling ? { stapling: o.stapling } : {}),
  });
  return { protocol: 'h3', connection };
}
