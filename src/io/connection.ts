import { EventEmitter } from 'node:events';
import { CloseCode } from '../frame/close-code.js';
import type { ReadyStateValue } from '../protocol/protocol.js';
import { ConnectionClosedError, SessionError } from './errors.js';
import type { Session, SendData, SendOptions, SessionListener, RequestInfo } from './session.js';
import type { Transport } from './transport.js';

export type { SendData, SendOptions, RequestInfo, ConnectionOptions } from './session.js';

/**
 * A received message: text as `string`, binary as `Buffer`.
 * @example
 * ```ts
 * import { connect, type Message } from 'fullduplex';
 *
 * const ws = await connect('ws://127.0.0.1:8080/');
 * const message: Message = await ws.recv();
 * console.log(typeof message === 'string' ? `text: ${message}` : `${message.length} bytes`);
 * ```
 */
export type Message = string | Buffer;

/** The listener table of a connection (see the constructor): an empty object over an empty, null-prototype prototype. */
const ListenerTable = function ListenerTable(): void {} as unknown as new () => object;
ListenerTable.prototype = Object.create(null) as object;

/**
 * Events of a {@link WebSocketConnection}, with their listener signatures.
 * @example
 * ```ts
 * import { serve } from 'fullduplex';
 *
 * await serve((ws) => {
 *   ws.on('message', (data, isBinary) => void ws.send(data, { binary: isBinary }));
 *   ws.on('close', (code, reason) => console.log('closed', code, reason));
 *   ws.on('error', (error) => console.error(error));
 * });
 * ```
 */
export interface ConnectionEvents {
  /** A complete message: text as a string, binary as a Buffer. */
  message: [data: Message, isBinary: boolean];
  /** A ping arrived (its pong is already queued). */
  ping: [payload: Buffer];
  /** A pong arrived. */
  pong: [payload: Buffer];
  /** The connection closed (emitted once, always after any 'error'). */
  close: [code: number, reason: string];
  /** A ProtocolError, a socket error or a SessionError; only emitted when someone listens. */
  error: [error: Error];
  /** The outgoing buffer drained below sendHighWaterMark. */
  drain: [];
}

/**
 * What a connection needs from its server's publish/subscribe registry (see
 * `server/pubsub.ts`). Client connections have none.
 * @example
 * ```ts
 * import { LocalPubSub, type TopicMembership } from 'fullduplex';
 *
 * // The server wires its PubSub into each connection it adopts; ws.subscribe() goes through it.
 * const registry: TopicMembership = new LocalPubSub();
 * registry.subscribe(ws, 'news');
 * console.log(registry.topics(ws)); // ['news']
 * ```
 */
export interface TopicMembership {
  /** Adds `ws` to `topic`; false if it already was. */
  subscribe(ws: WebSocketConnection, topic: string): boolean;
  /** Removes `ws` from `topic`; false if it was not subscribed. */
  unsubscribe(ws: WebSocketConnection, topic: string): boolean;
  /** The topics `ws` is subscribed to. */
  topics(ws: WebSocketConnection): string[];
}

/**
 * An open WebSocket connection: fullduplex's own API, a face over a {@link Session}. Use it three
 * ways, all over the same state:
 *
 * - `for await (const message of ws)` or `await ws.recv()` (python-websockets style);
 * - `ws.on('message', (data, isBinary) => …)` (ws style; while a `message` listener is attached,
 *   messages go to it and not to the queue);
 * - `await ws.send(data)`, which resolves at once under the high-water mark and waits for drain
 *   above it.
 *
 * Writes are batched: everything sent while handling one incoming chunk, or within one turn of
 * the event loop, reaches the transport as one write.
 *
 * @example
 * ```ts
 * import { connect } from 'fullduplex';
 *
 * const ws = await connect('ws://127.0.0.1:8765');
 * ws.on('message', (data) => console.log('event:', data));
 * await ws.send('hello');
 * await ws.close();
 * ```
 */
export class WebSocketConnection extends EventEmitter<ConnectionEvents> implements SessionListener {
  /** The session this face wraps (the protocol core, the transport pump, timers and queues). */
  readonly session: Session;
  /** @internal Set by the server so `subscribe()` works; null on client connections. */
  topicRegistry: TopicMembership | null = null;
  private userData: Record<string, unknown> | null = null;

  /** Per-connection data for applications (user id, room, …). Created on first use. */
  get data(): Record<string, unknown> {
    return (this.userData ??= {});
  }

  set data(value: Record<string, unknown>) {
    this.userData = value;
  }

  /** Wraps `session` and becomes its listener. Created by the server or by `connect()`. */
  constructor(session: Session) {
    super();
    // EventEmitter's own table is a `{ __proto__: null }` literal, which V8 keeps in dictionary
    // mode (~200 B with two listeners, per connection); instances of a function whose prototype
    // has a null prototype stay fast and share their shape. Lookups behave the same: the
    // prototype is empty.
    (this as unknown as { _events: object })._events = new ListenerTable();
    this.session = session;
    session.attach(this);
  }

  /** Negotiated subprotocol, or `''`. */
  get protocol(): string {
    return this.session.init.protocol;
  }

  /** Negotiated extensions as sent in `Sec-WebSocket-Extensions`, or `''`. */
  get extensions(): string {
    return this.session.init.extensionsHeader;
  }

  /** The handshake request. */
  get request(): RequestInfo {
    return this.session.init.request;
  }

