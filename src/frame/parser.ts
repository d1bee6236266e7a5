import { isUtf8 } from 'node:buffer';
import { CloseCode, isValidWireCloseCode } from './close-code.js';
import { ProtocolError, protocolError } from './errors.js';
import type { Extension } from './extension.js';
import { maskInto, maskRange } from './mask.js';
import { Opcode, isKnownOpcode } from './opcode.js';
import { Utf8Validator } from './utf8.js';

/**
 * Where the parser delivers what it decodes. A plain object with methods instead of an event
 * emitter: one call per message, no event objects, no closures (cf. uWebSockets' four callbacks).
 * Payload buffers may be views into the chunk passed to {@link FrameParser.push}; they stay valid
 * because the parser never writes to a chunk after it has returned (it only unmasks in place
 * before delivering).
 * @example
 * ```ts
 * import { FrameParser, type FrameSink } from 'fullduplex/frame';
 *
 * const sink: FrameSink = {
 *   onMessage: (data, isBinary) => console.log(isBinary ? data : data.toString()), // text is validated UTF-8
 *   onPing: (payload) => console.log('ping', payload),
 *   onPong() {},
 *   onClose: (code, reason) => console.log('close frame', code, reason),
 *   onError: (error) => console.log('fail with', error.closeCode, error.message),
 * };
 * const parser = new FrameParser(sink, { role: 'client' });
 * ```
 */
export interface FrameSink {
  /**
   * A complete message, after extensions decoded it. Text arrives as its bytes, already validated
   * as UTF-8 (`isBinary` false): each consumer decodes it if and when it wants a string, so a
   * consumer that forwards bytes (a ws-style API, a relay) never pays for a decode and re-encode.
   */
  onMessage(data: Buffer, isBinary: boolean): void;
  /** A ping; the connection layer answers it with a pong (§5.5.2). */
  onPing(payload: Buffer): void;
  /** A pong. */
  onPong(payload: Buffer): void;
  /**
   * A valid close frame. `code` is 1005 (NO_STATUS_RECEIVED) when the frame had no payload.
   * Nothing is parsed after it (§5.5.1: the peer sends no more data frames).
   */
  onClose(code: number, reason: string): void;
  /** The peer broke the protocol; fail the connection with `error.closeCode` (§7.1.7). */
  onError(error: ProtocolError): void;
}

/**
 * Options of a {@link FrameParser}.
 * @example
 * ```ts
 * import { FrameParser, type FrameParserOptions } from 'fullduplex/frame';
 *
 * const options: FrameParserOptions = { role: 'server', maxMessageSize: 64 * 1024 };
 * const parser = new FrameParser(sink, options);
 * ```
 */
export interface FrameParserOptions {
  /**
   * Which side we are. A server requires every frame to be masked; a client requires that none is
   * (RFC 6455 §5.1).
   */
  role: 'server' | 'client';
  /** Largest message (after reassembly) accepted; larger fails with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /** Negotiated extensions, consulted for RSV bits and message decoding. */
  extensions?: readonly Extension[];
}

/**
 * Default for {@link FrameParserOptions.maxMessageSize}: 16 MiB.
 * @example
 * ```ts
 * import { DEFAULT_MAX_MESSAGE_SIZE, FrameParser } from 'fullduplex/frame';
 *
 * // Four times the default limit.
 * const parser = new FrameParser(sink, { role: 'server', maxMessageSize: 4 * DEFAULT_MAX_MESSAGE_SIZE });
 * ```
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

const enum State {
  HEADER,
  PAYLOAD,
  /** After a close frame or an error: everything else is ignored. */
  DONE,
}

const EMPTY = Buffer.alloc(0);
/** Shared empty list: a parser allocates its lists of pieces only when a payload spans chunks or frames. */
const NONE = Object.freeze([]) as unknown as Buffer[];

/**
 * Largest frame whose buffer is allocated at its announced size when it spans chunks. Bigger
 * frames (up to maxMessageSize) keep collecting pieces, so a peer that announces a huge frame
 * and sends little of it holds only what it sent.
 */
