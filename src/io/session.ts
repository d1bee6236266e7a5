import { CloseCode } from '../frame/close-code.js';
import type { ProtocolError } from '../frame/errors.js';
import type { Extension } from '../frame/extension.js';
import type { MaskSource } from '../frame/mask.js';
import { Protocol, ReadyState, SendStateError, type ProtocolHandler, type ReadyStateValue } from '../protocol/protocol.js';
import { ConnectionClosedError, SessionError } from './errors.js';
import { scheduleFlush, type Flushable } from './flush-scheduler.js';
import { Heartbeat, type HeartbeatOwner } from './heartbeat.js';
import { Inbox } from './inbox.js';
import type { PeerInfo, Transport } from './transport.js';

/**
 * What the handshake learned about the peer's request (server side) or our request (client side).
 * @example
 * ```ts
 * import { serve } from 'fullduplex';
 *
 * await serve((ws) => {
 *   const { path, query, headers } = ws.request; // a RequestInfo
 *   console.log(path, query.get('room'), headers['user-agent']);
 * });
 * ```
 */
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

/**
 * A message encoded once for many connections whose frame still depends on each connection's
 * negotiated extension (permessage-deflate's compress-once for publish/broadcast): see
 * {@link Session.sendSharedFor}.
 */
export interface DeferredSharedFrame {
  /**
   * The complete unmasked frame for a connection whose first negotiated extension is `extension`,
   * called once per connection when the message becomes its next data message. The returned
   * bytes must not change afterwards (they are queued by reference).
   */
  frameFor(extension: Extension): Buffer;
}

/**
 * Everything a session is built from, carried from the handshake (HTTP/1.1 upgrade, HTTP/2
 * extended CONNECT, or a client's handshake) to the connection.
 * @example
 * ```ts
 * import { Session, WebSocketConnection, netTransport, type SessionInit } from 'fullduplex';
 *
 * // `socket` is a net.Socket whose upgrade your own code has just answered with a 101.
 * const { transport, peer } = netTransport(socket);
 * const init: SessionInit = {
 *   role: 'server',
 *   protocol: '',
 *   extensions: [],
 *   extensionsHeader: '',
 *   peer,
 *   request: { url: '/chat', path: '/chat', query: new URLSearchParams(), headers: {} },
 * };
 * const ws = new WebSocketConnection(new Session(transport, init));
 * ```
 */
export interface SessionInit {
  /** Which side we are. */
  role: 'server' | 'client';
  /** Negotiated subprotocol, or `''`. */
  protocol: string;
  /** Negotiated extensions as runtime objects, in the order of the handshake's answer. */
  extensions: readonly Extension[];
  /** Negotiated extensions as sent in `Sec-WebSocket-Extensions`, or `''`. */
  extensionsHeader: string;
  /** The remote end, as the transport's adapter knows it. */
  peer: PeerInfo;
  /** The handshake request. */
  request: RequestInfo;
  /** Bytes that arrived after the handshake, before the session existed. */
  head?: Buffer | undefined;
}

/**
 * Options shared by server and client connections.
 * @example
 * ```ts
 * import { connect, serve } from 'fullduplex';
 *
 * // Shared by servers and clients: limits, timers and backpressure.
 * await serve(handler, { maxMessageSize: 1024 * 1024, pingInterval: 30_000, sendHighWaterMark: 256 * 1024 });
 * const ws = await connect('ws://127.0.0.1:8080/', { maxQueuedBytes: 4 * 1024 * 1024, readBackpressure: true });
 * ```
 */
export interface ConnectionOptions {
  /** Largest incoming message in bytes (after decompression); larger fails the connection with 1009. Default 16 MiB. */
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
   * `await send()` waits for the transport to drain while more than this many bytes are buffered.
   * A server also stops reading from a peer while more than this is buffered for it, so a peer
   * that sends without reading is pushed back by TCP instead of growing our buffers. Default 64 KiB.
   */
  sendHighWaterMark?: number;
  /**
   * Hard cap on buffered outgoing bytes: when the application keeps sending to a peer that does
   * not read, the peer is dropped (close code 1008) instead of letting memory grow without bound.
   * Default 64 MiB.
   */
  maxBufferedAmount?: number;
  /**
   * Received messages kept for `recv()`/iteration when nobody is consuming; reading from the
   * transport pauses beyond this. Default 64.
   */
  maxQueuedMessages?: number;
  /** Received bytes kept for `recv()`/iteration when nobody is consuming; reading pauses beyond this. Default 16 MiB. */
  maxQueuedBytes?: number;
  /**
   * Stop reading while more than `sendHighWaterMark` bytes wait to be sent to the peer. Default
   * true for servers, false for clients (two peers that both did this could each wait for the
   * other to read).
   */
  readBackpressure?: boolean;
  /** Masking keys (client only; for tests). */
  maskSource?: MaskSource;
}