  /** The transport: a `net.Socket`, a TLS socket, or an HTTP/2 stream. */
  get socket(): Transport {
    return this.session.transport;
  }

  /** Remote IP address. */
  get remoteAddress(): string | undefined {
    return this.session.init.peer.address;
  }

  /** Remote port. */
  get remotePort(): number | undefined {
    return this.session.init.peer.port;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): ReadyStateValue {
    return this.session.readyState;
  }

  /** Bytes queued for sending and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.session.bufferedAmount;
  }

  /** Close code once closed (1006 when the connection dropped without a close frame). */
  get closeCode(): number {
    return this.session.closeCode;
  }

  /** True when the connection closed with a completed closing handshake and no failure. */
  get wasClean(): boolean {
    return this.session.wasClean;
  }

  /** Close reason once closed. */
  get closeReason(): string {
    return this.session.closeReason;
  }

  // Sending -----------------------------------------------------------------------------------

  /**
   * Sends one message: a string as text, anything else as binary (or as text with
   * `{ binary: false }`); `{ compress: false }` skips permessage-deflate for this message.
   * Resolves at once while less than the high-water mark is buffered, otherwise when the
   * transport drains. Rejects with {@link ConnectionClosedError} once closing. While a
   * fragmented message is being sent ({@link sendFragments}), it waits for that to end.
   */
  send(data: SendData, options?: SendOptions): Promise<void> {
    return this.session.send(data, options);
  }

  /**
   * Sends a message of unknown length as fragments, one per item of `source` (§5.4): strings make
   * a text message, bytes a binary one. Other messages (sends, broadcasts, publishes) wait until
   * it is finished.
   */
  sendFragments(source: Iterable<SendData> | AsyncIterable<SendData>, options?: { compress?: boolean }): Promise<void> {
    return this.session.sendFragments(source, options);
  }

  /**
   * Queues `buffer[start, end)` — frames encoded once for many connections — by reference.
   * Server connections only.
   * @internal
   */
  sendShared(buffer: Buffer, start: number, end: number): boolean {
    return this.session.sendShared(buffer, start, end);
  }

  /**
   * Sends a ping and resolves with the round-trip time in milliseconds when the matching pong
   * arrives (a pong acknowledges every ping sent before it, §5.5.3).
   */
  ping(payload?: SendData): Promise<number> {
    return this.session.ping(payload);
  }

  /** Sends an unsolicited pong (a unidirectional heartbeat, §5.5.3). */
  pong(payload?: SendData): void {
    this.session.pong(payload);
  }

  /**
   * Starts the closing handshake (default code 1000) and resolves once the connection is closed.
   * The peer gets `closeTimeout` ms to answer before the transport is dropped; messages that
   * arrive meanwhile are still delivered.
   */
  close(code: number = CloseCode.NORMAL_CLOSURE, reason = ''): Promise<void> {
    return this.session.close(code, reason);
  }

  /** Drops the connection at once, without a closing handshake (close code 1006). */
  terminate(): void {
    this.session.terminate();
  }

  /** Resolves when the connection is closed, however that happens. */
  whenClosed(): Promise<void> {
    return this.session.whenClosed();
  }

  // Topics ------------------------------------------------------------------------------------

  /**
   * Subscribes to `topic`: messages the server publishes to it (`server.publish(topic, data)`)
   * reach this connection. Server connections only. Returns false if already subscribed or
   * the connection is closed.
   */
  subscribe(topic: string): boolean {
    // A closed connection would stay in the registry forever: its cleanup already ran.
    if (this.session.isClosed) return false;
    return this.registry().subscribe(this, topic);
  }

  /** Leaves `topic`. Returns false if not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.registry().unsubscribe(this, topic);
  }

  /** Topics this connection is subscribed to. */
  get subscriptions(): string[] {
    return this.topicRegistry?.topics(this) ?? [];
  }

  private registry(): TopicMembership {
    if (!this.topicRegistry) throw new SessionError('FD_ERR_TOPICS_UNAVAILABLE', 'Topics are only available on server connections');
    return this.topicRegistry;
  }

  // Receiving ---------------------------------------------------------------------------------

  /**
   * Resolves with the next message. Rejects with {@link ConnectionClosedError} when the
   * connection is closed and no message is left.
   */
  recv(): Promise<Message> {
    return this.session.inbox<Message>().next();
  }

  /**
   * Iterates over messages until the connection closes. Ends normally after a normal close
   * (1000/1001/1005); throws {@link ConnectionClosedError} after an abnormal one.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Message, void, undefined> {
    for (;;) {
      try {
        yield await this.recv();
      } catch (error) {
        if (error instanceof ConnectionClosedError && error.isNormal) return;
        throw error;
      }
    }
  }

  // SessionListener ---------------------------------------------------------------------------

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean): void {
    const message: Message = isBinary ? data : data.toString('utf8');
    if (this.emit('message', message, isBinary)) return;
    this.session.inbox<Message>().push(message, data.length);
  }

  /** @internal */
  onPing(payload: Buffer): void {
    this.emit('ping', payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    this.emit('pong', payload);
  }

  /** @internal */
  onError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else if (error instanceof SessionError && error.code === 'FD_ERR_APPLICATION') console.error('fullduplex:', error.cause ?? error);
  }

  /** @internal */
  onDrain(): void {
    this.emit('drain');
  }

  /** @internal */
  onClose(code: number, reason: string): void {
    this.emit('close', code, reason);
  }
}
