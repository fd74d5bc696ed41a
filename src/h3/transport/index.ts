import * as matrixai from './matrixai.js';
import * as quiche from './quiche/index.js';

// The QUIC transport the HTTP/3 layer uses. SECONDARY_CERTS_QUIC=matrixai selects the adapter over
// @matrixai/quic's JS layer while both exist, so the same tests can run on either.
const useOld = process.env.SECONDARY_CERTS_QUIC === 'matrixai';

export const connectQuic: typeof quiche.connectQuic = useOld ? (matrixai.connectQuic as typeof quiche.connectQuic) : quiche.connectQuic;
export const listenQuic: typeof quiche.listenQuic = useOld ? (matrixai.listenQuic as typeof quiche.listenQuic) : quiche.listenQuic;
export { DEFAULT_FLOW_CONTROL, type QuicConnectOptions, type QuicListenOptions, type QuicFlowControl } from './quiche/index.js';
export * from './errors.js';
