import type { Socket } from 'node:net';

/**
 * The byte stream a WebSocket session runs over: the Duplex-shaped subset of a stream the session
 * uses, and nothing else. A `net.Socket`, a `tls.TLSSocket` and an HTTP/2 stream (RFC 8441) are
 * all transports as they are; so is an in-memory duplex in tests.
 *
 * Who calls what: the session calls `write`/`cork`/`uncork` to send, `end` after its close frame
 * to half-close, `destroy` to drop, `pause`/`resume` for read flow control; it listens to
 * `data`, `end`, `close`, `error` and `drain`. Anything transport-specific (`setNoDelay`, the
 * peer's address, TLS details) belongs to the adapter that created the transport, which hands
 * the session a {@link PeerInfo}.
 * @example
 * ```ts
 * import { Session, type Transport } from 'fullduplex';
 *
 * // Any Duplex-shaped stream is a transport: a net.Socket, a TLS socket, an HTTP/2 stream.
 * const transport: Transport = socket;
 * const session = new Session(transport, init);
 * ```
 */
export interface Transport {
  /** Queues bytes; `callback` runs once they are handed to the OS (or with an error). */
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  /** Starts batching writes until {@link uncork}. */
  cork(): void;
  /** Flushes writes batched since {@link cork}. */
  uncork(): void;
  /** Ends our side of the stream once queued writes are flushed (TCP FIN, HTTP/2 END_STREAM). */
  end(): unknown;
  /** Drops the stream at once (TCP RST or close, HTTP/2 RST_STREAM). */
  destroy(error?: Error): unknown;
  /** Stops emitting `data` (the peer is pushed back by TCP or HTTP/2 flow control). */
  pause(): unknown;
  /** Resumes emitting `data`. */
  resume(): unknown;
  /** Whether reading is paused. */
  isPaused(): boolean;
  /** Bytes queued in the stream and not yet handed to the OS. */
  readonly writableLength: number;
  /** True once the stream is destroyed. */
  readonly destroyed: boolean;
  /** Listens to `data` (a Buffer), `end`, `close`, `error` (an Error) or `drain`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Duplex's own overloads are this loose
  on(event: 'data' | 'end' | 'close' | 'error' | 'drain', listener: (...args: any[]) => void): unknown;
  /** Removes a listener added with {@link on}. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * Who is on the other end, as the adapter that created the transport knows it.
 * @example
 * ```ts
 * import { serve } from 'fullduplex';
 *
 * await serve((ws) => {
 *   // The face reads these from the session's PeerInfo.
 *   console.log(`peer ${ws.remoteAddress}:${ws.remotePort}`);
 * });
 * ```
 */
export interface PeerInfo {
  /** Remote IP address, when known. */
  readonly address: string | undefined;
  /** Remote port, when known. */
  readonly port: number | undefined;
}

/**
 * Prepares a `net.Socket` (or TLS socket) to carry a session: no Nagle delay (frames are batched
 * by the session already), and a {@link PeerInfo} that reads the address on first use (a system
 * call, then cached by the socket).
 * @example
 * ```ts
 * import { createServer } from 'node:net';
 * import { Session, WebSocketConnection, netTransport } from 'fullduplex';
 *
 * createServer((socket) => {
 *   // … your own handshake on `socket`, then:
 *   const { transport, peer } = netTransport(socket);
 *   const ws = new WebSocketConnection(new Session(transport, { ...init, peer }));
 * });
 * ```
 */
export function netTransport(socket: Socket): { transport: Transport; peer: PeerInfo } {
  socket.setNoDelay(true);
  return { transport: socket, peer: new SocketPeer(socket) };
}

class SocketPeer implements PeerInfo {
  constructor(private readonly socket: Socket) {}
  get address(): string | undefined {
    return this.socket.remoteAddress;
  }
  get port(): number | undefined {
    return this.socket.remotePort;
  }
}
