/**
 * Thrown by `recv()`, async iteration and `send()`-after-close when the connection is closed, with
 * the close code and reason (cf. python-websockets' `ConnectionClosed`).
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
