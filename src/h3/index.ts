// HTTP/3 with secondary certificates: the server and client, their options and events, the codepoint
// profile, the errors, the extension's frame codecs, and the QUIC transport interface another stack
// can implement. The session, QPACK and the endpoint over quiche stay internal.
export { createH3SecondaryCertServer, H3SecondaryCertServer, H3ServerConnection, type H3ServerOptions, type H3ServerRequest, type H3ServerResponse, type H3RequestHandler, type H3CertificateSentEvent, type H3CertificateNotSentEvent, type H3ServerConnectionEvents, type H3ServerEvents } from './server.js';
export { connectH3, H3SecondaryCertConnection, type H3ClientOptions, type H3RequestInit, type H3Response, type H3CertificateEvent, type H3ConnectionEvents } from './client.js';
export { H3ConnectionError, H3StreamError, H3ConnectionClosed, H3ErrorCode, h3ErrorName, FieldSectionTooLarge, type H3ErrorName } from '../errors.js';
export { DEFAULT_H3_PROFILE, makeH3Profile, type H3Profile, type H3ProfileOverrides } from './profile.js';
export { encodeServerCertificateFrame, parseServerCertificate, encodeClientCertificateFrame, parseClientCertificate, encodeAuthenticatorRequestsFrame, parseAuthenticatorRequests, DEFAULT_MAX_AUTHENTICATOR_SIZE, type AuthenticatorFields, type AuthenticatorRequestsFields } from './wire/certificates.js';
export type { TransportConnection, TransportServer, TransportStream, TransportClose } from './transport/transport.js';
export { TransportClosed, StreamResetByPeer, StreamAborted, StreamLimitReached, QuicConnectTimeout, QuicHandshakeFailed, QuicUnavailable } from './transport/errors.js';
export type { H3Extension, H3ExtensionContext } from './extension.js';
