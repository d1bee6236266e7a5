/**
 * A raw WebSocket client on a bare `net` socket, for feeding a server exactly the bytes a test
 * needs (broken frames, half a handshake, floods) and reading exactly what it answers. Written
 * from RFC 6455 §5.2 directly, without src/frame, so a bug there cannot hide in both ends.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { withTimeout } from './async.js';

/** Opcodes (RFC 6455 §5.2). */
export const Op = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** RSV1 as it sits in the first header byte. */
export const RSV1 = 0x40;

/** How {@link clientFrame} builds a frame; the defaults make a valid client frame. */
export interface FrameOptions {
  /** FIN bit. Default true. */
  fin?: boolean;
  /** RSV bits already shifted into place (e.g. {@link RSV1}). Default 0. */
  rsv?: number;
  /** Set the MASK bit and mask the payload. Default true (clients must mask, §5.3). */
  mask?: boolean;
  /** Masking key. Default: 4 random bytes. */
  maskKey?: Buffer;
  /** Payload length to declare in the header, when it should differ from the payload sent. */
  declaredLength?: number;
}

/** XORs `data` with `key` (§5.3), starting at key byte 0. Returns a new buffer. */
export function maskBytes(data: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ key[i & 3]!;
  return out;
}

/** The header of a frame (§5.2), up to and including the masking key. */
export function frameHeader(opcode: number, length: number, options: FrameOptions = {}): Buffer {
  const first = ((options.fin ?? true) ? 0x80 : 0) | (options.rsv ?? 0) | opcode;
  const maskBit = (options.mask ?? true) ? 0x80 : 0;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([first, maskBit | length]);
  } else if (length < 0x10000) {
    header = Buffer.alloc(4);
    header[1] = maskBit | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  header[0] = first;
  if (!maskBit) return header;
  return Buffer.concat([header, options.maskKey ?? randomBytes(4)]);
}

/** A complete client frame: masked by default, as §5.3 requires of clients. */
export function clientFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const mask = options.mask ?? true;
  const key = options.maskKey ?? randomBytes(4);
  const header = frameHeader(opcode, options.declaredLength ?? data.length, { ...options, maskKey: key });
  return Buffer.concat([header, mask ? maskBytes(data, key) : data]);
}

/** A close frame payload: 2-byte code then the UTF-8 reason (§5.5.1). */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}

/** A frame as the server sent it. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** For close frames: the code (1005 when the payload is empty) and reason. */
  closeCode?: number;
  closeReason?: string;
}

/** An HTTP response as received. */
export interface RawResponse {
  status: number;
  reason: string;
  /** Lowercase names; repeated fields joined with `, `. */
  headers: Record<string, string>;
  body: string;
}

