// The crypto entry for bundlers targeting browsers (package.json's "browser" condition): everything of
// index.ts but the node:crypto provider. The default stays the portable provider.
export type { CryptoProvider, HashName, PublicKeyHandle, Signer } from './provider.js';
export { HASH_LENGTH } from './provider.js';
export { portableCrypto } from './portable.js';
export { defaultCrypto, setDefaultCrypto } from './default.js';
