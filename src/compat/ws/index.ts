/**
 * `fullduplex/ws`: a drop-in for the `ws` package (version 8's documented API) over fullduplex's
 * sessions. `import WebSocket, { WebSocketServer } from 'fullduplex/ws'` and
 * `require('fullduplex/ws')` give the same shapes as `ws`: the default export (and the CommonJS
 * value) is the WebSocket class, with `WebSocketServer`, `Server`, `WebSocket` and
 * `createWebSocketStream` attached.
 *
 * @example
 * ```ts
 * import WebSocket, { WebSocketServer } from 'fullduplex/ws';
 *
 * const wss = new WebSocketServer({ port: 0 }, () => {
 *   const { port } = wss.address() as { port: number };
 *   const ws = new WebSocket(`ws://127.0.0.1:${port}`);
 *   ws.on('open', () => ws.send('hi'));
 * });
 * wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
 * ```
 *
 * @module
 */
import { WebSocketServer } from './server.js';
import { createWebSocketStream } from './stream.js';
import { WebSocket } from './websocket.js';

WebSocket.WebSocketServer = WebSocketServer;
WebSocket.Server = WebSocketServer;
WebSocket.WebSocket = WebSocket;
WebSocket.createWebSocketStream = createWebSocketStream;

export { WebSocket, WebSocketServer, WebSocketServer as Server, createWebSocketStream };
export type { BinaryType, ClientOptions, Data, RawData, WebSocketEvents } from './websocket.js';
export type { ServerEvents, ServerOptions, VerifyClientCallback, VerifyClientInfo } from './server.js';
export type { PerMessageDeflateOptions } from './options.js';
export { CloseEvent, ErrorEvent, Event, MessageEvent } from './events.js';
export default WebSocket;
// `require('fullduplex/ws')` returns the class itself, as `require('ws')` does (Node's
// require(esm) honours a 'module.exports' export).
export { WebSocket as 'module.exports' };
