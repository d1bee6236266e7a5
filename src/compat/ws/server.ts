import { EventEmitter } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { computeAccept, isValidKey } from '../../handshake/accept.js';
import { fromIncomingMessage, negotiate, rejectResponse, serializeResponse, type HandshakeResponse } from '../../handshake/server.js';
import { formatExtensions } from '../../handshake/tokens.js';
import { Session } from '../../io/session.js';
import { netTransport, type PeerInfo, type Transport } from '../../io/transport.js';
import { serverDeflate, type PerMessageDeflateOptions } from './options.js';
import { WebSocket } from './websocket.js';

/**
 * What `verifyClient` receives.
 * @example
 * ```ts
 * import { WebSocketServer, type VerifyClientInfo } from 'fullduplex/ws';
 *
 * const fromOurSite = (info: VerifyClientInfo) => info.secure && info.origin === 'https://example.com';
 * const wss = new WebSocketServer({ port: 8080, verifyClient: fromOurSite });
 * ```
 */
export interface VerifyClientInfo {
  /** The `Origin` header (`Sec-WebSocket-Origin` for version 8). */
  origin: string | undefined;
  /** Whether the connection is TLS. */
  secure: boolean;
  /** The upgrade request. */
  req: IncomingMessage;
}

/**
 * The asynchronous `verifyClient` callback: refuse with `code` (default 401), `message` and `headers`.
 * @example
 * ```ts
 * import { WebSocketServer, type VerifyClientCallback, type VerifyClientInfo } from 'fullduplex/ws';
 *
 * const wss = new WebSocketServer({
 *   port: 8080,
 *   verifyClient(info: VerifyClientInfo, done: VerifyClientCallback) {
 *     checkToken(info.req.headers.authorization).then(
 *       (ok) => (ok ? done(true) : done(false, 401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer' })),
 *       () => done(false, 500),
 *     );
 *   },
 * });
 * ```
 */
export type VerifyClientCallback = (result: boolean, code?: number, message?: string, headers?: Record<string, string | number>) => void;

/**
 * Options of {@link WebSocketServer}, as `ws` documents them.
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { WebSocketServer, type ServerOptions } from 'fullduplex/ws';
 *
 * const server = createServer();
 * const options: ServerOptions = { server, path: '/ws', maxPayload: 1024 * 1024, perMessageDeflate: true };
 * const wss = new WebSocketServer(options);
 * server.listen(8080);
 * ```
 */
export interface ServerOptions {
  /** Accepted for compatibility (the session's own reader is used). */
  allowSynchronousEvents?: boolean;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean;
  /** Listen backlog (with `port`). */
  backlog?: number;
  /** Track clients in {@link WebSocketServer.clients}. Default true. */
  clientTracking?: boolean;
  /** Picks the subprotocol from the offered set; return `false` for none. Default: the first offered. */
  handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  /** Host to listen on (with `port`). */
  host?: string;
  /** Largest incoming message in bytes. Default 100 MiB. */
  maxPayload?: number;
  /** Do not listen or attach: the application calls {@link WebSocketServer.handleUpgrade}. */
  noServer?: boolean;
  /** Accept only upgrades on this path. */
  path?: string;
  /** Accept permessage-deflate offers (`true` or parameters). Default false. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Create an HTTP server listening on this port. */
  port?: number;
  /** Take upgrades from this HTTP(S) server. */
  server?: HttpServer | HttpsServer;
  /** Accepted for compatibility; UTF-8 is always validated. */
  skipUTF8Validation?: boolean;
  /** Accepts or refuses a client before the upgrade; synchronous (return) or asynchronous (callback). */
  verifyClient?: ((info: VerifyClientInfo) => boolean) | ((info: VerifyClientInfo, callback: VerifyClientCallback) => void);
  /** The class of the sockets the server makes. Default {@link WebSocket}. */
  WebSocket?: typeof WebSocket;
}

/**
 * Events of a {@link WebSocketServer}.
 * @example
 * ```ts
 * import { WebSocketServer } from 'fullduplex/ws';
 *
 * const wss = new WebSocketServer({ port: 8080 });
 * wss.on('headers', (headers) => headers.push('Set-Cookie: seen=1'));
 * wss.on('connection', (ws, request) => ws.send(`hello ${request.socket.remoteAddress}`));
 * wss.on('wsClientError', (error, socket) => socket.destroy());
 * ```
 */
