import { CloseCode, isValidWireCloseCode } from '../frame/close-code.js';
import type { ProtocolError } from '../frame/errors.js';
import type { Extension } from '../frame/extension.js';
import { FrameParser, type FrameSink } from '../frame/parser.js';
import { FrameWriter } from '../frame/frame-writer.js';
import { RandomMaskSource, type MaskSource } from '../frame/mask.js';
import { Opcode } from '../frame/opcode.js';

/**
 * Connection states (RFC 6455 §4.1, §7): the handshake is done by the time a Protocol exists.
 * @example
 * ```ts
 * import { ReadyState } from 'fullduplex';
 *
 * if (ws.readyState === ReadyState.OPEN) await ws.send('still here');
 * ```
 */
export const ReadyState = {
  /** Not open yet (a Protocol never is: it exists after the handshake; faces use it). */
  CONNECTING: 0,
  /** Messages flow both ways. */
  OPEN: 1,
  /** A close frame was sent or received; the closing handshake is under way. */
  CLOSING: 2,
  /** The connection is closed. */
  CLOSED: 3,
} as const;

/**
 * One of {@link ReadyState}'s values.
 * @example
 * ```ts
 * import { ReadyState, type ReadyStateValue } from 'fullduplex';
 *
 * const state: ReadyStateValue = ws.readyState;
 * const label = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'][state];
 * ```
 */
export type ReadyStateValue = (typeof ReadyState)[keyof typeof ReadyState];

/**
 * What the protocol reports. Implemented by the I/O layer; called synchronously from
 * {@link Protocol.receiveData} and {@link Protocol.receiveEof}.
 * @example
 * ```ts
 * import { Protocol, type ProtocolHandler } from 'fullduplex';
 *
 * const handler: ProtocolHandler = {
 *   onMessage: (data, isBinary) => console.log(isBinary ? data : data.toString()),
 *   onPing() {},
 *   onPong() {},
 *   onProtocolError: (error) => console.warn(error.code, error.closeCode),
 *   onOutput: () => queueMicrotask(flush), // write protocol.takeOutput() to the socket
 * };
 * const protocol = new Protocol(handler, { role: 'client' });
 * ```
 */
export interface ProtocolHandler {
  /**
   * A complete message, as bytes (a view into the received chunk when it arrived contiguous).
   * Text (`isBinary` false) is already validated as UTF-8; decode it with `data.toString()` when a
   * string is wanted. Messages keep arriving after {@link Protocol.close} until the peer's close
   * frame: they are still the peer's messages (RFC 6455 §7.1.2 lets the peer finish sending).
   */
  onMessage(data: Buffer, isBinary: boolean): void;
  /** A ping arrived; its pong is already queued (unless `autoPong` is off). */
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

/**
 * Options of a {@link Protocol}.
 * @example
 * ```ts
 * import { Protocol, type ProtocolOptions } from 'fullduplex';
 *
 * const options: ProtocolOptions = { role: 'server', maxMessageSize: 1024 * 1024 };
 * const protocol = new Protocol(handler, options);
 * ```
 */
export interface ProtocolOptions {
  /** Server frames are unmasked and client frames masked (RFC 6455 §5.1). */
  role: 'server' | 'client';
  /** Largest incoming message in bytes; larger fails with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Negotiated extensions, in the order of the handshake's answer: incoming messages with their
   * RSV bits are decoded by them, and outgoing messages encoded by the first one (today's only
   * extension is permessage-deflate).
   */
  extensions?: readonly Extension[];
  /** Answer pings with pongs automatically (§5.5.2). Default true; off only for API compatibility layers that answer themselves. */
  autoPong?: boolean;
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
 * @example
 * ```ts
 * import { Protocol } from 'fullduplex';
 *
 * // An echo server's connection with your own I/O (after the handshake):
 * const protocol = new Protocol(
 *   {
 *     onMessage: (data, isBinary) => (isBinary ? protocol.sendBinary(data) : protocol.sendText(data)),
 *     onPing() {},
 *     onPong() {},
 *     onProtocolError() {},
 *     onOutput() {},
 *   },
 *   { role: 'server' },
 * );
 * socket.on('data', (chunk: Buffer) => {
 *   protocol.receiveData(chunk);
 *   for (const bytes of protocol.takeOutput()) socket.write(bytes);
 *   if (protocol.outputEnded) socket.end();
 * });
 * ```
 */
export class Protocol implements FrameSink {
  private readyState: ReadyStateValue = ReadyState.OPEN;
  private code: number = CloseCode.ABNORMAL_CLOSURE;
  private reason = '';
  private received = false;
  private sent = false;

