import { headerSize, writeHeader } from '../frame/encoder.js';
import { Opcode } from '../frame/opcode.js';
import type { Extension } from '../frame/extension.js';
import type { DeferredSharedFrame, SendData } from '../io/session.js';
import { toBuffer as toBytes } from '../io/session.js';
import { SharedMessage, type PerMessageDeflate } from '../extensions/permessage-deflate.js';

const frameFields = { fin: true, rsv: 0, opcode: 0 };

/**
 * Encodes one unmasked message frame — the form every server connection sends — so the same
 * bytes can be queued on many connections without encoding per receiver.
 * @example
 * ```ts
 * import { encodeServerMessage } from 'fullduplex';
 *
 * // One frame, queued by reference on many connections.
 * const frame = encodeServerMessage(JSON.stringify({ tick: Date.now() }));
 * for (const ws of clients) ws.sendShared(frame, 0, frame.length);
 * ```
 */
export function encodeServerMessage(data: SendData, binary = typeof data !== 'string'): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBytes(data);
  const size = headerSize(payload.length, false);
  const frame = Buffer.allocUnsafe(size + payload.length);
  frameFields.opcode = binary ? Opcode.BINARY : Opcode.TEXT;
  writeHeader(frame, 0, frameFields, payload.length, null);
  payload.copy(frame, size);
  return frame;
}

const FIRST_BATCH = 4096;
const MAX_BATCH = 64 * 1024;

/**
 * An append-only buffer of server frames shared by every receiver of a broadcast or topic.
 *
 * Each message is encoded once, right after the previous one, and receivers queue the region
 * by reference ({@link WebSocketConnection.sendShared}). Consecutive messages are contiguous, so a
 * receiver that got 32 of them in one event-loop turn writes a single view of this buffer: one
 * write, no copy, no allocation per receiver. Regions handed out are never rewritten; a full
 * buffer is replaced by a new one (growing up to 64 KiB for busy streams).
 */
export class SharedFrameBatch {
  /** Buffer holding the last encoded frame. */
  buffer: Buffer = EMPTY;
  /** Start of the last encoded frame in {@link buffer}. */
  start = 0;
  /** End of the last encoded frame in {@link buffer}. */
  end = 0;
  /** Payload length of the last encoded frame (its payload is `buffer[end - payloadLength, end)`). */
  payloadLength = 0;

  /** Encodes one message frame; its bytes are then `buffer[start, end)`. */
  encode(data: SendData, binary: boolean): void {
    const payload = typeof data === 'string' ? null : toBytes(data);
    const length = payload === null ? Buffer.byteLength(data as string) : payload.length;
    const size = headerSize(length, false) + length;
    let buffer = this.buffer;
    let at = this.end;
    if (buffer.length - at < size) {
      buffer = this.buffer = Buffer.allocUnsafe(Math.max(size, Math.min(Math.max(FIRST_BATCH, buffer.length * 2), MAX_BATCH)));
      at = 0;
    }
    frameFields.opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    const p = writeHeader(buffer, at, frameFields, length, null);
    if (payload === null) buffer.write(data as string, p, 'utf8');
    else payload.copy(buffer, p);
    this.start = at;
    this.end = p + length;
    this.payloadLength = length;
  }
}

/**
 * One published message for the receivers that negotiated permessage-deflate: compressed once
 * per window class ({@link SharedMessage}), each resulting frame (header + payload) built once and
 * queued by reference on every receiver of that class. Each receiver's own extension is told at
 * the moment the message becomes its next data message ({@link PerMessageDeflate.encodeShared}
 * through `Session.sendSharedFor`), so a receiver whose compressor keeps context forgets it then
 * and never references bytes the peer holds in a different order.
 */
export class DeflateSharedFrame implements DeferredSharedFrame {
  private readonly message: SharedMessage;
  /** Frames built so far, by the payload they carry (the plain payload or one window class's bytes). */
  private readonly frames = new Map<Uint8Array, Buffer>();

  /** `payload` must not change while the message is queued (a region of a {@link SharedFrameBatch} never does). */
  constructor(
    payload: Uint8Array,
    private readonly binary: boolean,
  ) {
    this.message = new SharedMessage(payload);
  }

  frameFor(extension: Extension): Buffer {
    const encoded = (extension as PerMessageDeflate).encodeShared(this.message);
    let frame = this.frames.get(encoded.payload);
    if (frame === undefined) {
      const payload = encoded.payload;
      const size = headerSize(payload.length, false);
      frame = Buffer.allocUnsafe(size + payload.length);
      frameFields.opcode = this.binary ? Opcode.BINARY : Opcode.TEXT;
      frameFields.rsv = encoded.rsv;
      writeHeader(frame, 0, frameFields, payload.length, null);
      frameFields.rsv = 0;
      frame.set(payload, size);
      this.frames.set(payload, frame);
    }
    return frame;
  }
}

const EMPTY = Buffer.alloc(0);
