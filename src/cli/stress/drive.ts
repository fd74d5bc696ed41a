import { connect, DEFAULT_PROFILE, type CertificateEvent, type SecondaryCertConnection } from '../../h2/index.js';
import type { H3SecondaryCertConnection } from '../../h3/index.js';

// One stressed connection, start to finish: connect, receive and validate the server's certificates
// (SERVER_CERTIFICATE, RFC 9261 then the certificate policy), then one request for every origin on that
// connection. Whatever goes wrong is a ConnectionFailure of one kind, so a run can count them by kind.
// Every step is bounded: a connection that is not done within its time is a failure, never a hang.

/** The origins a stress server proves: the first is the TLS certificate's, the others are secondary. */
export const STRESS_ORIGINS = ['a.example', 'b.example', 'c.example', 'd.example', 'e.example', 'f.example'];

export const FAILURE_KINDS = ['dial', 'handshake', 'auth missing', 'auth invalid', 'status', 'reset', 'goaway', 'timeout', 'other'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export class ConnectionFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}

export interface StressTarget {
  /** The URL connections are opened for (its host is the TLS certificate's name). */
  url: URL;
  /** Host names to request on each connection, the URL's included. */
  origins: string[];
  /** Accepted secondary certificates each connection must receive before its requests. */
  certificates: number;
  ca: string[];
  lookup: (host: string) => Promise<string[]>;
  connectAddress?: string;
  /** The whole connection (connect, certificates, requests), in milliseconds. */
  timeoutMs: number;
}

/** A connection that did everything asked of it and is still open. */
export interface HeldConnection {
  /** Set when it was lost while held (closed by the peer, GOAWAY, a protocol error). */
  lost: ConnectionFailure | undefined;
  close(): Promise<void>;
}

const DIAL_CODES = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'EADDRINUSE', 'EMFILE', 'ENFILE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_NO_ADDRESS', 'ERR_CONNECT_FAILED']);

/** The kind of an error thrown while connecting (before the connection object exists). */
export function connectFailureKind(e: unknown): FailureKind {
  const err = e as { code?: string; syscall?: string };
  if (err?.syscall === 'connect' || DIAL_CODES.has(err?.code ?? '')) return 'dial';
  if (err?.code === 'ERR_REQUEST_TIMEOUT') return 'timeout';
  return 'handshake';
}

/** Tracks what befalls a connection: the first failure wins, and waiters learn of it at once. */
class Watch {
  failure: ConnectionFailure | undefined;
  private readonly listeners = new Set<(f: ConnectionFailure) => void>();
  private readonly changeListeners = new Set<() => void>();

  fail(f: ConnectionFailure): void {
    if (this.failure) return;
    this.failure = f;
    for (const l of this.listeners) l(f);
  }

  changed(): void {
    for (const l of this.changeListeners) l();
  }

  /** Resolves when `ready()` holds (checked at each change), rejects at a failure or after `ms`. */
  until(ready: () => boolean, ms: number, onTimeout: () => ConnectionFailure): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(onFail);
        this.changeListeners.delete(check);
      };
      const onFail = (f: ConnectionFailure): void => {
        done();
        reject(f);
      };
      const check = (): void => {
        if (ready()) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => onFail(onTimeout()), Math.max(0, ms));
      this.listeners.add(onFail);
      this.changeListeners.add(check);
      if (this.failure) onFail(this.failure);
      else check();
    });
  }

  /** `p`, unless a failure comes first. */
  race<T>(p: Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const onFail = (f: ConnectionFailure): void => reject(f);
      this.listeners.add(onFail);
      p.then(resolve, reject).finally(() => this.listeners.delete(onFail));
    });
  }
}

