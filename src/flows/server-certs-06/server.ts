import { EventEmitter } from 'node:events';
import { hex } from '../../codec/writer.js';
import { defaultCrypto } from '../../crypto/index.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { createAuthenticator, createEmptyAuthenticator, type AuthenticatorRequest } from '../../ea/index.js';
import { H2ConnectionError, H2ErrorCode, SecondaryCertsError } from '../../errors.js';
import type { H2Extension, H2ExtensionContext } from '../../h2/extension.js';
import type { H2Profile } from '../../h2/profile.js';
import { certificateCovers, loadIdentity, type LoadedIdentity, type SecondaryIdentity, type ServerConnection } from '../../h2/server.js';
import { parseCertificateNeeded, type CertificateNeededFields } from '../../h2/wire/certificate-needed.js';
import { parseCertificateRequest, type CertificateRequestFields } from '../../h2/wire/certificate-request.js';
import type { FrameHeader } from '../../h2/wire/frame-header.js';
import { draft06SettingOf, type ExporterSetting } from '../client-auth/negotiation.js';
import { acceptRequest, describe, IdSet, positive, protocolError, sendCertificate, sendUse } from './common.js';

// The server half of draft-ietf-httpbis-http2-secondary-certs-06's server certificates, an extension of
// SecondaryCertServer:
// - it sends the server-direction setting (section 2.1: the single SETTINGS_HTTP_CERT_AUTH or
//   SETTINGS_HTTP_SERVER_CERT_AUTH, as the profile says), and does nothing more until both sides sent the
//   exporter value the other expects;
// - then it proves each identity unasked (CERTIFICATE with UNSOLICITED, section 2.2), unless told not to;
// - and it answers a client's CERTIFICATE_REQUEST + CERTIFICATE_NEEDED(stream 0) (section 2.3.1) with the
//   identity whose certificate covers the request's server_name (section 3.3.1): CERTIFICATE frames as
//   soon as the request arrives (section 2.2's SHOULD), USE_CERTIFICATE(stream 0) naming them once the
//   CERTIFICATE_NEEDED does; one already proven on the connection is named again, not rebuilt; with
//   none, an empty authenticator (section 2.3.1's MUST).
// A proven identity joins ServerConnection.sent, so `connection.covers(host)` serves its origins.

export interface ServerCerts06ServerOptions {
  /** Identities the server proves (chain and key or signer), loaded once. */
  identities: readonly (SecondaryIdentity | LoadedIdentity)[];
  /** Prove every identity unasked once the server direction is negotiated (default true). */
  sendUnsolicited?: boolean;
  /** CERTIFICATE_REQUEST frames a client may send on one connection; more is ENHANCE_YOUR_CALM (default 64; section 6.2's rate limit). */
  maxRequestsPerConnection?: number;
  /** CERTIFICATE_REQUEST and CERTIFICATE_NEEDED frames waiting for an answer; more is ENHANCE_YOUR_CALM (default 16). */
  maxQueued?: number;
  crypto?: CryptoProvider;
}

/** An identity proven on a connection, or a request answered with an empty authenticator. */
export interface Certificate06SentEvent {
  connection: ServerConnection;
  /** The Cert-ID named; absent when the answer named none (Cert-IDs used up). */
  certId?: number;
  /** The subjectAltName entries proven (empty for a refusal). */
  names: string[];
  unsolicited: boolean;
  /** The client's Request-ID this answers. */
  requestId?: number;
  /** The server_name the client asked for. */
  serverName?: string;
  /** Bytes of the authenticator (absent when a Cert-ID sent earlier was named again). */
  bytes?: number;
  /** Why no certificate was proven (no identity covers the name, no common scheme). */
  declined?: string;
}

export interface ServerCerts06ServerEvents {
  certificateSent: [event: Certificate06SentEvent];
  protocolError: [error: H2ConnectionError, connection: ServerConnection];
}

/**
 * -06 server certificates on SecondaryCertServer: pass it in the server's `extensions`. Events:
 * 'certificateSent' (Certificate06SentEvent), 'protocolError' (H2ConnectionError, ServerConnection).
 */
export class ServerCerts06Server extends EventEmitter<ServerCerts06ServerEvents> implements H2Extension<ServerConnection> {
  readonly sendUnsolicited: boolean;
  readonly maxRequests: number;
  readonly maxQueued: number;
  readonly crypto: CryptoProvider;
  private loaded: Promise<LoadedIdentity[]> | undefined;

  constructor(private readonly options: ServerCerts06ServerOptions) {
    super();
    if (!Array.isArray(options.identities)) throw new TypeError('identities must be a list');
    this.sendUnsolicited = options.sendUnsolicited ?? true;
    this.maxRequests = positive(options.maxRequestsPerConnection ?? 64, 'maxRequestsPerConnection');
    this.maxQueued = positive(options.maxQueued ?? 16, 'maxQueued');
    this.crypto = options.crypto ?? defaultCrypto();
  }

