// HTTP/2 with secondary certificates: the server extension and client, their options and events, the
// surface extensions attach through, the codepoint profile and the errors. The splicer stays internal.
export { createSecondaryCertServer, SecondaryCertServer, ServerConnection, extensionServerSettings, loadIdentity, certificateCovers, type SecondaryIdentity, type LoadedIdentity, type ServerExtensionOptions, type CertificateSentEvent, type CertificateNotSentEvent, type ServerConnectionEvents, type ServerEvents, type ServerLimits, type ConnectionLimitError, DEFAULT_SERVER_LIMITS, DEFAULT_HANDSHAKE_TIMEOUT_MS } from './server.js';
export { connect, SecondaryCertConnection, defaultLookup, type ClientOptions, type H2RequestInit, type H2Response, type Lookup, type AuthorityAnswer, type CertificateEvent, type ConnectionEvents, type ServerGoaway } from './client.js';
export type { H2Extension, H2ExtensionContext } from './extension.js';
export { DEFAULT_PROFILE, DRAFT_06_PROFILE, makeProfile, type H2Profile, type H2ProfileOverrides, type Draft06Options } from './profile.js';
export { H2ConnectionError, H2ErrorCode } from '../errors.js';
