export { TcpStack, resolveTcpConfig, type TcpListener, type TcpStackCounters } from './stack.js';
export { TcpConnection } from './connection.js';
export { DEFAULT_TCP_CONFIG, MAX_SOCKET_BUFFER, type TcpConfig, type TcpError, type TcpInfo, type TcpIpLayer, type TcpState } from './types.js';
export { NewReno, Cubic, makeCc, type CcName, type CongestionControl, type CcState } from './cc.js';
export { allocFrame, immutablePayload, zeroPayload } from './payload.js';