/**
 * What a face (a public API over a session) receives from it. The session calls these
 * synchronously, from the transport's events.
 * @example
 * ```ts
 * import { Session, type SessionListener } from 'fullduplex';
 *
 * // A minimal face: print every message, echo text back.
 * class EchoFace implements SessionListener {
 *   constructor(private readonly session: Session) {
 *     session.attach(this);
 *   }
 *   onMessage(data: Buffer, isBinary: boolean): void {
 *     if (!isBinary) void this.session.send(data, { binary: false }); // text arrives as UTF-8 bytes
 *   }
 *   onPing(): void {}
 *   onPong(): void {}
 *   onError(error: Error): void {
 *     console.error(error);
 *   }
 *   onDrain(): void {}
 *   onClose(code: number, reason: string): void {
 *     console.log('closed', code, reason);
 *   }
 * }
 * ```
 */
export interface SessionListener {
  /** A complete message as bytes; text (`isBinary` false) is valid UTF-8. */
  onMessage(data: Buffer, isBinary: boolean): void;
  /** A ping arrived (its pong is already queued unless `autoPong` is off). */
  onPing(payload: Buffer): void;
  /** A pong arrived. */
  onPong(payload: Buffer): void;
  /** Something went wrong: the peer broke the protocol, the transport failed, or the session gave up. */
  onError(error: Error): void;
  /** The outgoing buffer drained below the high-water mark. */
  onDrain(): void;
  /** The connection is closed (called once). */
  onClose(code: number, reason: string): void;
}

/**
 * Options of a {@link Session}: the connection options plus what only faces decide.
 * @example
 * ```ts
 * import { Session, type SessionOptions } from 'fullduplex';
 *
 * // A face that answers pings itself turns the automatic pong off.
 * const options: SessionOptions = { autoPong: false, closeTimeout: 5_000 };
 * const session = new Session(transport, init, options);
 * ```
 */
export interface SessionOptions extends ConnectionOptions {
  /** Answer pings automatically (default true). */
  autoPong?: boolean;
}

/**
 * Per-send choices.
 * @example
 * ```ts
 * import { serve } from 'fullduplex';
 *
 * await serve(async (ws) => {
 *   await ws.send(Buffer.from('{"ok":true}'), { binary: false }); // bytes sent as a text message
 *   await ws.send(alreadyCompressedImage, { compress: false });  // skip permessage-deflate
 * });
 * ```
 */
export interface SendOptions {
  /** Send as binary (`true`) or text (`false`). Default: strings as text, bytes as binary. */
  binary?: boolean;
  /** Let the negotiated extension (permessage-deflate) encode this message. Default true. */
  compress?: boolean;
}

/**
 * Anything `send()` accepts: a string goes as text, everything else as binary.
 * @example
 * ```ts
 * import type { SendData } from 'fullduplex';
 *
 * const text: SendData = 'hello';                   // a text message
 * const bytes: SendData = new Uint8Array([1, 2, 3]); // a binary message
 * await ws.send(text);
 * await ws.send(bytes);
 * ```
 */
export type SendData = string | Buffer | ArrayBufferView | ArrayBuffer;

const RESOLVED: Promise<void> = Promise.resolve();
const DEFAULT_CLOSE_TIMEOUT = 10_000;
const DEFAULT_PONG_TIMEOUT = 20_000;
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
const DEFAULT_MAX_BUFFERED = 64 * 1024 * 1024;
const DEFAULT_MAX_QUEUED = 64;
const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/** Reasons reading is paused; reading resumes when none is left. */
const PAUSE_QUEUE = 1;
const PAUSE_BACKPRESSURE = 2;
const PAUSE_USER = 4;

