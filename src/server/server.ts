import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { CloseCode } from '../frame/close-code.js';
import { DEFAULT_MAX_HEAD_SIZE, parseRequestHead } from '../handshake/http-head.js';
import {
  acceptUpgrade,
  fromIncomingMessage,
  rejectResponse,
  serializeResponse,
  type HandshakeResponse,
  type UpgradeRequest,
} from '../handshake/server.js';
import { WebSocketConnection, type ConnectionOptions, type RequestInfo, type SendData } from '../io/connection.js';
import { SharedFrameBatch } from './broadcast.js';
import { TopicRegistry } from './topics.js';
import { ConnectionClosedError } from '../io/errors.js';

/**
 * What a `verify` hook may answer: `true`/`undefined` to accept, `false` for 403, a status number,
 * or a full response value.
 */
export type VerifyResult = boolean | void | number | { status: number; message?: string; headers?: Record<string, string> };

/** Information handed to the `verify` hook before the upgrade is accepted. */
export interface UpgradeInfo extends RequestInfo {
  /** HTTP method (always GET by then). */
  method: string;
  /** Remote address of the TCP connection. */
  remoteAddress: string | undefined;
  /** Subprotocols the client offered. */
  offeredProtocols: string[];
}

/** Options of {@link WebSocketServer} and {@link serve}. */
export interface ServerOptions extends ConnectionOptions {
  /** Port to listen on (0 picks a free one). Only for {@link serve} / {@link WebSocketServer.listen}. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** TLS options (`cert`, `key`, …): listen with `node:tls` and serve `wss://`. */
  tls?: TlsOptions;
  /** Accept upgrades only on this path (others get 404). Default: any path. */
  path?: string;
  /** Largest handshake request head in bytes (431 beyond). Default 8192. */
  maxHeadSize?: number;
  /** Most header fields in the handshake request (431 beyond). Default 100. */
  maxHeaderCount?: number;
  /**
   * Time from TCP accept to the end of the opening handshake; slower clients (slowloris) are
   * dropped. Default 10 s.
   */
  handshakeTimeout?: number;
  /** Picks a subprotocol from those offered, or returns null for none. Default: none. */
  selectProtocol?: (offered: string[], request: UpgradeInfo) => string | null | undefined;
  /**
   * Decides whether to accept the upgrade, before the 101 is sent; may be async. Reject with
   * `false` (403), a status code, or `{ status, message, headers }`.
   */
  verify?: (request: UpgradeInfo) => VerifyResult | Promise<VerifyResult>;
  /** Heartbeat ping interval in ms (0 disables). Default 20 s, as python-websockets. */
  pingInterval?: number;
}

/**
 * Handles one connection. If it returns a promise, the connection is closed (1000) when the
 * promise settles — the python-websockets model, where the handler owns the connection. If it
 * returns nothing, the connection stays open until either side closes it (the `ws` model).
 */
export type ConnectionHandler = (ws: WebSocketConnection) => void | Promise<void>;

/**
 * A handler that also decides at the handshake whether it takes a request — a router answers
 * 404 for paths it has no route for before any upgrade happens. Pass one wherever a
 * {@link ConnectionHandler} is accepted.
 */
export interface RoutingHandler {
  /** Handles an accepted connection. */
  handle(ws: WebSocketConnection): void | Promise<void>;
  /** Accepts or refuses the upgrade request, like {@link ServerOptions.verify}. */
  verify(request: UpgradeInfo): VerifyResult | Promise<VerifyResult>;
}

/** Events of a {@link WebSocketServer}. */
export interface ServerEvents {
  connection: [ws: WebSocketConnection];
  error: [error: Error];
  listening: [];
  close: [];
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_PING_INTERVAL = 20_000;

/**
 * A WebSocket server. Listens by itself on `node:net`/`node:tls` ({@link serve}, {@link listen}),
 * or takes upgrades from a `node:http(s)` server ({@link attach}, {@link handleUpgrade}), so it
 * works behind Express or Fastify too.
 */
export class WebSocketServer extends EventEmitter<ServerEvents> {
  /** Open connections. */
  readonly clients = new Set<WebSocketConnection>();
  /** @internal Topic subscriptions, shared with the connections. */
  readonly topics = new TopicRegistry();
  private readonly broadcastBatch = new SharedFrameBatch();
  private readonly options: ServerOptions;
  private readonly handler: ConnectionHandler | undefined;
  private readonly routeVerify: RoutingHandler['verify'] | undefined;
  private listener: NetServer | null = null;
  /** Sockets still in the opening handshake, with the timer that drops them. */
  private readonly handshaking = new Map<Socket, NodeJS.Timeout>();
  private readonly detachers: Array<() => void> = [];
  private closing = false;
  private closed: Promise<void> | null = null;
  /** One shared 'close' listener for sockets in the handshake (`this` is the socket). */
  private readonly onHandshakeSocketClose: (this: Socket) => void;

