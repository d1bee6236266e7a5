import { headerSize, writeHeader } from '../frame/encoder.js';
import { Opcode } from '../frame/opcode.js';
import type { SendData } from '../io/session.js';
import { toBuffer as toBytes } from '../io/session.js';

const frameFields = { fin: true, rsv: 0, opcode: 0 };

/**
 * Encodes one unmasked message frame — the form every server connection sends — so the same
 * bytes can be queued on many connections without encoding per receiver.
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
  }
}

const EMPTY = Buffer.alloc(0);
