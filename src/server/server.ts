import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { CloseCode } from '../frame/close-code.js';
import type { ServerExtension } from '../frame/extension.js';
import { permessageDeflate, type PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import type { HandshakeResponse, UpgradeRequest } from '../handshake/server.js';
import { WebSocketConnection } from '../io/connection.js';
import { ConnectionClosedError } from '../io/errors.js';
import type { SendData, Session } from '../io/session.js';
import type { PeerInfo } from '../io/transport.js';
import { admit, type AcceptorHost, type Admission, type AdmissionOptions, type UpgradeInfo, type VerifyResult } from './admission.js';
import type { Backplane, BackplaneEvent, BackplaneStats } from './backplane.js';
import { SharedFrameBatch } from './broadcast.js';
import { Http1Acceptor } from './http1.js';
import { createHttp2Listener, Http2Acceptor, type AnyHttp2Server } from './http2.js';
import { deliver, LocalPubSub, type PublishOptions } from './pubsub.js';

export type { UpgradeInfo, VerifyResult } from './admission.js';

/**
 * Options of {@link WebSocketServer} and {@link serve}.
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { serve, type ServerOptions } from 'fullduplex';
 *
 * const options: ServerOptions = {
 *   port: 8443,
 *   host: '0.0.0.0',
 *   tls: { cert: readFileSync('cert.pem'), key: readFileSync('key.pem') },
 *   path: '/ws',
 *   perMessageDeflate: true,
 *   pingInterval: 30_000,
 * };
 * const server = await serve((ws) => ws.on('message', (data) => void ws.send(data)), options);
 * ```
 */
export interface ServerOptions extends AdmissionOptions {
  /** Port to listen on (0 picks a free one). Only for {@link serve} / {@link WebSocketServer.listen}. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** TLS options (`cert`, `key`, …): listen with `node:tls` and serve `wss://`. */
  tls?: TlsOptions;
  /**
   * Serve WebSockets over HTTP/2 too (RFC 8441 extended CONNECT). With `tls`: one port with ALPN
   * `h2` and `http/1.1`, HTTP/1.1 upgrades and HTTP/2 streams alike. Without `tls`: as `h2c`.
   */
  http2?: boolean;
  /** Listen for cleartext HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1. */
  h2c?: boolean;
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
  /**
   * permessage-deflate (RFC 7692): `true` or options to accept clients' offers. Default off, as
   * ws, uWebSockets and Bun: compression costs CPU and memory per connection; turn it on where
   * bandwidth matters more.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Other extensions, in order of preference (after permessage-deflate when both are set). */
  extensions?: ServerExtension[];
  /**
   * Forwards publishes and broadcasts to the other processes or machines of a deployment
   * (`fullduplex/redis`, `fullduplex/cluster`). Local subscribers are served first and
   * synchronously, whatever the backplane's state.
   */
  backplane?: Backplane;
  /**
   * Lets several independent processes listen on the same port, the kernel spreading connections
   * among them (`SO_REUSEPORT`; Linux 3.9+, FreeBSD 12+…), each process being one backplane node.
   * Needs Node ≥ 22.12 / ≥ 23.1: older runtimes silently ignore the option, so {@link
   * WebSocketServer.listen} rejects with an error saying so instead (use `node:cluster` there).
   */
  reusePort?: boolean;
}

/**
 * Handles one connection. If it returns a promise, the connection is closed (1000) when the
 * promise settles — the python-websockets model, where the handler owns the connection. If it
 * returns nothing, the connection stays open until either side closes it (the `ws` model).
 * @example
 * ```ts
 * import { serve, type ConnectionHandler } from 'fullduplex';
 *
 * // The handler owns the connection: it is closed (1000) when the promise settles.
 * const echo: ConnectionHandler = async (ws) => {
 *   for await (const message of ws) await ws.send(message);
 * };
 * await serve(echo, { port: 8080 });
 * ```
 */
export type ConnectionHandler = (ws: WebSocketConnection) => void | Promise<void>;

/**
 * A handler that also decides at the handshake whether it takes a request — a router answers
 * 404 for paths it has no route for before any upgrade happens. Pass one wherever a
 * {@link ConnectionHandler} is accepted.
 * @example
 * ```ts
 * import { serve, type RoutingHandler } from 'fullduplex';
 *
 * // Refuses every path but /live at the handshake (404), before any upgrade.
 * const live: RoutingHandler = {
 *   verify: (request) => (request.path === '/live' ? true : 404),
 *   handle: (ws) => void ws.send('welcome'),
 * };
 * await serve(live, { port: 8080 });
 * ```
 */
export interface RoutingHandler {
  /** Handles an accepted connection. */
  handle(ws: WebSocketConnection): void | Promise<void>;
  /** Accepts or refuses the upgrade request, like {@link ServerOptions.verify}. */
  verify(request: UpgradeInfo): VerifyResult | Promise<VerifyResult>;
}

/**
 * Events of a {@link WebSocketServer}.
 * @example
 * ```ts
 * import { WebSocketServer } from 'fullduplex';
 *
 * const server = new WebSocketServer(undefined, { port: 8080 });
 * server.on('connection', (ws) => void ws.send('hi'));
 * server.on('error', (error) => console.error(error));
 * server.on('listening', () => console.log('listening on', server.url));
 * await server.listen();
 * ```
 */
export interface ServerEvents {
  /** A connection was accepted and is open. */
  connection: [ws: WebSocketConnection];
  /** The listening socket failed, a hook (`verify`, `onResponse`) threw, or a handler failed (emitted only when someone listens). */
  error: [error: Error];
  /** The server is listening (after {@link WebSocketServer.listen}). */
  listening: [];
  /** The server closed (after {@link WebSocketServer.close}). */
  close: [];
  /** Health and loss reports of the backplane (see {@link BackplaneEvent}). */
  backplane: [event: BackplaneEvent];
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_PING_INTERVAL = 20_000;

/**
 * A WebSocket server. Listens by itself on `node:net`/`node:tls` ({@link serve}, {@link listen}),
 * or takes upgrades from a `node:http(s)` server ({@link attach}, {@link handleUpgrade}), so it
 * works behind Express or Fastify too.
 *
 * Its parts: acceptors (HTTP/1.1 in `http1.ts`) turn transports into sessions through one
 * transport-independent {@link admit} decision; the server adopts each session as a
 * {@link WebSocketConnection}, tracks it, runs the handler, and delivers broadcasts and
 * publishes (through its {@link LocalPubSub} and, when configured, a {@link Backplane}).
 *
 * @example
 * ```ts
 * import { WebSocketServer } from 'fullduplex';
 *
 * const wss = await new WebSocketServer((ws) => {
 *   ws.on('message', (data) => void ws.send(data));
 * }, { port: 0 }).listen();
 * console.log(wss.url);
 * ```
 */
export class WebSocketServer extends EventEmitter<ServerEvents> implements AcceptorHost {
  /** Open connections. */
  readonly clients = new Set<WebSocketConnection>();
  /** 'close' listener shared by every connection (`this` is the connection that closed). */
  private readonly onClientClose = ((server: WebSocketServer) =>
    function (this: WebSocketConnection): void {
      server.clients.delete(this);
      server.topics.unsubscribeAll(this);
    })(this);
  /** @internal Topic subscriptions, shared with the connections. */
  readonly topics: LocalPubSub;
  /** @internal */
  readonly options: ServerOptions;
  private readonly broadcastBatch = new SharedFrameBatch();
  private readonly handler: ConnectionHandler | undefined;
  private readonly routeVerify: RoutingHandler['verify'] | undefined;
  private readonly backplane: Backplane | null;
  private readonly http1: Http1Acceptor;
  private readonly http2: Http2Acceptor;
  private listener: NetServer | null = null;
  private readonly detachers: Array<() => void> = [];
  private isClosing = false;
  private closed: Promise<void> | null = null;

  constructor(handler?: ConnectionHandler | RoutingHandler, options: ServerOptions = {}) {
    super();
    if (typeof handler === 'object' && handler !== null) {
      this.handler = (ws) => handler.handle(ws);
      this.routeVerify = (request) => handler.verify(request);
    } else {
      this.handler = handler;
    }
    const extensions = [...(options.extensions ?? [])];
    if (options.perMessageDeflate) {
      extensions.unshift(permessageDeflate(options.perMessageDeflate === true ? {} : options.perMessageDeflate));
    }
    this.options = { pingInterval: DEFAULT_PING_INTERVAL, ...options, extensions };
    this.backplane = options.backplane ?? null;
    const backplane = this.backplane;
    this.topics = new LocalPubSub(
      backplane ? { opened: (topic) => backplane.subscribe(topic), closed: (topic) => backplane.unsubscribe(topic) } : {},
    );
    this.http1 = new Http1Acceptor(this);
    this.http2 = new Http2Acceptor(this);
    backplane?.start({
      deliver: (topic, payload, binary) => {
        // From another node: local subscribers only, never forwarded again.
        if (topic === null) deliver(this.broadcastBatch, this.clients, payload, { binary });
        else this.topics.publish(topic, payload, { binary });
      },
      event: (event) => this.emit('backplane', event),
    });
  }

  /**
   * Sends one message to every open connection (optionally except one, e.g. the sender) — and,
   * with a backplane, to every connection of the deployment. The frame is encoded once and the
   * same bytes are queued on each connection; each socket then gets one write per event-loop turn
   * however many messages were broadcast. Returns the number of local connections it was queued on.
   */
  broadcast(data: SendData, options: PublishOptions = {}): number {
    const count = deliver(this.broadcastBatch, this.clients, data, options);
    if (this.backplane && !options.local) this.forward(null, data, options.binary);
    return count;
  }

  /**
   * Publishes a message to every subscriber of `topic` (see {@link WebSocketConnection.subscribe}),
   * optionally except one; with a backplane, to the topic's subscribers on every node unless
   * `local` is set. Encoded once into the topic's shared batch; every subscriber queues the same
   * bytes by reference. Returns the number of local subscribers it was queued on.
   */
  publish(topic: string, data: SendData, options: PublishOptions = {}): number {
    const count = this.topics.publish(topic, data, options);
    if (this.backplane && !options.local) this.forward(topic, data, options.binary);
    return count;
  }

  /** Number of local subscribers of `topic`. */
  subscriberCount(topic: string): number {
    return this.topics.count(topic);
  }

  /** The backplane's counters, or null without a backplane. */
  backplaneStats(): BackplaneStats | null {
    return this.backplane?.stats() ?? null;
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
    return `${this.options.tls && !this.options.h2c ? 'wss' : 'ws'}://${host}:${port}/`;
  }

  /** Starts listening on `options.port`/`options.host`. Resolves once listening. */
  listen(): Promise<this> {
    const onSocket = (socket: Socket): void => this.http1.acceptSocket(socket);
    const useHttp2 = this.options.http2 === true || this.options.h2c === true;
    const tls = this.options.h2c ? undefined : this.options.tls;
    const server = useHttp2
      ? createHttp2Listener(this.http2, this.http1, { tls, handshakeTimeout: this.handshakeTimeout, path: this.options.path })
      : this.options.tls
      ? createTlsServer({ handshakeTimeout: this.handshakeTimeout, ...this.options.tls }, onSocket)
      : createNetServer({ noDelay: true }, onSocket);
    if (this.options.tls) {
      // A failed TLS handshake is the peer's problem, not a server error.
      server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
    }
    const reusePort = this.options.reusePort === true;
    if (reusePort && !supportsReusePort(process.versions.node)) {
      // Node < 22.12 drops the option without a word: the second process would fail with
      // EADDRINUSE (or, worse, a user would believe the port is shared).
      return Promise.reject(new Error(
        `reusePort needs Node >= 22.12 (or >= 23.1); this is Node ${process.versions.node}, which ignores it. ` +
          'Use node:cluster with fullduplex/cluster or fullduplex/redis to share a port on this runtime.',
      ));
    }
    this.listener = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const listenOptions = { port: this.options.port ?? 0, host: this.options.host ?? '127.0.0.1', ...(reusePort ? { reusePort } : {}) };
      server.listen(listenOptions, () => {
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
    this.detachers.push(this.http1.attach(httpServer, options.path ?? this.options.path));
    return this;
  }

  /**
   * Takes WebSocket streams (RFC 8441 extended CONNECT) from a `node:http2` server, cleartext or
   * secure. The server must be created with `settings: { enableConnectProtocol: true }`; other
   * streams and requests are left to the application. Returns this server.
   */
  attachHttp2(http2Server: AnyHttp2Server, options: { path?: string } = {}): this {
    this.detachers.push(this.http2.attach(http2Server, options.path ?? this.options.path));
    return this;
  }

  /**
   * Completes a WebSocket upgrade for a request from `node:http`'s `upgrade` event. Calls
   * `callback` (and emits `connection`) with the open connection, or answers the request with the
   * right HTTP error and closes the socket.
   */
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, callback?: (ws: WebSocketConnection) => void): void {
    this.http1.handleUpgrade(req, socket, head, callback);
  }

  /**
   * Stops accepting connections, closes every open one with 1001 (going away), waits for their
   * close handshakes (up to `closeTimeout`), then drops what is left. Resolves when everything
   * is closed; no socket or timer is left behind. A backplane is stopped; the Redis clients it
   * was given stay open (they are the application's).
   */
  close(code: number = CloseCode.GOING_AWAY, reason = 'Server shutting down'): Promise<void> {
    // A second caller (say, SIGINT during shutdown) waits for the same shutdown.
    this.closed ??= this.shutDown(code, reason);
    return this.closed;
  }

  private async shutDown(code: number, reason: string): Promise<void> {
    this.isClosing = true;
    for (const detach of this.detachers.splice(0)) detach();
    const listener = this.listener;
    const listenerClosed = listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    this.http1.dropAll();
    // HTTP/2: GOAWAY first (no new streams), then the WebSockets below close with `code`.
    this.http2.goAway();
    this.http2.dropAll();
    await Promise.all([...this.clients].map((ws) => ws.close(code, reason)));
    await this.backplane?.close();
    await listenerClosed;
    this.emit('close');
  }

  // AcceptorHost: what every transport's acceptor shares ------------------------------------------

  /** @internal */
  get closing(): boolean {
    return this.isClosing;
  }

  /** @internal */
  get handshakeTimeout(): number {
    return this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  }

  /** @internal */
  admit(request: UpgradeRequest, peer: PeerInfo, check: () => { ok: true } | { ok: false; response: HandshakeResponse }): Promise<Admission> {
    return admit(this.options, [this.routeVerify, this.options.verify], request, peer, check, (error) => this.emitError(error));
  }

  /** @internal */
  adopt(session: Session, callback?: (ws: WebSocketConnection) => void): WebSocketConnection {
    const ws = new WebSocketConnection(session);
    ws.topicRegistry = this.topics;
    this.clients.add(ws);
    // One shared listener (`this` is the connection), not a closure plus a once-wrapper per connection.
    ws.on('close', this.onClientClose);
    callback?.(ws);
    this.emit('connection', ws);
    if (this.handler) this.runHandler(ws);
    return ws;
  }

  /** @internal */
  emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('fullduplex server:', error);
  }

  private forward(topic: string | null, data: SendData, binary: boolean | undefined): void {
    const isBinary = binary ?? typeof data !== 'string';
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data instanceof ArrayBuffer ? data : data.buffer, data instanceof ArrayBuffer ? 0 : data.byteOffset, data.byteLength);
    this.backplane!.publish(topic, payload, isBinary);
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
}

/**
 * Starts a WebSocket server that calls `handler` for every connection — the shape of
 * python-websockets' `serve(handler, host, port)`. Resolves once it listens.
 *
 * @example
 * ```ts
 * const server = await serve(async (ws) => {
 *   for await (const message of ws) await ws.send(`I got your message: ${message}`);
 * }, { port: 8765 });
 * ```
 */
export function serve(handler: ConnectionHandler | RoutingHandler, options: ServerOptions = {}): Promise<WebSocketServer> {
  return new WebSocketServer(handler, options).listen();
}

function noop(): void {}

/**
 * Whether this Node version honours `reusePort` in `net.Server.listen()` options (added in
 * v23.1.0 and backported to v22.12.0, nodejs/node#55408). Exported for tests.
 * @internal
 */
export function supportsReusePort(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
