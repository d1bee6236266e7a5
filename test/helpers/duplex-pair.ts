/**
 * An in-memory transport pair: two `stream.Duplex` ends wired to each other, behaving enough like
 * a TCP connection to run sessions over without sockets. Bytes cross asynchronously (on a later
 * macrotask, as from a socket); a reader that stops reading pushes back on the writer (the
 * writer's write callback waits until the reader's buffer has room, so its `writableLength`
 * grows and `write()` returns false, as with TCP flow control); `end()` half-closes; `destroy()`
 * closes both ends, the other one without an 'end' (as a reset does).
 */
import { Duplex } from 'node:stream';
import { Session, WebSocketConnection, type SessionInit, type SessionOptions } from '../../src/index.js';

/** One end of a {@link duplexPair}. */
export class MemoryEnd extends Duplex {
  /** The other end. Set by {@link duplexPair}. */
  peer!: MemoryEnd;
  /** Bytes this end has written, counted when they reach the other end. */
  bytesDelivered = 0;
  /** A write waiting for the other end's reader to make room. */
  private blockedWrite: (() => void) | null = null;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Delivered on a later macrotask, as a socket's bytes would be.
    setImmediate(() => {
      const peer = this.peer;
      if (peer.destroyed || peer.readableEnded) {
        callback();
        return;
      }
      this.bytesDelivered += chunk.length;
      if (peer.push(chunk)) callback();
      // The reader is full: finish this write (and let the next one in) once it reads again.
      else peer.blockedWrite = () => callback();
    });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    // Corked writes leave as one chunk, as one vectored write would; once handed over they are
    // delivered even if this end is destroyed next (as bytes already in the kernel are).
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), 'binary', callback);
  }

  override _read(): void {
    const blocked = this.blockedWrite;
    if (blocked === null) return;
    this.blockedWrite = null;
    blocked();
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Half-close after every queued write (they are delivered in order, each on its own turn).
    setImmediate(() => {
      if (!this.peer.destroyed) this.peer.push(null);
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    const blocked = this.blockedWrite;
    this.blockedWrite = null;
    blocked?.();
    // The other end sees its connection go away without an 'end', like after a reset.
    setImmediate(() => {
      if (!peer.destroyed) peer.destroy();
    });
    callback(error);
  }
}

/**
 * Two connected in-memory ends. `highWaterMark` sets both the writable and the readable buffer
 * size of each end (default 16 KiB), so a reader that stops reading pushes back quickly.
 */
export function duplexPair(highWaterMark = 16 * 1024): [MemoryEnd, MemoryEnd] {
  const options = { allowHalfOpen: true, highWaterMark };
  const a = new MemoryEnd(options);
  const b = new MemoryEnd(options);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A {@link SessionInit} for `role`, as a handshake would have produced it (no extensions). */
export function memoryInit(role: 'server' | 'client', path = '/'): SessionInit {
  return {
    role,
    protocol: '',
    extensions: [],
    extensionsHeader: '',
    peer: { address: 'memory', port: undefined },
    request: { url: path, path, query: new URLSearchParams(), headers: {} },
  };
}

/** A server-role and a client-role session over one {@link duplexPair}, no handshake. */
export interface SessionPair {
  serverEnd: MemoryEnd;
  clientEnd: MemoryEnd;
  server: Session;
  client: Session;
}

/** Builds a {@link SessionPair}; `serverOptions`/`clientOptions` go to each `Session`. */
export function sessionPair(serverOptions: SessionOptions = {}, clientOptions: SessionOptions = {}, highWaterMark?: number): SessionPair {
  const [serverEnd, clientEnd] = duplexPair(highWaterMark);
  return {
    serverEnd,
    clientEnd,
    server: new Session(serverEnd, memoryInit('server'), serverOptions),
    client: new Session(clientEnd, memoryInit('client'), clientOptions),
  };
}

/** A {@link SessionPair} with a {@link WebSocketConnection} face on each session. */
export function connectionPair(
  serverOptions: SessionOptions = {},
  clientOptions: SessionOptions = {},
  highWaterMark?: number,
): SessionPair & { serverWs: WebSocketConnection; clientWs: WebSocketConnection } {
  const pair = sessionPair(serverOptions, clientOptions, highWaterMark);
  return { ...pair, serverWs: new WebSocketConnection(pair.server), clientWs: new WebSocketConnection(pair.client) };
}

/** Polls `condition` every few ms until it holds; rejects naming `what` after `ms`. */
export async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
