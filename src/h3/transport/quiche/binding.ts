import { createRequire } from 'node:module';
import { QuicUnavailable } from '../errors.js';

// The part of quiche's napi binding (the prebuilt module of @matrixai/quic-linux-x64, quiche 0.18 with
// BoringSSL) that the driver uses. Errors come as Error objects whose message is quiche's error name:
// 'Done', 'StreamReset(<code>)', 'StreamStopped(<code>)', 'StreamLimit', 'TlsFail', ...

export interface HostPort {
  host: string;
  port: number;
}

export interface RecvInfo {
  from: HostPort;
  to: HostPort;
}

export interface NativeConfig {
  verifyPeer(verify: boolean): void;
  grease(grease: boolean): void;
  logKeys(): void;
  enableEarlyData(): void;
  setApplicationProtos(protos: string[]): void;
  setMaxIdleTimeout(ms: number): void;
  setMaxRecvUdpPayloadSize(size: number): void;
  setMaxSendUdpPayloadSize(size: number): void;
  setInitialMaxData(v: number): void;
  setInitialMaxStreamDataBidiLocal(v: number): void;
  setInitialMaxStreamDataBidiRemote(v: number): void;
  setInitialMaxStreamDataUni(v: number): void;
  setInitialMaxStreamsBidi(v: number): void;
  setInitialMaxStreamsUni(v: number): void;
  setDisableActiveMigration(v: boolean): void;
  setMaxStreamWindow(v: number): void;
  setMaxConnectionWindow(v: number): void;
}

export interface ConnectionError {
  isApp: boolean;
  errorCode: number;
  reason: Uint8Array;
}

export interface NativeConnection {
  setKeylog(path: string): void;
  setSession(session: Uint8Array): void;
  session(): Uint8Array | null;
  recv(data: Uint8Array, info: RecvInfo): number;
  send(data: Uint8Array): [number, unknown] | null;
  streamRecv(id: number, data: Uint8Array): [number, boolean] | null;
  streamSend(id: number, data: Uint8Array, fin: boolean): number | null;
  /** Bytes the stream may take now: its flow-control credit, the connection's and the congestion window's (as of the last recv()). */
  streamCapacity(id: number): number;
  streamShutdown(id: number, direction: number, code: number): void;
  peerStreamsLeftBidi(): number;
  peerStreamsLeftUni(): number;
  readable(): Iterable<number>;
  timeout(): number | null;
  onTimeout(): void;
  close(app: boolean, code: number, reason: Uint8Array): void;
  applicationProto(): Uint8Array;
  serverName(): string | null;
  peerCertChain(): Uint8Array[] | null;
  isEstablished(): boolean;
  isInEarlyData(): boolean;
  isDraining(): boolean;
  isClosed(): boolean;
  isTimedOut(): boolean;
  peerError(): ConnectionError | null;
  localError(): ConnectionError | null;
  stats(): { sent: number; recv: number; lost: number };
}

export interface NativeHeader {
  ty: number;
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  token?: Uint8Array;
}

export interface Binding {
  Config: {
    withBoringSslCtx(verifyPeer: boolean, verifyAllowFail: boolean, ca: Uint8Array | null, keys: Uint8Array[] | null, certs: Uint8Array[] | null, sigalgs: string | null): NativeConfig;
  };
  Connection: {
    connect(serverName: string | null, scid: Uint8Array, local: HostPort, remote: HostPort, config: NativeConfig): NativeConnection;
    accept(scid: Uint8Array, odcid: Uint8Array | null, local: HostPort, remote: HostPort, config: NativeConfig): NativeConnection;
  };
  Header: { fromSlice(data: Uint8Array, dcidLength: number): NativeHeader };
  versionIsSupported(version: number): boolean;
  negotiateVersion(scid: Uint8Array, dcid: Uint8Array, out: Uint8Array): number;
  Shutdown: { Read: number; Write: number };
  Type: { Initial: number; ZeroRTT: number; Handshake: number; Short: number };
  MAX_DATAGRAM_SIZE: number;
  MAX_CONN_ID_LEN: number;
}

/** The package that holds the binding; its version is pinned exactly in package.json. */
export const BINDING_PACKAGE = '@matrixai/quic-linux-x64';

let loaded: Binding | undefined;

/** Loads the native binding once. Throws QuicUnavailable off Linux x64 or when the package is missing. */
export function binding(): Binding {
  if (loaded) return loaded;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new QuicUnavailable(`HTTP/3 needs ${BINDING_PACKAGE}, which is built for Linux x64 only (this is ${process.platform} ${process.arch})`);
  }
  try {
    loaded = createRequire(import.meta.url)(BINDING_PACKAGE) as Binding;
  } catch (e) {
    throw new QuicUnavailable(`the native QUIC binding ${BINDING_PACKAGE} does not load: ${(e as Error).message}`, { cause: e });
  }
  return loaded;
}

/** The code in a quiche error such as 'StreamReset(268)', when the message is of that kind. */
export function errorCode(e: unknown, kind: 'StreamReset' | 'StreamStopped'): number | undefined {
  const message = (e as Error | undefined)?.message ?? '';
  if (!message.startsWith(kind + '(')) return undefined;
  const code = Number(message.slice(kind.length + 1, -1));
  return Number.isSafeInteger(code) ? code : undefined;
}