export interface ServerEvents {
  /** A client connected: its socket and the upgrade request. */
  connection: [socket: WebSocket, request: IncomingMessage];
  /** The underlying server failed. */
  error: [error: Error];
  /** The 101 response's header lines, editable before they are written. */
  headers: [headers: string[], request: IncomingMessage];
  /** The server closed. */
  close: [];
  /** The underlying server is listening. */
  listening: [];
  /** An invalid upgrade request; when listened to, the listener answers the socket. */
  wsClientError: [error: Error, socket: Duplex, request: IncomingMessage];
}

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;
const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
const kUpgraded = Symbol('fullduplex.ws.upgraded');

/**
 * `ws`'s WebSocketServer over fullduplex's handshake and {@link Session}: the same options,
 * events and methods, making `ws`-shaped sockets ({@link WebSocket}). The HTTP checks follow
 * `ws`'s order and answers (status codes, messages, `'wsClientError'`); negotiation (subprotocol
 * syntax, permessage-deflate) is fullduplex's `negotiate()`, and each connection is a Session.
 *
 * @example
 * ```ts
 * import { WebSocketServer } from 'fullduplex/ws';
 *
 * const wss = new WebSocketServer({ port: 8080 });
 * wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
 * ```
 */
export class WebSocketServer extends EventEmitter<ServerEvents> {
  /** The open sockets (when `clientTracking` is on). */
  readonly clients: Set<WebSocket> | undefined;
  /** The options, with defaults filled in. */
  readonly options: ServerOptions & { maxPayload: number; clientTracking: boolean; WebSocket: typeof WebSocket };
  private server: HttpServer | HttpsServer | null = null;
  private removeListeners: (() => void) | null = null;
  private state = RUNNING;
  private shouldEmitClose = false;
  private readonly deflate;