const MAX_PREALLOCATED = 1024 * 1024;

/**
 * Node's Buffer constructor for views (`Buffer[Symbol.species]`): `new FastBuffer(ab, off, len)`
 * skips the argument handling of `subarray`, ~6 ns per message on small frames.
 */
const FastBuffer = (Buffer as unknown as { [Symbol.species]: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer })[
  Symbol.species
];

/**
 * Incremental WebSocket frame parser (the receiver): feed it chunks of any size, split anywhere,
 * and it calls the sink with complete messages and control frames.
 *
 * - Never concatenates the stream: only a partial header (at most 14 bytes) is kept between chunks.
 * - Zero-copy: a payload that lies within one chunk is delivered as a view of it (unmasked in
 *   place). Bytes are copied only when a payload spans chunks or a message spans frames.
 * - Fails fast: every violation is reported the moment the bytes that prove it arrive — the size
 *   limit from the frame header before any payload is buffered, invalid UTF-8 at the first bad
 *   byte even mid-frame — with the close code the connection must be failed with.
 * @example
 * ```ts
 * import { FrameParser, encodeFrame, Opcode } from 'fullduplex/frame';
 *
 * const parser = new FrameParser(
 *   {
 *     onMessage: (data, isBinary) => console.log(isBinary, data.toString()), // false 'hi'
 *     onPing() {},
 *     onPong() {},
 *     onClose() {},
 *     onError: (error) => console.error(error.closeCode),
 *   },
 *   { role: 'client' },
 * );
 * // Bytes may arrive split anywhere: the parser keeps at most a partial header between chunks.
 * const bytes = Buffer.concat(encodeFrame({ fin: true, opcode: Opcode.TEXT }, Buffer.from('hi')));
 * parser.push(bytes.subarray(0, 1));
 * parser.push(bytes.subarray(1));
 * ```
 */
export class FrameParser {
  private state = State.HEADER;
  private readonly sink: FrameSink;
  private readonly isServer: boolean;
  private readonly maxMessageSize: number;
  private readonly extensions: readonly Extension[];
  private readonly allowedRsv: number;

  // Partial header carried across chunks.
  /** Allocated the first time a header is split across chunks (rare), not per connection. */
  private headerBuf: Buffer | null = null;
  private headerLength = 0;

  // Current frame.
  private fin = false;
  private opcode = 0;
  private masked = false;
  /** The masking key as four numbers: no Buffer per connection. */
  private mask0 = 0;
  private mask1 = 0;
  private mask2 = 0;
  private mask3 = 0;
  private payloadLength = 0;
  private payloadReceived = 0;
  /** Pieces of the current control frame, or of a huge data frame that spans chunks. */
  private framePieces: Buffer[] = NONE;
  /**
   * The payload of a data frame that spans chunks, allocated at its announced size when its first
   * piece arrives: each piece is unmasked straight into it (no concatenation afterwards).
   */
  private frameBuffer: Buffer | null = null;

  // Current message (data frames), possibly fragmented.
  private messageOpcode = 0;
  /** Bytes of the current message on the wire (compressed, when an extension decodes it). */
  private messageLength = 0;
  private messageParts: Buffer[] = NONE;
  /** The extension decoding the current message (its first frame had RSV bits), or null. */
  private decoder: Extension | null = null;
  /** Decoded bytes of the current message so far (only while {@link decoder} is set). */
  private decodedLength = 0;
  /** Created for the first text message that needs piecewise validation (memory per idle connection). */
  private validator: Utf8Validator | null = null;
  /** Validate text incrementally (false when an extension must decode the message first). */
  private validateText = false;

  constructor(sink: FrameSink, options: FrameParserOptions) {
    this.sink = sink;
    this.isServer = options.role === 'server';
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.extensions = options.extensions ?? [];
    let rsv = 0;
    for (const extension of this.extensions) rsv |= extension.rsvBits;
    this.allowedRsv = rsv;
  }

  /** True once a close frame was parsed or the peer broke the protocol; further input is ignored. */
  get isDone(): boolean {
    return this.state === State.DONE;
  }

