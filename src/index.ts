/**
 * fullduplex: a WebSocket engine for Node.js (RFC 6455) with no runtime dependencies.
 *
 * - {@link serve} / {@link WebSocketServer}: servers on `node:net`/`node:tls` or behind `node:http`.
 * - {@link connect}: a client resolving to an open {@link WebSocketConnection}.
 * - {@link WebSocket}: the browser's WHATWG API for Node.
 * - `fullduplex/frame`, `fullduplex/handshake`, {@link Protocol}: the sans-I/O protocol core.
 * @packageDocumentation
 */
export { serve, WebSocketServer, type ServerOptions, type ConnectionHandler, type RoutingHandler, type UpgradeInfo, type VerifyResult, type ServerEvents } from './server/server.js';
export { encodeServerMessage } from './server/broadcast.js';
export { connect, ConnectError, type ClientOptions } from './client/connect.js';
export { WebSocket, CloseEvent } from './client/whatwg.js';
export {
  WebSocketConnection,
  type ConnectionOptions,
  type ConnectionEvents,
  type Message,
  type SendData,
  type RequestInfo,
} from './io/connection.js';
export { ConnectionClosedError } from './io/errors.js';
export { Protocol, ReadyState, type ProtocolHandler, type ProtocolOptions, type ReadyStateValue } from './protocol/protocol.js';
export { CloseCode, isValidWireCloseCode, ProtocolError, type ProtocolErrorCode } from './frame/index.js';
export { Router, type RouteHandler, type RouteMatch, type RouteParams, type ParamNames } from './router/index.js';
export {
  ReconnectingWebSocket,
  ReconnectingError,
  type ReconnectOptions,
  type ReconnectingOptions,
  type ReconnectingEvent,
  type ReconnectingEvents,
} from './client/reconnecting.js';
