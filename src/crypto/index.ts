import { nodeCrypto } from './node.js';

export type { CryptoProvider, HashName, PublicKeyHandle, Signer } from './provider.js';
export { HASH_LENGTH } from './provider.js';
export { nodeCrypto, signerFromKeyObject } from './node.js';
export { portableCrypto } from './portable.js';

/** The provider used when a caller names none: the fast one. */
export const defaultCrypto = nodeCrypto;
