import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import type { CryptoProvider } from '../../crypto/provider.js';
import { defaultCrypto } from '../../crypto/index.js';
import type { AuthenticatorRequest } from '../../ea/index.js';
import { loadIdentity, type LoadedIdentity, type SecondaryIdentity } from '../../h2/server.js';
import type { ClientAuthFlow } from './negotiation.js';

// The client's choice of certificate, per origin. A server asks; the application's callback answers with
// an identity or declines (null); the decision is kept per origin, so the user is asked once, until the
// cache is cleared for that origin or for all, which is how a user switches identity without restarting.

/** What the callback is told when a server asks for a certificate. */
export interface ClientCertificateQuestion {
  /** The origin of the request that needs it (-06), or the one the connection was opened for (rosomakho). */
  origin: string;
  flow: ClientAuthFlow;
  /** The server's request: its signature schemes, certificate authorities, OID filters. Absent when it is no longer held. */
  request?: AuthenticatorRequest;
}

/** An identity (chain and key or signer), or null / undefined to decline. May be asynchronous (ask the user). */
export type ChooseClientCertificate = (
  question: ClientCertificateQuestion,
) => SecondaryIdentity | LoadedIdentity | null | undefined | Promise<SecondaryIdentity | LoadedIdentity | null | undefined>;

export interface ClientCertificatesOptions {
  crypto?: CryptoProvider;
  /** Origins whose decision is kept; the oldest is forgotten beyond this (default 1000). */
  maxOrigins?: number;
}

/** The events of a ClientCertificates and their listeners' arguments. */
export interface ClientCertificatesEvents {
  /** The decision for this origin, or (undefined) for all, was forgotten. */
  cleared: [origin: string | undefined];
  /** The callback threw; the request was declined. */
  chooseError: [error: unknown, question: ClientCertificateQuestion];
}

/**
 * Decisions per origin, shared by every connection that uses it (one per agent, say). Events:
 * 'cleared' (origin | undefined for all), 'chooseError' (error, question): the callback threw, and the
 * request was declined (that failure is not remembered).
 */
export class ClientCertificates extends EventEmitter<ClientCertificatesEvents> {
  private readonly decisions = new Map<string, Promise<LoadedIdentity | null>>();
  private readonly crypto: CryptoProvider;
  private readonly maxOrigins: number;

  constructor(
    private readonly choose: ChooseClientCertificate,
    options: ClientCertificatesOptions = {},
  ) {
    super();
    if (typeof choose !== 'function') throw new TypeError('choose must be a function');
    this.crypto = options.crypto ?? defaultCrypto();
    this.maxOrigins = options.maxOrigins ?? 1000;
    // One listener per open connection.
    this.setMaxListeners(0);
  }

  /** The identity to present for `question.origin`, or null to decline; asks the callback once per origin. */
  select(question: ClientCertificateQuestion): Promise<LoadedIdentity | null> {
    const origin = originKey(question.origin);
    let decision = this.decisions.get(origin);
    if (!decision) {
      decision = this.decide({ ...question, origin });
      this.decisions.set(origin, decision);
      if (this.decisions.size > this.maxOrigins) this.decisions.delete(this.decisions.keys().next().value as string);
      const mine = decision;
      decision.catch((e: unknown) => {
        if (this.decisions.get(origin) === mine) this.decisions.delete(origin);
        this.emit('chooseError', e, question);
      });
    }
    return decision.catch(() => null);
  }

  /** Whether a decision (or a pending question) is held for `origin`. */
  has(origin: string): boolean {
    return this.decisions.has(originKey(origin));
  }

  /** Forgets the decision for one origin, or all: the next request that needs a certificate asks again. */
  clear(origin?: string): void {
    if (origin === undefined) this.decisions.clear();
    else this.decisions.delete(originKey(origin));
    this.emit('cleared', origin === undefined ? undefined : originKey(origin));
  }

  private async decide(question: ClientCertificateQuestion): Promise<LoadedIdentity | null> {
    const answer = await this.choose(question);
    if (answer === null || answer === undefined) return null;
    return isLoaded(answer) ? answer : loadIdentity(answer, this.crypto);
  }
}

function isLoaded(identity: SecondaryIdentity | LoadedIdentity): identity is LoadedIdentity {
  return 'leaf' in identity && identity.leaf instanceof X509Certificate && Array.isArray(identity.chain) && 'signer' in identity && identity.signer !== undefined;
}

/** The canonical origin string (lower-case host, default port dropped). */
export function originKey(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    throw new TypeError(`not an origin: ${origin}`);
  }
}