/** Connects with a bound: past `deadline`, the connect counts as a timeout and its late connection is closed. */
async function boundedConnect<C extends { close(): Promise<void> }>(open: () => Promise<C>, deadline: number, what: string): Promise<C> {
  const pending = open();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectionFailure('timeout', `${what} not connected in time`)), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([pending.catch((e: unknown) => Promise.reject(e instanceof ConnectionFailure ? e : new ConnectionFailure(connectFailureKind(e), errorText(e)))), late]);
  } catch (e) {
    pending.then((c) => c.close(), () => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The error code a connection error closed the connection with (`wireCode`; `h2Code` / `h3Code` in older versions). */
/** What both protocols' connections report the same way: each certificate, and a connection error. */
function watchCertificates(
  c: { on(event: 'certificate', l: (e: CertificateEvent) => void): unknown; on(event: 'protocolError', l: (e: { wireCode: number; message: string }) => void): unknown },
  watch: Watch,
  invalidCode: number,
): void {
  c.on('certificate', (e) => {
    if (!e.accepted) watch.fail(new ConnectionFailure('auth invalid', `certificate for ${e.names.join(', ')} not accepted: ${e.reason}`));
    watch.changed();
  });
  c.on('protocolError', (e) => watch.fail(new ConnectionFailure(e.wireCode === invalidCode ? 'auth invalid' : 'other', `protocol error: ${e.message}`)));
}

export function errorText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err?.code ? `${err.code}: ${err.message ?? ''}` : String(err?.message ?? e);
}

/** Waits until the connection holds the certificates asked for and covers every origin. */
async function awaitCertificates(
  c: SecondaryCertConnection | H3SecondaryCertConnection,
  target: StressTarget,
  watch: Watch,
  deadline: number,
): Promise<void> {
  // The URL's own host is the TLS certificate's (the handshake checked it); every other one needs a secondary certificate.
  const secondary = target.origins.filter((h) => h !== target.url.hostname);
  const uncovered = (): string[] => secondary.filter((h) => !c.certificates.some((cert) => cert.covers(h)));
  const ready = (): boolean => c.certificates.length >= target.certificates && uncovered().length === 0;
  await watch.until(ready, deadline - Date.now(), () =>
    c.negotiated
      ? new ConnectionFailure('auth missing', `${c.certificates.length} of ${target.certificates} certificates accepted in time${uncovered().length > 0 ? `; none for ${uncovered().join(', ')}` : ''}`)
      : new ConnectionFailure('timeout', 'the extension was not negotiated in time'),
  );
  const port = target.url.port ? `:${target.url.port}` : '';
  for (const host of target.origins) {
    const answer = await c.authorityFor(`https://${host}${port}`);
    if (!answer.ok) throw new ConnectionFailure('auth missing', `the connection is not authoritative for ${host}: ${answer.reason}`);
  }
}

/** One HTTP/2 connection: connect, certificates, a request per origin; resolves holding it open. */
export async function driveH2(target: StressTarget): Promise<HeldConnection> {
  const deadline = Date.now() + target.timeoutMs;
  const c = await boundedConnect(
    () => connect(target.url, { ca: target.ca, lookup: target.lookup, ...(target.connectAddress ? { connectAddress: target.connectAddress } : {}) }),
    deadline,
    'HTTP/2',
  );
  const watch = new Watch();
  let closing = false;
  watchCertificates(c, watch, DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID);
  c.session.on('goaway', (code: number) => {
    if (!closing) watch.fail(new ConnectionFailure('goaway', `the server sent GOAWAY (code ${code})`));
  });
  c.on('close', () => {
    if (!closing) watch.fail(new ConnectionFailure('reset', 'the connection closed'));
  });
  c.session.on('remoteSettings', () =>
    // The extension's setting is read from the same SETTINGS frame: past it, no negotiation means none ever.
    setImmediate(() => {
      if (!c.negotiated) watch.fail(new ConnectionFailure('auth missing', 'the server did not negotiate the extension'));
    }),
  );
  try {
    await awaitCertificates(c, target, watch, deadline);
    const port = target.url.port ? `:${target.url.port}` : '';
    await Promise.all(target.origins.map((host) => watch.race(requestH2(c, host, port, deadline))));
  } catch (e) {
    closing = true;
    c.session.destroy();
    throw e instanceof ConnectionFailure ? e : new ConnectionFailure('other', errorText(e));
  }
  return {
    get lost() {
      return watch.failure;
    },
    close: () => {
      closing = true;
      return c.close();
    },
  };
}

function requestH2(c: SecondaryCertConnection, host: string, port: string, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = c.session.request({ ':method': 'GET', ':scheme': 'https', ':authority': `${host}${port}`, ':path': '/' });
    let status = 0;
    const timer = setTimeout(() => {
      reject(new ConnectionFailure('timeout', `no response for ${host} in time`));
      stream.close();
    }, Math.max(0, deadline - Date.now()));
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => {
      clearTimeout(timer);
      if (status === 200) resolve();
      else reject(new ConnectionFailure('status', `${host}: status ${status}`));
    });
    stream.on('close', () => {
      clearTimeout(timer);
      reject(new ConnectionFailure('reset', `${host}: the stream closed before its response ended (code ${stream.rstCode ?? 'none'})`));
    });
    stream.end();
  });
}