  /**
   * Parses the next chunk of the byte stream. Synchronously calls the sink for every complete
   * message or control frame in it. Never throws for any input: violations go to `sink.onError`.
   */
  push(chunk: Buffer): void {
    const length = chunk.length;
    let pos = 0;
    while (pos < length && this.state !== State.DONE) {
      if (this.state === State.HEADER) {
        pos = this.readHeader(chunk, pos);
        if (pos < 0) return; // header incomplete, or an error was reported
        continue;
      }
      pos = this.readPayload(chunk, pos);
    }
  }

  /** Stops parsing: used by the connection once it has failed or closed. */
  stop(): void {
    this.state = State.DONE;
    this.framePieces = NONE;
    this.frameBuffer = null;
    this.messageParts = NONE;
    this.decoder = null;
  }

  // Header ------------------------------------------------------------------------------------

  /** Returns the position after the header, or -1 when the chunk ended or an error was reported. */
  private readHeader(chunk: Buffer, pos: number): number {
    const available = chunk.length - pos;
    let source = chunk;
    let at = pos;
    if (this.headerLength === 0 && available >= 2) {
      const size = 2 + lengthFieldSize(chunk[pos + 1]!) + (chunk[pos + 1]! & 0x80 ? 4 : 0);
      if (available < size) {
        chunk.copy((this.headerBuf ??= Buffer.allocUnsafe(14)), 0, pos);
        this.headerLength = available;
        return -1;
      }
      pos += size;
    } else {
      // Slow path: accumulate the header across chunks.
      const buf = (this.headerBuf ??= Buffer.allocUnsafe(14));
      let have = this.headerLength;
      while (have < 2 && pos < chunk.length) buf[have++] = chunk[pos++]!;
      if (have < 2) {
        this.headerLength = have;
        return -1;
      }
      const size = 2 + lengthFieldSize(buf[1]!) + (buf[1]! & 0x80 ? 4 : 0);
      while (have < size && pos < chunk.length) buf[have++] = chunk[pos++]!;
      this.headerLength = have;
      if (have < size) return -1;
      this.headerLength = 0;
      source = buf;
      at = 0;
    }
    if (!this.parseHeader(source, at)) return -1;
    if (this.payloadLength === 0) {
      this.finishFrame(EMPTY);
      return this.state === State.DONE ? -1 : pos;
    }
    this.state = State.PAYLOAD;
    return pos;
  }

