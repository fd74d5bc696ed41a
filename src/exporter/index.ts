export { keysFromExporter, keysFromValues, hashForCipherSuite, EXPORTER_LABELS, type AuthenticatorKeys, type RoleKeys, type Role, type Exporter } from './keys.js';
export { keysFromExporterSecret, keysFromKeyLog, parseKeyLogExporterSecrets, hkdfExpandLabel, type KeyLogExporterSecret } from './exporter-secret.js';
export { keysFromTlsSocket } from './tls-socket.js';
