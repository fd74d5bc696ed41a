import { setDefaultCrypto } from './default.js';
import { nodeCrypto } from './node.js';

export type { CryptoProvider, HashName, PublicKeyHandle, Signer } from './provider.js';
export { HASH_LENGTH } from './provider.js';
export { nodeCrypto, signerFromKeyObject } from './node.js';
export { portableCrypto } from './portable.js';
export { defaultCrypto, setDefaultCrypto } from './default.js';

// On Node, the fast provider is the default (the browser entry, browser.ts, keeps the portable one).
setDefaultCrypto(nodeCrypto);
