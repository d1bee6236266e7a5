import { Duplex, type DuplexOptions } from 'node:stream';
import { WebSocket, type RawData } from './websocket.js';

/**
 * Wraps a `ws` face socket in a Duplex stream, as `ws`'s `createWebSocketStream`: messages are
 * pushed as chunks (reading pauses the socket when the stream's buffer is full), writes are
 * sent as messages, ending the stream closes the socket, destroying it terminates the socket.
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import WebSocket, { createWebSocketStream } from 'fullduplex/ws';
 *
 * const ws = new WebSocket('ws://127.0.0.1:8080/upload');
 * const duplex = createWebSocketStream(ws);
 * await pipeline(process.stdin, duplex, process.stdout); // lines out as messages, messages in as chunks
 * ```
 */
export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  let terminateOnDestroy = true;
  const duplex = new Duplex({ ...options, autoDestroy: false, emitClose: false, objectMode: false, writableObjectMode: false });

  ws.on('message', (message: RawData, isBinary: boolean) => {
    const data = !isBinary && duplex.readableObjectMode ? message.toString() : message;
    if (!duplex.push(data)) ws.pause();
  });
  ws.once('error', (error: Error) => {
    if (duplex.destroyed) return;
    // Don't terminate: the socket reports its own failure and closes itself.
    terminateOnDestroy = false;
    duplex.destroy(error);
  });
  ws.once('close', () => {
    if (duplex.destroyed) return;
    duplex.push(null);
  });

  duplex._destroy = (error, callback): void => {
    if (ws.readyState === WebSocket.CLOSED) {
      callback(error);
      process.nextTick(emitClose, duplex);
      return;
    }
    let called = false;
    ws.once('error', (wsError: Error) => {
      called = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!called) callback(error);
      process.nextTick(emitClose, duplex);
    });
    if (terminateOnDestroy) ws.terminate();
  };

  duplex._final = (callback): void => {
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.once('open', () => duplex._final(callback));
      return;
    }
    if (ws.readyState === WebSocket.CLOSED) {
      callback();
      if (duplex.readableEnded) duplex.destroy();
      return;
    }
    ws.once('close', () => {
      callback();
      if (duplex.readableEnded) duplex.destroy();
    });
    ws.close();
  };

  duplex._read = (): void => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = (chunk: Buffer, _encoding, callback): void => {
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.once('open', () => duplex._write(chunk, _encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  duplex.on('end', duplexOnEnd);
  duplex.on('error', duplexOnError);
  return duplex;
}

function emitClose(stream: Duplex): void {
  stream.emit('close');
}

function duplexOnEnd(this: Duplex): void {
  if (!this.destroyed && this.writableFinished) this.destroy();
}

function duplexOnError(this: Duplex, error: Error): void {
  this.removeListener('error', duplexOnError);
  this.destroy();
  // Re-emit only when someone listens, as `ws` does.
  if (this.listenerCount('error') === 0) this.emit('error', error);
}
