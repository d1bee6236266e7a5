import { CloseCode, isValidWireCloseCode } from '../frame/close-code.js';
import type { ProtocolError } from '../frame/errors.js';
import type { ReceiveExtension } from '../frame/extension.js';
import { FrameParser, type FrameSink } from '../frame/parser.js';
import { FrameWriter } from '../frame/frame-writer.js';
import { RandomMaskSource, type MaskSource } from '../frame/mask.js';
import { Opcode } from '../frame/opcode.js';

/** Connection states (RFC 6455 §4.1, §7): the handshake is done by the time a Protocol exists. */
export const ReadyState = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;

/** One of {@link ReadyState}'s values. */
export type ReadyStateValue = (typeof ReadyState)[keyof typeof ReadyState];

/**
 * What the protocol reports. Implemented by the I/O layer; called synchronously from
 * {@link Protocol.receiveData} and {@link Protocol.receiveEof}.
 */
export interface ProtocolHandler {
  /** A complete message: text as a string, binary as a Buffer (a view when it arrived contiguous). */
  onMessage(data: string | Buffer, isBinary: boolean): void;
  /** A ping arrived; its pong is already queued. */
  onPing(payload: Buffer): void;
  /** A pong arrived. */
  onPong(payload: Buffer): void;
  /**
   * The peer broke the protocol. The close frame with `error.closeCode` is already queued; the
   * connection is closing.
   */
  onProtocolError(error: ProtocolError): void;
  /**
   * Output changed in a way the I/O layer must act on: frames to send, the end of the output
   * stream, or the need for a close timer. Called at most once per protocol call.
   */
  onOutput(): void;
}

/** Options of a {@link Protocol}. */
export interface ProtocolOptions {
  /** Server frames are unmasked and client frames masked (RFC 6455 §5.1). */
  role: 'server' | 'client';
  /** Largest incoming message in bytes; larger fails with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /** Negotiated extensions for the receive path. */
  extensions?: readonly ReceiveExtension[];
  /** Masking keys for a client (default: {@link RandomMaskSource}). Ignored for a server. */
  maskSource?: MaskSource;
}

const EMPTY = Buffer.alloc(0);

/**
 * A WebSocket connection after the opening handshake, without any I/O (cf. python-websockets'
 * `Protocol`): bytes in through {@link receiveData}/{@link receiveEof}, events out through the
 * {@link ProtocolHandler}; calls in through `send*`/{@link close}/{@link fail}, bytes out through
 * {@link takeOutput}. It keeps no timers: {@link closeExpected} tells the I/O layer when to start
 * its close timer, and {@link outputEnded} when to half-close TCP.
 *
 * The close handshake (RFC 6455 §7):
 *
 * ```
 *   we close first                      peer closes first
 *   OPEN --close()--> CLOSING            OPEN --close frame in--> CLOSING (echo queued)
 *   CLOSING --close frame in--> CLOSED   server: end TCP now; client: wait for the server's FIN
 *   server: end TCP; client: wait for the server's FIN (§7.1.1: the server closes TCP first)
 * ```
 */
export class Protocol implements FrameSink {
  /** Current state: OPEN, CLOSING or CLOSED. */
  state: ReadyStateValue = ReadyState.OPEN;
  /**
   * Close code of the connection: the one the peer sent (1005 if none), the one we failed the
   * connection with, or 1006 when TCP ended without a close frame.
   */
  closeCode: number = CloseCode.ABNORMAL_CLOSURE;
  /** Close reason the peer sent. */
  closeReason = '';
  /** True once a close frame was received. */
  closeReceived = false;
  /** True once a close frame was queued for sending; nothing else may follow it (§5.5.1). */
  closeSent = false;

  private readonly isServer: boolean;
  private readonly parser: FrameParser;
  private readonly writer: FrameWriter;
  private readonly handler: ProtocolHandler;
  private endRequested = false;
  /** Opcode of a fragmented message being sent, 0 when none. */
  private sendingFragmented = 0;