interface PendingPing {
  payload: Buffer;
  sentAt: bigint;
  resolve(rtt: number): void;
  reject(error: Error): void;
}

interface DrainWaiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * One WebSocket connection over one {@link Transport}: the I/O half of python-websockets'
 * connection. It owns the sans-I/O {@link Protocol}, pumps bytes between it and the transport,
 * batches writes (everything sent while handling one incoming chunk, or within one event-loop
 * turn, leaves in one write), applies backpressure in both directions, runs the close timer and
 * the heartbeat, and keeps the receive queue.
 *
 * It makes no protocol decision and offers no public API of its own: faces —
 * {@link WebSocketConnection}, the WHATWG `WebSocket`, the `ws`-compatible class — wrap a session
 * and attach themselves as its {@link SessionListener}.
 *
 * Who calls what: an acceptor or `connect()` creates the session from a {@link SessionInit};
 * the face calls {@link attach} at once (reading starts on the next macrotask, so listeners
 * attached synchronously miss nothing), then `send*`, `close`, `fail`, `pauseReading` … as the
 * application asks.
 * @example
 * ```ts
 * import { Session, WebSocketConnection, netTransport } from 'fullduplex';
 *
 * // Given a socket after a handshake you performed yourself, and the SessionInit it settled:
 * const { transport, peer } = netTransport(socket);
 * const session = new Session(transport, { ...init, peer }, { pingInterval: 30_000 });
 * const ws = new WebSocketConnection(session); // the face attaches itself as the listener
 * for await (const message of ws) await ws.send(message);
 * ```
 */
export class Session implements ProtocolHandler, Flushable, HeartbeatOwner {
  /** @internal */
  flushScheduled = false;
  /** The transport the session runs over. */
  readonly transport: Transport;
  /** What the handshake settled, and who the peer is. */
  readonly init: SessionInit;

  private readonly core: Protocol;
  private listener: SessionListener = NO_LISTENER;
  private readonly closeTimeout: number;
  private readonly highWaterMark: number;
  private readonly maxBuffered: number;
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  private readonly readBackpressure: boolean;

  private receiving = false;
  private started = false;
  private outputEnded = false;
  private closed = false;
  private pauseReasons = 0;
  private closeTimer: NodeJS.Timeout | null = null;
  private heartbeat: Heartbeat | null = null;
  private queue: Inbox<unknown> | null = null;
  private pings: PendingPing[] | null = null;
  private drainWaiters: DrainWaiter[] | null = null;
  /** Non-null while a fragmented message is being sent: sends that must wait for its end (§5.4). */
  private blocked: Array<() => void> | null = null;
  private closedPromise: Promise<void> | null = null;
  private resolveClosed: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(transport: Transport, init: SessionInit, options: SessionOptions = {}) {
    this.transport = transport;
    this.init = init;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.highWaterMark = options.sendHighWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.maxBuffered = options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED;
    this.maxQueued = options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED;
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.readBackpressure = options.readBackpressure ?? init.role === 'server';
    this.core = new Protocol(this, {
      role: init.role,
      extensions: init.extensions,
      ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
      ...(options.maskSource ? { maskSource: options.maskSource } : {}),
      ...(options.autoPong === false ? { autoPong: false } : {}),
    });

    // Paused until the bytes that came with the handshake are delivered, so order is kept.
    transport.pause();
    // Shared module-level listeners find their session through the transport: no closures per
    // connection (memory per idle connection).
    (transport as BoundTransport)[kSession] = this;
    transport.on('data', transportOnData);
    transport.on('end', transportOnEnd);
    transport.on('close', transportOnClose);
    transport.on('error', transportOnError);
    transport.on('drain', transportOnDrain);
    const interval = options.pingInterval ?? 0;
    if (interval > 0) this.heartbeat = new Heartbeat(this, interval, options.pongTimeout ?? DEFAULT_PONG_TIMEOUT);
    // Start reading only after the caller had a chance to attach listeners: `connect()`'s
    // promise continuation and the server's 'connection' handlers run before the next macrotask.
    setImmediate(startSession, this);
  }

