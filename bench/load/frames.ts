/**
 * What the lean load generator needs of the protocol, and nothing more: pre-built masked client
 * frames, the upgrade request, and a counter that walks server frame headers without looking at
 * payloads. Neither fullduplex nor ws is used on the client side, so both servers face the
 * same, cheap client.
 */
import { randomBytes } from 'node:crypto';

/** One masked binary frame of `payload` (mask key random, fixed for the frame). */
export function maskedFrame(payload: Buffer, opcode = 0x2): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
  frame[0] = 0x80 | opcode;
  let p = 2;
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
    p += 2;
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
    p += 8;
  }
  const key = randomBytes(4);
  // A zero byte in the key would leave part of the payload unmasked; any key is valid, but a
  // full one makes every server do all of its unmasking work.
  for (let i = 0; i < 4; i++) if (key[i] === 0) key[i] = 0x5a;
  key.copy(frame, p);
  p += 4;
  for (let i = 0; i < length; i++) frame[p + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

/** `count` copies of `frame` back to back, so k frames can be written as one subarray. */
export function repeatFrame(frame: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/** Views of `frames` holding the first 0..max frames, so a write of k frames allocates nothing. */
export function prefixViews(frames: Buffer, frameLength: number, max: number): Buffer[] {
  const views: Buffer[] = [];
  for (let k = 0; k <= max; k++) views.push(frames.subarray(0, k * frameLength));
  return views;
}

/** A masked close frame with code 1000. */
export const CLOSE_FRAME = maskedFrame(Buffer.from([0x03, 0xe8]), 0x8);

/** Upgrade requests with distinct random keys, to rotate through. */
export function upgradeRequests(port: number, path: string, count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      Buffer.from(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        'latin1',
      ),
    );
  }
  return out;
}

const OPCODE_CLOSE = 0x8;

/**
 * Counts complete server frames in a byte stream split anywhere. Reads only headers and skips
 * payloads. Server frames are never masked (a masked one is counted as a protocol error).
 */
export class FrameCounter {
  /** Payload bytes of the current frame still to skip. */
  private skip = 0;
  /** Opcode of the frame whose payload is being skipped. */
  private opcode = 0;
  private readonly header = Buffer.allocUnsafe(14);
  private headerLength = 0;
  /** Data frames whose payload length was not `expectedLength` (when set), or masked frames. */
  errors = 0;
  /** True once a close frame was seen. */
  closed = false;

  /**
   * @param expectedLength payload length every data frame must have (-1: any)
   * @param allowMasked accept masked frames (the raw floor server writes the client's frames back)
   */
  constructor(
    private readonly expectedLength = -1,
    private readonly allowMasked = false,
  ) {}

  /** Returns how many complete data frames `chunk` finished. */
  push(chunk: Buffer, start = 0): number {
    const length = chunk.length;
    let pos = start;
    let frames = 0;
    while (pos < length) {
      if (this.skip > 0) {
        const available = length - pos;
        if (available < this.skip) {
          this.skip -= available;
          return frames;
        }
        pos += this.skip;
        this.skip = 0;
        if (this.opcode < OPCODE_CLOSE) frames++;
        else if (this.opcode === OPCODE_CLOSE) this.closed = true;
        continue;
      }
      let h: Buffer = chunk;
      let at = pos;
      let b1: number;
      let size: number;
      if (this.headerLength === 0 && length - pos >= 2) {
        b1 = chunk[pos + 1]!;
        const l = b1 & 0x7f;
        size = (l < 126 ? 2 : l === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
        if (length - pos < size) {
          chunk.copy(this.header, 0, pos);
          this.headerLength = length - pos;
          return frames;
        }
        pos += size;
      } else {
        // Header split across chunks.
        h = this.header;
        at = 0;
        while (this.headerLength < 2 && pos < length) h[this.headerLength++] = chunk[pos++]!;
        if (this.headerLength < 2) return frames;
        b1 = h[1]!;
        const l = b1 & 0x7f;
        size = (l < 126 ? 2 : l === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
        while (this.headerLength < size && pos < length) h[this.headerLength++] = chunk[pos++]!;
        if (this.headerLength < size) return frames;
        this.headerLength = 0;
      }
      if (b1 & 0x80 && !this.allowMasked) this.errors++;
      const opcode = h[at]! & 0x0f;
      let payload = b1 & 0x7f;
      if (payload === 126) payload = (h[at + 2]! << 8) | h[at + 3]!;
      else if (payload === 127) payload = h.readUInt32BE(at + 2) * 0x100000000 + h.readUInt32BE(at + 6);
      if (opcode < OPCODE_CLOSE && this.expectedLength >= 0 && payload !== this.expectedLength) this.errors++;
      if (payload === 0) {
        if (opcode < OPCODE_CLOSE) frames++;
        else if (opcode === OPCODE_CLOSE) this.closed = true;
      } else {
        this.skip = payload;
        this.opcode = opcode;
      }
    }
    return frames;
  }
}
