import { constants, type Http2Stream } from 'node:http2';
import type { PeerInfo, Transport } from './transport.js';

/**
 * Adapts an HTTP/2 stream (RFC 8441 extended CONNECT) to a {@link Transport}. An `Http2Stream` is
 * a Duplex, so writes, `end()` (END_STREAM), pause/resume (which hold back WINDOW_UPDATE, so the
 * peer is pushed back by HTTP/2 flow control) and `writableLength` are the stream's own. One
 * thing differs: `Http2Stream.destroy()` resets the stream with NO_ERROR, while dropping a
 * WebSocket (terminate, a failed close handshake, a peer that does not read) is an abort, which
 * RFC 8441 §5 maps to RST_STREAM with CANCEL. So `destroy` here resets with CANCEL.
 *
 * A wrapper, not the stream itself, because of that one method; listeners are called with the
 * wrapper as `this`, as the session expects of its transport.
 */
export class Http2StreamTransport implements Transport {
  /** The listeners as the stream sees them, to remove them again. */
  private readonly bound = new Map<(...args: never[]) => void, (...args: unknown[]) => void>();

  constructor(readonly stream: Http2Stream) {}

  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean {
    return this.stream.write(chunk, callback);
  }

  cork(): void {
    this.stream.cork();
  }

  uncork(): void {
    this.stream.uncork();
  }

  end(): unknown {
    return this.stream.end();
  }

  destroy(error?: Error): unknown {
    const stream = this.stream;
    if (!stream.closed && !stream.destroyed) {
      // RST_STREAM(CANCEL); the stream emits 'close' once the frame is queued.
      stream.close(constants.NGHTTP2_CANCEL);
      return this;
    }
    return stream.destroy(error);
  }

  pause(): unknown {
    return this.stream.pause();
  }

  resume(): unknown {
    return this.stream.resume();
  }

  isPaused(): boolean {
    return this.stream.isPaused();
  }

  get writableLength(): number {
    return this.stream.writableLength;
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as Transport.on
  on(event: 'data' | 'end' | 'close' | 'error' | 'drain', listener: (...args: any[]) => void): unknown {
    const bound = (...args: unknown[]): void => listener.apply(this, args);
    this.bound.set(listener, bound);
    this.stream.on(event, bound);
    return this;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown {
    const bound = this.bound.get(listener);
    if (bound) this.stream.off(event, bound);
    return this;
  }
}

/** The transport and peer of an HTTP/2 stream: the peer is the connection's remote end. */
export function http2Transport(stream: Http2Stream): { transport: Http2StreamTransport; peer: PeerInfo } {
  return { transport: new Http2StreamTransport(stream), peer: new StreamPeer(stream) };
}

class StreamPeer implements PeerInfo {
  private cachedAddress: string | undefined;
  private cachedPort: number | undefined;

  constructor(stream: Http2Stream) {
    // The session's socket goes away with the session; read it now while it is there.
    const socket = stream.session?.socket;
    this.cachedAddress = socket?.remoteAddress;
    this.cachedPort = socket?.remotePort;
  }

  get address(): string | undefined {
    return this.cachedAddress;
  }

  get port(): number | undefined {
    return this.cachedPort;
  }
}
