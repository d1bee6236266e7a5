import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { CloseCode } from '../frame/close-code.js';
import type { ProtocolError } from '../frame/errors.js';
import { Protocol, ReadyState, type ProtocolHandler, type ReadyStateValue } from '../protocol/protocol.js';
import type { MaskSource } from '../frame/mask.js';
import { ConnectionClosedError } from './errors.js';
import { scheduleFlush, type Flushable } from './flush-scheduler.js';

/** Anything `send()` accepts: a string goes as text, everything else as binary. */
export type SendData = string | Buffer | ArrayBufferView | ArrayBuffer;

/** A received message: text as `string`, binary as `Buffer`. */
export type Message = string | Buffer;

/** What the handshake learned about the peer's request (server side) or our request (client side). */
export interface RequestInfo {
  /** Request target as sent, e.g. `/chat?room=1`. */
  url: string;
  /** Path without the query, e.g. `/chat`. */
  path: string;
  /** Parsed query string. */
  query: URLSearchParams;
  /** Request headers, lowercase names. */
  headers: Record<string, string | undefined>;
}

/** Options shared by server and client connections. */
export interface ConnectionOptions {
  /** Largest incoming message in bytes; larger fails the connection with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /** How long to wait for the peer to finish the close handshake before dropping TCP. Default 10 s. */
  closeTimeout?: number;
  /**
   * Interval between keepalive pings in ms; 0 disables the heartbeat. Default 0 here; servers and
   * clients set their own defaults.
   */
  pingInterval?: number;
  /** Time for a pong to arrive before the peer is considered dead and dropped. Default 20 s. */
  pongTimeout?: number;
  /**
   * `await send()` waits for the socket to drain while more than this many bytes are buffered.
   * Default 64 KiB.
   */
  sendHighWaterMark?: number;
  /**
   * Hard cap on buffered outgoing bytes: a peer that reads too slowly to stay under it is dropped
   * (close code 1008) instead of letting memory grow without bound. Default 64 MiB.
   */
  maxBufferedAmount?: number;
  /**
   * Received messages kept for `recv()`/iteration when nobody is consuming; reading from the
   * socket pauses beyond this. Default 64.
   */
  maxQueuedMessages?: number;
  /** Masking keys (client only; for tests). */
  maskSource?: MaskSource;
}

/** Events of a {@link WebSocketConnection}, with their listener signatures. */
export interface ConnectionEvents {
  message: [data: Message, isBinary: boolean];
  ping: [payload: Buffer];
  pong: [payload: Buffer];
  close: [code: number, reason: string];
  error: [error: Error];
  drain: [];
}

/** What a connection needs from its server's topic registry. */
export interface TopicRegistryLike {
  subscribe(ws: WebSocketConnection, topic: string): boolean;
  unsubscribe(ws: WebSocketConnection, topic: string): boolean;
  topics(ws: WebSocketConnection): string[];
}

const RESOLVED: Promise<void> = Promise.resolve();
const DEFAULT_CLOSE_TIMEOUT = 10_000;
const DEFAULT_PONG_TIMEOUT = 20_000;
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
const DEFAULT_MAX_BUFFERED = 64 * 1024 * 1024;
const DEFAULT_MAX_QUEUED = 64;

interface Waiter {
  resolve(message: Message): void;
  reject(error: Error): void;
}

interface PendingPing {
  payload: Buffer;
  sentAt: bigint;
  resolve(rtt: number): void;
  reject(error: Error): void;
}

/**
 * An open WebSocket connection on a socket: the thin I/O binding around a sans-I/O
 * {@link Protocol}. Use it three ways, all over the same state:
 *
 * - `for await (const message of ws)` or `await ws.recv()` (python-websockets style);
 * - `ws.on('message', (data, isBinary) => …)` (ws style; while a `message` listener is attached,
 *   messages go to it and not to the queue);
 * - `await ws.send(data)`, which resolves at once under the high-water mark and waits for drain
 *   above it.
 *
 * Writes are batched: everything sent while handling one incoming chunk, or within one turn of
 * the event loop, reaches the socket as one write.
 */
