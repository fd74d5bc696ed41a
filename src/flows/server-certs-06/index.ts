// -06 server certificates over HTTP/2 (draft-ietf-httpbis-http2-secondary-certs-06 sections 2.2, 2.3.1, 3, 5):
// the server's extension, the client's, and the Required Domain helpers they rest on.
export { ServerCerts06Server, type ServerCerts06ServerOptions, type ServerCerts06ServerEvents, type Certificate06SentEvent } from './server.js';
export { ServerCerts06Client, ServerCerts06Connection, type ServerCerts06ClientOptions, type ServerCerts06ConnectionEvents, type ServerCertificate06Event, type RequestedServerCertificate } from './client.js';
export { encodeRequiredDomain, readRequiredDomain, checkRequiredDomain, type RequiredDomain } from '../../pki/required-domain.js';
export { ServerCertificateRefused, type ServerCertRefusal } from '../../errors.js';
export { DRAFT_06_PROFILE } from '../../h2/profile.js';
