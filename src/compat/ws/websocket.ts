import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { ClientRequestArgs } from 'node:http';
import { ProtocolError } from '../../frame/errors.js';
import { SessionError } from '../../io/errors.js';
import type { Session, SessionListener } from '../../io/session.js';
import { SharedFrameBatch } from '../../server/broadcast.js';
import {
  callListener,
  CloseEvent,
  ErrorEvent,
  Event,
  kForOnEventAttribute,
  kListener,
  MessageEvent,
  type EventListenerLike,
  type WrappedListener,
} from './events.js';
import type { PerMessageDeflateOptions } from './options.js';
import type { WebSocketServer } from './server.js';
import type { createWebSocketStream } from './stream.js';
import { initAsClient } from './client.js';

/**
 * What `binaryType` may be: how binary messages are delivered.
 * @example
 * ```ts
 * import WebSocket, { type BinaryType } from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/');
 * const binaryType: BinaryType = 'arraybuffer';
 * ws.binaryType = binaryType;
 * ws.on('message', (data, isBinary) => console.log(isBinary ? (data as ArrayBuffer).byteLength : String(data)));
 * ```
 */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
/**
 * A received message: a Buffer (text too), an ArrayBuffer or an array of Buffers, per `binaryType`.
 * @example
 * ```ts
 * import WebSocket, { type RawData } from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/');
 * ws.on('message', (data: RawData, isBinary: boolean) => {
 *   if (!isBinary) console.log(data.toString()); // text arrives as a Buffer too, as in ws
 * });
 * ```
 */
export type RawData = Buffer | ArrayBuffer | Buffer[];
/**
 * What `send()` accepts (numbers are sent as their decimal text, as `ws` does).
 * @example
 * ```ts
 * import WebSocket, { type Data } from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/');
 * const payloads: Data[] = ['text', Buffer.from([1, 2, 3]), new ArrayBuffer(8)];
 * ws.on('open', () => payloads.forEach((data) => ws.send(data)));
 * ```
 */
export type Data = string | Buffer | ArrayBuffer | Buffer[];

/**
 * Options of the client constructor: `ws`'s, plus everything `http.request`/`https.request` take.
 * @example
 * ```ts
 * import WebSocket, { type ClientOptions } from 'fullduplex/ws';
 *
 * const options: ClientOptions = {
 *   headers: { authorization: 'Bearer abc' },
 *   handshakeTimeout: 5_000,
 *   maxPayload: 1024 * 1024,
 *   perMessageDeflate: false,
 * };
 * const ws = new WebSocket('wss://example.com/feed', ['v1'], options);
 * ```
 */
export interface ClientOptions extends Omit<ClientRequestArgs, 'timeout'>, Pick<TlsConnectionOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'servername' | 'rejectUnauthorized' | 'checkServerIdentity' | 'ciphers' | 'minVersion' | 'maxVersion'> {
  /** Answer pings automatically. Default true. */
  autoPong?: boolean;
  /** `false`: each `message`, `ping` and `pong` event is emitted in its own macrotask (`setImmediate`), as `ws` does. Default true. */
  allowSynchronousEvents?: boolean;
  /** Ends the handshake request yourself (e.g. to write a body first): `req.end()` is yours to call. */
  finishRequest?: (request: ClientRequest, websocket: WebSocket) => void;
  /** Follow 3xx redirects of the handshake. Default false. */
  followRedirects?: boolean;
  /** Accepted for compatibility; masks always come from `crypto.randomFillSync`. */
  generateMask?: (mask: Buffer) => void;
  /** Time allowed for the opening handshake in ms. Default 10 s (`ws` has none). */
  handshakeTimeout?: number;
  /** Largest incoming message in bytes. Default 100 MiB. */
  maxPayload?: number;
  /** Most redirects to follow. Default 10. */
  maxRedirects?: number;
  /** `Origin` (or `Sec-WebSocket-Origin` for version 8) header. */
  origin?: string;
  /** Offer permessage-deflate (`true`, default) or not, or with these parameters. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** `Sec-WebSocket-Version`: 13 (default) or 8. */
  protocolVersion?: number;
  /** Accepted for compatibility; UTF-8 is always validated. */
  skipUTF8Validation?: boolean;
}

