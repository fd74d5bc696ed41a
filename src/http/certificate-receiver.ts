import type { CryptoProvider } from '../crypto/provider.js';
import { debug, debugging } from '../debug.js';
import { ConnectionState, validateAuthenticator } from '../ea/index.js';
import { SecondaryCertsError, TooManyAuthenticators } from '../errors.js';
import type { AuthenticatorKeys } from '../exporter/keys.js';
import { acceptValidatedChain, type CertificateEvent } from '../pki/accept-chain.js';
import { CertificatePolicy, type AcceptedCertificate, type Stapled, type StaplingPolicy } from '../pki/policy.js';
import { stapledOf } from '../pki/stapled.js';

// What a client does with the server's certificates, the same over HTTP/2 and HTTP/3: each authenticator
// is validated (RFC 9261) in arrival order with the connection's keys and contexts, then the certificate
// policy decides; accepted chains are held (up to a cap) and every outcome is reported. An authenticator
// that does not validate is handed back, for the protocol to close the connection its own way. Past a cap
// of authenticators per connection, further ones are ignored unread: validating each costs milliseconds
// of CPU (mostly the policy), and a server could send thousands.

/** Default of `maxAuthenticators`: twice the certificates held (32), room for some that are refused. */
export const DEFAULT_MAX_AUTHENTICATORS = 64;

export interface CertificateReceiverOptions {
  /** Trust anchors (PEM text or DER) for the TLS certificate and for secondary certificates. */
  ca: ReadonlyArray<string | Uint8Array>;
  /** The clock for certificate validity (default: now). */
  now?: () => Date;
  /** Secondary certificates kept per connection; more are ignored (default 32). */
  maxCertificates?: number;
  /** RFC 9261 contexts the connection remembers (requests and authenticators) before refusing more (default 65,536). */
  maxContexts?: number;
  /** What the certificate policy makes of stapled OCSP responses and SCTs (default: ignored). */
  stapling?: StaplingPolicy;
  /**
   * Server authenticators (SERVER_CERTIFICATE frames) processed per connection, accepted or not (default
   * 64). Later ones are ignored without validation or policy work; the first of them is reported once, as
   * a 'certificate' event with reason ERR_TOO_MANY_AUTHENTICATORS. The connection goes on.
   */
  maxAuthenticators?: number;
  crypto?: CryptoProvider;
}

export interface CertificateReceiverHooks {
  /** Who receives, for the debug log (e.g. "h2 client https://a.example"). */
  name: string;
  /** The connection's RFC 9261 keys; asked for each authenticator. */
  keys(): AuthenticatorKeys;
  /**
   * CertificateEntry extension types our TLS ClientHello offered (RFC 9261 section 5.2.1): a
   * SERVER_CERTIFICATE may carry those and no others. Default none.
   */
  offeredEntryExtensions?: readonly number[];
  /** True once the connection is closed: authenticators still queued are dropped. */
  closed(): boolean;
  /** A chain went through the certificate policy, accepted or not. */
  certificate(event: CertificateEvent): void;
  /** An authenticator did not validate (RFC 9261); `message` says why, `cause` is the validation error. */
  invalid(message: string, cause: unknown): void;
}

export class CertificateReceiver {
  /** RFC 9261 contexts of the connection, shared by every authenticator flow on it (frames, OPTIONS *). */
  readonly state: ConnectionState;
  /** Accepted secondary certificates, in the order accepted. */
  readonly certificates: AcceptedCertificate[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly policy: CertificatePolicy;
  /** Authenticators taken for processing (queued or done), and those ignored past the cap. */
  private taken = 0;
  private ignored = 0;

  constructor(
    private readonly options: CertificateReceiverOptions,
    private readonly hooks: CertificateReceiverHooks,
  ) {
    this.state = new ConnectionState('client', options.maxContexts);
    this.policy = new CertificatePolicy({ ...options.stapling, trustAnchors: options.ca, role: 'server', ...(options.now ? { now: options.now } : {}) });
  }

  /** Resolves once every authenticator received so far has been processed. */
  settled(): Promise<void> {
    return this.queue;
  }

  /**
   * Queues a spontaneous server authenticator (from a SERVER_CERTIFICATE frame, described by `frame` in
   * the log). Validation is asynchronous; authenticators are handled one at a time, in arrival order.
   */
  receive(authenticator: Uint8Array, frame: string): void {
    const max = this.options.maxAuthenticators ?? DEFAULT_MAX_AUTHENTICATORS;
    if (this.taken >= max) {
      this.ignore(frame, max);
      return;
    }
    this.taken++;
    this.queue = this.queue.then(() => this.validate(authenticator, frame));
  }

  /** Past the cap: no validation, no policy, nothing held; the first one is reported, after those queued. */
  private ignore(frame: string, max: number): void {
    if (this.ignored++ > 0) return;
    const limit = new TooManyAuthenticators(`${max} server authenticators already processed on this connection (maxAuthenticators): this one and later ones are ignored, unvalidated`);
    if (debugging) debug('%s: %s: %s', this.hooks.name, frame, limit.message);
    this.queue = this.queue.then(() => {
      if (!this.hooks.closed()) this.hooks.certificate({ names: [], accepted: false, reason: `${limit.code}: ${limit.message}` });
    });
  }

  private async validate(authenticator: Uint8Array, frame: string): Promise<void> {
    if (this.hooks.closed()) return;
    let chain: Uint8Array[];
    let stapled: Stapled;
    try {
      const validated = await validateAuthenticator({
        keys: this.hooks.keys(),
        creator: 'server',
        authenticator,
        state: this.state,
        offeredEntryExtensions: this.hooks.offeredEntryExtensions ?? [],
        ...(this.options.crypto ? { crypto: this.options.crypto } : {}),
      });
      chain = validated.chain;
      stapled = stapledOf(validated.entries[0]);
    } catch (e) {
      // Every RFC 9261 failure, the empty authenticator included, is SERVER_CERTIFICATE_INVALID (draft section 6).
      const why = e instanceof SecondaryCertsError ? `${e.code}: ${e.message}` : String(e);
      if (debugging) debug('%s: %s: invalid (%s), closing with SERVER_CERTIFICATE_INVALID', this.hooks.name, frame, why);
      this.hooks.invalid(`SERVER_CERTIFICATE does not validate (${why})`, e);
      return;
    }
    // Closed while the signature was being checked (a GOAWAY, a reset): the certificate can serve nothing.
    if (this.hooks.closed()) {
      if (debugging) debug('%s: %s: valid (RFC 9261), but the connection closed meanwhile: not checked further', this.hooks.name, frame);
      return;
    }
    const event = await this.acceptChain(chain, stapled);
    if (debugging) debug('%s: %s: valid (RFC 9261), %s for %s', this.hooks.name, frame, event.accepted ? 'accepted' : `not used (${event.reason})`, event.names.join(', '));
  }

  /**
   * Applies the certificate policy to a chain that an authenticator validated on this connection (a
   * SERVER_CERTIFICATE, or an answer to our own request such as OPTIONS *). An accepted chain joins the
   * held certificates; either way the outcome is reported. A valid authenticator whose certificate is not
   * acceptable is not an error (draft section 6.2). `stapled` is what the leaf's CertificateEntry carried.
   */
  async acceptChain(chain: Uint8Array[], stapled: Stapled = {}): Promise<CertificateEvent> {
    const event = await acceptValidatedChain(this.policy, this.certificates, chain, this.options.maxCertificates ?? 32, stapled);
    this.hooks.certificate(event);
    return event;
  }
}