  private readonly isServer: boolean;
  private readonly parser: FrameParser;
  private readonly writer: FrameWriter;
  private readonly handler: ProtocolHandler;
  private readonly autoPong: boolean;
  /** Encodes outgoing messages (the first negotiated extension), or null. */
  private readonly encoder: Extension | null;
  private endRequested = false;
  /** Opcode of a fragmented message being sent, 0 when none. */
  private sendingFragmented = 0;
  /** Whether the fragmented message being sent goes through {@link encoder}. */
  private fragmentsEncoded = false;
  /**
   * Payload of the pong owed for the latest ping while pongs are coalesced, not yet queued; it is
   * queued when output is next taken.
   */
  private pendingPong: Buffer | null = null;
  /**
   * Coalesce pongs: while set, a ping's pong replaces the one still owed, so a burst of pings costs
   * one pong (§5.5.3: "an endpoint MAY elect to send a Pong frame for only the most recently
   * processed Ping frame"). The I/O layer sets it while its output is congested — a peer flooding
   * pings without reading then costs bounded memory — and clears it when the output drains; then
   * every ping gets its own pong, in order with the data around it.
   */
  coalescePongs = false;

  constructor(handler: ProtocolHandler, options: ProtocolOptions) {
    this.handler = handler;
    this.isServer = options.role === 'server';
    this.autoPong = options.autoPong ?? true;
    this.encoder = options.extensions?.[0] ?? null;
    this.parser = new FrameParser(this, {
      role: options.role,
      ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
      ...(options.extensions ? { extensions: options.extensions } : {}),
    });
    this.writer = new FrameWriter(this.isServer ? null : (options.maskSource ?? new RandomMaskSource()));
  }

  // Close facts, derived from what happened -----------------------------------------------------

  /** Current state: OPEN, CLOSING or CLOSED. */
  get state(): ReadyStateValue {
    return this.readyState;
  }

  /**
   * Close code of the connection: the one the peer sent (1005 if none), the one we failed the
   * connection with because the peer broke the protocol, or 1006 when the connection ended without
   * a close frame from the peer.
   */
  get closeCode(): number {
    return this.code;
  }

  /** Close reason the peer sent, or the reason we failed the connection for. */
  get closeReason(): string {
    return this.reason;
  }

  /** True once a close frame was received. */
  get closeReceived(): boolean {
    return this.received;
  }

  /** True once a close frame was queued for sending; nothing else may follow it (§5.5.1). */
  get closeSent(): boolean {
    return this.sent;
  }

  // Input -------------------------------------------------------------------------------------

  /**
   * Feeds bytes received from the peer. Dispatches events synchronously to the handler.
   * After calling this, take the output ({@link takeOutput}) if {@link pendingBytes} is non-zero,
   * end the transport's output if {@link outputEnded}, and arm a close timer if
   * {@link closeExpected}.
   */
  receiveData(chunk: Buffer): void {
    this.parser.push(chunk);
  }

  /**
   * The peer ended its output (TCP FIN or the socket closed). The connection is CLOSED; the close
   * code is 1006 unless a close frame arrived first. After calling this, flush and end the output.
   */
  receiveEof(): void {
    this.parser.stop();
    if (this.readyState === ReadyState.CLOSED) return;
    this.readyState = ReadyState.CLOSED;
    if (!this.endRequested) {
      this.endRequested = true;
      this.handler.onOutput();
    }
  }

  // Output ------------------------------------------------------------------------------------

  /** Bytes queued and not yet taken. */
  get pendingBytes(): number {
    const pong = this.pendingPong;
    return this.writer.pendingBytes + (pong === null ? 0 : pong.length + 6);
  }

  /**
   * Takes the queued frames for one vectored write (usually a single buffer). Write them in order;
   * once the transport holds nothing more, call {@link recycleOutput}.
   */
  takeOutput(): Buffer[] {
    if (this.pendingPong !== null) this.queuePong();
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
    return this.readyState === ReadyState.CLOSING;
  }

  /** True while a fragmented message is being sent: no other data message may start (§5.4). */
  get isSendingFragments(): boolean {
    return this.sendingFragmented !== 0;
  }

