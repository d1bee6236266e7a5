import { EventEmitter } from 'node:events';
import type { Message, SendData, WebSocketConnection } from '../io/connection.js';
import { connect, ConnectError, type ClientOptions } from './connect.js';

/**
 * How {@link ReconnectingWebSocket} retries. Every field is optional.
 *
 * @example
 * ```ts
 * import { ReconnectingWebSocket, type ReconnectOptions } from 'fullduplex';
 *
 * const reconnect: ReconnectOptions = {
 *   initialDelay: 250,
 *   maxDelay: 10_000,
 *   maxAttempts: 20,
 *   // Do not come back after the server said the session is over.
 *   shouldReconnect: (code) => code !== 4000,
 * };
 * const rws = new ReconnectingWebSocket('ws://127.0.0.1:8765', { reconnect });
 * ```
 */
export interface ReconnectOptions {
  /** Delay before the first retry, in ms. Default 500. */
  initialDelay?: number;
  /** Largest delay between retries, in ms. Default 30 s. */
  maxDelay?: number;
  /** Growth of the delay from one retry to the next. Default 2. */
  factor?: number;
  /**
   * Randomness, 0…1: each delay is shortened by a random fraction of up to this much, so that
   * clients dropped together do not all come back at the same moment. Default 0.5.
   */
  jitter?: number;
  /** Consecutive failed connection attempts before giving up. Default `Infinity`. */
  maxAttempts?: number;
  /**
   * Messages {@link ReconnectingWebSocket.send} keeps while disconnected, flushed in order on
   * reconnect; sending more rejects with `FD_ERR_QUEUE_FULL`. Default 100.
   */
  maxQueued?: number;
  /**
   * Whether to reconnect after the connection closed (not by {@link ReconnectingWebSocket.stop}).
   * Default: always.
   */
  shouldReconnect?: (code: number, reason: string) => boolean;
  /** Source of randomness for the jitter (tests pin it). Default `Math.random`. */
  random?: () => number;
}

/**
 * Options of {@link ReconnectingWebSocket}: those of `connect()` plus `reconnect`.
 *
 * @example
 * ```ts
 * import { ReconnectingWebSocket, type ReconnectingOptions } from 'fullduplex';
 *
 * const options: ReconnectingOptions = {
 *   headers: { Authorization: 'Bearer abc' }, // every connect() option applies to each attempt
 *   pingInterval: 10_000,
 *   reconnect: { maxDelay: 5000 },
 * };
 * const rws = new ReconnectingWebSocket('wss://example.com/feed', options);
 * ```
 */
export interface ReconnectingOptions extends ClientOptions {
  /** How to retry; defaults as listed in {@link ReconnectOptions}. */
  reconnect?: ReconnectOptions;
}

/**
 * What happened, as yielded by iterating a {@link ReconnectingWebSocket}.
 *
 * @example
 * ```ts
 * import { ReconnectingWebSocket } from 'fullduplex';
 *
 * const rws = new ReconnectingWebSocket('ws://127.0.0.1:8765');
 * for await (const event of rws) {
 *   if (event.type === 'message') console.log(`< ${event.data}`);
 *   else if (event.type === 'reconnecting') console.log(`retry ${event.attempt} in ${event.delay} ms`);
 * }
 * ```
 */
export type ReconnectingEvent =
  | {
      /** A connection opened (queued messages already flushed). */
      type: 'open';
      /** The new connection. */
      ws: WebSocketConnection;
      /** False only for the first connection. */
      reconnected: boolean;
    }
  | {
      /** A message arrived. */
      type: 'message';
      /** Text as `string`, binary as `Buffer`. */
      data: Message;
      /** True for a binary message. */
      isBinary: boolean;
    }
  | {
      /** The current connection closed. */
      type: 'disconnect';
      /** Its close code (1006 when it dropped). */
      code: number;
      /** Its close reason. */
      reason: string;
    }
  | {
      /** A retry is scheduled. */
      type: 'reconnecting';
      /** Retry number of this outage, from 1. */
      attempt: number;
      /** Wait before the attempt, in ms, jitter applied. */
      delay: number;
      /** Why the previous attempt failed, if one did. */
      error: Error | undefined;
    };

/**
 * Events of a {@link ReconnectingWebSocket}, with their listener signatures.
 *
 * @example
 * ```ts
 * import { ReconnectingWebSocket } from 'fullduplex';
 *
 * const rws = new ReconnectingWebSocket('ws://127.0.0.1:8765');
 * rws.on('disconnect', (code, reason) => console.log(`lost the connection: ${code} ${reason}`));
 * rws.on('reconnecting', ({ attempt, delay, error }) => console.log(`retry ${attempt} in ${delay} ms`, error?.message));
 * rws.on('stop', (error) => console.log(error ? `gave up: ${error.message}` : 'stopped'));
 * ```
 */
