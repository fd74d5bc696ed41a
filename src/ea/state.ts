import { ContextReused, TooManyContexts } from '../errors.js';
import type { Role } from '../exporter/keys.js';

/**
 * What one endpoint of one TLS connection has seen of certificate_request_context values, so that the
 * uniqueness rules of RFC 9261 hold:
 *  - a request's context is unique among requests on the connection, both types sharing one space (section 4);
 *  - a spontaneous authenticator's context is unique within the connection (section 5.2.1);
 *  - an endpoint builds at most one authenticator per context (section 5.2);
 *  - validation fails for a context already used by a validated authenticator (section 7.4).
 * Keep one per connection and per side; never share it between connections.
 */
export class ConnectionState {
  /** Bound on remembered contexts, so a peer cannot make us grow without limit. */
  static readonly MAX_CONTEXTS = 65_536;

  private readonly requests = new Set<string>();
  private readonly built = new Set<string>();
  private readonly validated = new Set<string>();

  /** `maxContexts`: how many contexts to remember before refusing more (TooManyContexts). */
  constructor(
    readonly role: Role,
    private readonly maxContexts = ConnectionState.MAX_CONTEXTS,
  ) {}

  /** True if the context appeared anywhere on this connection: a request either way, or an authenticator. */
  hasSeen(context: Uint8Array): boolean {
    const k = contextKey(context);
    return this.requests.has(k) || this.built.has(k) || this.validated.has(k);
  }

  wasValidated(context: Uint8Array): boolean {
    return this.validated.has(contextKey(context));
  }

  wasBuilt(context: Uint8Array): boolean {
    return this.built.has(contextKey(context));
  }

  /** Records a request sent or received; throws ContextReused if its context was already used by a request. */
  recordRequest(context: Uint8Array): void {
    const k = contextKey(context);
    if (this.requests.has(k)) throw new ContextReused('this certificate_request_context was already used by a request on this connection');
    this.add(this.requests, k);
  }

  recordBuilt(context: Uint8Array): void {
    this.add(this.built, contextKey(context));
  }

  recordValidated(context: Uint8Array): void {
    this.add(this.validated, contextKey(context));
  }

  private add(set: Set<string>, k: string): void {
    if (this.requests.size + this.built.size + this.validated.size >= this.maxContexts) {
      throw new TooManyContexts(`more than ${this.maxContexts} authenticator contexts on one connection`);
    }
    set.add(k);
  }
}

/**
 * The Set key for a context: one character per byte. A lookup costs ~0.2 us against ~0.6 us with hex, and
 * building or validating an authenticator looks its context up three or four times.
 */
function contextKey(context: Uint8Array): string {
  return String.fromCharCode.apply(null, context as unknown as number[]);
}
