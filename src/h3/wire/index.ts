// The HTTP/3 frame codecs, the streaming frame reader and the per-stream rules.
export * from './frame.js';
export * from './settings.js';
export * from './core.js';
export * from './certificates.js';
export * from './parse.js';
export * from './reader.js';
export * from './streams.js';