  /**
   * Queues a text message, encoded by the negotiated extension unless `compress` is false.
   * Returns false (sending nothing) once the connection is closing.
   * @throws {SendStateError} while a fragmented message is being sent (§5.4).
   */
  sendText(text: string | Uint8Array, compress = true): boolean {
    return this.sendMessage(Opcode.TEXT, text, compress);
  }

  /**
   * Queues a binary message, encoded by the negotiated extension unless `compress` is false.
   * Returns false (sending nothing) once the connection is closing.
   * @throws {SendStateError} while a fragmented message is being sent (§5.4).
   */
  sendBinary(data: Uint8Array, compress = true): boolean {
    return this.sendMessage(Opcode.BINARY, data, compress);
  }

  private sendMessage(opcode: number, data: Uint8Array | string, compress: boolean): boolean {
    if (!this.isWritable) return false;
    if (this.sendingFragmented !== 0) throw fragmentInProgress();
    const encoder = this.encoder;
    if (encoder !== null && compress) {
      const encoded = encoder.encode(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, opcode, true);
      this.writer.writeFrame(opcode, true, encoded.rsv, encoded.payload);
    } else {
      this.writer.writeFrame(opcode, true, 0, data);
    }
    return true;
  }

  /**
   * Queues one fragment of a message whose length is not known up front (§5.4). The first call
   * fixes the message type (and whether it is encoded); `fin` ends it. Control frames may be sent
   * between fragments; other data messages may not — the I/O layer queues them meanwhile.
   */
  sendFragment(data: Uint8Array | string, fin: boolean, isBinary = typeof data !== 'string', compress = true): boolean {
    if (!this.isWritable) return false;
    const first = this.sendingFragmented === 0;
    const opcode = first ? (isBinary ? Opcode.BINARY : Opcode.TEXT) : Opcode.CONTINUATION;
    if (first) {
      this.sendingFragmented = opcode;
      this.fragmentsEncoded = this.encoder !== null && compress;
    }
    if (fin) this.sendingFragmented = 0;
    if (this.fragmentsEncoded) {
      const encoded = this.encoder!.encode(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, opcode, fin);
      if (first && encoded.rsv === 0) this.fragmentsEncoded = false; // the extension declined this message
      this.writer.writeFrame(opcode, fin, first ? encoded.rsv : 0, encoded.payload);
    } else {
      this.writer.writeFrame(opcode, fin, 0, data);
    }
    return true;
  }

  /**
   * Queues `buffer[start, end)`, complete frames shared with other connections, by reference
   * (see {@link FrameWriter.writeShared}). The caller guarantees they are valid for this side:
   * unmasked (server connections only), and encoded as this connection's extensions expect.
   * @throws {SendStateError} while a fragmented message is being sent (§5.4).
   */
  sendShared(buffer: Buffer, start: number, end: number): boolean {
    if (!this.isWritable) return false;
    if (this.sendingFragmented !== 0) throw fragmentInProgress();
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
   * Without a code the close frame has no payload and the peer sees 1005. Messages that arrive
   * until the peer's close frame are still delivered. After calling this, flush the output and arm
   * the close timer ({@link closeExpected} is true).
   */
  close(code?: number, reason = ''): void {
    if (code !== undefined && !isValidWireCloseCode(code)) {
      throw new RangeError(`Invalid close code ${code}: must be 1000, 1001-1003, 1007-1014 or 3000-4999`);
    }
    const reasonBytes = Buffer.from(reason, 'utf8');
    if (reasonBytes.length > 123) throw new RangeError('A close reason must not exceed 123 bytes of UTF-8');
    if (code === undefined && reasonBytes.length > 0) throw new TypeError('A close reason needs a close code');
    if (this.readyState !== ReadyState.OPEN) return;
    this.queueClose(code, reasonBytes);
    this.readyState = ReadyState.CLOSING;
    this.handler.onOutput();
  }

  /**
   * Fails the connection (§7.1.7): sends a close frame with `code` and stops processing input.
   * A server then closes TCP at once; a client waits for the server to (§7.1.1). `local` sets the
   * close code and reason reported on this side when they differ from what the peer is sent (a
   * keepalive timeout is reported as 1006, say); by default they stay as they are (1006 until a
   * close frame arrives).
   */
  fail(code: number, reason = '', local?: { code: number; reason: string }): void {
    this.parser.stop();
    if (this.readyState === ReadyState.CLOSED) return;
    if (!this.sent) this.queueClose(code, Buffer.from(reason.slice(0, 123), 'utf8'));
    if (local) {
      this.code = local.code;
      this.reason = local.reason;
    }
    this.readyState = ReadyState.CLOSING;
    if (this.isServer) this.endRequested = true;
    this.handler.onOutput();
  }

  private queueClose(code: number | undefined, reason: Buffer): void {
    // The pong owed for an earlier ping goes first: nothing may follow a close frame (§5.5.1).
    if (this.pendingPong !== null) this.queuePong();
    let payload = EMPTY;
    if (code !== undefined) {
      payload = Buffer.allocUnsafe(2 + reason.length);
      payload.writeUInt16BE(code, 0);
      reason.copy(payload, 2);
    }
    this.writer.writeFrame(Opcode.CLOSE, true, 0, payload);
    this.sent = true;
    this.sendingFragmented = 0;
  }

  private queuePong(): void {
    const payload = this.pendingPong!;
    this.pendingPong = null;
    this.writer.writeFrame(Opcode.PONG, true, 0, payload);
  }

  /** Frames may still be queued: no close frame sent and TCP not gone (§5.5.1). */
  get isWritable(): boolean {
    return !this.sent && this.readyState !== ReadyState.CLOSED;
  }

  // FrameSink: events from the parser (marked internal: they leave the published types) ---------

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean): void {
    this.handler.onMessage(data, isBinary);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    this.handler.onPong(payload);
  }

