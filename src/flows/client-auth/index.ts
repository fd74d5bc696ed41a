export { ClientAuthServer, type ClientAuthServerOptions, type ClientAuthServerEvents, type ClientIdentity } from './server.js';
export { ClientAuthClient, ClientAuthConnection, type ClientAuthOptions, type ClientAuthConnectionEvents } from './client.js';
export { ClientCertificates, originKey, type ChooseClientCertificate, type ClientCertificateQuestion, type ClientCertificatesOptions, type ClientCertificatesEvents } from './credentials.js';
export type { ClientCertificateAnswer } from './client-flow.js';
export { ExporterSetting, exporterSettingValue, settingValueFromExporter, splitSettingValues, splitSettingValuesFromExporter, ALL_FLOWS, type ClientAuthFlow, type Draft06Direction } from './negotiation.js';
export type { CertificateOutcome } from './outcome.js';
export { H3ClientAuthServer, H3ClientAuthClient, H3ClientAuthConnection, type H3ClientAuthServerOptions, type H3ClientAuthServerEvents, type H3ClientAuthOptions, type H3ClientIdentity } from './h3.js';