  /**
   * Creates the server: listening on `port`, attached to `server`, or (`noServer`) detached.
   * @throws {TypeError} unless exactly one of `port`, `server` and `noServer` is given.
   */
  constructor(options: ServerOptions, callback?: () => void) {
    super();
    this.options = {
      allowSynchronousEvents: true,
      autoPong: true,
      maxPayload: DEFAULT_MAX_PAYLOAD,
      skipUTF8Validation: false,
      perMessageDeflate: false,
      clientTracking: true,
      WebSocket,
      ...options,
    };
    const o = this.options;
    if ((o.port == null && !o.server && !o.noServer) || (o.port != null && (o.server || o.noServer)) || (o.server && o.noServer)) {
      throw new TypeError('One and only one of the "port", "server", or "noServer" options must be specified');
    }
    const deflate = serverDeflate(o.perMessageDeflate);
    this.deflate = deflate ? [deflate] : [];
    if (o.port != null) {
      this.server = createServer((_req: IncomingMessage, res: ServerResponse) => {
        const body = STATUS_CODES[426]!;
        res.writeHead(426, { 'Content-Length': body.length, 'Content-Type': 'text/plain' });
        res.end(body);
      });
      this.server.listen(o.port, o.host, o.backlog, callback);
    } else if (o.server) {
      this.server = o.server;
    }
    if (this.server) {
      const server = this.server;
      const onListening = (): void => void this.emit('listening');
      const onError = (error: Error): void => void this.emit('error', error);
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        this.handleUpgrade(req, socket, head, (ws) => this.emit('connection', ws, req));
      };
      server.on('listening', onListening);
      server.on('error', onError);
      server.on('upgrade', onUpgrade);
      this.removeListeners = () => {
        server.off('listening', onListening);
        server.off('error', onError);
        server.off('upgrade', onUpgrade);
      };
    }
    this.clients = o.clientTracking ? new Set() : undefined;
  }

  /**
   * The address of the HTTP server, or null without one.
   * @throws {Error} in `noServer` mode.
   */
  address(): AddressInfo | string | null {
    if (this.options.noServer) throw new Error('The server is operating in "noServer" mode');
    if (!this.server) return null;
    return this.server.address();
  }

  /**
   * Stops accepting connections. Open sockets stay open (as in `ws`); `'close'` is emitted once
   * the HTTP server it created is closed, or — with `server`/`noServer` — once every tracked
   * client has closed. `cb` runs on `'close'` (with an error if the server was closed already).
   */
  close(cb?: (error?: Error) => void): void {
    if (this.state === CLOSED) {
      if (cb) this.once('close', () => cb(new Error('The server is not running')));
      process.nextTick(emitClose, this);
      return;
    }
    if (cb) this.once('close', cb);
    if (this.state === CLOSING) return;
    this.state = CLOSING;
    if (this.options.noServer || this.options.server) {
      this.detach();
      if (this.clients && this.clients.size > 0) this.shouldEmitClose = true;
      else process.nextTick(emitClose, this);
    } else {
      const server = this.server!;
      this.detach();
      server.close(() => emitClose(this));
    }
  }

  /** Whether this server takes `req` (its path matches `options.path`, when set). */
  shouldHandle(req: IncomingMessage): boolean {
    const path = this.options.path;
    if (path !== undefined) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      if ((q < 0 ? url : url.slice(0, q)) !== path) return false;
    }
    return true;
  }

  /**
   * Completes an upgrade for `req` on any duplex `socket` (with the bytes that came after the
   * head), calling `cb` with the open socket — or answers with `ws`'s HTTP error and closes.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocket, request: IncomingMessage) => void): void {
    socket.on('error', socketOnError);
    const key = req.headers['sec-websocket-key'];
    const upgrade = req.headers.upgrade;
    const version = Number(req.headers['sec-websocket-version']);
    if (req.method !== 'GET') return this.clientError(req, socket, 405, 'Invalid HTTP method');
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return this.clientError(req, socket, 400, 'Invalid Upgrade header');
    if (key === undefined || !isValidKey(key)) return this.clientError(req, socket, 400, 'Missing or invalid Sec-WebSocket-Key header');
    if (version !== 13 && version !== 8) {
      return this.clientError(req, socket, 400, 'Missing or invalid Sec-WebSocket-Version header', { 'Sec-WebSocket-Version': '13, 8' });
    }
    if (!this.shouldHandle(req)) return abortHandshake(socket, 400);
    const protocolHeader = req.headers['sec-websocket-protocol'];
    if (protocolHeader !== undefined && !isStrictProtocolList(protocolHeader)) {
      return this.clientError(req, socket, 400, 'Invalid Sec-WebSocket-Protocol header');
    }

    // Subprotocol syntax and permessage-deflate: fullduplex's negotiation. The subprotocol is
    // picked later, after verifyClient, as `ws` does.
    const negotiation = negotiate(fromIncomingMessage(req), { extensions: this.deflate });
    if (!negotiation.ok) {
      const message = negotiation.reason.startsWith('Invalid Sec-WebSocket-Protocol')
        ? 'Invalid Sec-WebSocket-Protocol header'
        : 'Invalid or unacceptable Sec-WebSocket-Extensions header';
      return this.clientError(req, socket, 400, message);
    }
    const discard = (): void => {
      for (const extension of negotiation.extensionObjects) extension.dispose();
    };
    const complete = (): void => {
      this.completeUpgrade(negotiation, key, new Set(negotiation.offeredProtocols), req, socket, head, cb, discard);
    };

    const verifyClient = this.options.verifyClient;
    if (verifyClient) {
      const info: VerifyClientInfo = {
        origin: req.headers[version === 8 ? 'sec-websocket-origin' : 'origin'] as string | undefined,
        secure: Boolean((req.socket as Socket & { authorized?: boolean; encrypted?: boolean }).authorized || (req.socket as { encrypted?: boolean }).encrypted),
        req,
      };
      if (verifyClient.length === 2) {
        (verifyClient as (info: VerifyClientInfo, callback: VerifyClientCallback) => void)(info, (verified, code, message, headers) => {
          if (!verified) {
            discard();
            abortHandshake(socket, code || 401, message, headers);
            return;
          }
          complete();
        });
        return;
      }
      if (!(verifyClient as (info: VerifyClientInfo) => boolean)(info)) {
        discard();
        return abortHandshake(socket, 401);
      }
    }
    complete();
  }

  /**
   * Writes the 101 and makes the socket. `ws` exposes this step for subclasses; the first
   * argument is what negotiation settled (extensions), as in `ws`.
   * @throws {Error} when called twice with the same socket.
   */
  completeUpgrade(
    negotiation: { extensions: ReadonlyArray<{ name: string; params: Record<string, string | true> }>; extensionObjects: readonly import('../../frame/extension.js').Extension[] },
    key: string,
    protocols: Set<string>,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WebSocket, request: IncomingMessage) => void,
    discard: () => void = noop,
  ): void {
    if (!socket.readable || !socket.writable) {
      discard();
      socket.destroy();
      return;
    }
    if ((socket as Duplex & { [kUpgraded]?: boolean })[kUpgraded]) {
      discard();
      throw new Error('server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration');
    }
    if (this.state > RUNNING) {
      discard();
      return abortHandshake(socket, 503);
    }
    const headers = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${computeAccept(key)}`];
    let protocol = '';
    if (protocols.size > 0) {
      const chosen = this.options.handleProtocols ? this.options.handleProtocols(protocols, req) : protocols.values().next().value;
      if (chosen) {
        headers.push(`Sec-WebSocket-Protocol: ${chosen}`);
        protocol = chosen;
      }
    }
    let extensionsHeader = '';
    if (negotiation.extensions.length > 0) {
      extensionsHeader = formatExtensions(negotiation.extensions);
      headers.push(`Sec-WebSocket-Extensions: ${extensionsHeader}`);
    }
    this.emit('headers', headers, req);
    socket.write(headers.concat('\r\n').join('\r\n'));
    socket.off('error', socketOnError);
    (socket as Duplex & { [kUpgraded]?: boolean })[kUpgraded] = true;

    const net = socket as Socket;
    if (typeof net.setTimeout === 'function') net.setTimeout(0);
    const { transport, peer } = typeof net.setNoDelay === 'function' ? netTransport(net) : { transport: socket as unknown as Transport, peer: NO_PEER };
    const info = fromIncomingMessage(req);
    const q = info.target.indexOf('?');
    const session = new Session(
      transport,
      {
        role: 'server',
        protocol,
        extensions: negotiation.extensionObjects,
        extensionsHeader,
        peer,
        request: {
          url: info.target,
          path: q < 0 ? info.target : info.target.slice(0, q),
          query: new URLSearchParams(q < 0 ? '' : info.target.slice(q + 1)),
          headers: info.headers,
        },
        head,
      },
      { maxMessageSize: this.options.maxPayload, autoPong: this.options.autoPong !== false },
    );
    const ws = new this.options.WebSocket(null);
    ws._autoPong = this.options.autoPong !== false;
    ws._deferEvents = this.options.allowSynchronousEvents === false;
    ws._setSession(session, socket);
    const clients = this.clients;
    if (clients) {
      clients.add(ws);
      ws.on('close', () => {
        clients.delete(ws);
        if (this.shouldEmitClose && clients.size === 0) process.nextTick(emitClose, this);
      });
    }
    cb(ws, req);
  }

  private detach(): void {
    this.removeListeners?.();
    this.removeListeners = null;
    this.server = null;
  }

  /** A malformed request: `'wsClientError'` if anyone listens (they answer), else `ws`'s answer. */
  private clientError(req: IncomingMessage, socket: Duplex, code: number, message: string, headers?: Record<string, string>): void {
    if (this.listenerCount('wsClientError') > 0) {
      const error = new Error(message);
      Error.captureStackTrace(error, this.clientError);
      this.emit('wsClientError', error, socket, req);
    } else {
      abortHandshake(socket, code, message, headers);
    }
  }

  /** @internal The state, for tests of the close sequence. */
  get _state(): number {
    return this.state;
  }

  /** @internal */
  _markClosed(): void {
    this.state = CLOSED;
  }
}

const NO_PEER: PeerInfo = { address: undefined, port: undefined };

function emitClose(server: WebSocketServer): void {
  server._markClosed();
  server.emit('close');
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `ws`'s reading of `Sec-WebSocket-Protocol`: tokens, no empty elements, no duplicates. */
function isStrictProtocolList(header: string): boolean {
  const seen = new Set<string>();
  for (const element of header.split(',')) {
    const name = element.replace(/^[ \t]+|[ \t]+$/g, '');
    if (!TOKEN.test(name) || seen.has(name)) return false;
    seen.add(name);
  }
  return true;
}

function socketOnError(this: Duplex): void {
  this.destroy();
}

function noop(): void {}

/** `ws`'s refusal: status line, `Connection: close`, an HTML content type and the message as body. */
function abortHandshake(socket: Duplex, code: number, message?: string, headers?: Record<string, string | number>): void {
  const extra: Array<[string, string]> = [['Content-Type', 'text/html']];
  for (const [name, value] of Object.entries(headers ?? {})) extra.push([name, String(value)]);
  let response: HandshakeResponse = rejectResponse(code, message || STATUS_CODES[code], extra);
  let bytes: Buffer;
  try {
    bytes = serializeResponse(response);
  } catch {
    response = rejectResponse(code, STATUS_CODES[code], [['Content-Type', 'text/html']]);
    bytes = serializeResponse(response);
  }
  socket.once('finish', () => socket.destroy());
  socket.end(bytes);
}