/**
 * Events of a `ws` WebSocket, with their arguments.
 * @example
 * ```ts
 * import WebSocket from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/');
 * ws.on('open', () => ws.ping());
 * ws.on('pong', (data) => console.log('pong', data));
 * ws.on('close', (code, reason) => console.log(code, reason.toString()));
 * ws.on('unexpected-response', (request, response) => console.log('status', response.statusCode));
 * ```
 */
export interface WebSocketEvents {
  /** The connection is open. */
  open: [];
  /** A message (text too arrives as bytes, per `binaryType`). */
  message: [data: RawData, isBinary: boolean];
  /** The connection closed. */
  close: [code: number, reason: Buffer];
  /** The connection failed. */
  error: [error: Error];
  /** A ping arrived. */
  ping: [data: Buffer];
  /** A pong arrived. */
  pong: [data: Buffer];
  /** The server's 101 response (client). */
  upgrade: [response: IncomingMessage];
  /** The server answered with something other than 101 (client); when listened to, no error is emitted. */
  'unexpected-response': [request: ClientRequest, response: IncomingMessage];
  /** A redirect is being followed (client, `followRedirects`). */
  redirect: [url: string, request: ClientRequest];
}

/** The DOM-style events and their event objects. */
export interface DomEvents {
  open: Event;
  message: MessageEvent;
  close: CloseEvent;
  error: ErrorEvent;
}

const readyStateNames = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;
const EMPTY = Buffer.alloc(0);
/** Buffered bytes beyond which a send callback waits for the transport to drain. */
const CALLBACK_HIGH_WATER_MARK = 64 * 1024;

type SendCallback = (error?: Error) => void;

/**
 * `ws`'s WebSocket class over a fullduplex {@link Session}: the same constructor, methods,
 * attributes and events (`message` with `(data, isBinary)`, text as a Buffer; `close` with
 * `(code, reason: Buffer)`), so code written for `ws` runs unchanged. There is no second
 * protocol implementation: framing, masking, UTF-8 validation, compression, close handshake and
 * backpressure are the session's. See the README's "Migrating from ws" for the deliberate
 * differences.
 *
 * @example
 * ```ts
 * import WebSocket from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080');
 * ws.on('open', () => ws.send('hello'));
 * ws.on('message', (data, isBinary) => console.log(isBinary ? data : data.toString()));
 * ```
 */
export class WebSocket extends EventEmitter<WebSocketEvents> {
  /** The connection is not yet open. */
  static readonly CONNECTING = 0;
  /** The connection is open and ready to communicate. */
  static readonly OPEN = 1;
  /** The connection is in the process of closing. */
  static readonly CLOSING = 2;
  /** The connection is closed. */
  static readonly CLOSED = 3;
  /** The `ws`-compatible server (attached by the entry module, as `ws` does). */
  declare static WebSocketServer: typeof WebSocketServer;
  /** Alias of {@link WebSocket.WebSocketServer}. */
  declare static Server: typeof WebSocketServer;
  /** The class itself, for `const { WebSocket } = require('fullduplex/ws')`. */
  declare static WebSocket: typeof WebSocket;
  /** Wraps a WebSocket in a Duplex stream. */
  declare static createWebSocketStream: typeof createWebSocketStream;

  /** @internal */ _session: Session | null = null;
  /** @internal */ _socket: Duplex | null = null;
  /** @internal */ _req: ClientRequest | null = null;
  /** @internal */ _state: number = WebSocket.CONNECTING;
  /** @internal */ _isServer: boolean;
  /** @internal */ _url: string | undefined = undefined;
  /** @internal */ _protocol = '';
  /** @internal */ _extensionNames = '';
  /** @internal */ _redirects = 0;
  /** @internal */ _autoPong = true;
  /** @internal */ _closeCode = 1006;
  /** @internal */ _closeReason: Buffer = EMPTY;
  /** @internal `allowSynchronousEvents: false`: events wait in {@link _deferred}, one per macrotask. */
  _deferEvents = false;
  /** @internal Events not yet emitted (kind, first argument, second argument), flat. */
  _deferred: unknown[] | null = null;
  /** @internal Index of the next deferred event in {@link _deferred}. */
  _deferredAt = 0;
  private _binaryType: BinaryType = 'nodebuffer';
  private _afterCloseBytes = 0;
  private _fragmenting = false;
  private _fragmentBinary = false;
  private _terminated = false;
  private _paused = false;
  private _callbacks: SendCallback[] | null = null;

