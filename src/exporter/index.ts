export * from './core.js';
export { keysFromTlsSocket } from './tls-socket.js';
