// The Node entry of secondary-certs/ea: the core, with node:crypto as the default provider. Bundlers
// targeting browsers take core.ts instead (package.json's "browser" condition).
import '../crypto/index.js';

export * from './core.js';