  /**
   * Opens a client connection to `address` (`ws:`, `wss:`, `http:`, `https:` or `ws+unix:`),
   * offering `protocols`. `ws`'s own server passes `null` to make a server-side socket; so does
   * ours (internal).
   */
  constructor(address: string | URL | null, protocols?: string | string[] | ClientOptions, options?: ClientOptions) {
    super();
    if (address === null) {
      this._isServer = true;
      return;
    }
    this._isServer = false;
    let list: string[];
    let opts = options;
    if (protocols === undefined) list = [];
    else if (Array.isArray(protocols)) list = protocols;
    else if (typeof protocols === 'object' && protocols !== null) {
      opts = protocols;
      list = [];
    } else list = [protocols];
    initAsClient(this, address, list, opts ?? {});
  }

  // Constants on instances too, as `ws` (and the WHATWG interface) define them.
  /** 0 */ get CONNECTING(): 0 { return 0; }
  /** 1 */ get OPEN(): 1 { return 1; }
  /** 2 */ get CLOSING(): 2 { return 2; }
  /** 3 */ get CLOSED(): 3 { return 3; }

  // Attributes --------------------------------------------------------------------------------

  /** How binary messages are delivered: `'nodebuffer'` (default), `'arraybuffer'`, `'fragments'` or `'blob'`. */
  get binaryType(): BinaryType {
    return this._binaryType;
  }
  /** Changes how binary messages are delivered; other values are ignored, as in `ws`. */
  set binaryType(type: BinaryType) {
    if (type === 'nodebuffer' || type === 'arraybuffer' || type === 'fragments' || (type === 'blob' && HAS_BLOB)) this._binaryType = type;
  }

  /** Bytes queued and not yet handed to the OS (plus what was sent after closing, as `ws` counts it). */
  get bufferedAmount(): number {
    return (this._session !== null && !this._session.isClosed ? this._session.bufferedAmount : 0) + this._afterCloseBytes;
  }

  /** Names of the negotiated extensions, comma-separated (e.g. `permessage-deflate`). */
  get extensions(): string {
    return this._extensionNames;
  }

  /** True while reading is paused by {@link pause}. */
  get isPaused(): boolean {
    return this._paused;
  }

  /** The negotiated subprotocol, or `''`. */
  get protocol(): string {
    return this._protocol;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): 0 | 1 | 2 | 3 {
    const session = this._session;
    if (session === null || this._state === WebSocket.CLOSED) return this._state as 0 | 1 | 2 | 3;
    if (this._terminated && this._state === WebSocket.OPEN) return 2;
    return Math.max(this._state, session.readyState === 3 ? 2 : session.readyState) as 0 | 1 | 2 | 3;
  }

  /** The URL of a client connection (undefined on the server side). */
  get url(): string | undefined {
    return this._url;
  }

  // DOM-style event handlers -------------------------------------------------------------------

  /** `open` handler attribute. */
  get onopen(): ((event: Event) => void) | null { return this.getHandler('open') as ((event: Event) => void) | null; }
  /** Replaces the `open` handler (null removes it). */
  set onopen(handler: ((event: Event) => void) | null) { this.setHandler('open', handler as EventListenerLike | null); }
  /** `message` handler attribute. */
  get onmessage(): ((event: MessageEvent) => void) | null { return this.getHandler('message') as ((event: MessageEvent) => void) | null; }
  /** Replaces the `message` handler (null removes it). */
  set onmessage(handler: ((event: MessageEvent) => void) | null) { this.setHandler('message', handler as EventListenerLike | null); }
  /** `close` handler attribute. */
  get onclose(): ((event: CloseEvent) => void) | null { return this.getHandler('close') as ((event: CloseEvent) => void) | null; }
  /** Replaces the `close` handler (null removes it). */
  set onclose(handler: ((event: CloseEvent) => void) | null) { this.setHandler('close', handler as EventListenerLike | null); }
  /** `error` handler attribute. */
  get onerror(): ((event: ErrorEvent) => void) | null { return this.getHandler('error') as ((event: ErrorEvent) => void) | null; }
  /** Replaces the `error` handler (null removes it). */
  set onerror(handler: ((event: ErrorEvent) => void) | null) { this.setHandler('error', handler as EventListenerLike | null); }

