// A UDP relay on loopback that holds every datagram for `delayMs` each way, so that a QUIC round trip
// takes time: what a client sends before the server's answer can come back (0-RTT data) really does.
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface UdpDelayRelay {
  port: number;
  close(): void;
}

export async function udpDelayRelay(target: { host: string; port: number }, delayMs: number): Promise<UdpDelayRelay> {
  const front = createSocket('udp4');
  // One socket towards the server per client address, so the server sees one peer per client.
  const backs = new Map<string, Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (f: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, delayMs);
    timers.add(t);
  };
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let back = backs.get(key);
    if (!back) {
      const socket = createSocket('udp4');
      socket.on('message', (answer) => later(() => front.send(answer, from.port, from.address)));
      socket.on('error', () => undefined);
      socket.connect(target.port, target.host);
      backs.set(key, socket);
      back = socket;
    }
    const out = back;
    later(() => {
      try {
        out.send(msg);
      } catch {
        /* not connected yet: a loss, which QUIC repairs */
      }
    });
  });
  front.on('error', () => undefined);
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  return {
    port: (front.address() as AddressInfo).port,
    close: () => {
      for (const t of timers) clearTimeout(t);
      for (const b of backs.values()) b.close();
      front.close();
    },
  };
}
