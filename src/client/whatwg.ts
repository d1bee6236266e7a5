import { CloseCode } from '../frame/close-code.js';
import type { Session, SessionListener } from '../io/session.js';
import { openSession, type ClientOptions } from './connect.js';

/**
 * The close event of the WHATWG WebSocket API (Node 20 has no global `CloseEvent`).
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 * @example
 * ```ts
 * import { CloseEvent, WebSocket } from 'fullduplex';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/');
 * ws.addEventListener('close', (event) => {
 *   const { code, reason, wasClean } = event as CloseEvent;
 *   console.log(code, reason, wasClean);
 * });
 * const synthetic = new CloseEvent('close', { code: 1000, reason: 'done', wasClean: true });
 * ```
 */
export class CloseEvent extends Event {
  /** Close code (1006 when the connection failed or dropped). */
  readonly code: number;
  /** Close reason. */
  readonly reason: string;
  /** True when the closing handshake completed. */
  readonly wasClean: boolean;

  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';
type Listener = (event: Event) => void;
type Handler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;

/**
 * The browser's `WebSocket`, for Node: code written against the WHATWG API runs unchanged.
 * Built on {@link connect}; a third constructor argument passes fullduplex client options
 * (TLS CA, headers, limits).
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 * @example
 * ```ts
 * import { WebSocket } from 'fullduplex';
 *
 * // Browser code runs unchanged; a third argument takes fullduplex client options.
 * const ws = new WebSocket('wss://example.com/feed', ['v1'], { headers: { cookie: 'session=abc' } });
 * ws.binaryType = 'arraybuffer';
 * ws.onopen = () => ws.send('subscribe');
 * ws.onmessage = (event) => console.log(event.data);
 * ws.onclose = (event) => console.log('closed', event.code);
 * ```
 */
export class WebSocket extends EventTarget {
  /** The connection has not yet been established. */
  static readonly CONNECTING = 0;
  /** The connection is open and ready to communicate. */
  static readonly OPEN = 1;
  /** The connection is going through the closing handshake. */
  static readonly CLOSING = 2;
  /** The connection has been closed or could not be opened. */
  static readonly CLOSED = 3;
  /** Same as {@link WebSocket.CONNECTING}. */
  readonly CONNECTING = 0;
  /** Same as {@link WebSocket.OPEN}. */
  readonly OPEN = 1;
  /** Same as {@link WebSocket.CLOSING}. */
  readonly CLOSING = 2;
  /** Same as {@link WebSocket.CLOSED}. */
  readonly CLOSED = 3;

  /** The URL as resolved. */
  readonly url: string;
  /** How binary messages are exposed: `blob` (default, as in browsers), `arraybuffer`, or `nodebuffer`. */
  binaryType: BinaryType = 'blob';
  private connection: Session | null = null;
  private state = 0;
  private discarded = 0;
  private readonly handlers = new Map<string, Listener>();
  private closeRequested: { code?: number; reason?: string } | null = null;

  constructor(url: string | URL, protocols?: string | string[], options: ClientOptions = {}) {
    super();
    // Steps 1–4 of the constructor: parse the URL, map http(s) to ws(s), refuse fragments.
    const parsed = new URL(url);
    if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
    else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      throw new DOMException(`The URL's scheme must be either 'ws' or 'wss'. '${parsed.protocol}' is not allowed.`, 'SyntaxError');
    }
    if (parsed.hash) throw new DOMException('The URL contains a fragment identifier.', 'SyntaxError');
    const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : protocols;
    if (new Set(list).size !== list.length) throw new DOMException('The subprotocol list contains duplicates.', 'SyntaxError');
    this.url = parsed.href;
    openSession(parsed, { ...options, ...(list.length ? { protocols: list } : {}) }).then(
      (session) => this.opened(session),
      () => this.failed(),
    );
  }

  /** CONNECTING, OPEN, CLOSING or CLOSED. */
  get readyState(): number {
    return this.state;
  }

  /** Bytes queued and not yet sent (plus those discarded after close, as the spec requires). */
  get bufferedAmount(): number {
    return (this.connection?.bufferedAmount ?? 0) + this.discarded;
  }

  /** The subprotocol the server selected, or `''`. */
  get protocol(): string {
    return this.connection?.init.protocol ?? '';
  }

  /** The extensions the server selected, or `''`. */
  get extensions(): string {
    return this.connection?.init.extensionsHeader ?? '';
  }