  /**
   * Registers a DOM-style listener for `open`, `message`, `close` or `error` (other types are
   * ignored, as in `ws`). Adding the same listener twice has no effect.
   */
  addEventListener<K extends keyof DomEvents>(type: K, listener: ((event: DomEvents[K]) => void) | { handleEvent(event: DomEvents[K]): void }, options?: { once?: boolean }): void;
  addEventListener(type: string, listener: EventListenerLike, options?: { once?: boolean }): void;
  addEventListener(type: string, listener: EventListenerLike, options: { once?: boolean; [kForOnEventAttribute]?: boolean } = {}): void {
    const forAttribute = options[kForOnEventAttribute] === true;
    for (const existing of this.rawListeners(type as 'open') as WrappedListener[]) {
      if (!forAttribute && existing[kListener] === listener && !existing[kForOnEventAttribute]) return;
    }
    let wrapper: WrappedListener;
    if (type === 'message') {
      wrapper = function (this: WebSocket, data: RawData, isBinary: boolean) {
        callListener(listener, this, new MessageEvent('message', { data: isBinary ? data : data.toString() }));
      } as WrappedListener;
    } else if (type === 'close') {
      wrapper = function (this: WebSocket, code: number, reason: Buffer) {
        callListener(listener, this, new CloseEvent('close', { code, reason: reason.toString(), wasClean: this._session?.wasClean ?? false }));
      } as WrappedListener;
    } else if (type === 'error') {
      wrapper = function (this: WebSocket, error: Error) {
        callListener(listener, this, new ErrorEvent('error', { error, message: error.message }));
      } as WrappedListener;
    } else if (type === 'open') {
      wrapper = function (this: WebSocket) {
        callListener(listener, this, new Event('open'));
      } as WrappedListener;
    } else {
      return;
    }
    wrapper[kForOnEventAttribute] = forAttribute;
    wrapper[kListener] = listener;
    if (options.once) this.once(type, wrapper as never);
    else this.on(type, wrapper as never);
  }

  /** Removes a listener added with {@link addEventListener}. */
  removeEventListener<K extends keyof DomEvents>(type: K, listener: ((event: DomEvents[K]) => void) | { handleEvent(event: DomEvents[K]): void }): void;
  removeEventListener(type: string, listener: EventListenerLike): void;
  removeEventListener(type: string, listener: EventListenerLike): void {
    for (const existing of this.rawListeners(type as 'open') as WrappedListener[]) {
      if (existing[kListener] === listener && !existing[kForOnEventAttribute]) {
        this.removeListener(type as 'open', existing as never);
        return;
      }
    }
  }

  private getHandler(type: 'open' | 'message' | 'close' | 'error'): EventListenerLike | null {
    for (const existing of this.rawListeners(type) as WrappedListener[]) {
      if (existing[kForOnEventAttribute]) return existing[kListener] ?? null;
    }
    return null;
  }

  private setHandler(type: 'open' | 'message' | 'close' | 'error', handler: EventListenerLike | null): void {
    for (const existing of this.rawListeners(type) as WrappedListener[]) {
      if (existing[kForOnEventAttribute]) {
        this.removeListener(type, existing as never);
        break;
      }
    }
    if (typeof handler === 'function') (this.addEventListener as (type: string, listener: EventListenerLike, options: object) => void)(type, handler, { [kForOnEventAttribute]: true });
  }

  // Methods -----------------------------------------------------------------------------------

