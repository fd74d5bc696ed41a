// HTTP/3 with secondary certificates: server, client, the session beneath them, the codecs, and the
// QUIC transport interface (with its implementation over quiche's native binding).
export { createH3SecondaryCertServer, H3SecondaryCertServer, H3ServerConnection, type H3ServerOptions, type H3ServerRequest, type H3ServerResponse, type H3RequestHandler, type H3CertificateSentEvent, type H3CertificateNotSentEvent, type H3ServerConnectionEvents, type H3ServerEvents } from './server.js';
export { connectH3, H3SecondaryCertConnection, type H3ClientOptions, type H3RequestInit, type H3Response, type H3CertificateEvent, type H3ConnectionEvents } from './client.js';
export { H3Session, splitMessage, type H3SessionOptions, type H3Message } from './session.js';
export { H3ConnectionError, H3StreamError, H3ConnectionClosed, H3ErrorCode, h3ErrorName, FieldSectionTooLarge, type H3ErrorName } from '../errors.js';
export { DEFAULT_H3_PROFILE, makeH3Profile, type H3Profile, type H3ProfileOverrides } from './profile.js';
export * from './wire/index.js';
export * from './qpack.js';
export type { TransportConnection, TransportServer, TransportStream, TransportClose } from './transport/transport.js';
export { connectQuic, listenQuic, TransportClosed, StreamResetByPeer, StreamAborted, StreamLimitReached, QuicConnectTimeout, QuicHandshakeFailed, QuicUnavailable, DEFAULT_FLOW_CONTROL, type QuicConnectOptions, type QuicListenOptions, type QuicFlowControl } from './transport/index.js';