/** An opening-handshake request with a fresh key; `headers` replace or add fields. */
export function upgradeRequest(
  path = '/',
  options: { method?: string; headers?: Record<string, string | null>; extraLines?: string[] } = {},
): string {
  const fields: Record<string, string | null> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...options.headers,
  };
  let head = `${options.method ?? 'GET'} ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(fields)) if (value !== null) head += `${name}: ${value}\r\n`;
  for (const line of options.extraLines ?? []) head += `${line}\r\n`;
  return `${head}\r\n`;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * A TCP connection speaking raw bytes. Parses what the server sends: first an HTTP response head
 * (and body), then, after a 101, WebSocket frames. Never answers anything by itself unless
 * {@link autoPong} is set.
 */
export class RawClient {
  readonly socket: Socket;
  /** Every frame received so far, in order. */
  readonly frames: ServerFrame[] = [];
  /** Settles when the socket is fully closed. */
  readonly closed: Promise<void>;
  /** True once the server half-closed (FIN received). */
  endReceived = false;
  /** Answer pings with pongs carrying the same payload. */
  autoPong = false;
  /** Pings received (counted even without {@link autoPong}). */
  pingsReceived = 0;

  private buffer: Buffer = Buffer.alloc(0);
  private response: RawResponse | null = null;
  private mode: 'http' | 'frames' = 'http';
  private frameCursor = 0;
  private isClosed = false;
  private readonly listeners = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => {}); // resets are expected when a server drops us
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse();
      this.notify();
    });
    socket.on('end', () => {
      this.endReceived = true;
      this.parse();
      this.notify();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.parse();
        this.notify();
        resolve();
      }),
    );
  }

  /** Opens a TCP connection to 127.0.0.1:`port`, sending nothing. */
  static async connect(port: number): Promise<RawClient> {
    const socket = netConnect({ host: '127.0.0.1', port });
    const client = new RawClient(socket);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      5000,
      'TCP connect',
    );
    return client;
  }

  /** Connects and completes the opening handshake; throws unless the server answers 101. */
  static async open(port: number, path = '/', headers: Record<string, string | null> = {}): Promise<RawClient> {
    const client = await RawClient.connect(port);
    client.write(upgradeRequest(path, { headers }));
    const response = await client.readResponse();
    if (response.status !== 101) {
      client.destroy();
      throw new Error(`Expected 101, got ${response.status} ${response.body}`);
    }
    return client;
  }

  /** True once the socket closed. */
  get isDestroyed(): boolean {
    return this.isClosed;
  }

  write(data: Buffer | string): boolean {
    return this.socket.write(data);
  }

  /** Sends one client frame (masked unless `options.mask` is false). */
  send(opcode: number, payload: Buffer | string = Buffer.alloc(0), options: FrameOptions = {}): void {
    this.write(clientFrame(opcode, payload, options));
  }

  /** Waits for the HTTP response head and its body (by Content-Length, or up to EOF). */
  readResponse(ms = 5000): Promise<RawResponse> {
    return this.waitUntil(() => this.response, ms, 'an HTTP response');
  }

  /** The next frame not yet returned by this method. Rejects if the socket closes first. */
  nextFrame(ms = 5000): Promise<ServerFrame> {
    return this.waitUntil(
      () => {
        if (this.frameCursor < this.frames.length) return this.frames[this.frameCursor++]!;
        if (this.isClosed) throw new Error('Socket closed before the next frame arrived');
        return null;
      },
      ms,
      'a frame',
    );
  }

  /** The next frame with `opcode`, skipping others (pings, pongs...). */
  async nextFrameOf(opcode: number, ms = 5000): Promise<ServerFrame> {
    for (;;) {
      const frame = await this.nextFrame(ms);
      if (frame.opcode === opcode) return frame;
    }
  }

  /** Waits for the socket to close. */
  waitClosed(ms = 5000): Promise<void> {
    return withTimeout(this.closed, ms, 'the socket to close');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private waitUntil<T>(check: () => T | null, ms: number, what: string): Promise<T> {
    return withTimeout(
      new Promise<T>((resolve, reject) => {
        const listener = (): void => {
          let value: T | null;
          try {
            value = check();
          } catch (error) {
            this.listeners.delete(listener);
            reject(error);
            return;
          }
          if (value === null) return;
          this.listeners.delete(listener);
          resolve(value);
        };
        this.listeners.add(listener);
        listener();
      }),
      ms,
      what,
    );
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private parse(): void {
    if (this.mode === 'http') this.parseHttp();
    if (this.mode === 'frames') this.parseFrames();
  }

  private parseHttp(): void {
    if (this.response) return;
    const end = this.buffer.indexOf(HEAD_END);
    if (end < 0) return;
    const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.1 (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
    if (!match) {
      // Report it as a response the test can look at rather than crashing the data handler.
      this.response = { status: 0, reason: `bad status line ${JSON.stringify(lines[0])}`, headers: {}, body: '' };
      return;
    }
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(match[1]);
    const rest = this.buffer.subarray(end + 4);
    if (status === 101) {
      this.response = { status, reason: match[2] ?? '', headers, body: '' };
      this.buffer = rest;
      this.mode = 'frames';
      return;
    }
    const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
    if (length === undefined ? !this.isClosed && !this.endReceived : rest.length < length) return;
    this.response = { status, reason: match[2] ?? '', headers, body: rest.subarray(0, length).toString('utf8') };
  }

  private parseFrames(): void {
    for (;;) {
      const buf = this.buffer;
      if (buf.length < 2) return;
      const masked = (buf[1]! & 0x80) !== 0;
      let length = buf[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buf.length < 4) return;
        length = buf.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buf.length < 10) return;
        length = Number(buf.readBigUInt64BE(2));
        offset = 10;
      }
      const key = masked ? buf.subarray(offset, offset + 4) : null;
      if (masked) offset += 4;
      if (buf.length < offset + length) return;
      const raw = buf.subarray(offset, offset + length);
      const payload = key ? maskBytes(raw, key) : Buffer.from(raw);
      const frame: ServerFrame = { fin: (buf[0]! & 0x80) !== 0, rsv: buf[0]! & 0x70, opcode: buf[0]! & 0x0f, masked, payload };
      if (frame.opcode === Op.CLOSE) {
        frame.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        frame.closeReason = payload.subarray(2).toString('utf8');
      }
      if (frame.opcode === Op.PING) {
        this.pingsReceived++;
        if (this.autoPong && !this.socket.destroyed) this.send(Op.PONG, payload);
      }
      this.frames.push(frame);
      this.buffer = buf.subarray(offset + length);
    }
  }
}

/** `Sec-WebSocket-Accept` for `key` (§4.2.2 item 5.4). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/**
 * A hand-rolled server that completes the handshake with one write of the 101 response followed
 * by `after` (e.g. frames), so they reach the client in a single TCP chunk. It answers nothing
 * else. Resolves with its port and `stop()`, which drops its connections and closes it.
 */
export async function startRawServer(after: Buffer): Promise<{ server: NetServer; port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const key = /^sec-websocket-key:\s*(\S+)\s*$/im.exec(head)?.[1] ?? '';
      const response =
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
      socket.write(Buffer.concat([Buffer.from(response, 'latin1'), after]));
      socket.resume();
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return { server, port: (server.address() as AddressInfo).port, stop };
}

/** An unmasked server frame, as a server would send it. */
export function serverFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): Buffer {
  return clientFrame(opcode, payload, { fin, mask: false });
}