  /**
   * Sends `data`: strings as text, anything else as binary unless `options.binary` says
   * otherwise. `fin: false` sends a fragment; the message continues with the next `send` and
   * ends with one whose `fin` is true. `cb` is called once the data is handed to the OS, or
   * with an error when the connection is not open.
   * @throws {Error} while the connection is CONNECTING, as `ws` does.
   */
  send(data: unknown, options?: { binary?: boolean; compress?: boolean; fin?: boolean; mask?: boolean } | SendCallback, cb?: SendCallback): void {
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    if (this._state === WebSocket.CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    if (typeof data === 'number') data = data.toString();
    const session = this._session!;
    if (this.readyState !== WebSocket.OPEN) {
      this.sendAfterClose(data, cb);
      return;
    }
    const payload = toPayload(data);
    const isBinary = options?.binary ?? typeof payload !== 'string';
    const compress = options?.compress !== false;
    let ok: boolean;
    if (options?.fin === false || this._fragmenting) {
      if (!this._fragmenting) {
        this._fragmenting = true;
        this._fragmentBinary = isBinary;
      }
      const fin = options?.fin !== false;
      if (fin) this._fragmenting = false;
      ok = session.sendFragment(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, fin, this._fragmentBinary, compress);
    } else if (this._isServer && session.init.extensions.length === 0) {
      ok = sendRepeatable(session, payload, isBinary);
    } else {
      ok = session.trySend(payload, isBinary === (typeof payload !== 'string') && compress ? undefined : { binary: isBinary, compress });
    }
    if (cb !== undefined) {
      if (!ok) process.nextTick(cb, this.notOpenError());
      else this.afterWrite(cb);
    }
  }

  /**
   * Sends a ping (at most 125 bytes). `mask` is accepted for compatibility (clients always mask,
   * servers never do).
   * @throws {Error} while CONNECTING; {@link RangeError} for a payload over 125 bytes.
   */
  ping(data?: unknown, mask?: boolean | SendCallback, cb?: SendCallback): void {
    this.control(true, data, mask, cb);
  }

  /** Sends a pong (at most 125 bytes); see {@link ping}. */
  pong(data?: unknown, mask?: boolean | SendCallback, cb?: SendCallback): void {
    this.control(false, data, mask, cb);
  }

  /**
   * Starts the closing handshake. Before the connection is open, aborts it (an `error`, then
   * `close` with 1006).
   * @throws {TypeError} for an invalid close code; {@link RangeError} for a reason over 123 bytes.
   */
  close(code?: number, reason?: string | Buffer): void {
    if (this.readyState === WebSocket.CLOSED) return;
    if (this._state === WebSocket.CONNECTING) {
      this._abortHandshake('WebSocket was closed before the connection was established');
      return;
    }
    if (this.readyState === WebSocket.CLOSING) return;
    if (code !== undefined && (typeof code !== 'number' || !isValidStatusCode(code))) {
      throw new TypeError('First argument must be a valid error code number');
    }
    const text = reason === undefined ? '' : typeof reason === 'string' ? reason : Buffer.from(reason).toString('utf8');
    if (Buffer.byteLength(text) > 123) throw new RangeError('The message must not be greater than 123 bytes');
    this._state = WebSocket.CLOSING;
    // `ws` sends a close frame without a code when none is given; so does the session.
    void this._session!.close(code, code === undefined ? '' : text);
  }

  /** Drops the connection at once, without a closing handshake (close code 1006). */
  terminate(): void {
    if (this.readyState === WebSocket.CLOSED) return;
    if (this._state === WebSocket.CONNECTING) {
      this._abortHandshake('WebSocket was closed before the connection was established');
      return;
    }
    this._terminated = true;
    this._session!.terminate();
  }

  /** Stops reading from the peer until {@link resume}. */
  pause(): void {
    if (this._state === WebSocket.CONNECTING || this.readyState === WebSocket.CLOSED) return;
    this._paused = true;
    this._session!.pause();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    if (this._state === WebSocket.CONNECTING || this.readyState === WebSocket.CLOSED) return;
    this._paused = false;
    this._session!.resume();
  }

  // Internals shared with the client and server modules ------------------------------------

  /** @internal Wraps an open session: the socket becomes OPEN (client: emits `open`). */
  _setSession(session: Session, socket: Duplex): void {
    this._session = session;
    this._socket = socket;
    this._protocol = session.init.protocol;
    this._extensionNames = extensionNames(session.init.extensionsHeader);
    this._state = WebSocket.OPEN;
    session.attach(new SessionBridge(this));
  }

  /** @internal Aborts the opening handshake: `error`, then `close` with 1006. */
  _abortHandshake(message: string): void {
    this._state = WebSocket.CLOSING;
    const error = new Error(message);
    Error.captureStackTrace(error, WebSocket.prototype._abortHandshake);
    const req = this._req;
    if (req !== null) {
      this._req = null;
      (req as ClientRequest & { [kAborted]?: boolean })[kAborted] = true;
      req.destroy();
      const socket = req.socket;
      if (socket && !socket.destroyed) socket.destroy();
    }
    process.nextTick(emitErrorAndClose, this, error);
  }

  /** @internal The session closed. */
  _onClose(code: number, reason: string): void {
    this._state = WebSocket.CLOSED;
    this._closeCode = code;
    this._closeReason = reason === '' ? EMPTY : Buffer.from(reason, 'utf8');
    const callbacks = this._callbacks;
    if (callbacks !== null) {
      this._callbacks = null;
      const error = new Error('The socket was closed while data was being sent');
      for (const cb of callbacks) cb(error);
    }
    this.emit('close', code, this._closeReason);
  }

  /** @internal The transport drained: send callbacks waiting for it run. */
  _onDrain(): void {
    const callbacks = this._callbacks;
    if (callbacks === null) return;
    this._callbacks = null;
    for (const cb of callbacks) cb();
  }

  /** @internal Delivers a message in the shape `binaryType` asks for. */
  _onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary || this._binaryType === 'nodebuffer') {
      this.emit('message', data, isBinary);
    } else if (this._binaryType === 'arraybuffer') {
      this.emit('message', toArrayBuffer(data), true);
    } else if (this._binaryType === 'blob') {
      this.emit('message', new Blob([data] as unknown as ConstructorParameters<typeof Blob>[0]) as unknown as RawData, true);
    } else {
      this.emit('message', [data], true);
    }
  }

  /**
   * @internal `allowSynchronousEvents: false`: queues an event and reads no further until the
   * queue is empty; each message, ping and pong gets its own `setImmediate`, as in `ws`.
   */
  _defer(kind: number, a: unknown, b: unknown): void {
    let queue = this._deferred;
    if (queue === null || this._deferredAt === queue.length) {
      queue = this._deferred = [];
      this._deferredAt = 0;
      setImmediate(emitDeferred, this);
      if (this._session !== null && !this._session.isClosed) this._session.pause();
    }
    queue.push(kind, a, b);
  }

  /** @internal Whether events wait in the deferred queue (errors and close must queue behind them). */
  _hasDeferred(): boolean {
    return this._deferred !== null && this._deferredAt < this._deferred.length;
  }

  private control(isPing: boolean, data: unknown, mask: boolean | SendCallback | undefined, cb: SendCallback | undefined): void {
    if (typeof data === 'function') {
      cb = data as SendCallback;
      data = undefined;
    } else if (typeof mask === 'function') {
      cb = mask;
    }
    if (this._state === WebSocket.CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    if (typeof data === 'number') data = data.toString();
    if (this.readyState !== WebSocket.OPEN) {
      this.sendAfterClose(data, cb);
      return;
    }
    const payload = data === undefined || data === null ? EMPTY : toBytes(toPayload(data));
    if (payload.length > 125) throw new RangeError('The data size must not be greater than 125 bytes');
    const session = this._session!;
    if (isPing) void session.ping(payload);
    else session.pong(payload);
    if (cb !== undefined) this.afterWrite(cb);
  }

  private sendAfterClose(data: unknown, cb: SendCallback | undefined): void {
    // `ws` counts what is sent after closing in bufferedAmount (the WHATWG rule) and reports
    // the error to the callback only.
    if (data !== undefined && data !== null) this._afterCloseBytes += toBytes(toPayload(data)).length;
    if (cb !== undefined) process.nextTick(cb, this.notOpenError());
  }

  private notOpenError(): Error {
    const state = this.readyState;
    return new Error(`WebSocket is not open: readyState ${state} (${readyStateNames[state]})`);
  }

  private afterWrite(cb: SendCallback): void {
    if (this._session!.bufferedAmount > CALLBACK_HIGH_WATER_MARK) (this._callbacks ??= []).push(cb);
    // The flush runs in setImmediate; a later setImmediate runs after the bytes reached the socket.
    else setImmediate(cb);
  }
}