/** One HTTP/3 connection: the same steps over QUIC. */
export async function driveH3(target: StressTarget): Promise<HeldConnection> {
  const deadline = Date.now() + target.timeoutMs;
  const { connectH3, DEFAULT_H3_PROFILE } = await import('../../h3/index.js');
  const c = await boundedConnect(
    () =>
      connectH3(target.url, {
        ca: target.ca,
        lookup: target.lookup,
        ...(target.connectAddress ? { connectAddress: target.connectAddress } : {}),
        connectTimeoutMs: Math.max(1, deadline - Date.now()),
        requestTimeoutMs: target.timeoutMs,
      }),
    deadline,
    'HTTP/3',
  );
  const watch = new Watch();
  let closing = false;
  watchCertificates(c, watch, DEFAULT_H3_PROFILE.errors.SERVER_CERTIFICATE_INVALID);
  c.session.on('goaway', () => {
    if (!closing) watch.fail(new ConnectionFailure('goaway', 'the server sent GOAWAY'));
  });
  c.on('close', (info) => {
    if (!closing) watch.fail(new ConnectionFailure('reset', `the connection closed (${info.by}, code 0x${info.code.toString(16)})`));
  });
  c.session.on('settings', () =>
    setImmediate(() => {
      if (!c.negotiated) watch.fail(new ConnectionFailure('auth missing', 'the server did not negotiate the extension'));
    }),
  );
  try {
    await awaitCertificates(c, target, watch, deadline);
    const port = target.url.port ? `:${target.url.port}` : '';
    await Promise.all(
      target.origins.map((host) =>
        watch.race(
          c.request(`https://${host}${port}/`).then(
            (r) => {
              if (r.status !== 200) throw new ConnectionFailure('status', `${host}: status ${r.status}`);
            },
            (e: unknown) => {
              if (e instanceof ConnectionFailure) throw e;
              const code = (e as { code?: string }).code;
              const kind: FailureKind = code === 'ERR_REQUEST_TIMEOUT' ? 'timeout' : c.session.goawayId !== undefined ? 'goaway' : code === 'ERR_STREAM_RESET' || code === 'ERR_H3_CONNECTION_CLOSED' || code === 'ERR_TRANSPORT_CLOSED' ? 'reset' : 'other';
              throw new ConnectionFailure(kind, `${host}: ${errorText(e)}`);
            },
          ),
        ),
      ),
    );
  } catch (e) {
    closing = true;
    void c.close().catch(() => undefined);
    throw e instanceof ConnectionFailure ? e : new ConnectionFailure('other', errorText(e));
  }
  return {
    get lost() {
      return watch.failure;
    },
    close: () => {
      closing = true;
      return c.close();
    },
  };
}