export class WebSocketConnection extends EventEmitter<ConnectionEvents> implements ProtocolHandler, Flushable {
  /** @internal */
  flushScheduled = false;
  /** Negotiated subprotocol, or `''`. */
  readonly protocol: string;
  /** Negotiated extensions as sent in `Sec-WebSocket-Extensions`, or `''`. */
  readonly extensions: string;
  /** The handshake request. */
  readonly request: RequestInfo;
  /** The underlying socket. */
  readonly socket: Socket;
  /** @internal Set by the server so `subscribe()` works; null on client connections. */
  topicRegistry: TopicRegistryLike | null = null;
  /** Per-connection data for applications (user id, room, …). */
  data: Record<string, unknown> = {};

  private readonly core: Protocol;
  private readonly closeTimeout: number;
  private readonly pingInterval: number;
  private readonly pongTimeout: number;
  private readonly highWaterMark: number;
  private readonly maxBuffered: number;
  private readonly maxQueued: number;

  private receiving = false;
  private socketEnded = false;
  private closed = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;
  private readonly queue: Message[] = [];
  private queueHead = 0;
  private readonly waiters: Waiter[] = [];
  private pings: PendingPing[] = [];
  private drainWaiters: Array<{ resolve(): void; reject(error: Error): void }> = [];
  private closedPromise: Promise<void> | null = null;
  private resolveClosed: (() => void) | null = null;
  private pausedForQueue = false;
  private failure: Error | null = null;

  /**
   * Binds an already-upgraded socket. `head` holds bytes that arrived after the handshake.
   * Normally created by the server or by `connect()`, not directly.
   */
  constructor(
    socket: Socket,
    init: { role: 'server' | 'client'; protocol: string; extensions: string; request: RequestInfo; head?: Buffer | undefined },
    options: ConnectionOptions = {},
  ) {
    super();
    this.socket = socket;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.request = init.request;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.pingInterval = options.pingInterval ?? 0;
    this.pongTimeout = options.pongTimeout ?? DEFAULT_PONG_TIMEOUT;
    this.highWaterMark = options.sendHighWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.maxBuffered = options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED;
    this.maxQueued = options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED;
    this.core = new Protocol(this, {
      role: init.role,
      ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
      ...(options.maskSource ? { maskSource: options.maskSource } : {}),
    });

    socket.setNoDelay(true);
    // Paused until the bytes that came with the handshake are delivered, so order is kept.
    socket.pause();
    // Shared module-level listeners find their connection through the socket: no closures per
    // connection (memory per idle connection).
    (socket as BoundSocket)[kConnection] = this;
    socket.on('data', socketOnData);
    socket.on('end', socketOnEnd);
    socket.on('close', socketOnClose);
    socket.on('error', socketOnError);
    socket.on('drain', socketOnDrain);
    if (this.pingInterval > 0) this.startHeartbeat();
    const head = init.head;
    // Start reading only after the caller had a chance to attach listeners: `connect()`'s
    // promise continuation and the server's 'connection' handlers run before the next macrotask.
    setImmediate(() => {
      if (head && head.length > 0 && !this.closed) this.receive(head);
      if (!this.pausedForQueue && !this.closed) socket.resume();
    });
  }