const HAS_BLOB = typeof Blob !== 'undefined';

// The same message sent to many server sockets in a row (ws code broadcasts with a loop over
// `wss.clients`): the first send is ordinary; from the second on, the frame is encoded once and
// queued by reference on each socket, as the core's `broadcast()` does. The encoded frame is
// kept until the end of the current task only (a microtask clears it), so a Buffer changed
// between turns is encoded afresh.
let lastPayload: string | Buffer | null = null;
let lastBinary = false;
let sharedReady = false;
const sharedBatch = new SharedFrameBatch();

function clearShared(): void {
  lastPayload = null;
  sharedReady = false;
}

function sendRepeatable(session: Session, payload: string | Buffer, isBinary: boolean): boolean {
  if (payload === lastPayload && isBinary === lastBinary) {
    if (!sharedReady) {
      sharedBatch.encode(payload, isBinary);
      sharedReady = true;
      queueMicrotask(clearShared);
    }
    return session.sendShared(sharedBatch.buffer, sharedBatch.start, sharedBatch.end);
  }
  lastPayload = payload;
  lastBinary = isBinary;
  sharedReady = false;
  return session.trySend(payload, isBinary === (typeof payload !== 'string') ? undefined : { binary: isBinary });
}
const EVENT_MESSAGE = 0;
const EVENT_PING = 1;
const EVENT_PONG = 2;
const EVENT_ERROR = 3;
const EVENT_CLOSE = 4;