  /** Makes `listener` (a face) the receiver of this session's events. */
  attach(listener: SessionListener): void {
    this.listener = listener;
  }

  // State ---------------------------------------------------------------------------------------

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): ReadyStateValue {
    return this.closed ? ReadyState.CLOSED : this.core.state === ReadyState.CLOSED ? ReadyState.CLOSING : this.core.state;
  }

  /** True once the transport is closed and every waiter has been told. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes queued for sending and not yet handed to the OS. */
  get bufferedAmount(): number {
    return this.core.pendingBytes + this.transport.writableLength;
  }

  /** Close code (1006 when the connection dropped without a close frame). */
  get closeCode(): number {
    return this.core.closeCode;
  }

  /** Close reason. */
  get closeReason(): string {
    return this.core.closeReason;
  }

  /** True when the connection closed with a completed closing handshake and no failure. */
  get wasClean(): boolean {
    return this.closed && this.core.closeReceived && this.failure === null;
  }

  /** Why the connection failed, if it did (a protocol error, a transport error, a session error). */
  get error(): Error | null {
    return this.failure;
  }

  /** The error `recv()`/`send()` reject with once closed. */
  closedError(): ConnectionClosedError {
    return new ConnectionClosedError(this.core.closeCode, this.core.closeReason);
  }

  // Sending -----------------------------------------------------------------------------------

  /**
   * Sends one message: a string as text, anything else as binary (or per `options.binary`).
   * Resolves at once while less than the high-water mark is buffered, otherwise when the transport
   * drains. Rejects with {@link ConnectionClosedError} once closing. While a fragmented message is
   * being sent, the message waits for its end (RFC 6455 §5.4).
   */
  send(data: SendData, options?: SendOptions): Promise<void> {
    if (this.blocked !== null) return this.whenUnblocked(() => this.send(data, options));
    if (!this.queueMessage(data, options)) return markHandled(Promise.reject(this.closedError()));
    return this.afterSend();
  }

  /**
   * Queues one message without a promise, for callback-style faces (the `ws` face): a send that
   * nobody awaits must not allocate on the hot path. Returns false when the connection can no
   * longer send (or was just dropped for exceeding `maxBufferedAmount`). While a fragmented
   * message is being sent, the message waits for its end (§5.4).
   */
  trySend(data: SendData, options?: SendOptions): boolean {
    if (this.blocked !== null) {
      if (!this.core.isWritable) return false;
      this.blocked.push(() => void this.trySend(data, options));
      return true;
    }
    return this.queueMessage(data, options) && this.enforceBufferLimit() >= 0;
  }

  /** Hands one message to the core as text or binary; false once the connection cannot send. */
  private queueMessage(data: SendData, options: SendOptions | undefined): boolean {
    const core = this.core;
    const compress = options?.compress !== false;
    if (typeof data === 'string') {
      return options?.binary ? core.sendBinary(Buffer.from(data, 'utf8'), compress) : core.sendText(data, compress);
    }
    const bytes = toBuffer(data);
    return options?.binary === false ? core.sendText(bytes, compress) : core.sendBinary(bytes, compress);
  }

  /**
   * Queues one fragment of a message the caller fragments itself (`ws`'s `send(data, { fin })`):
   * the first call fixes the type, `fin` ends the message. No promise. The caller keeps other data
   * messages out until `fin` (the core throws `SendStateError` otherwise). Returns false once the
   * connection can no longer send.
   */
  sendFragment(data: Buffer | string, fin: boolean, isBinary: boolean, compress = true): boolean {
    return this.core.sendFragment(data, fin, isBinary, compress) && this.enforceBufferLimit() >= 0;
  }

  /**
   * Sends a message of unknown length as fragments, one per item of `source` (§5.4): strings make
   * a text message, bytes a binary one. Control frames may go out between fragments; other data
   * messages (`send`, broadcasts, publishes) wait until the last fragment is queued.
   */
  async sendFragments(source: Iterable<SendData> | AsyncIterable<SendData>, options?: { compress?: boolean }): Promise<void> {
    if (this.blocked === null) {
      this.blocked = [];
    } else {
      // Claim the send slot synchronously when released, not in the promise continuation: until
      // then unblock() would run the sends queued after this one (or resume another waiting
      // sendFragments, whose fragments would then mix with ours). After the connection closed
      // nothing is claimed, so sends queued behind us reject at once instead of waiting on our source.
      await new Promise<void>((resolve) =>
        this.blocked!.push(() => {
          if (!this.closed) this.blocked = [];
          resolve();
        }),
      );
    }
    const compress = options?.compress !== false;
    try {
      let previous: SendData | undefined;
      let isBinary = true;
      for await (const item of source as AsyncIterable<SendData>) {
        if (previous === undefined) {
          isBinary = typeof item !== 'string';
        } else {
          if (!this.core.sendFragment(fragmentBytes(previous), false, isBinary, compress)) throw this.closedError();
          await this.afterSend();
        }
        previous = item;
      }
      if (!this.core.sendFragment(previous === undefined ? EMPTY : fragmentBytes(previous), true, isBinary, compress)) {
        throw this.closedError();
      }
    } finally {
      this.unblock();
    }
    await this.afterSend();
  }

  /**
   * Queues `buffer[start, end)` — frames encoded once for many connections — by reference.
   * No promise: a broadcast to thousands must not allocate one per receiver. Returns false when
   * the connection can no longer send. Server sessions only.
   */
  sendShared(buffer: Buffer, start: number, end: number): boolean {
    if (this.blocked !== null) {
      if (!this.core.isWritable) return false;
      this.blocked.push(() => {
        if (this.core.sendShared(buffer, start, end)) this.enforceBufferLimit();
      });
      return true;
    }
    return this.core.sendShared(buffer, start, end) && this.enforceBufferLimit() >= 0;
  }

  /**
   * Queues a message encoded once for many connections but finished for this one: its frame is
   * asked of `message` at the moment it becomes this connection's next data message (after a
   * fragmented message in progress, §5.4), because permessage-deflate's compress-once must tell
   * this connection's compressor then (see `PerMessageDeflate.encodeShared`). The frame is queued
   * by reference. Returns false when the connection can no longer send. Server sessions only.
   */
  sendSharedFor(message: DeferredSharedFrame): boolean {
    if (this.blocked !== null) {
      if (!this.core.isWritable) return false;
      this.blocked.push(() => void this.writeSharedFor(message));
      return true;
    }
    return this.writeSharedFor(message);
  }

  private writeSharedFor(message: DeferredSharedFrame): boolean {
    const core = this.core;
    if (!core.isWritable) return false;
    // Checked before encoding: encoding tells the compressor, which must only happen when sent.
    if (core.isSendingFragments) throw new SendStateError('A fragmented message is being sent: finish it (fin) before sending another data message');
    const frame = message.frameFor(this.init.extensions[0]!);
    return core.sendShared(frame, 0, frame.length) && this.enforceBufferLimit() >= 0;
  }

  /**
   * Sends a ping and resolves with the round-trip time in milliseconds when the matching pong
   * arrives (a pong acknowledges every ping sent before it, §5.5.3).
   */
  ping(payload?: SendData): Promise<number> {
    const bytes = payload === undefined ? randomPingPayload() : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : toBuffer(payload);
    if (!this.core.sendPing(bytes)) return markHandled(Promise.reject(this.closedError()));
    this.requestFlush();
    return markHandled(
      new Promise<number>((resolve, reject) => {
        (this.pings ??= []).push({ payload: Buffer.from(bytes), sentAt: process.hrtime.bigint(), resolve, reject });
      }),
    );
  }

  /** Sends a pong (unsolicited: a unidirectional heartbeat, §5.5.3; or a reply when `autoPong` is off). */
  pong(payload?: SendData): boolean {
    const bytes = payload === undefined ? EMPTY : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : toBuffer(payload);
    if (!this.core.sendPong(bytes)) return false;
    this.requestFlush();
    return true;
  }

  /**
   * Starts the closing handshake (`code` omitted: a close frame without a code, seen as 1005) and
   * resolves once the connection is closed. The peer gets `closeTimeout` ms to answer before the
   * transport is dropped. Messages that arrive meanwhile are still delivered.
   */
  close(code?: number, reason = ''): Promise<void> {
    this.core.close(code, reason);
    return this.whenClosed();
  }

  /** Fails the connection with `code` (§7.1.7): a close frame, then the transport ends. */
  fail(code: number, reason = ''): void {
    this.core.fail(code, reason);
    this.flush();
  }

  /** Drops the connection at once, without a closing handshake (close code 1006). */
  terminate(): void {
    this.transport.destroy();
  }

  /** Resolves when the connection is closed, however that happens. */
  whenClosed(): Promise<void> {
    if (this.closed) return RESOLVED;
    this.closedPromise ??= new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    return this.closedPromise;
  }

  // Receiving ---------------------------------------------------------------------------------

  /**
   * The receive queue, for faces that offer `recv()`/iteration: bounded in messages and bytes,
   * pausing reading when full. Created on first use (idle connections carry none).
   */
  inbox<T>(): Inbox<T> {
    if (this.queue === null) {
      this.queue = new Inbox<unknown>(this.maxQueued, this.maxQueuedBytes, (full) =>
        full ? this.pauseReading(PAUSE_QUEUE) : this.resumeReading(PAUSE_QUEUE),
      );
      if (this.closed) this.queue.close(() => this.closedError());
    }
    return this.queue as Inbox<T>;
  }

  /** Stops reading from the transport on the application's request (ws's `pause()`). */
  pause(): void {
    this.pauseReading(PAUSE_USER);
  }

  /** Undoes {@link pause}. Reading resumes unless another reason to pause remains. */
  resume(): void {
    this.resumeReading(PAUSE_USER);
  }

  /** True while the application paused reading. */
  get isPaused(): boolean {
    return (this.pauseReasons & PAUSE_USER) !== 0;
  }

  private pauseReading(reason: number): void {
    if (this.pauseReasons === 0 && this.started && !this.closed) this.transport.pause();
    this.pauseReasons |= reason;
  }

  private resumeReading(reason: number): void {
    if ((this.pauseReasons & reason) === 0) return;
    this.pauseReasons &= ~reason;
    if (this.pauseReasons === 0 && this.started && !this.closed) this.transport.resume();
  }

  // ProtocolHandler: events from the core -----------------------------------------------------

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean): void {
    this.listener.onMessage(data, isBinary);
  }

  /** @internal */
  onPing(payload: Buffer): void {
    this.listener.onPing(payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    this.heartbeat?.pong();
    const pings = this.pings;
    if (pings !== null && pings.length > 0) {
      const index = pings.findIndex((ping) => ping.payload.equals(payload));
      if (index >= 0) {
        const now = process.hrtime.bigint();
        for (const ping of pings.splice(0, index + 1)) ping.resolve(Number(now - ping.sentAt) / 1e6);
      }
    }
    this.listener.onPong(payload);
  }

  /** @internal */
  onProtocolError(error: ProtocolError): void {
    this.failure = error;
    this.listener.onError(error);
  }

  /** @internal */
  onOutput(): void {
    if (this.core.closeExpected && this.closeTimer === null && !this.closed) {
      this.closeTimer = setTimeout(closeTimedOut, this.closeTimeout, this);
    }
    this.requestFlush();
  }

  // HeartbeatOwner ----------------------------------------------------------------------------

  /** @internal */
  sendKeepalivePing(): boolean {
    if (this.closed || this.core.state !== ReadyState.OPEN || !this.core.sendPing(EMPTY)) return false;
    this.requestFlush();
    return true;
  }

  /** @internal */
  keepaliveTimedOut(): void {
    if (this.closed || this.core.state !== ReadyState.OPEN) return;
    // No pong within pongTimeout: the peer or the path to it is gone.
    const error = new SessionError('FD_ERR_KEEPALIVE_TIMEOUT', 'keepalive ping timeout');
    this.failure = error;
    this.core.fail(CloseCode.INTERNAL_ERROR, 'keepalive ping timeout', { code: CloseCode.ABNORMAL_CLOSURE, reason: 'keepalive ping timeout' });
    this.flush();
    this.transport.destroy();
    this.listener.onError(error);
  }

  // The transport pump ------------------------------------------------------------------------

  /** @internal Writes everything queued, in one write when possible. */
  flush(): void {
    const core = this.core;
    const transport = this.transport;
    if (transport.destroyed) return;
    if (core.pendingBytes > 0) {
      const chunks = core.takeOutput();
      // Someone awaits send(): learn when this batch is written even if the transport never needs
      // a 'drain' (a socket only emits one after a write past its own high-water mark).
      const written = this.drainWaiters !== null && this.drainWaiters.length > 0 ? (this.writtenCallback ??= this.makeWrittenCallback()) : undefined;
      const last = chunks.length - 1;
      if (last === 0) {
        transport.write(chunks[0]!, written);
      } else {
        transport.cork();
        for (let i = 0; i < last; i++) transport.write(chunks[i]!);
        transport.write(chunks[last]!, written);
        transport.uncork();
      }
      const buffered = transport.writableLength;
      // Written synchronously to the kernel: the slab regions just taken are free again.
      if (buffered === 0) core.recycleOutput();
      else if (buffered > this.highWaterMark) {
        // Congested. Pongs coalesce until it drains, and — read-side flow control — a peer that
        // sends without reading what we send back is not read from until it catches up (TCP then
        // pushes back on it), instead of growing our buffers.
        core.coalescePongs = true;
        if (this.readBackpressure) this.pauseReading(PAUSE_BACKPRESSURE);
      }
    }
    if (core.outputEnded && !this.outputEnded) {
      this.outputEnded = true;
      transport.end();
    }
  }

  /** @internal */
  receive(chunk: Buffer): void {
    this.receiving = true;
    try {
      this.core.receiveData(chunk);
    } catch (error) {
      this.applicationFailed(error);
    } finally {
      this.receiving = false;
    }
    if (this.core.pendingBytes > 0 || this.core.outputEnded) this.flush();
  }

  /** @internal */
  start(): void {
    this.started = true;
    const head = this.init.head;
    if (head !== undefined) this.init.head = undefined; // not kept for the life of the connection
    if (head && head.length > 0 && !this.closed) this.receive(head);
    if (this.pauseReasons === 0 && !this.closed) this.transport.resume();
  }

  /** @internal */
  onTransportDrain(): void {
    if (this.core.pendingBytes + this.transport.writableLength > this.highWaterMark) return;
    if (this.core.coalescePongs) {
      this.core.coalescePongs = false;
      if (this.core.pendingBytes > 0) this.requestFlush(); // the pong still owed
    }
    this.resumeReading(PAUSE_BACKPRESSURE);
    const waiters = this.drainWaiters;
    if (waiters !== null && waiters.length > 0) {
      this.drainWaiters = null;
      for (const waiter of waiters) waiter.resolve();
    }
    this.listener.onDrain();
  }

  /** @internal */
  onTransportEnd(): void {
    // The peer half-closed. A server ends its side too; a client was waiting for exactly this.
    this.core.receiveEof();
    this.flush();
  }

  /** @internal */
  onTransportError(error: Error): void {
    // ECONNRESET and friends: 'close' follows and reports 1006. Surface the cause only to faces
    // that report errors; an unhandled 'error' must never crash a server.
    if (!this.failure && !this.core.closeReceived) this.failure = error;
    this.listener.onError(error);
  }

  /** @internal */
  onTransportClose(): void {
    if (this.closed) return;
    this.core.receiveEof();
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.heartbeat?.stop();
    this.heartbeat = null;
    for (const extension of this.init.extensions) extension.dispose();
    this.unblock();
    const error = (): ConnectionClosedError => this.closedError();
    this.queue?.close(error);
    if (this.pings !== null && this.pings.length > 0) for (const ping of this.pings.splice(0)) ping.reject(error());
    if (this.drainWaiters !== null && this.drainWaiters.length > 0) {
      for (const waiter of this.drainWaiters.splice(0)) waiter.reject(error());
    }
    this.listener.onClose(this.core.closeCode, this.core.closeReason);
    this.resolveClosed?.();
  }

  /** @internal Closes the close handshake's timer: the peer never finished closing. */
  closeTimerFired(): void {
    this.transport.destroy();
  }

  // Internals -----------------------------------------------------------------------------------

  private requestFlush(): void {
    if (!this.receiving) scheduleFlush(this);
  }

  private afterSend(): Promise<void> {
    const buffered = this.enforceBufferLimit();
    if (buffered <= this.highWaterMark) return buffered < 0 ? markHandled(Promise.reject(this.closedError())) : RESOLVED;
    return markHandled(new Promise<void>((resolve, reject) => (this.drainWaiters ??= []).push({ resolve, reject })));
  }

  /**
   * Schedules the flush and returns the bytes buffered — or -1 after dropping a peer that does not
   * read while the application keeps sending past `maxBufferedAmount`.
   */
  private enforceBufferLimit(): number {
    this.requestFlush();
    const buffered = this.core.pendingBytes + this.transport.writableLength;
    if (buffered <= this.maxBuffered) return buffered;
    const error = new SessionError('FD_ERR_BUFFER_LIMIT', `Outgoing buffer limit of ${this.maxBuffered} bytes exceeded`);
    this.failure = error;
    this.core.fail(CloseCode.POLICY_VIOLATION, 'Outgoing buffer limit exceeded');
    this.flush();
    this.transport.destroy();
    this.listener.onError(error);
    return -1;
  }

  /** A listener threw while handling input: fail with 1011 (PWS does the same), report it. */
  private applicationFailed(cause: unknown): void {
    const error = new SessionError('FD_ERR_APPLICATION', `A listener threw while handling a message: ${String(cause)}`, { cause });
    this.failure ??= error;
    this.core.fail(CloseCode.INTERNAL_ERROR, 'Internal error', { code: CloseCode.INTERNAL_ERROR, reason: 'Internal error' });
    try {
      this.listener.onError(error);
    } catch {
      // A throwing error listener has nowhere further to go; the connection is failing already.
    }
  }

  private whenUnblocked(send: () => Promise<void>): Promise<void> {
    return markHandled(new Promise<void>((resolve, reject) => this.blocked!.push(() => send().then(resolve, reject))));
  }

  /** The fragmented message ended (or the connection did): run what waited, in order. */
  private unblock(): void {
    const waiting = this.blocked;
    this.blocked = null;
    if (waiting === null) return;
    for (let i = 0; i < waiting.length; i++) {
      if (this.blocked !== null) {
        // A waiting sendFragments started a new fragmented message: the rest wait for that one.
        (this.blocked as Array<() => void>).push(...waiting.slice(i));
        return;
      }
      waiting[i]!();
    }
  }

  /** Created the first time someone awaits a send: most connections never need it (memory per connection). */
  private writtenCallback: (() => void) | null = null;

  private makeWrittenCallback(): () => void {
    return (): void => {
      if (this.drainWaiters !== null && this.drainWaiters.length > 0) this.onTransportDrain();
    };
  }
}

