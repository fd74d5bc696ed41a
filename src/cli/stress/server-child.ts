import { getHeapStatistics } from 'node:v8';
import { startDemoServer } from '../commands/demo-server.js';
import { STRESS_ORIGINS } from './drive.js';

// The server the stress run drives, in a process of its own so that its memory and descriptors are its
// own: the demo server with six origins (the first as the TLS certificate, five secondary), over HTTP/2
// and, when asked, HTTP/3. It talks to its parent over the IPC channel: 'ready' once listening, a
// collection on request (so memory samples measure what is retained, not what is waiting for the
// collector), and it exits when the parent goes away.

interface Request {
  type: 'gc';
  id: number;
}

const h3 = process.argv.includes('--h3');
const server = await startDemoServer({ origins: STRESS_ORIGINS, host: '127.0.0.1', h3 });
const collect = (globalThis as { gc?: () => void }).gc;

process.on('message', (m: Request) => {
  if (m.type !== 'gc') return;
  collect?.();
  collect?.();
  // process.memoryUsage() opens a file (and throws EMFILE when descriptors run out); the heap figures do not.
  process.send?.({ type: 'gc', id: m.id, heapUsed: getHeapStatistics().used_heap_size, collected: collect !== undefined });
});

const stop = (): void => {
  void server.close().finally(() => process.exit(0));
  // Closing waits for connections; the parent has gone, so do not wait long for them.
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.send?.({ type: 'ready', port: server.port, h3Port: server.h3?.port, caPem: server.pki.caPem, origins: STRESS_ORIGINS });