  constructor(handler?: ConnectionHandler | RoutingHandler, options: ServerOptions = {}) {
    super();
    const server = this;
    this.onHandshakeSocketClose = function (this: Socket): void {
      server.endHandshake(this);
    };
    if (typeof handler === 'object' && handler !== null) {
      this.handler = (ws) => handler.handle(ws);
      this.routeVerify = (request) => handler.verify(request);
    } else {
      this.handler = handler;
    }
    this.options = { pingInterval: DEFAULT_PING_INTERVAL, ...options };
  }

  /**
   * Sends one message to every open connection (optionally except one, e.g. the sender). The
   * frame is encoded once and the same bytes are queued on each connection; each socket then
   * gets one write per event-loop turn however many messages were broadcast.
   * Returns the number of connections it was queued on.
   */
  broadcast(data: SendData, options: { except?: WebSocketConnection; binary?: boolean } = {}): number {
    return deliver(this.broadcastBatch, this.clients, data, options);
  }

  /**
   * Publishes a message to every subscriber of `topic` (see {@link WebSocketConnection.subscribe}),
   * optionally except one. Encoded once into the topic's shared batch; every subscriber queues the
   * same bytes by reference, and gets one write per event-loop turn however many were published.
   * Returns the number of subscribers it was queued on.
   */
  publish(topic: string, data: SendData, options: { except?: WebSocketConnection; binary?: boolean } = {}): number {
    const entry = this.topics.entry(topic);
    return entry === undefined ? 0 : deliver(entry.batch, entry.subscribers, data, options);
  }

  /** Number of subscribers of `topic`. */
  subscriberCount(topic: string): number {
    return this.topics.get(topic).size;
  }

  /** The address the server listens on (after {@link listen}). */
  address(): AddressInfo {
    const address = this.listener?.address();
    if (!address || typeof address === 'string') throw new Error('The server is not listening');
    return address;
  }

  /** `ws://host:port/` or `wss://…` for the listening server. */
  get url(): string {
    const { address, port } = this.address();
    const host = address.includes(':') ? `[${address}]` : address;
    return `${this.options.tls ? 'wss' : 'ws'}://${host}:${port}/`;
  }