const EMPTY = Buffer.alloc(0);

const NO_LISTENER: SessionListener = {
  onMessage() {},
  onPing() {},
  onPong() {},
  onError() {},
  onDrain() {},
  onClose() {},
};

const kSession = Symbol('fullduplex.session');
type BoundTransport = Transport & { [kSession]: Session };

function transportOnData(this: BoundTransport, chunk: Buffer): void {
  this[kSession].receive(chunk);
}
function transportOnEnd(this: BoundTransport): void {
  this[kSession].onTransportEnd();
}
function transportOnClose(this: BoundTransport): void {
  this[kSession].onTransportClose();
}
function transportOnError(this: BoundTransport, error: Error): void {
  this[kSession].onTransportError(error);
}
function transportOnDrain(this: BoundTransport): void {
  this[kSession].onTransportDrain();
}
function startSession(session: Session): void {
  session.start();
}
function closeTimedOut(session: Session): void {
  session.closeTimerFired();
}

function noop(): void {}

/**
 * Marks `promise` as handled and returns it. `ws.on('message', (m) => ws.send(m))` never awaits
 * the promise, and a send that fails because the peer went away must not become an unhandled
 * rejection that kills the process; a caller who does await still sees the rejection.
 */
export function markHandled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

/** A Buffer view of `data` (no copy). */
export function toBuffer(data: Buffer | ArrayBufferView | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function fragmentBytes(data: SendData): Buffer | string {
  return typeof data === 'string' ? data : toBuffer(data);
}

let pingCounter = 0;
function randomPingPayload(): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(++pingCounter >>> 0);
  return payload;
}