export interface ReconnectingEvents {
  /** A connection opened; `reconnected` is false only for the first one. Queued messages are already flushed. */
  open: [ws: WebSocketConnection, info: { reconnected: boolean }];
  /** A message arrived, on whichever connection is current. */
  message: [data: Message, isBinary: boolean];
  /** The current connection closed; a reconnection follows unless stopped. */
  disconnect: [code: number, reason: string];
  /** Retry number `attempt` (1-based) of this outage starts after `delay` ms; `error` is why the previous attempt failed, if one did. */
  reconnecting: [info: { attempt: number; delay: number; error: Error | undefined }];
  /** No more connections: `error` is null after {@link ReconnectingWebSocket.stop} or a close not to be retried, otherwise why it gave up. */
  stop: [error: Error | null];
}

/**
 * Why a {@link ReconnectingWebSocket.send} failed.
 *
 * @example
 * ```ts
 * import { ReconnectingError, ReconnectingWebSocket } from 'fullduplex';
 *
 * const rws = new ReconnectingWebSocket('ws://127.0.0.1:8765', { reconnect: { maxQueued: 10 } });
 * try {
 *   await rws.send('tick');
 * } catch (error) {
 *   if (error instanceof ReconnectingError && error.code === 'FD_ERR_QUEUE_FULL') {
 *     // offline for a while: drop the tick rather than queue without bound
 *   }
 * }
 * ```
 */
export class ReconnectingError extends Error {
  /** `FD_ERR_QUEUE_FULL`, `FD_ERR_STOPPED` or `FD_ERR_GAVE_UP`. */
  readonly code: 'FD_ERR_QUEUE_FULL' | 'FD_ERR_STOPPED' | 'FD_ERR_GAVE_UP';

  constructor(code: ReconnectingError['code'], message: string, cause?: unknown) {
    super(message, cause !== undefined ? { cause } : undefined);
    this.name = 'ReconnectingError';
    this.code = code;
  }
}

interface Queued {
  data: SendData;
  binary: boolean | undefined;
  resolve(): void;
  reject(error: Error): void;
}

interface EventSink {
  events: ReconnectingEvent[];
  wake: (() => void) | null;
}

/**
 * A client connection that survives its connection: when the connection drops (server restart,
 * network loss, or a missed heartbeat pong — the client pings every `pingInterval`, 20 s by
 * default), it reconnects with exponential backoff and jitter, up to `maxAttempts` consecutive
 * failures. Messages sent while disconnected wait in a bounded queue and are flushed, in order,
 * as soon as the next connection opens.
 *
 * Delivery is at most once: a message handed to a connection that then drops is not resent.
 * Connection attempts refused with an HTTP status (other than 408, 429 and 5xx), a TLS failure,
 * or an invalid URL are not retried: it stops with that error.
 *
 * Follow it with events (`open`, `message`, `disconnect`, `reconnecting`, `stop`) or by
 * iterating it: `for await (const event of rws)` yields the same events as
 * {@link ReconnectingEvent} values and ends after `stop()` (throws if it gave up). While an
 * iterator lags `maxQueuedMessages` events behind, reading from the socket pauses. Messages that
 * arrive with neither a `message` listener nor an iterator are dropped.
 *
 * @example
 * const rws = new ReconnectingWebSocket('ws://127.0.0.1:8765', { reconnect: { maxDelay: 5000 } });
 * rws.on('open', (ws, { reconnected }) => console.log(reconnected ? 'reconnected' : 'connected'));
 * rws.on('message', (data) => console.log(`< ${data}`));
 * await rws.send('hello'); // queued until connected
 * await rws.stop();
 */
export class ReconnectingWebSocket extends EventEmitter<ReconnectingEvents> {
  /** The URL it connects to. */
  readonly url: string;
  private readonly clientOptions: ClientOptions;
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly maxAttempts: number;
  private readonly maxQueued: number;
  private readonly maxBufferedEvents: number;
  private readonly shouldReconnect: (code: number, reason: string) => boolean;
  private readonly random: () => number;

  private current: WebSocketConnection | null = null;
  private queue: Queued[] = [];
  private stopped = false;
  private finished = false;
  private failure: Error | null = null;
  private opened = 0;
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private cancelSleep: (() => void) | null = null;
  private readonly sinks = new Set<EventSink>();
  private paused = false;
  private pausedSocket: WebSocketConnection['socket'] | null = null;
  private openWaiters: Array<{ resolve(ws: WebSocketConnection): void; reject(error: Error): void }> = [];
  private readonly done: Promise<void>;