/** Emits deferred events: one message, ping or pong per call (errors and the close follow at once). */
function emitDeferred(ws: WebSocket): void {
  const queue = ws._deferred!;
  while (ws._deferredAt < queue.length) {
    const at = ws._deferredAt;
    const kind = queue[at] as number;
    const a = queue[at + 1];
    const b = queue[at + 2];
    ws._deferredAt = at + 3;
    if (kind === EVENT_MESSAGE) ws._onMessage(a as Buffer, b as boolean);
    else if (kind === EVENT_PING) ws.emit('ping', a as Buffer);
    else if (kind === EVENT_PONG) ws.emit('pong', a as Buffer);
    else if (kind === EVENT_ERROR) ws.emit('error', a as Error);
    else ws._onClose(a as number, b as string);
    if (kind <= EVENT_PONG && ws._deferredAt < queue.length) {
      setImmediate(emitDeferred, ws);
      return;
    }
  }
  // A listener may have queued a new batch (with its own setImmediate) while the last ran.
  if (ws._deferred !== queue) return;
  ws._deferred = null;
  ws._deferredAt = 0;
  const session = ws._session;
  if (session !== null && !session.isClosed && !ws.isPaused) session.resume();
}

/** Marks a client request aborted by us, so its late 'error' is not reported twice. */
export const kAborted = Symbol('fullduplex.ws.aborted');

/** Passes the session's events to the face; one small object per connection, no closures. */
class SessionBridge implements SessionListener {
  constructor(private readonly ws: WebSocket) {}
  onMessage(data: Buffer, isBinary: boolean): void {
    const ws = this.ws;
    if (ws._deferEvents) ws._defer(EVENT_MESSAGE, data, isBinary);
    else ws._onMessage(data, isBinary);
  }
  onPing(payload: Buffer): void {
    const ws = this.ws;
    if (ws._deferEvents) ws._defer(EVENT_PING, payload, undefined);
    else ws.emit('ping', payload);
  }
  onPong(payload: Buffer): void {
    const ws = this.ws;
    if (ws._deferEvents) ws._defer(EVENT_PONG, payload, undefined);
    else ws.emit('pong', payload);
  }
  onError(error: Error): void {
    // `ws` reports protocol violations (and our session's own failures) but not transport
    // errors like ECONNRESET, which end in `close` with 1006. Without an 'error' listener `ws`
    // would crash the process on a peer's bad frame; we do not (README, "Migrating from ws").
    if (!(error instanceof ProtocolError || error instanceof SessionError)) return;
    if (this.ws.listenerCount('error') === 0) return;
    if (this.ws._hasDeferred()) this.ws._defer(EVENT_ERROR, wsError(error), undefined);
    else this.ws.emit('error', wsError(error));
  }
  onDrain(): void {
    this.ws._onDrain();
  }
  onClose(code: number, reason: string): void {
    if (this.ws._hasDeferred()) this.ws._defer(EVENT_CLOSE, code, reason);
    else this.ws._onClose(code, reason);
  }
}

/**
 * `ws`'s error for one of our protocol errors: the same class (`RangeError`, or `Error` for bad
 * UTF-8), `code` (`WS_ERR_*`) and message, since applications match on them. The details ws
 * puts in its messages (opcode, length, status code) are read back from ours.
 */