  constructor(handler: ProtocolHandler, options: ProtocolOptions) {
    this.handler = handler;
    this.isServer = options.role === 'server';
    this.parser = new FrameParser(this, {
      role: options.role,
      ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
      ...(options.extensions ? { extensions: options.extensions } : {}),
    });
    this.writer = new FrameWriter(this.isServer ? null : (options.maskSource ?? new RandomMaskSource()));
  }

  // Input -------------------------------------------------------------------------------------

  /** Feeds bytes received from the peer. Dispatches events synchronously. */
  receiveData(chunk: Buffer): void {
    this.parser.push(chunk);
  }

  /**
   * The peer ended its output (TCP FIN or the socket closed). The connection is CLOSED; the close
   * code is 1006 unless a close frame arrived first.
   */
  receiveEof(): void {
    this.parser.stop();
    if (this.state === ReadyState.CLOSED) return;
    this.state = ReadyState.CLOSED;
    if (!this.endRequested) {
      this.endRequested = true;
      this.handler.onOutput();
    }
  }

  // Output ------------------------------------------------------------------------------------

  /** Bytes queued and not yet taken. */
  get pendingBytes(): number {
    return this.writer.pendingBytes;
  }

  /** Takes the queued frames for one vectored write (usually a single buffer). */
  takeOutput(): Buffer[] {
    return this.writer.take();
  }

  /**
   * Tells the protocol that every buffer taken so far has been fully written (the socket holds no
   * pending data), so its output slab can be reused instead of allocating a new one.
   */
  recycleOutput(): void {
    this.writer.recycle();
  }

  /** True when the I/O layer should end its output (half-close TCP) after writing what is queued. */
  get outputEnded(): boolean {
    return this.endRequested;
  }

  /**
   * True while we wait for the peer to finish closing: the I/O layer should then run a close
   * timer and drop the connection when it fires.
   */
  get closeExpected(): boolean {
    return this.state === ReadyState.CLOSING;
  }

  /** Queues a text message. Returns false (sending nothing) once the connection is closing. */
  sendText(text: string): boolean {
    if (!this.isWritable) return false;
    this.writer.writeFrame(Opcode.TEXT, true, 0, text);
    return true;
  }

  /** Queues a binary message. Returns false (sending nothing) once the connection is closing. */
  sendBinary(data: Uint8Array): boolean {
    if (!this.isWritable) return false;
    this.writer.writeFrame(Opcode.BINARY, true, 0, data);
    return true;
  }

  /**
   * Queues one fragment of a message whose length is not known up front (§5.4). The first call
   * fixes the message type; `fin` ends it. Control frames may be sent between fragments.
   */
  sendFragment(data: Uint8Array | string, fin: boolean, isBinary = typeof data !== 'string'): boolean {
    if (!this.isWritable) return false;
    const opcode = this.sendingFragmented === 0 ? (isBinary ? Opcode.BINARY : Opcode.TEXT) : Opcode.CONTINUATION;
    if (this.sendingFragmented === 0) this.sendingFragmented = opcode;
    if (fin) this.sendingFragmented = 0;
    this.writer.writeFrame(opcode, fin, 0, data);
    return true;
  }


  /**
   * Queues `buffer[start, end)`, complete frames shared with other connections, by reference
   * (see {@link FrameWriter.writeShared}). The caller guarantees they are valid for this side: unmasked, so server connections only.
   */
  sendShared(buffer: Buffer, start: number, end: number): boolean {
    if (!this.isWritable) return false;
    this.writer.writeShared(buffer, start, end);
    return true;
  }

  /** Queues a ping (payload at most 125 bytes, §5.5). */
  sendPing(payload: Uint8Array = EMPTY): boolean {
    if (!this.isWritable) return false;
    if (payload.length > 125) throw new RangeError('A ping payload must not exceed 125 bytes');
    this.writer.writeFrame(Opcode.PING, true, 0, payload);
    return true;
  }

