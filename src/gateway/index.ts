/** The WebSocket gateway (PROTOCOL.md): startGateway and its parts' public types. */
export { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
export { TokenTable, tokenFromRequest, type Principal, type Role, type TokenConfig, type TokenSpec } from './auth.js';
export { encodeFrame, decodeFrame, type FrameKind } from './codec.js';
export { ops, PEER_OPS } from './ops.js';