function wsError(error: Error): Error {
  if (!(error instanceof ProtocolError)) return error;
  const text = error.message;
  const number = (pattern: RegExp, fallback: number): number => {
    const match = pattern.exec(text);
    return match ? Number.parseInt(match[1]!, match[2] === undefined ? 10 : 16) : fallback;
  };
  let code: string;
  let message: string;
  let prefix = true;
  let Ctor: ErrorConstructor | RangeErrorConstructor = RangeError;
  switch (error.code) {
    case 'FD_ERR_RSV_BITS': {
      const rsv = number(/0b([01]{3})/, 4);
      [code, message] = (Number.parseInt(String(rsv), 2) & 0b011) !== 0 ? ['WS_ERR_UNEXPECTED_RSV_2_3', 'RSV2 and RSV3 must be clear'] : ['WS_ERR_UNEXPECTED_RSV_1', 'RSV1 must be clear'];
      break;
    }
    case 'FD_ERR_RESERVED_OPCODE':
      [code, message] = ['WS_ERR_INVALID_OPCODE', `invalid opcode ${number(/0x([0-9a-f]+)()/i, 0)}`];
      break;
    case 'FD_ERR_UNEXPECTED_CONTINUATION':
      [code, message] = ['WS_ERR_INVALID_OPCODE', 'invalid opcode 0'];
      break;
    case 'FD_ERR_EXPECTED_CONTINUATION':
      // Our message does not name the new frame's opcode; text is by far the common case.
      [code, message] = ['WS_ERR_INVALID_OPCODE', `invalid opcode ${number(/opcode 0x([0-9a-f]+)()/i, 1)}`];
      break;
    case 'FD_ERR_CONTROL_FRAGMENTED':
      [code, message] = ['WS_ERR_EXPECTED_FIN', 'FIN must be set'];
      break;
    case 'FD_ERR_CONTROL_TOO_LONG':
      [code, message] = ['WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', `invalid payload length ${number(/of (\d+) bytes/, 126)}`];
      break;
    case 'FD_ERR_CLOSE_PAYLOAD_LENGTH':
      [code, message] = ['WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 'invalid payload length 1'];
      break;
    case 'FD_ERR_MASK_REQUIRED':
      [code, message] = ['WS_ERR_EXPECTED_MASK', 'MASK must be set'];
      break;
    case 'FD_ERR_MASK_FORBIDDEN':
      [code, message] = ['WS_ERR_UNEXPECTED_MASK', 'MASK must be clear'];
      break;
    case 'FD_ERR_INVALID_CLOSE_CODE':
      [code, message] = ['WS_ERR_INVALID_CLOSE_CODE', `invalid status code ${number(/code (\d+)/, 0)}`];
      break;
    case 'FD_ERR_INVALID_UTF8':
    case 'FD_ERR_INVALID_CLOSE_REASON':
      [code, message, Ctor] = ['WS_ERR_INVALID_UTF8', 'invalid UTF-8 sequence', Error];
      break;
    case 'FD_ERR_LENGTH_TOO_BIG':
      [code, message, prefix] = ['WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 'Unsupported WebSocket frame: payload length > 2^53 - 1', false];
      break;
    case 'FD_ERR_MESSAGE_TOO_BIG':
      [code, message, prefix] = ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded', false];
      break;
    default:
      return error;
  }
  const out = new Ctor(prefix ? `Invalid WebSocket frame: ${message}` : message, { cause: error }) as Error & { code: string; closeCode: number };
  out.code = code;
  out.closeCode = error.closeCode;
  return out;
}

function emitErrorAndClose(ws: WebSocket, error: Error): void {
  ws._state = WebSocket.CLOSING;
  ws.emit('error', error);
  ws._state = WebSocket.CLOSED;
  ws.emit('close', 1006, EMPTY);
}

/** @internal */
export { emitErrorAndClose };

/** `permessage-deflate; client_max_window_bits=12` → `permessage-deflate` (what `ws` reports). */
function extensionNames(header: string): string {
  if (header === '') return '';
  return header
    .split(',')
    .map((element) => element.split(';')[0]!.trim())
    .join(',');
}

/** `ws`'s rule for codes an application may send. */
function isValidStatusCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** What the session's `trySend` takes; arrays of Buffers are joined as `ws` does. */
function toPayload(data: unknown): string | Buffer {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) return Buffer.concat(data as Uint8Array[]);
  if (data === undefined || data === null) return EMPTY;
  return Buffer.from(String(data), 'utf8');
}

function toBytes(payload: string | Buffer): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
}

function toArrayBuffer(data: Buffer): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data.buffer as ArrayBuffer;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}