  /** The identities, loaded on first use. */
  identities(): Promise<LoadedIdentity[]> {
    this.loaded ??= Promise.all(this.options.identities.map((i) => ('leaf' in i ? (i as LoadedIdentity) : loadIdentity(i, this.crypto))));
    return this.loaded;
  }

  /** CERTIFICATE_REQUEST and CERTIFICATE_NEEDED: what a client sends to ask for a server certificate. */
  frameTypes(profile: H2Profile): number[] {
    return [profile.frames.CERTIFICATE_REQUEST, profile.frames.CERTIFICATE_NEEDED];
  }

  attach(context: H2ExtensionContext, connection: ServerConnection): void {
    new ServerSide06(this, context, connection);
  }
}

/** The flow on one connection. */
class ServerSide06 {
  private readonly setting: ExporterSetting | undefined;
  private negotiated = false;
  /** Request-IDs the client used. */
  private readonly seen = new IdSet();
  /** The Cert-ID that answered each Request-ID, for the CERTIFICATE_NEEDED frames naming it. */
  private readonly answeredBy = new Map<number, number | undefined>();
  private requestCount = 0;
  /** Cert-IDs of what we proved, by the leaf's DER in hex. */
  private readonly certIdOf = new Map<string, number>();
  private nextCertId = 0;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(
    private readonly owner: ServerCerts06Server,
    private readonly context: H2ExtensionContext,
    private readonly connection: ServerConnection,
  ) {
    // RFC 9261 through Node needs TLS 1.3; a TLS 1.2 client is offered nothing.
    if (context.tlsProtocol === 'TLSv1.3' && !context.closed) this.setting = draft06SettingOf(context, 'server', 'server-certs');
    const setting = this.setting;
    if (setting) {
      context.sendSettings({ customSettings: { [setting.id]: setting.local } }, () => {
        setting.sent = true;
        this.check();
      });
    }
    context.onPeerSettings((settings) => {
      setting?.receiveMap(settings);
      this.check();
    });
    context.onFrame((header, payload) => this.onFrame(header, payload));
  }

