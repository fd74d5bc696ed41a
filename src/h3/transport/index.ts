// The QUIC transport the HTTP/3 layer uses: our endpoint over quiche's native binding.
export { connectQuic, listenQuic, DEFAULT_FLOW_CONTROL, type QuicConnectOptions, type QuicListenOptions, type QuicFlowControl } from './quiche/index.js';
export * from './errors.js';
