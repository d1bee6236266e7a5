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
export type { Admission, AcceptorHost, AdmissionOptions } from './server/admission.js';
export { LocalPubSub, type PubSub, type PublishOptions, type TopicTransitions } from './server/pubsub.js';
export type { Backplane, BackplaneSink, BackplaneEvent, BackplaneStats } from './server/backplane.js';
export { encodeServerMessage } from './server/broadcast.js';
export { connect, openSession, ConnectError, type ClientOptions } from './client/connect.js';
export { WebSocket, CloseEvent } from './client/whatwg.js';
export { WebSocketConnection, type ConnectionEvents, type Message, type TopicMembership } from './io/connection.js';
export {
  Session,
  type SessionInit,
  type SessionListener,
  type SessionOptions,
  type ConnectionOptions,
  type SendData,
  type SendOptions,
  type RequestInfo,
} from './io/session.js';
export { netTransport, type Transport, type PeerInfo } from './io/transport.js';
export { Inbox } from './io/inbox.js';
export { ConnectionClosedError, SessionError, type SessionErrorCode } from './io/errors.js';
export { Protocol, ReadyState, SendStateError, type ProtocolHandler, type ProtocolOptions, type ReadyStateValue } from './protocol/protocol.js';
export {
  permessageDeflate,
  permessageDeflateClient,
  type PerMessageDeflateOptions,
  type PerMessageDeflateClientOptions,
} from './extensions/index.js';
export type { Extension, ServerExtension, ClientExtension, EncodedFrame, ExtensionParams } from './frame/extension.js';
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