  /** Decodes and checks a complete header at `at`. Returns false after reporting an error. */
  private parseHeader(b: Buffer, at: number): boolean {
    const b0 = b[at]!;
    const b1 = b[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >>> 4) & 0x7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let p = at + 2;

    // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_".
    if (!isKnownOpcode(opcode)) {
      return this.fail(protocolError('FD_ERR_RESERVED_OPCODE', `Reserved opcode 0x${opcode.toString(16)}`));
    }
    const isControl = opcode >= 0x8;
    // §5.2: "RSV1, RSV2, RSV3 ... MUST be 0 unless an extension is negotiated that defines meanings
    // for non-zero values"; an extension's bits belong on a message's first frame only (RFC 7692 §6).
    if (rsv !== 0 && (isControl || opcode === Opcode.CONTINUATION || (rsv & ~this.allowedRsv) !== 0)) {
      return this.fail(protocolError('FD_ERR_RSV_BITS', `RSV bits 0b${rsv.toString(2).padStart(3, '0')} set without a negotiated extension`));
    }
    // §5.1: a server MUST close on an unmasked frame; a client MUST close on a masked frame.
    if (masked !== this.isServer) {
      return this.fail(
        this.isServer
          ? protocolError('FD_ERR_MASK_REQUIRED', 'Client frames must be masked')
          : protocolError('FD_ERR_MASK_FORBIDDEN', 'Server frames must not be masked'),
      );
    }
    if (length === 126) {
      length = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    } else if (length === 127) {
      const high = b.readUInt32BE(p);
      // §5.2: "the most significant bit MUST be 0".
      if (high > 0x7fffffff) {
        return this.fail(protocolError('FD_ERR_LENGTH_TOO_BIG', '64-bit payload length has its most significant bit set'));
      }
      // Lengths beyond 2^53 cannot be represented; they are over any size limit anyway.
      length = high > 0x1fffff ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + b.readUInt32BE(p + 4);
      p += 8;
    }

    if (isControl) {
      // §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
      if (length > 125) {
        return this.fail(protocolError('FD_ERR_CONTROL_TOO_LONG', `Control frame payload of ${length} bytes (max 125)`));
      }
      if (!fin) return this.fail(protocolError('FD_ERR_CONTROL_FRAGMENTED', 'Fragmented control frame'));
    } else if (opcode === Opcode.CONTINUATION) {
      // §5.4: a continuation frame continues a message that was started.
      if (this.messageOpcode === 0) {
        return this.fail(protocolError('FD_ERR_UNEXPECTED_CONTINUATION', 'Continuation frame without a message to continue'));
      }
    } else {
      // §5.4: data frames of different messages MUST NOT be interleaved.
      if (this.messageOpcode !== 0) {
        return this.fail(protocolError('FD_ERR_EXPECTED_CONTINUATION', 'New data frame while a fragmented message is unfinished'));
      }
      this.messageOpcode = opcode;
      this.messageLength = 0;
      this.validateText = opcode === Opcode.TEXT;
      if (rsv !== 0) {
        this.decoder = this.decoderFor(rsv);
        this.decodedLength = 0;
      }
    }
    if (!isControl) {
      // Decide the size limit from the header, before buffering any of the payload.
      if (length > this.maxMessageSize - this.messageLength) {
        return this.fail(
          new ProtocolError('FD_ERR_MESSAGE_TOO_BIG', CloseCode.MESSAGE_TOO_BIG, `Message exceeds the limit of ${this.maxMessageSize} bytes`),
        );
      }
      this.messageLength += length;
    }

    if (masked) {
      this.mask0 = b[p]!;
      this.mask1 = b[p + 1]!;
      this.mask2 = b[p + 2]!;
      this.mask3 = b[p + 3]!;
    }
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.payloadLength = length;
    this.payloadReceived = 0;
    return true;
  }

  // Payload -----------------------------------------------------------------------------------