  /** Sends a message; throws InvalidStateError while CONNECTING. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.state === WebSocket.CONNECTING) throw new DOMException('Still in CONNECTING state.', 'InvalidStateError');
    const connection = this.connection;
    if (this.state !== WebSocket.OPEN || !connection) {
      this.discarded += typeof data === 'string' ? Buffer.byteLength(data) : data instanceof Blob ? data.size : data.byteLength;
      return;
    }
    if (data instanceof Blob) {
      // Blobs are read asynchronously; order is kept by the connection's queue of sends.
      void data.arrayBuffer().then((buffer) => connection.send(buffer).catch(noop));
      return;
    }
    const bytes = typeof data === 'string' || ArrayBuffer.isView(data) ? data : new Uint8Array(data);
    connection.send(bytes).catch(noop);
  }

  /**
   * Starts the closing handshake. `code` must be 1000 or 3000–4999 (InvalidAccessError), and the
   * reason at most 123 bytes of UTF-8 (SyntaxError).
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== CloseCode.NORMAL_CLOSURE && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`, 'InvalidAccessError');
    }
    if (reason !== undefined && Buffer.byteLength(reason) > 123) {
      throw new DOMException('The close reason must not be greater than 123 UTF-8 bytes.', 'SyntaxError');
    }
    if (this.state === WebSocket.CLOSING || this.state === WebSocket.CLOSED) return;
    if (this.state === WebSocket.CONNECTING) {
      // "Fail the WebSocket connection": it will be dropped as soon as it opens.
      this.closeRequested = { ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) };
      this.state = WebSocket.CLOSING;
      return;
    }
    this.state = WebSocket.CLOSING;
    this.connection?.close(code ?? (reason ? CloseCode.NORMAL_CLOSURE : undefined), reason ?? '').catch(noop);
  }

  /** Handler for `open`. */
  get onopen(): Handler<Event> {
    return this.getHandler('open');
  }
  /** Replaces the `open` handler (null removes it). */
  set onopen(handler: Handler<Event>) {
    this.setHandler('open', handler);
  }
  /** Handler for `message`. */
  get onmessage(): Handler<MessageEvent> {
    return this.getHandler('message');
  }
  /** Replaces the `message` handler (null removes it). */
  set onmessage(handler: Handler<MessageEvent>) {
    this.setHandler('message', handler);
  }
  /** Handler for `error`. */
  get onerror(): Handler<Event> {
    return this.getHandler('error');
  }
  /** Replaces the `error` handler (null removes it). */
  set onerror(handler: Handler<Event>) {
    this.setHandler('error', handler);
  }
  /** Handler for `close`. */
  get onclose(): Handler<CloseEvent> {
    return this.getHandler('close');
  }
  /** Replaces the `close` handler (null removes it). */
  set onclose(handler: Handler<CloseEvent>) {
    this.setHandler('close', handler);
  }

  private getHandler<E extends Event>(type: string): Handler<E> {
    const listener = this.handlers.get(type) as (Listener & { handler?: Handler<E> }) | undefined;
    return listener?.handler ?? null;
  }

  private setHandler<E extends Event>(type: string, handler: Handler<E>): void {
    const previous = this.handlers.get(type);
    if (previous) this.removeEventListener(type, previous);
    this.handlers.delete(type);
    if (typeof handler !== 'function') return;
    const listener = Object.assign((event: Event) => handler.call(this, event as E), { handler });
    this.handlers.set(type, listener);
    this.addEventListener(type, listener);
  }

  private opened(session: Session): void {
    this.connection = session;
    const origin = new URL(this.url).origin;
    // The face's wiring stays in a private listener, off the WebSocket's public surface.
    const listener: SessionListener = {
      onMessage: (data, isBinary) => {
        this.dispatchEvent(new MessageEvent('message', { data: isBinary ? this.binaryData(data) : data.toString('utf8'), origin }));
      },
      onPing: noop,
      onPong: noop,
      onError: noop,
      onDrain: noop,
      onClose: (code, reason) => this.finish(session.wasClean, code, reason),
    };
    session.attach(listener);
    if (this.closeRequested) {
      session.terminate();
      return;
    }
    this.state = WebSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }

  private binaryData(data: Buffer): unknown {
    if (this.binaryType === 'nodebuffer') return data;
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    return this.binaryType === 'arraybuffer' ? copy.buffer : new Blob([copy]);
  }

  private failed(): void {
    this.state = WebSocket.CLOSED;
    this.dispatchEvent(new Event('error'));
    this.dispatchEvent(new CloseEvent('close', { code: CloseCode.ABNORMAL_CLOSURE, reason: '', wasClean: false }));
  }

  private finish(clean: boolean, code: number, reason: string): void {
    this.state = WebSocket.CLOSED;
    // A failed or dropped connection is reported as 1006 after an error event, as in browsers.
    if (!clean) this.dispatchEvent(new Event('error'));
    this.dispatchEvent(
      new CloseEvent('close', clean ? { code, reason, wasClean: true } : { code: CloseCode.ABNORMAL_CLOSURE, reason: '', wasClean: false }),
    );
  }
}

function noop(): void {}