  /** Remote IP address (read on first use — a system call — and cached by the socket). */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** Remote port. */
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): ReadyStateValue {
    return this.closed ? ReadyState.CLOSED : this.core.state === ReadyState.CLOSED ? ReadyState.CLOSING : this.core.state;
  }

  /** Bytes queued for sending and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.core.pendingBytes + this.socket.writableLength;
  }

  /** Close code once closed (1006 when the connection dropped without a close frame). */
  get closeCode(): number {
    return this.core.closeCode;
  }

  /** True when the connection closed with a completed closing handshake and no failure. */
  get wasClean(): boolean {
    return this.closed && this.core.closeReceived && this.failure === null;
  }

  /** Close reason once closed. */
  get closeReason(): string {
    return this.core.closeReason;
  }

  // Sending -----------------------------------------------------------------------------------

  /**
   * Sends one message: a string as text, anything else as binary (or as text with
   * `{ binary: false }`). Resolves at once while less than the high-water mark is buffered,
   * otherwise when the socket drains. Rejects with {@link ConnectionClosedError} once closing.
   */
  send(data: SendData, options?: { binary?: boolean }): Promise<void> {
    const core = this.core;
    let ok: boolean;
    if (typeof data === 'string') {
      ok = options?.binary ? core.sendBinary(Buffer.from(data, 'utf8')) : core.sendText(data);
    } else {
      const bytes = toBytes(data);
      ok = options?.binary === false ? core.sendText(bytes.toString('utf8')) : core.sendBinary(bytes);
    }
    if (!ok) return settled(Promise.reject(this.closedError()));
    return this.afterSend();
  }

  /**
   * Sends a message of unknown length as fragments, one per item of `source` (§5.4): strings make
   * a text message, bytes a binary one. Other messages wait until it is finished.
   */
  async sendFragments(source: Iterable<SendData> | AsyncIterable<SendData>): Promise<void> {
    let previous: SendData | undefined;
    let isBinary = true;
    let first = true;
    for await (const item of source as AsyncIterable<SendData>) {
      if (previous !== undefined) {
        if (!this.core.sendFragment(fragmentBytes(previous), false, isBinary)) throw this.closedError();
        await this.afterSend();
      } else if (first) {
        isBinary = typeof item !== 'string';
        first = false;
      }
      previous = item;
    }
    if (!this.core.sendFragment(previous === undefined ? Buffer.alloc(0) : fragmentBytes(previous), true, isBinary)) {
      throw this.closedError();
    }
    await this.afterSend();
  }

  /**
   * Queues `buffer[start, end)` — frames encoded once for many connections — by reference.
   * Server connections only.
   * @internal
   */
  sendShared(buffer: Buffer, start: number, end: number): boolean {
    // No promise here: a broadcast to thousands must not allocate one per receiver.
    return this.core.sendShared(buffer, start, end) && this.queued() >= 0;
  }

  /**
   * Sends a ping and resolves with the round-trip time in milliseconds when the matching pong
   * arrives (a pong acknowledges every ping sent before it, §5.5.3).
   */
  ping(payload?: SendData): Promise<number> {
    const bytes =
      payload === undefined ? randomPingPayload() : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : toBytes(payload);
    if (!this.core.sendPing(bytes)) return settled(Promise.reject(this.closedError()));
    this.requestFlush();
    return settled(
      new Promise<number>((resolve, reject) => {
        this.pings.push({ payload: Buffer.from(bytes), sentAt: process.hrtime.bigint(), resolve, reject });
      }),
    );
  }

  /** Sends an unsolicited pong (a unidirectional heartbeat, §5.5.3). */
  pong(payload?: SendData): void {
    const bytes = payload === undefined ? Buffer.alloc(0) : typeof payload === 'string' ? Buffer.from(payload) : toBytes(payload);
    if (this.core.sendPong(bytes)) this.requestFlush();
  }

  /**
   * Starts the closing handshake (default code 1000) and resolves once the connection is closed.
   * The peer gets `closeTimeout` ms to answer before TCP is dropped.
   */
  close(code: number = CloseCode.NORMAL_CLOSURE, reason = ''): Promise<void> {
    this.core.close(code, reason);
    return this.whenClosed();
  }

  /** Drops the connection at once, without a closing handshake (close code 1006). */
  terminate(): void {
    this.socket.destroy();
  }

  /** Resolves when the connection is closed, however that happens. */
  whenClosed(): Promise<void> {
    if (this.closed) return RESOLVED;
    this.closedPromise ??= new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    return this.closedPromise;
  }

  // Topics ------------------------------------------------------------------------------------

  /**
   * Subscribes to `topic`: messages the server publishes to it (`server.publish(topic, data)`)
   * reach this connection. Server connections only. Returns false if already subscribed or
   * the connection is closed.
   */
  subscribe(topic: string): boolean {
    // A closed connection would stay in the registry forever: its cleanup already ran.
    if (this.closed) return false;
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

  private registry(): TopicRegistryLike {
    if (!this.topicRegistry) throw new Error('Topics are only available on server connections');
    return this.topicRegistry;
  }

  // Receiving ---------------------------------------------------------------------------------

  /**
   * Resolves with the next message. Rejects with {@link ConnectionClosedError} when the
   * connection is closed and no message is left.
   */
  recv(): Promise<Message> {
    if (this.queueHead < this.queue.length) return Promise.resolve(this.dequeue());
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise<Message>((resolve, reject) => this.waiters.push({ resolve, reject }));
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

  private dequeue(): Message {
    const message = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = '';
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
    if (this.pausedForQueue && this.queue.length - this.queueHead <= this.maxQueued >>> 2) {
      this.pausedForQueue = false;
      this.socket.resume();
    }
    return message;
  }

  // ProtocolHandler ---------------------------------------------------------------------------

  /** @internal */
  onMessage(data: Message, isBinary: boolean): void {
    if (this.emit('message', data, isBinary)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve(data);
      return;
    }
    this.queue.push(data);
    if (!this.pausedForQueue && this.queue.length - this.queueHead >= this.maxQueued) {
      // Nobody is consuming: stop reading rather than buffer without bound.
      this.pausedForQueue = true;
      this.socket.pause();
    }
  }

  /** @internal */
  onPing(payload: Buffer): void {
    this.emit('ping', payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    this.awaitingPong = false;
    const pings = this.pings;
    const index = pings.findIndex((ping) => ping.payload.equals(payload));
    if (index >= 0) {
      const now = process.hrtime.bigint();
      for (const ping of pings.splice(0, index + 1)) ping.resolve(Number(now - ping.sentAt) / 1e6);
    }
    this.emit('pong', payload);
  }

  /** @internal */
  onProtocolError(error: ProtocolError): void {
    this.failure = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal */
  onOutput(): void {
    const core = this.core;
    if (core.closeExpected && this.closeTimer === null && !this.closed) {
      this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeout);
    }
    this.requestFlush();
  }

  /** @internal Writes everything queued, in one write when possible. */
  flush(): void {
    const core = this.core;
    const socket = this.socket;
    if (socket.destroyed) return;
    if (core.pendingBytes > 0) {
      const chunks = core.takeOutput();
      // Someone awaits send(): learn when this batch is written even if the socket never needs
      // a 'drain' (it only emits one after a write past its own high-water mark).
      const written = this.drainWaiters.length > 0 ? this.onWritten : undefined;
      const last = chunks.length - 1;
      if (last === 0) {
        socket.write(chunks[0]!, written);
      } else {
        socket.cork();
        for (let i = 0; i < last; i++) socket.write(chunks[i]!);
        socket.write(chunks[last]!, written);
        socket.uncork();
      }
      // Written synchronously to the kernel: the slab regions just taken are free again.
      if (socket.writableLength === 0) core.recycleOutput();
    }
    if (core.outputEnded && !this.socketEnded) {
      this.socketEnded = true;
      socket.end();
    }
  }

  // Socket events -----------------------------------------------------------------------------

  /** @internal */
  receive(chunk: Buffer): void {
    this.receiving = true;
    try {
      this.core.receiveData(chunk);
    } finally {
      this.receiving = false;
    }
    if (this.core.pendingBytes > 0 || this.core.outputEnded) this.flush();
  }

  private requestFlush(): void {
    if (!this.receiving) scheduleFlush(this);
  }

  private afterSend(): Promise<void> {
    const buffered = this.queued();
    if (buffered <= this.highWaterMark) return RESOLVED;
    if (buffered < 0) return settled(Promise.reject(this.closedError()));
    return settled(new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject })));
  }

  /**
   * Schedules the flush and returns the bytes buffered — or -1 after dropping a reader too slow
   * to stay under `maxBufferedAmount`, which would otherwise make us buffer without bound.
   */
  private queued(): number {
    this.requestFlush();
    const buffered = this.core.pendingBytes + this.socket.writableLength;
    if (buffered <= this.maxBuffered) return buffered;
    this.core.fail(CloseCode.POLICY_VIOLATION, 'Outgoing buffer limit exceeded');
    this.failure = new Error(`Outgoing buffer limit of ${this.maxBuffered} bytes exceeded`);
    this.flush();
    this.socket.destroy();
    return -1;
  }

  private readonly onWritten = (): void => {
    if (this.drainWaiters.length > 0) this.onDrain();
  };

  /** @internal */
  onDrain(): void {
    if (this.core.pendingBytes + this.socket.writableLength > this.highWaterMark) return;
    const waiters = this.drainWaiters;
    if (waiters.length > 0) {
      this.drainWaiters = [];
      for (const waiter of waiters) waiter.resolve();
    }
    this.emit('drain');
  }

  /** @internal */
  onSocketEnd(): void {
    // The peer half-closed. A server ends its side too; a client was waiting for exactly this.
    this.core.receiveEof();
    this.flush();
  }

  /** @internal */
  onSocketError(error: Error): void {
    // ECONNRESET and friends: the 'close' event follows and reports 1006. Surface the cause only
    // to listeners who asked; an unhandled 'error' must never crash a server.
    if (!this.failure && !this.core.closeReceived) this.failure = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal */
  onSocketClose(): void {
    if (this.closed) return;
    this.core.receiveEof();
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.closeTimer = this.heartbeatTimer = null;
    if (this.waiters.length + this.pings.length + this.drainWaiters.length > 0) {
      const error = this.closedError();
      for (const waiter of this.waiters.splice(0)) waiter.reject(error);
      for (const ping of this.pings.splice(0)) ping.reject(error);
      for (const waiter of this.drainWaiters.splice(0)) waiter.reject(error);
    }
    this.emit('close', this.core.closeCode, this.core.closeReason);
    this.resolveClosed?.();
  }

  private closedError(): ConnectionClosedError {
    return new ConnectionClosedError(this.core.closeCode, this.core.closeReason);
  }

  // Heartbeat ---------------------------------------------------------------------------------

  private startHeartbeat(): void {
    const tick = (): void => {
      if (this.closed || this.core.state !== ReadyState.OPEN) return;
      if (this.awaitingPong) {
        // No pong within pongTimeout: the peer or the path to it is gone.
        this.core.fail(CloseCode.INTERNAL_ERROR, 'keepalive ping timeout');
        this.core.closeCode = CloseCode.ABNORMAL_CLOSURE;
        this.core.closeReason = 'keepalive ping timeout';
        this.flush();
        this.socket.destroy();
        return;
      }
      this.awaitingPong = true;
      if (this.core.sendPing(Buffer.alloc(0))) this.requestFlush();
      this.heartbeatTimer = setTimeout(tick, this.pongTimeout);
      this.heartbeatTimer.unref();
    };
    const schedule = (): void => {
      this.heartbeatTimer = setTimeout(tick, this.pingInterval);
      this.heartbeatTimer.unref();
    };
    this.on('pong', () => {
      if (this.closed) return;
      if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
      schedule();
    });
    schedule();
  }
}

function noop(): void {}

const kConnection = Symbol('fullduplex.connection');
type BoundSocket = Socket & { [kConnection]: WebSocketConnection };

function socketOnData(this: BoundSocket, chunk: Buffer): void {
  this[kConnection].receive(chunk);
}
function socketOnEnd(this: BoundSocket): void {
  this[kConnection].onSocketEnd();
}
function socketOnClose(this: BoundSocket): void {
  this[kConnection].onSocketClose();
}
function socketOnError(this: BoundSocket, error: Error): void {
  this[kConnection].onSocketError(error);
}
function socketOnDrain(this: BoundSocket): void {
  this[kConnection].onDrain();
}

/**
 * Marks `promise` as handled and returns it. `ws.on('message', (m) => ws.send(m))` never awaits
 * the promise, and a send that fails because the peer went away must not become an unhandled
 * rejection that kills the process; a caller who does await still sees the rejection.
 */
function settled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

/** A Buffer view of `data` (no copy). */
export function toBytes(data: Buffer | ArrayBufferView | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function fragmentBytes(data: SendData): Buffer | string {
  return typeof data === 'string' ? data : toBytes(data);
}

let pingCounter = 0;
function randomPingPayload(): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(++pingCounter >>> 0);
  return payload;
}