  /** Starts listening on `options.port`/`options.host`. Resolves once listening. */
  listen(): Promise<this> {
    const onSocket = (socket: Socket): void => this.acceptSocket(socket);
    const server = this.options.tls
      ? createTlsServer({ handshakeTimeout: this.handshakeTimeout, ...this.options.tls }, onSocket)
      : createNetServer({ noDelay: true }, onSocket);
    if (this.options.tls) {
      // A failed TLS handshake is the peer's problem, not a server error.
      server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
    }
    this.listener = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        server.on('error', (error) => this.emitError(error));
        this.emit('listening');
        resolve(this);
      });
    });
  }

  /**
   * Takes WebSocket upgrades from an HTTP server (optionally only on `path`), leaving its other
   * requests alone. Returns this server.
   */
  attach(httpServer: HttpServer, options: { path?: string } = {}): this {
    const path = options.path ?? this.options.path;
    const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
      if (path !== undefined && pathOf(req.url ?? '/') !== path) {
        // Another upgrade handler may own this path; answer only if nobody else listens.
        if (httpServer.listenerCount('upgrade') === 1) this.refuse(socket, rejectResponse(404));
        return;
      }
      this.handleUpgrade(req, socket, head);
    };
    httpServer.on('upgrade', onUpgrade);
    this.detachers.push(() => httpServer.off('upgrade', onUpgrade));
    return this;
  }

  /**
   * Completes a WebSocket upgrade for a request from `node:http`'s `upgrade` event. Calls
   * `callback` (and emits `connection`) with the open connection, or answers the request with the
   * right HTTP error and closes the socket.
   */
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, callback?: (ws: WebSocketConnection) => void): void {
    this.trackHandshake(socket);
    void this.upgrade(fromIncomingMessage(req), socket, head, callback);
  }

  /**
   * Stops accepting connections, closes every open one with 1001 (going away), waits for their
   * close handshakes (up to `closeTimeout`), then drops what is left. Resolves when everything
   * is closed; no socket or timer is left behind.
   */
  close(code: number = CloseCode.GOING_AWAY, reason = 'Server shutting down'): Promise<void> {
    // A second caller (say, SIGINT during shutdown) waits for the same shutdown.
    this.closed ??= this.shutDown(code, reason);
    return this.closed;
  }

  private async shutDown(code: number, reason: string): Promise<void> {
    this.closing = true;
    for (const detach of this.detachers.splice(0)) detach();
    const listener = this.listener;
    const listenerClosed = listener
      ? new Promise<void>((resolve) => listener.close(() => resolve()))
      : Promise.resolve();
    for (const [socket, timer] of this.handshaking) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.handshaking.clear();
    await Promise.all([...this.clients].map((ws) => ws.close(code, reason)));
    await listenerClosed;
    this.emit('close');
  }

  // Raw sockets: our own head parser ----------------------------------------------------------

  private get handshakeTimeout(): number {
    return this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  }

  private acceptSocket(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.trackHandshake(socket);
    const limits = { maxHeadSize: this.options.maxHeadSize, maxHeaderCount: this.options.maxHeaderCount };
    const maxHeadSize = this.options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE;
    let pieces: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      pieces.push(chunk);
      size += chunk.length;
      // A head can only end on a LF, so a client trickling bytes (slowloris) costs a rescan per
      // line, not per byte: linear work overall.
      if (chunk.indexOf(0x0a) < 0 && size <= maxHeadSize) return;
      const received = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size);
      pieces = [received];
      const result = parseRequestHead(received, limits);
      if (result.kind === 'incomplete') return;
      socket.off('data', onData);
      socket.pause();
      if (result.kind === 'error') {
        this.refuse(socket, rejectResponse(result.status, result.message));
        return;
      }
      const { head } = result;
      const request: UpgradeRequest = {
        method: head.method,
        target: head.target,
        httpVersion: head.httpVersion,
        headers: head.headers,
      };
      void this.upgrade(request, socket, received.subarray(result.bytesConsumed));
    };
    socket.on('data', onData);
  }

  private endHandshake(socket: Socket): void {
    const timer = this.handshaking.get(socket);
    if (timer) clearTimeout(timer);
    this.handshaking.delete(socket);
  }

  private trackHandshake(socket: Socket): void {
    // A fixed deadline from accept, not an idle timeout: a client trickling one byte at a time
    // (slowloris) must not be able to hold the socket open.
    this.handshaking.set(
      socket,
      setTimeout(() => socket.destroy(), this.handshakeTimeout),
    );
    socket.on('error', noop);
    socket.once('close', this.onHandshakeSocketClose);
  }

  // The upgrade, whichever way the request came --------------------------------------------------

  private async upgrade(
    request: UpgradeRequest,
    socket: Socket,
    head: Buffer,
    callback?: (ws: WebSocketConnection) => void,
  ): Promise<void> {
    const options = this.options;
    const info = upgradeInfo(request, socket);
    if (options.path !== undefined && info.path !== options.path) {
      this.refuse(socket, rejectResponse(404, `No WebSocket endpoint at ${info.path}`));
      return;
    }
    const result = acceptUpgrade(request, {
      selectProtocol: options.selectProtocol ? (offered) => options.selectProtocol!(offered, info) : undefined,
    });
    if (!result.ok) {
      this.refuse(socket, result.response);
      return;
    }
    info.offeredProtocols = result.offeredProtocols;
    for (const verify of [this.routeVerify, options.verify]) {
      if (!verify) continue;
      let verdict: VerifyResult;
      try {
        verdict = await verify(info);
      } catch (error) {
        this.emitError(error as Error);
        verdict = 500;
      }
      const refusal = refusalFor(verdict);
      if (refusal) {
        this.refuse(socket, refusal);
        return;
      }
    }
    if (socket.destroyed || this.closing) {
      socket.destroy();
      return;
    }
    socket.write(serializeResponse(result.response));
    socket.off('error', noop);
    socket.off('close', this.onHandshakeSocketClose);
    this.endHandshake(socket);
    const ws = new WebSocketConnection(
      socket,
      { role: 'server', protocol: result.protocol ?? '', extensions: '', request: info, head },
      options,
    );
    socket.resume();
    ws.topicRegistry = this.topics;
    this.clients.add(ws);
    ws.once('close', () => {
      this.clients.delete(ws);
      this.topics.unsubscribeAll(ws);
    });
    callback?.(ws);
    this.emit('connection', ws);
    if (this.handler) this.runHandler(ws);
  }

  private runHandler(ws: WebSocketConnection): void {
    let outcome: void | Promise<void>;
    try {
      outcome = this.handler!(ws);
    } catch (error) {
      this.handlerFailed(ws, error);
      return;
    }
    if (outcome && typeof outcome.then === 'function') {
      outcome.then(
        () => void ws.close().catch(noop),
        (error: unknown) => this.handlerFailed(ws, error),
      );
    }
  }

  private handlerFailed(ws: WebSocketConnection, error: unknown): void {
    // The peer going away mid-handler is the normal end of a connection, not a server error.
    if (error instanceof ConnectionClosedError) return;
    this.emitError(error instanceof Error ? error : new Error(String(error)));
    if (ws.readyState === 1) void ws.close(CloseCode.INTERNAL_ERROR, 'Internal error').catch(noop);
  }

  private refuse(socket: Socket, response: HandshakeResponse): void {
    if (!socket.destroyed) socket.end(serializeResponse(response));
    // Do not wait for the client to read the response forever.
    socket.setTimeout(1000, () => socket.destroy());
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('fullduplex server:', error);
  }
}

