// The exporter shim without any Node built-in (the browser entry of secondary-certs/exporter): keys from
// given exporter values or from a key log's EXPORTER_SECRET. index.ts adds keysFromTlsSocket.
export { keysFromExporter, keysFromValues, hashForCipherSuite, EXPORTER_LABELS, type AuthenticatorKeys, type RoleKeys, type Role, type Exporter } from './keys.js';
export { keysFromExporterSecret, keysFromKeyLog, parseKeyLogExporterSecrets, hkdfExpandLabel, type KeyLogExporterSecret } from './exporter-secret.js';
