import { portableCrypto } from './portable.js';
import type { CryptoProvider } from './provider.js';

// The provider used when a caller names none. It starts as the portable one, so the core needs no Node
// built-in; the Node entry points (crypto/index.ts, and ea/ and exporter/ through it) install the
// node:crypto provider, which is faster, as soon as they load.

let current: CryptoProvider = portableCrypto;

/** The provider used when an options object names none. */
export function defaultCrypto(): CryptoProvider {
  return current;
}

/** Makes `provider` the default for every later call that names none. */
export function setDefaultCrypto(provider: CryptoProvider): void {
  current = provider;
}