  /** Consumes payload bytes of the current frame from `chunk` at `pos`; returns the new position. */
  private readPayload(chunk: Buffer, pos: number): number {
    const remaining = this.payloadLength - this.payloadReceived;
    const available = chunk.length - pos;
    const take = available < remaining ? available : remaining;
    if (this.opcode < 0x8 && this.decoder === null && (take < remaining || this.frameBuffer !== null) && this.payloadLength <= MAX_PREALLOCATED) {
      return this.gatherPiece(chunk, pos, take, take === remaining);
    }
    const piece = new FastBuffer(chunk.buffer, chunk.byteOffset + pos, take);
    if (this.masked) this.unmask(piece);
    this.payloadReceived += take;
    const done = this.payloadReceived === this.payloadLength;
    if (this.decoder !== null && this.opcode < 0x8) {
      // An extension decodes this message: hand it each piece as it arrives, so the decoded size
      // is checked against the limit while decoding (a bomb stops at the limit, never buffered).
      if (done) this.state = State.HEADER;
      if (!this.decodePiece(piece, done && this.fin)) return chunk.length;
      if (done && this.fin) this.finishMessage(EMPTY);
      return pos + take;
    }
    if (done && this.framePieces.length === 0) {
      // The whole payload lay in this chunk: deliver a view, no copy.
      this.state = State.HEADER;
      this.finishFrame(piece);
      return pos + take;
    }
    // Text is validated piece by piece so invalid UTF-8 fails the moment it arrives.
    if (this.opcode < 0x8 && this.validateText && !this.utf8().push(piece)) {
      this.failUtf8();
      return chunk.length;
    }
    if (this.framePieces === NONE) this.framePieces = [];
    this.framePieces.push(piece);
    if (!done) return pos + take;
    const pieces = this.framePieces;
    this.framePieces = NONE;
    this.state = State.HEADER;
    this.finishFrame(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.payloadLength), true);
    return pos + take;
  }

  /**
   * A data frame's payload spans chunks: copy this piece into the frame's buffer, unmasking on
   * the way (one pass; WebAssembly SIMD for large pieces), and deliver the buffer when complete.
   */
  private gatherPiece(chunk: Buffer, pos: number, take: number, done: boolean): number {
    const at = this.payloadReceived;
    const frame = (this.frameBuffer ??= Buffer.allocUnsafe(this.payloadLength));
    if (this.masked) {
      const a = this.mask0;
      const b = this.mask1;
      const c = this.mask2;
      const d = this.mask3;
      switch (at & 3) {
        case 0:
          maskInto(chunk, pos, pos + take, frame, at, a, b, c, d);
          break;
        case 1:
          maskInto(chunk, pos, pos + take, frame, at, b, c, d, a);
          break;
        case 2:
          maskInto(chunk, pos, pos + take, frame, at, c, d, a, b);
          break;
        default:
          maskInto(chunk, pos, pos + take, frame, at, d, a, b, c);
      }
    } else {
      chunk.copy(frame, at, pos, pos + take);
    }
    this.payloadReceived = at + take;
    // Text is validated piece by piece so invalid UTF-8 fails the moment it arrives.
    if (this.validateText && !this.utf8().push(new FastBuffer(frame.buffer, frame.byteOffset + at, take))) {
      this.failUtf8();
      return chunk.length;
    }
    if (!done) return pos + take;
    this.frameBuffer = null;
    this.state = State.HEADER;
    this.finishFrame(frame, true);
    return pos + take;
  }

  private utf8(): Utf8Validator {
    return (this.validator ??= new Utf8Validator());
  }

  /** Unmasks the next piece of the payload, the key rotated by the bytes already unmasked. */
  private unmask(piece: Buffer): void {
    const a = this.mask0;
    const b = this.mask1;
    const c = this.mask2;
    const d = this.mask3;
    const n = piece.length;
    switch (this.payloadReceived & 3) {
      case 0:
        return maskRange(piece, 0, n, a, b, c, d);
      case 1:
        return maskRange(piece, 0, n, b, c, d, a);
      case 2:
        return maskRange(piece, 0, n, c, d, a, b);
      default:
        return maskRange(piece, 0, n, d, a, b, c);
    }
  }

  /** A frame's payload is complete. `validated` tells whether its text was already checked piece by piece. */
  private finishFrame(payload: Buffer, validated = false): void {
    const opcode = this.opcode;
    if (opcode >= 0x8) {
      this.finishControlFrame(opcode, payload);
      return;
    }
    if (this.decoder !== null) {
      // An empty frame of a decoded message (its pieces went through readPayload otherwise).
      if (this.decodePiece(EMPTY, this.fin) && this.fin) this.finishMessage(EMPTY);
      return;
    }
    if (this.validateText && !validated && payload.length > 0) {
      // Fast path: a whole single-frame text message is checked natively in one call.
      if (this.fin && this.messageParts.length === 0 && (this.validator === null || this.validator.isComplete)) {
        if (!isUtf8(payload)) {
          this.failUtf8();
          return;
        }
      } else if (!this.utf8().push(payload)) {
        this.failUtf8();
        return;
      }
    }
    if (!this.fin) {
      if (payload.length > 0) {
        if (this.messageParts === NONE) this.messageParts = [];
        this.messageParts.push(payload);
      }
      return;
    }
    this.finishMessage(payload);
  }

  /** The final frame arrived: assemble and deliver the message (`last` is its final piece, if any). */
  private finishMessage(last: Buffer): void {
    let data = last;
    const parts = this.messageParts;
    if (parts.length > 0) {
      if (last.length > 0) parts.push(last);
      data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.decoder !== null ? this.decodedLength : this.messageLength);
      this.messageParts = NONE;
    }
    const isText = this.messageOpcode === Opcode.TEXT;
    this.messageOpcode = 0;
    this.decoder = null;
    const validator = this.validator;
    if (this.validateText && validator !== null) {
      if (!validator.end()) {
        this.failUtf8();
        return;
      }
      validator.reset();
    }
    this.sink.onMessage(data, !isText);
  }

  /**
   * Passes one piece of a decoded message to its extension, counting the output against the
   * size limit and validating text as it comes out. Returns false after reporting an error.
   */
  private decodePiece(piece: Buffer, fin: boolean): boolean {
    const decoder = this.decoder!;
    let out: Buffer;
    try {
      out = decoder.decode(piece, fin, this.maxMessageSize - this.decodedLength);
    } catch (error) {
      return this.fail(
        error instanceof ProtocolError
          ? error
          : new ProtocolError('FD_ERR_EXTENSION', CloseCode.INVALID_FRAME_PAYLOAD_DATA, `${decoder.name}: ${String(error)}`),
      );
    }
    if (out.length === 0) return true;
    this.decodedLength += out.length;
    if (this.decodedLength > this.maxMessageSize) {
      // A decoder that overshoots its budget is still held to the limit.
      return this.fail(
        new ProtocolError('FD_ERR_MESSAGE_TOO_BIG', CloseCode.MESSAGE_TOO_BIG, `Message exceeds the limit of ${this.maxMessageSize} bytes`),
      );
    }
    if (this.validateText && !this.utf8().push(out)) {
      this.failUtf8();
      return false;
    }
    if (this.messageParts === NONE) this.messageParts = [];
    this.messageParts.push(out);
    return true;
  }

  private finishControlFrame(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.PING) {
      this.sink.onPing(payload);
    } else if (opcode === Opcode.PONG) {
      this.sink.onPong(payload);
    } else {
      this.finishCloseFrame(payload);
    }
  }

  /** §5.5.1: a close payload is empty, or a 2-byte code followed by a UTF-8 reason. */
  private finishCloseFrame(payload: Buffer): void {
    if (payload.length === 0) {
      this.state = State.DONE;
      this.sink.onClose(CloseCode.NO_STATUS_RECEIVED, '');
      return;
    }
    if (payload.length === 1) {
      this.fail(protocolError('FD_ERR_CLOSE_PAYLOAD_LENGTH', 'Close frame payload of 1 byte'));
      return;
    }
    const code = (payload[0]! << 8) | payload[1]!;
    if (!isValidWireCloseCode(code)) {
      this.fail(protocolError('FD_ERR_INVALID_CLOSE_CODE', `Invalid close code ${code}`));
      return;
    }
    const reasonBytes = payload.subarray(2);
    if (!isUtf8(reasonBytes)) {
      this.fail(new ProtocolError('FD_ERR_INVALID_CLOSE_REASON', CloseCode.INVALID_FRAME_PAYLOAD_DATA, 'Close reason is not valid UTF-8'));
      return;
    }
    this.state = State.DONE;
    this.sink.onClose(code, reasonBytes.toString('utf8'));
  }

  /** The extension owning the RSV bits of a message's first frame (one per bit set, RFC 6455 §9). */
  private decoderFor(rsv: number): Extension | null {
    for (const extension of this.extensions) if ((extension.rsvBits & rsv) !== 0) return extension;
    return null;
  }

  private failUtf8(): void {
    this.fail(new ProtocolError('FD_ERR_INVALID_UTF8', CloseCode.INVALID_FRAME_PAYLOAD_DATA, 'Text message is not valid UTF-8'));
  }

  /** Reports `error` and stops parsing. Always returns false so callers can `return this.fail(...)`. */
  private fail(error: ProtocolError): false {
    this.stop();
    this.sink.onError(error);
    return false;
  }
}

/** Bytes of extended length that follow the second header byte (§5.2). */
function lengthFieldSize(byte1: number): number {
  const length = byte1 & 0x7f;
  return length === 126 ? 2 : length === 127 ? 8 : 0;
}
