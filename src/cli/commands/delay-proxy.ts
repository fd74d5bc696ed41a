import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

// A TCP proxy that holds every chunk `delayMs` in each direction: a round trip of 2 × delayMs added on
// loopback, for machines where `tc netem` is not available. Order is kept: each chunk leaves delayMs
// after it arrived, and chunks of one direction are never reordered. With `connectRoundTrip`, the first
// bytes a client sends also wait one more round trip, as TCP's own handshake would make them: the proxy
// accepts at once on loopback, so without it a new connection looks one round trip cheaper than it is.

export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

export interface DelayProxyOptions {
  /** Charge each new connection one round trip for TCP's handshake (default false). */
  connectRoundTrip?: boolean;
}

export async function startDelayProxy(target: { host: string; port: number }, delayMs: number, options: DelayProxyOptions = {}): Promise<DelayProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(target.port, target.host);
    for (const s of [inbound, outbound]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    const notBefore = options.connectRoundTrip ? performance.now() + 3 * delayMs : 0;
    relay(inbound, outbound, delayMs, notBefore);
    relay(outbound, inbound, delayMs, 0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Relays `from` to `to`, each chunk (and the end) due delayMs after it arrived, and never before `notBefore`. */
function relay(from: net.Socket, to: net.Socket, delayMs: number, notBefore: number): void {
  // One queue and one timer per direction: due times only grow, so the order is the arrival order.
  const queue: { due: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    timer = undefined;
    // Timers keep whole milliseconds: a chunk due within the next one leaves now rather than a timer later.
    const now = performance.now() + 1;
    while (queue.length > 0 && (queue[0] as { due: number }).due <= now) {
      const { chunk } = queue.shift() as { chunk: Buffer | null };
      if (chunk === null) to.end();
      else if (to.writable) to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(pump, (queue[0] as { due: number }).due - performance.now());
  };
  const add = (chunk: Buffer | null): void => {
    queue.push({ due: Math.max(performance.now() + delayMs, notBefore), chunk });
    timer ??= setTimeout(pump, Math.max(0, (queue[0] as { due: number }).due - performance.now()));
  };
  from.on('data', (chunk: Buffer) => add(chunk));
  from.on('end', () => add(null));
}
