import { createAuthenticator, createEmptyAuthenticator, type AuthenticatorRequest } from '../../ea/index.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import type { AuthenticatorKeys } from '../../exporter/keys.js';
import { SecondaryCertsError } from '../../errors.js';
import { identityEntryExtensions } from '../../pki/identity.js';
import type { ConnectionState } from '../../ea/state.js';
import type { H2ConnectionError } from '../../errors.js';
import type { H2Profile } from '../../h2/profile.js';
import type { LoadedIdentity } from '../../h2/server.js';
import type { ClientCertificates } from './credentials.js';
import type { ClientAuthFlow } from './negotiation.js';

// What the client flows need from the connection they run on (ClientAuthConnection provides it).

/** Reported for every answer a client gives a server's request for a certificate. */
export interface ClientCertificateAnswer {
  flow: ClientAuthFlow;
  origin: string;
  /** -06: the stream the certificate was asked for. */
  streamId?: number;
  /** -06: the Cert-ID named in USE_CERTIFICATE (absent: none named). */
  certId?: number;
  /** Names in the certificate's subjectAltName (empty when declining). */
  names: string[];
  /** Size of the authenticator sent (absent when an earlier one was named again). */
  bytes?: number;
  /** -06: an authenticator sent earlier on this connection was named again. */
  reused?: boolean;
  /** Why no certificate was presented (the application declined, no signature scheme in common, too large). */
  declined?: string;
}

export interface BuiltAuthenticator {
  authenticator: Uint8Array;
  /** Set when this is an empty authenticator, with the reason. */
  declined?: string;
}

export interface ClientFlowHost {
  readonly profile: H2Profile;
  readonly state: ConnectionState;
  readonly certificates: ClientCertificates;
  /** The origin the connection was opened for. */
  readonly origin: string;
  readonly closed: boolean;
  /** The server's SETTINGS_MAX_FRAME_SIZE. */
  readonly peerMaxFrameSize: number;
  streamIsOpen(streamId: number): boolean;
  /** The origin of the request on one of our streams (the connection's origin if unknown). */
  originOfStream(streamId: number): string;
  sendFrame(type: number, flags: number, payload: Uint8Array): void;
  /** An authenticator for `identity` answering `request`, or an empty one (identity null, no common scheme, larger than maxSize). */
  build(identity: LoadedIdentity | null, request: AuthenticatorRequest, maxSize?: number): Promise<BuiltAuthenticator>;
  report(answer: ClientCertificateAnswer): void;
  fail(error: H2ConnectionError): void;
}

/** What building a client authenticator needs of the connection. */
export interface AnswerKeys {
  keys(): AuthenticatorKeys;
  readonly state: ConnectionState;
  readonly crypto: CryptoProvider;
}

/**
 * An authenticator for `identity` answering `request`, or an empty one (identity null, no common scheme,
 * larger than `maxSize`), with the reason for declining. Shared by both protocols' connections.
 */
export async function buildAnswer(on: AnswerKeys, identity: LoadedIdentity | null, request: AuthenticatorRequest, maxSize = Infinity): Promise<BuiltAuthenticator> {
  const base = { keys: on.keys(), creator: 'client' as const, request, crypto: on.crypto };
  const state = on.state;
  let declined = 'the application declined';
  if (identity) {
    try {
      // The identity's OCSP response and SCTs go along when the server's request asked for them.
      const entryExtensions = identityEntryExtensions(identity);
      const authenticator = await createAuthenticator({ ...base, certificateChain: identity.chain, signer: identity.signer, state, ...(entryExtensions ? { entryExtensions } : {}) });
      if (authenticator.length <= maxSize) return { authenticator };
      // The context is now recorded as answered, so the refusal is built without the state.
      declined = `the authenticator of ${authenticator.length} bytes exceeds the ${maxSize} bytes the server takes in one frame`;
      return { authenticator: createEmptyAuthenticator(base), declined };
    } catch (e) {
      if (!(e instanceof SecondaryCertsError)) throw e;
      declined = `${e.code}: ${e.message}`;
    }
  }
  return { authenticator: createEmptyAuthenticator({ ...base, state }), declined };
}
