/**
 * The DOM-style event objects of the `ws` face (`addEventListener`, `onmessage`, …): the same
 * shapes `ws` hands to such listeners, so code written for browsers and for `ws` keeps working.
 */

const kTarget = Symbol('fullduplex.ws.target');

/**
 * A DOM-like event: `type` and `target`.
 * @example
 * ```ts
 * import WebSocket from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/');
 * ws.addEventListener('open', (event) => console.log(event.type, event.target === ws)); // 'open' true
 * ```
 */
export class Event {
  /** Event name, e.g. `open`. */
  readonly type: string;
  /** @internal */
  [kTarget]: unknown = null;

  constructor(type: string) {
    this.type = type;
  }

  /** The socket that emitted the event. */
  get target(): unknown {
    return this[kTarget];
  }
}

/**
 * A `message` event: text arrives as a string, binary as the socket's `binaryType`.
 * @example
 * ```ts
 * import WebSocket from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/');
 * ws.onmessage = (event) => console.log(event.data); // a string for text, a Buffer for binary
 * ```
 */
export class MessageEvent extends Event {
  /** The message: a string for text, binary as the socket's `binaryType`. */
  readonly data: unknown;

  constructor(type: string, init: { data?: unknown } = {}) {
    super(type);
    this.data = init.data === undefined ? null : init.data;
  }
}

/**
 * A `close` event.
 * @example
 * ```ts
 * import WebSocket from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/');
 * ws.onclose = (event) => console.log(event.code, event.reason, event.wasClean);
 * ```
 */
export class CloseEvent extends Event {
  /** Close code. */
  readonly code: number;
  /** Close reason, possibly empty. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;

  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

/**
 * An `error` event carrying the error.
 * @example
 * ```ts
 * import WebSocket from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:1/'); // nothing listens there
 * ws.onerror = (event) => console.log(event.message, event.error);
 * ```
 */
export class ErrorEvent extends Event {
  /** The error. */
  readonly error: unknown;
  /** The error's message. */
  readonly message: string;

  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.error = init.error === undefined ? null : init.error;
    this.message = init.message ?? '';
  }
}

/** A listener as DOM code passes it: a function or an object with `handleEvent`. */
export type EventListenerLike = ((event: never) => void) | { handleEvent(event: never): void };

/** Marks a wrapper as installed by an `on…` attribute (so the attribute setter can replace it). */
export const kForOnEventAttribute = Symbol('fullduplex.ws.onAttribute');
/** The user's listener behind a wrapper, for `removeEventListener` and the `on…` getters. */
export const kListener = Symbol('fullduplex.ws.listener');

/** A wrapper registered on the EventEmitter side, remembering what it wraps. */
export interface WrappedListener {
  (...args: never[]): void;
  [kForOnEventAttribute]?: boolean;
  [kListener]?: EventListenerLike;
}

/** Calls `listener` with `event` as its target's method, or its `handleEvent`. */
export function callListener(listener: EventListenerLike, target: unknown, event: Event): void {
  event[kTarget] = target;
  if (typeof listener === 'object' && listener !== null) (listener.handleEvent as (event: Event) => void).call(listener, event);
  else (listener as (event: Event) => void).call(target, event);
}