  /** Starts connecting at once. */
  constructor(url: string | URL, options: ReconnectingOptions = {}) {
    super();
    const { reconnect = {}, ...clientOptions } = options;
    this.url = String(url);
    this.clientOptions = clientOptions;
    this.initialDelay = reconnect.initialDelay ?? 500;
    this.maxDelay = reconnect.maxDelay ?? 30_000;
    this.factor = reconnect.factor ?? 2;
    this.jitter = Math.min(Math.max(reconnect.jitter ?? 0.5, 0), 1);
    this.maxAttempts = reconnect.maxAttempts ?? Infinity;
    this.maxQueued = reconnect.maxQueued ?? 100;
    this.maxBufferedEvents = clientOptions.maxQueuedMessages ?? 64;
    this.shouldReconnect = reconnect.shouldReconnect ?? (() => true);
    this.random = reconnect.random ?? Math.random;
    this.done = this.run().catch((error: unknown) => this.finish(error instanceof Error ? error : new Error(String(error))));
  }

  /** The open connection, or null while (re)connecting or after the stop. */
  get ws(): WebSocketConnection | null {
    return this.current !== null && this.current.readyState === 1 ? this.current : null;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.ws !== null;
  }

  /** Messages waiting for a connection. */
  get queued(): number {
    return this.queue.length;
  }

  /** True once stopped, by {@link stop} or because it gave up. */
  get isStopped(): boolean {
    return this.finished || this.stopped;
  }

  /**
   * The delay before retry `attempt` (1-based) of an outage — the first after a connection
   * dropped or after the first attempt failed — before jitter:
   * `min(maxDelay, initialDelay × factor^(attempt − 1))`.
   */
  backoff(attempt: number): number {
    return Math.min(this.maxDelay, this.initialDelay * this.factor ** (attempt - 1));
  }

