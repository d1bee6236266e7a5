/**
 * Thrown by `recv()`, async iteration and `send()`-after-close when the connection is closed, with
 * the close code and reason (cf. python-websockets' `ConnectionClosed`).
 * @example
 * ```ts
 * import { ConnectionClosedError, connect } from 'fullduplex';
 *
 * const ws = await connect('ws://127.0.0.1:8080/');
 * try {
 *   for (;;) console.log(await ws.recv());
 * } catch (error) {
 *   if (!(error instanceof ConnectionClosedError)) throw error;
 *   console.log(error.code, error.reason, error.isNormal);
 * }
 * ```
 */
export class ConnectionClosedError extends Error {
  /** Close code of the connection (1000 normal, 1006 abnormal, 1002 protocol error, ...). */
  readonly code: number;
  /** Close reason, possibly empty. */
  readonly reason: string;

  constructor(code: number, reason: string) {
    super(`WebSocket connection closed: ${code}${reason ? ` ${reason}` : ''}`);
    this.name = 'ConnectionClosedError';
    this.code = code;
    this.reason = reason;
  }

  /** True for a clean, normal close (1000, 1001, or 1005 with no status), which iteration treats as the end. */
  get isNormal(): boolean {
    return this.code === 1000 || this.code === 1001 || this.code === 1005;
  }
}

/**
 * Stable identifiers of the I/O layer's own reasons for ending a connection.
 * @example
 * ```ts
 * import { SessionError, type SessionErrorCode } from 'fullduplex';
 *
 * ws.on('error', (error) => {
 *   const code: SessionErrorCode | undefined = error instanceof SessionError ? error.code : undefined;
 *   if (code === 'FD_ERR_KEEPALIVE_TIMEOUT') console.log('peer stopped answering pings');
 * });
 * ```
 */
export type SessionErrorCode =
  /** The peer read too slowly and the outgoing buffer passed `maxBufferedAmount` (sent 1008). */
  | 'FD_ERR_BUFFER_LIMIT'
  /** No pong arrived within `pongTimeout` of a keepalive ping (reported as 1006). */
  | 'FD_ERR_KEEPALIVE_TIMEOUT'
  /** An application callback (a `message` listener, say) threw while handling input (sent 1011). */
  | 'FD_ERR_APPLICATION'
  /** Topics are a server feature; a client connection cannot subscribe. */
  | 'FD_ERR_TOPICS_UNAVAILABLE';

/**
 * Why the I/O layer ended (or refused to act on) a connection on its own initiative, with a
 * stable {@link SessionErrorCode}. Reported through the connection's `error` event.
 * @example
 * ```ts
 * import { SessionError, serve } from 'fullduplex';
 *
 * await serve((ws) => {
 *   ws.on('error', (error) => {
 *     if (error instanceof SessionError && error.code === 'FD_ERR_BUFFER_LIMIT') {
 *       console.warn('dropped a peer that stopped reading');
 *     }
 *   });
 * });
 * ```
 */
export class SessionError extends Error {
  /** Stable identifier, e.g. `FD_ERR_BUFFER_LIMIT`. */
  readonly code: SessionErrorCode;

  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SessionError';
    this.code = code;
  }
}
