// The whole public API in one import; subpaths (secondary-certs/ea, /exporter, /crypto, /pki, /h2) give
// the layers one at a time.
export * from './errors.js';
export * from './ea/index.js';
export * from './exporter/index.js';
export * from './crypto/index.js';
export { SignatureScheme, schemeName, SUPPORTED_SCHEMES } from './tls/signature-scheme.js';
