/**
 * A raw HTTP/2 client for requests `node:http2` refuses to send (malformed extended CONNECTs):
 * frames written by hand, header blocks as HPACK literals without indexing and without Huffman
 * (RFC 7541 §6.2.2), so any pseudo-header or connection-specific header can be sent. It reads
 * frames back far enough to tell a reset stream (RST_STREAM and its code) from an answer
 * (HEADERS), which is all the tests need.
 */
import { connect, type Socket } from 'node:net';

/** One frame as received. */
export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;

/** A frame's bytes. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an `n`-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const bytes = [firstByteFlags | max];
  value -= max;
  while (value >= 128) {
    bytes.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

/** A header block of literal fields without indexing, new names, no Huffman. */
export function headerBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

/** A raw HTTP/2 connection: the preface and our SETTINGS are sent at once; SETTINGS are acknowledged. */
export class RawH2 {
  readonly frames: RawFrame[] = [];
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 9) {
        const length = this.buffer.readUIntBE(0, 3);
        if (this.buffer.length < 9 + length) break;
        const f: RawFrame = {
          type: this.buffer[3]!,
          flags: this.buffer[4]!,
          streamId: this.buffer.readUInt32BE(5) & 0x7fffffff,
          payload: this.buffer.subarray(9, 9 + length),
        };
        this.buffer = this.buffer.subarray(9 + length);
        if (f.type === FRAME.SETTINGS && (f.flags & 1) === 0) socket.write(frame(FRAME.SETTINGS, 1, 0));
        this.frames.push(f);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Connects to a cleartext (prior knowledge) HTTP/2 server. */
  static async open(port: number): Promise<RawH2> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
    return new RawH2(socket);
  }

  /** Sends a HEADERS frame (END_HEADERS, and END_STREAM when `endStream`). */
  sendHeaders(streamId: number, fields: ReadonlyArray<readonly [string, string]>, endStream = false): void {
    this.socket.write(frame(FRAME.HEADERS, 0x4 | (endStream ? 0x1 : 0), streamId, headerBlock(fields)));
  }

  /** The server's SETTINGS values by identifier, once they arrived. */
  async serverSettings(): Promise<Map<number, number>> {
    const f = await this.next((x) => x.type === FRAME.SETTINGS && (x.flags & 1) === 0 && x.streamId === 0);
    const settings = new Map<number, number>();
    for (let i = 0; i + 6 <= f.payload.length; i += 6) settings.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
    return settings;
  }

  /** The first frame for `streamId` that answers or resets it. */
  outcome(streamId: number): Promise<RawFrame> {
    return this.next((f) => f.streamId === streamId && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM), streamId);
  }

  /** Waits (bounded) for a frame matching `match`. */
  async next(match: (f: RawFrame) => boolean, streamId?: number): Promise<RawFrame> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      const goaway = this.frames.find((f) => f.type === FRAME.GOAWAY);
      if (goaway && streamId !== undefined) return goaway;
      if (this.closed || Date.now() > deadline) throw new Error(`no matching frame (closed: ${this.closed})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/**
 * The :status of a HEADERS answer: from the static table (200, 204, 206, 304, 400, 404, 500) or a
 * literal without Huffman coding (what nghttp2 sends for three digits Huffman does not shorten,
 * such as 405 or 426); null for anything else.
 */
export function responseStatus(f: RawFrame): number | null {
  const first = f.payload[0]!;
  const table: Record<number, number> = { 0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500 };
  if (table[first] !== undefined) return table[first]!;
  // Literal with incremental indexing, name = static entry 8 (:status), plain value.
  if (first === 0x48 && (f.payload[1]! & 0x80) === 0) return Number(f.payload.subarray(2, 2 + f.payload[1]!).toString('latin1'));
  return null;
}
