export { serializeBinaryItem, serializeBinaryList, parseBinaryItem, parseBinaryList, DEFAULT_MAX_FIELD_LENGTH, DEFAULT_MAX_LIST_MEMBERS, type SfBinaryParseOptions } from './sf-binary.js';
export { CLIENT_CERT, CLIENT_CERT_CHAIN, encodeClientCertFields, readClientCertFields, hasClientCertFields, isClientCertField, fieldLines, type HeaderRecord, type HeaderValue, type ClientCertLimits } from './fields.js';
export { forwardClientCert, forwardClientCertRaw, sanitizeResponseHeaders, identityFromTlsSocket, identityFromAuthenticator, type ForwardedIdentity } from './forward.js';
export { ClientCertOrigin, sendRefusal, type ClientCertOriginOptions, type ClientCertIdentity, type ClientCertRefusal, type ClientCertRefusalCode, type ClientCertVerdict, type PeerSocket, type RequestLike } from './origin.js';
export { clientCertBinding, verifyClientCertBinding, CLIENT_CERT_BINDING, CLIENT_CERT_BINDING_LABEL, type ExporterSocket } from './binding.js';