  /** @internal §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response". */
  onPing(payload: Buffer): void {
    if (this.autoPong && !this.sent && this.readyState !== ReadyState.CLOSED) {
      if (this.coalescePongs) {
        const first = this.pendingPong === null;
        // Copied: the payload may be a view into a chunk the transport reuses.
        this.pendingPong = Buffer.from(payload);
        if (first) this.handler.onOutput();
      } else {
        if (this.pendingPong !== null) this.queuePong();
        this.writer.writeFrame(Opcode.PONG, true, 0, payload);
        this.handler.onOutput();
      }
    }
    this.handler.onPing(payload);
  }

  /** @internal §5.5.1: echo the close frame (with its code) unless we already sent one. */
  onClose(code: number, reason: string): void {
    this.received = true;
    this.code = code;
    this.reason = reason;
    if (!this.sent) {
      this.queueClose(code === CloseCode.NO_STATUS_RECEIVED ? undefined : code, EMPTY);
    }
    // Both close frames are exchanged. §7.1.1: the server closes TCP first; the client waits for
    // that (under the close timer). CLOSED comes with the end of TCP, in receiveEof.
    this.readyState = ReadyState.CLOSING;
    if (this.isServer) this.endRequested = true;
    this.handler.onOutput();
  }

  /** @internal */
  onError(error: ProtocolError): void {
    this.fail(error.closeCode, error.message);
    // Report the code we failed with (as ws does); the WHATWG layer maps failures to 1006 itself.
    this.code = error.closeCode;
    this.reason = error.message;
    this.handler.onProtocolError(error);
  }
}

/**
 * A call the protocol cannot make in its current state: today, a data message sent while a
 * fragmented message is unfinished (RFC 6455 §5.4: "the fragments of one message MUST NOT be
 * interleaved between the fragments of another message"). The I/O layer queues such sends
 * instead, so applications only see this when driving the core directly.
 * @example
 * ```ts
 * import { Protocol, SendStateError } from 'fullduplex';
 *
 * const protocol = new Protocol(handler, { role: 'server' });
 * protocol.sendFragment('part 1, ', false); // a text message is now open
 * try {
 *   protocol.sendText('another message'); // §5.4: not between the fragments of another
 * } catch (error) {
 *   if (error instanceof SendStateError) protocol.sendFragment('part 2', true);
 * }
 * ```
 */
export class SendStateError extends Error {
  /** Stable identifier. */
  readonly code = 'FD_ERR_FRAGMENTED_MESSAGE_OPEN';

  constructor(message: string) {
    super(message);
    this.name = 'SendStateError';
  }
}

function fragmentInProgress(): SendStateError {
  return new SendStateError('A fragmented message is being sent: finish it (fin) before sending another data message');
}