  /** Runs once, when both sides have sent the values the other expects (section 2.2). */
  private check(): void {
    if (this.negotiated || !this.setting?.active) return;
    this.negotiated = true;
    if (this.owner.sendUnsolicited) this.enqueue(async () => {
      for (const identity of await this.owner.identities()) await this.proveUnsolicited(identity);
    });
  }

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    const { frames } = this.context.profile;
    const options = { profile: this.context.profile };
    try {
      if (header.type === frames.CERTIFICATE_REQUEST) {
        // Section 3.3: SHOULD NOT be sent unless negotiated; before that it means nothing to us.
        if (this.negotiated) this.onRequest(parseCertificateRequest(header, payload, options));
      } else if (header.type === frames.CERTIFICATE_NEEDED) {
        const needed = parseCertificateNeeded(header, payload, options);
        // Section 3.1: MUST NOT be sent to a server that did not advertise; we MAY treat it as this error.
        if (!this.negotiated) throw new H2ConnectionError(this.context.profile.errors.CERTIFICATE_WITHOUT_CONSENT, 'CERTIFICATE_NEEDED before the server-certificate settings were exchanged');
        this.onNeeded(needed);
      }
    } catch (e) {
      this.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.INTERNAL_ERROR, describe(e), { cause: e }));
    }
  }

  private onRequest(fields: CertificateRequestFields): void {
    const { requestId } = fields;
    if (this.seen.has(requestId)) throw protocolError(`Request-ID ${requestId} was already used`);
    if (++this.requestCount > this.owner.maxRequests) {
      throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.owner.maxRequests} CERTIFICATE_REQUEST frames on one connection`);
    }
    this.seen.add(requestId);
    const request = acceptRequest(fields.request, requestId, 'client', this.context.state);
    this.checkQueue();
    // Section 2.2: SHOULD provide the certificate at once, before the CERTIFICATE_NEEDED that blocks on it.
    this.enqueue(() => this.provide(requestId, request));
  }

  private onNeeded(fields: CertificateNeededFields): void {
    // A client asks for server certificates for stream 0 only (section 2.3.1); any other stream is ours to answer, not its to name.
    if (fields.streamId !== 0) throw protocolError(`a client sent CERTIFICATE_NEEDED for stream ${fields.streamId}; clients send it for stream 0 only`);
    if (!this.seen.has(fields.requestId)) throw protocolError(`CERTIFICATE_NEEDED names Request-ID ${fields.requestId}, which the client never sent`);
    this.checkQueue();
    // Queued after the request's own answer, so the Cert-ID it names is known by then.
    this.enqueue(async () => sendUse(this.context.profile, this.context, 0, this.answeredBy.get(fields.requestId)));
  }

  private checkQueue(): void {
    if (this.queued >= this.owner.maxQueued) throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.owner.maxQueued} frames waiting for an answer`);
  }

  /** One at a time: CERTIFICATE frames in request order, and each USE_CERTIFICATE after the answer it names. */
  private enqueue(task: () => Promise<void>): void {
    this.queued++;
    this.queue = this.queue
      .then(() => (this.context.closed ? undefined : task()))
      .catch((e: unknown) => this.fail(e instanceof H2ConnectionError ? e : new H2ConnectionError(H2ErrorCode.INTERNAL_ERROR, describe(e), { cause: e })))
      .finally(() => this.queued--);
  }

  /**
   * Answers one request: the identity whose certificate covers its server_name, named again when it was
   * proven on this connection already (section 3.2), else a new authenticator; with none, an empty one
   * (section 2.3.1's MUST). The Cert-ID is kept for the CERTIFICATE_NEEDED frames naming the request.
   */
  private async provide(requestId: number, request: AuthenticatorRequest): Promise<void> {
    const serverName = request.serverName;
    const identity = serverName === undefined ? undefined : (await this.owner.identities()).find((i) => certificateCovers(i.leaf, serverName));
    const base = { unsolicited: false, requestId, ...(serverName !== undefined ? { serverName } : {}) };
    const known = identity ? this.certIdOf.get(hex(identity.chain[0]!)) : undefined;
    if (known !== undefined) {
      this.answeredBy.set(requestId, known);
      this.report({ ...base, certId: known, names: identity!.names });
      return;
    }
    if (this.nextCertId > 0xffff) {
      // No Cert-ID left: the USE_CERTIFICATE will name none (the TLS certificate).
      this.report({ ...base, names: [], declined: 'Cert-IDs are used up' });
      return;
    }
    const built = await this.build(identity, request, serverName);
    if (this.context.closed) return;
    const certId = this.nextCertId++;
    sendCertificate(this.context, certId, built.authenticator, { unsolicited: false, requestId });
    this.answeredBy.set(requestId, certId);
    if (identity && !built.declined) this.proven(identity, certId);
    this.report({ ...base, certId, names: built.declined ? [] : identity!.names, bytes: built.authenticator.length, ...(built.declined ? { declined: built.declined } : {}) });
  }

  /** An authenticator for `identity` answering `request`, or an empty one (section 2.3.1: MUST, when we have none). */
  private async build(identity: LoadedIdentity | undefined, request: AuthenticatorRequest, serverName: string | undefined): Promise<{ authenticator: Uint8Array; declined?: string }> {
    const base = { keys: this.context.keys(), creator: 'server' as const, request, state: this.context.state, crypto: this.owner.crypto };
    let declined = serverName === undefined ? 'the request names no server_name (-06 section 3.3.1 requires it)' : `no identity covers ${serverName}`;
    if (identity) {
      try {
        return { authenticator: await createAuthenticator({ ...base, certificateChain: identity.chain, signer: identity.signer }) };
      } catch (e) {
        if (!(e instanceof SecondaryCertsError)) throw e;
        declined = describe(e);
      }
    }
    return { authenticator: createEmptyAuthenticator(base), declined };
  }

  private async proveUnsolicited(identity: LoadedIdentity): Promise<void> {
    if (this.context.closed || this.nextCertId > 0xffff || this.certIdOf.has(hex(identity.chain[0]!))) return;
    let authenticator: Uint8Array;
    try {
      authenticator = await createAuthenticator({ keys: this.context.keys(), creator: 'server', certificateChain: identity.chain, signer: identity.signer, state: this.context.state, crypto: this.owner.crypto });
    } catch (e) {
      if (e instanceof SecondaryCertsError) return; // no scheme for it, say: this identity is not offered unasked
      throw e;
    }
    if (this.context.closed) return;
    const certId = this.nextCertId++;
    sendCertificate(this.context, certId, authenticator, { unsolicited: true });
    this.proven(identity, certId);
    this.report({ certId, names: identity.names, unsolicited: true, bytes: authenticator.length });
  }

  private proven(identity: LoadedIdentity, certId: number): void {
    this.certIdOf.set(hex(identity.chain[0]!), certId);
    if (!this.connection.sent.includes(identity)) this.connection.sent.push(identity);
  }

  private report(event: Omit<Certificate06SentEvent, 'connection'>): void {
    this.owner.emit('certificateSent', { connection: this.connection, ...event });
  }

  private fail(error: H2ConnectionError): void {
    if (this.context.closed) return;
    this.owner.emit('protocolError', error, this.connection);
    this.context.fail(error);
  }
}