  /** Queues a pong (payload at most 125 bytes, §5.5). */
  sendPong(payload: Uint8Array = EMPTY): boolean {
    if (!this.isWritable) return false;
    if (payload.length > 125) throw new RangeError('A pong payload must not exceed 125 bytes');
    this.writer.writeFrame(Opcode.PONG, true, 0, payload);
    return true;
  }

  /**
   * Starts the closing handshake (§7.1.2) with `code` and `reason` (at most 123 bytes of UTF-8).
   * Without a code the close frame has no payload and the peer sees 1005.
   */
  close(code?: number, reason = ''): void {
    if (code !== undefined && !isValidWireCloseCode(code)) {
      throw new RangeError(`Invalid close code ${code}: must be 1000, 1001-1003, 1007-1014 or 3000-4999`);
    }
    const reasonBytes = Buffer.from(reason, 'utf8');
    if (reasonBytes.length > 123) throw new RangeError('A close reason must not exceed 123 bytes of UTF-8');
    if (code === undefined && reasonBytes.length > 0) throw new TypeError('A close reason needs a close code');
    if (this.state !== ReadyState.OPEN) return;
    this.queueClose(code, reasonBytes);
    this.state = ReadyState.CLOSING;
    this.handler.onOutput();
  }

  /**
   * Fails the connection (§7.1.7): sends a close frame with `code` and stops processing input.
   * A server then closes TCP at once; a client waits for the server to (§7.1.1).
   */
  fail(code: number, reason = ''): void {
    this.parser.stop();
    if (this.state === ReadyState.CLOSED) return;
    if (!this.closeSent) this.queueClose(code, Buffer.from(reason.slice(0, 123), 'utf8'));
    this.state = ReadyState.CLOSING;
    if (this.isServer) this.endRequested = true;
    this.handler.onOutput();
  }

  private queueClose(code: number | undefined, reason: Buffer): void {
    let payload = EMPTY;
    if (code !== undefined) {
      payload = Buffer.allocUnsafe(2 + reason.length);
      payload.writeUInt16BE(code, 0);
      reason.copy(payload, 2);
    }
    this.writer.writeFrame(Opcode.CLOSE, true, 0, payload);
    this.closeSent = true;
  }

  /** Frames may still be queued: no close frame sent and TCP not gone (§5.5.1). */
  get isWritable(): boolean {
    return !this.closeSent && this.state !== ReadyState.CLOSED;
  }

  // FrameSink: events from the parser ------------------------------------------------------------

  /** @internal */
  onText(text: string): void {
    if (this.state === ReadyState.OPEN) this.handler.onMessage(text, false);
  }

  /** @internal */
  onBinary(data: Buffer): void {
    if (this.state === ReadyState.OPEN) this.handler.onMessage(data, true);
  }

  /** @internal §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response". */
  onPing(payload: Buffer): void {
    if (!this.closeSent) {
      this.writer.writeFrame(Opcode.PONG, true, 0, payload);
      this.handler.onOutput();
    }
    this.handler.onPing(payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    this.handler.onPong(payload);
  }

  /** @internal §5.5.1: echo the close frame (with its code) unless we already sent one. */
  onClose(code: number, reason: string): void {
    this.closeReceived = true;
    this.closeCode = code;
    this.closeReason = reason;
    if (!this.closeSent) {
      this.queueClose(code === CloseCode.NO_STATUS_RECEIVED ? undefined : code, EMPTY);
    }
    // Both close frames are exchanged. §7.1.1: the server closes TCP first; the client waits for
    // that (under the close timer). CLOSED comes with the end of TCP, in receiveEof.
    this.state = ReadyState.CLOSING;
    if (this.isServer) this.endRequested = true;
    this.handler.onOutput();
  }

  /** @internal */
  onError(error: ProtocolError): void {
    this.fail(error.closeCode, error.message);
    // Report the code we failed with (as ws does); the WHATWG layer maps failures to 1006 itself.
    this.closeCode = error.closeCode;
    this.closeReason = error.message;
    this.handler.onProtocolError(error);
  }
}
