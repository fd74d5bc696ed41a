export { connectQuic, listenQuic, DEFAULT_FLOW_CONTROL, type QuicConnectOptions, type QuicListenOptions, type QuicFlowControl } from './endpoint.js';