/**
 * Starts a WebSocket server that calls `handler` for every connection — the shape of
 * python-websockets' `serve(handler, host, port)`. Resolves once it listens.
 *
 * @example
 * const server = await serve(async (ws) => {
 *   for await (const message of ws) await ws.send(`I got your message: ${message}`);
 * }, { port: 8765 });
 */
export function serve(handler: ConnectionHandler | RoutingHandler, options: ServerOptions = {}): Promise<WebSocketServer> {
  return new WebSocketServer(handler, options).listen();
}

/** Encodes `data` once into `batch` and queues that region on every receiver but `except`. */
function deliver(
  batch: SharedFrameBatch,
  receivers: Iterable<WebSocketConnection>,
  data: SendData,
  options: { except?: WebSocketConnection; binary?: boolean },
): number {
  batch.encode(data, options.binary ?? typeof data !== 'string');
  const { buffer, start, end } = batch;
  let count = 0;
  for (const ws of receivers) {
    if (ws !== options.except && ws.sendShared(buffer, start, end)) count++;
  }
  return count;
}

function refusalFor(verdict: VerifyResult): HandshakeResponse | null {
  if (verdict === true || verdict === undefined) return null;
  if (verdict === false) return rejectResponse(403);
  if (typeof verdict === 'number') return rejectResponse(verdict);
  return rejectResponse(verdict.status, verdict.message, verdict.headers);
}

/** The request as hooks and connections see it; the query and address are computed on first use. */
class UpgradeInfoImpl implements UpgradeInfo {
  readonly url: string;
  readonly path: string;
  readonly headers: Record<string, string | undefined>;
  readonly method: string;
  offeredProtocols: string[] = [];
  private parsedQuery: URLSearchParams | null = null;

  constructor(
    request: UpgradeRequest,
    private readonly socket: Socket,
  ) {
    this.url = request.target;
    this.path = pathOf(request.target);
    this.headers = request.headers;
    this.method = request.method;
  }

  get query(): URLSearchParams {
    const q = this.url.indexOf('?');
    return (this.parsedQuery ??= new URLSearchParams(q < 0 ? '' : this.url.slice(q + 1)));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
}

function upgradeInfo(request: UpgradeRequest, socket: Socket): UpgradeInfo {
  return new UpgradeInfoImpl(request, socket);
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function noop(): void {}