  /**
   * Sends on the open connection (resolving as `WebSocketConnection.send` does), or queues the
   * message while disconnected and resolves once it is handed to the next connection. Rejects
   * with {@link ReconnectingError}: `FD_ERR_QUEUE_FULL` when `maxQueued` messages already wait,
   * `FD_ERR_STOPPED` / `FD_ERR_GAVE_UP` once stopped (queued messages too).
   */
  send(data: SendData, options?: { binary?: boolean }): Promise<void> {
    if (this.stopped || this.finished) return Promise.reject(this.stoppedError());
    const ws = this.ws;
    if (ws && this.queue.length === 0) return ws.send(data, options);
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new ReconnectingError('FD_ERR_QUEUE_FULL', `Send queue full: ${this.maxQueued} messages are waiting for a connection`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, binary: options?.binary, resolve, reject });
    });
  }

  /** Resolves with the next connection to open (the current one if open); rejects once stopped. */
  whenOpen(): Promise<WebSocketConnection> {
    const ws = this.ws;
    if (ws) return Promise.resolve(ws);
    if (this.stopped || this.finished) return Promise.reject(this.stoppedError());
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /**
   * Stops for good: cancels a pending retry or connection attempt, closes the open connection
   * with `code`/`reason` (waiting for the closing handshake), and rejects queued messages with
   * `FD_ERR_STOPPED`. Resolves when nothing is left running. Safe to call more than once.
   */
  async stop(code = 1000, reason = ''): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.cancelSleep?.();
      this.abort?.abort();
      const ws = this.current;
      if (ws) await ws.close(code, reason).catch(noop);
    }
    await this.done;
  }

  /** Yields what happens, in order, until stopped; throws the error if it gave up. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ReconnectingEvent, void, undefined> {
    const sink: EventSink = { events: [], wake: null };
    this.sinks.add(sink);
    try {
      for (;;) {
        const event = sink.events.shift();
        if (event) {
          this.updatePause();
          yield event;
          continue;
        }
        if (this.finished) {
          if (this.failure) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => (sink.wake = resolve));
        sink.wake = null;
      }
    } finally {
      this.sinks.delete(sink);
      this.updatePause();
    }
  }

  // The connection loop ---------------------------------------------------------------------

  private async run(): Promise<void> {
    // `failures` counts consecutive failed attempts (for maxAttempts); `retries` numbers the
    // waits of the current outage (for the backoff). Both restart at a successful open.
    let failures = 0;
    let retries = 0;
    let error: Error | undefined;
    while (!this.stopped) {
      if (failures > 0 || this.opened > 0) {
        if (failures >= this.maxAttempts) return this.finish(this.gaveUp(failures, error));
        const attempt = ++retries;
        const delay = Math.round(this.backoff(attempt) * (1 - this.jitter * this.random()));
        this.publish({ type: 'reconnecting', attempt, delay, error });
        this.emit('reconnecting', { attempt, delay, error });
        await this.sleep(delay);
        if (this.stopped) break;
      }
      let ws: WebSocketConnection;
      this.abort = new AbortController();
      try {
        ws = await connect(this.url, { ...this.clientOptions, signal: this.abort.signal });
      } catch (caught) {
        if (this.stopped) break;
        error = caught instanceof Error ? caught : new Error(String(caught));
        failures++;
        if (!isRetryable(error)) return this.finish(error);
        continue;
      } finally {
        this.abort = null;
      }
      if (this.stopped) {
        await ws.close().catch(noop);
        break;
      }
      failures = retries = 0;
      error = undefined;
      const code = await this.useConnection(ws);
      if (this.stopped) break;
      if (!this.shouldReconnect(code, ws.closeReason)) return this.finish(null);
    }
    this.finish(null);
  }

  /** Runs one connection until it closes; resolves with its close code. */
  private async useConnection(ws: WebSocketConnection): Promise<number> {
    const reconnected = this.opened++ > 0;
    this.current = ws;
    ws.on('message', (data, isBinary) => {
      this.publish({ type: 'message', data, isBinary });
      this.emit('message', data, isBinary);
    });
    ws.on('error', noop);
    // Flush what waited, in order, before anything sent from an `open` listener.
    const queue = this.queue;
    this.queue = [];
    for (const item of queue) ws.send(item.data, item.binary === undefined ? undefined : { binary: item.binary }).then(item.resolve, item.reject);
    this.updatePause();
    for (const waiter of this.openWaiters.splice(0)) waiter.resolve(ws);
    this.publish({ type: 'open', ws, reconnected });
    this.emit('open', ws, { reconnected });
    await ws.whenClosed();
    this.current = null;
    if (!this.stopped) {
      this.publish({ type: 'disconnect', code: ws.closeCode, reason: ws.closeReason });
      this.emit('disconnect', ws.closeCode, ws.closeReason);
    }
    return ws.closeCode;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.cancelSleep = resolve;
      this.timer = setTimeout(resolve, ms);
    }).finally(() => {
      this.timer = null;
      this.cancelSleep = null;
    });
  }

  private finish(error: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = error;
    this.current = null;
    const rejection = this.stoppedError();
    for (const item of this.queue.splice(0)) item.reject(rejection);
    for (const waiter of this.openWaiters.splice(0)) waiter.reject(rejection);
    for (const sink of this.sinks) sink.wake?.();
    this.emit('stop', error);
  }

  private gaveUp(failures: number, cause: Error | undefined): ReconnectingError {
    return new ReconnectingError(
      'FD_ERR_GAVE_UP',
      `Gave up connecting to ${this.url} after ${failures} failed attempt${failures === 1 ? '' : 's'}${cause ? `: ${cause.message}` : ''}`,
      cause,
    );
  }

  private stoppedError(): ReconnectingError {
    if (this.failure) {
      return this.failure instanceof ReconnectingError
        ? this.failure
        : new ReconnectingError('FD_ERR_GAVE_UP', `Stopped connecting to ${this.url}: ${this.failure.message}`, this.failure);
    }
    return new ReconnectingError('FD_ERR_STOPPED', `Stopped: no more connections to ${this.url}`);
  }

  // Iterators -------------------------------------------------------------------------------

  private publish(event: ReconnectingEvent): void {
    for (const sink of this.sinks) {
      sink.events.push(event);
      sink.wake?.();
    }
    if (event.type === 'message') this.updatePause();
  }

  /** Stops reading from the socket while an iterator lags `maxQueuedMessages` events behind. */
  private updatePause(): void {
    let backlog = 0;
    for (const sink of this.sinks) backlog = Math.max(backlog, sink.events.length);
    this.paused = this.paused ? backlog > this.maxBufferedEvents >>> 2 : backlog >= this.maxBufferedEvents;
    const socket = this.current?.socket ?? null;
    if (this.paused && socket && this.pausedSocket !== socket) {
      socket.pause();
      this.pausedSocket = socket;
    } else if (!this.paused && this.pausedSocket) {
      if (this.pausedSocket === socket) socket.resume();
      this.pausedSocket = null;
    }
  }
}

/**
 * Network failures, timeouts and 408/429/5xx answers are worth retrying; other refusals (404,
 * 403, a bad handshake), TLS failures and invalid URLs are not.
 */
function isRetryable(error: Error): boolean {
  if (!(error instanceof ConnectError)) return false;
  if (error.code === 'FD_ERR_TLS') return false;
  const status = error.status;
  if (status === undefined) return true;
  return status === 408 || status === 429 || status >= 500;
}

function noop(): void {}
