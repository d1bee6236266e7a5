/**
 * Raw opening handshakes against a server target, for the H.x cases: write any request (valid or
 * not, whole or in pieces) and read back the response head and whatever frames follow it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { generateKey } from '../handshake/accept.js';
import { parseResponseHead } from '../handshake/http-head.js';
import type { LogEntry } from './types.js';
import { describeFrame, LenientFrameReader, type WireFrame } from './wire.js';

/** What the server answered. */
export interface ProbeResponse {
  status: number;
  reason: string;
  /** Lowercase header names; repeated fields joined with `, `. */
  headers: Record<string, string>;
  /** The key that was sent (when the request had one). */
  key: string;
}

/** Request knobs; a header set to null is left out. */
export interface ProbeRequest {
  method?: string;
  path?: string;
  httpVersion?: string;
  headers?: Record<string, string | null>;
  /** Bytes written right after the head, in the same TCP write. */
  after?: Buffer;
  /** Write the request in pieces of this many bytes. */
  chop?: number;
}

/** One probe connection per call to {@link HandshakeProbe.request}. */
export class HandshakeProbe {
  readonly log: LogEntry[] = [];
  private readonly started = performance.now();
  private readonly sockets = new Set<Socket>();
  private frames: WireFrame[] = [];
  private reader = new LenientFrameReader();
  private onFrame: (() => void) | null = null;

  constructor(
    readonly url: URL,
    private readonly timeout = 3000,
  ) {}

  /** Adds a line to the transcript. */
  note(text: string): void {
    this.log.push({ at: Math.round(performance.now() - this.started), dir: '*', text });
  }

  /** Sends one request on a fresh connection and resolves with the response head, or null if none came. */
  async request(options: ProbeRequest = {}): Promise<ProbeResponse | null> {
    const key = generateKey();
    const headers: Record<string, string | null> = {
      Host: this.url.host,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      ...options.headers,
    };
    let head = `${options.method ?? 'GET'} ${options.path ?? this.url.pathname + this.url.search} HTTP/${options.httpVersion ?? '1.1'}\r\n`;
    for (const [name, value] of Object.entries(headers)) if (value !== null) head += `${name}: ${value}\r\n`;
    head += '\r\n';
    for (const line of head.trimEnd().split('\r\n')) this.log.push({ at: this.at(), dir: '>', text: line });
    const bytes = Buffer.concat([Buffer.from(head, 'latin1'), options.after ?? Buffer.alloc(0)]);
    if (options.after) this.log.push({ at: this.at(), dir: '>', text: `(${options.after.length} more bytes in the same write)` });

    const socket = netConnect({ host: this.url.hostname.replace(/^\[|\]$/g, ''), port: Number(this.url.port || 80) });
    this.sockets.add(socket);
    socket.setNoDelay(true);
    this.frames = [];
    this.reader = new LenientFrameReader();
    return new Promise<ProbeResponse | null>((resolve) => {
      let received = Buffer.alloc(0);
      let done = false;
      const finish = (value: ProbeResponse | null): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.note(`no response head within ${this.timeout} ms`);
        finish(null);
      }, this.timeout);
      socket.on('error', (error: NodeJS.ErrnoException) => {
        this.note(`socket error ${error.code ?? error.message}`);
        finish(null);
      });
      socket.on('close', () => {
        this.note('TCP closed by the server');
        finish(null);
        this.onFrame?.();
      });
      socket.on('data', (chunk: Buffer) => {
        if (done) {
          this.pushFrames(chunk);
          return;
        }
        received = Buffer.concat([received, chunk]);
        const parsed = parseResponseHead(received);
        if (parsed.kind === 'incomplete') return;
        if (parsed.kind === 'error') {
          this.note(`malformed response: ${parsed.message}`);
          finish(null);
          return;
        }
        const h = parsed.head;
        this.log.push({ at: this.at(), dir: '<', text: `HTTP/${h.httpVersion} ${h.status} ${h.reason}` });
        for (const [name, value] of h.rawHeaders) this.log.push({ at: this.at(), dir: '<', text: `${name}: ${value}` });
        finish({ status: h.status, reason: h.reason, headers: { ...h.headers }, key });
        if (h.status === 101) this.pushFrames(received.subarray(parsed.bytesConsumed));
      });
      socket.once('connect', async () => {
        if (!options.chop) {
          socket.write(bytes);
          return;
        }
        for (let i = 0; i < bytes.length && !socket.destroyed; i += options.chop) {
          socket.write(bytes.subarray(i, i + options.chop));
          await new Promise((r) => setTimeout(r, 1));
        }
      });
    });
  }

  /** The next frame the server sends after a 101, or null if none comes in time or TCP closes. */
  nextFrame(ms = this.timeout): Promise<WireFrame | null> {
    return new Promise((resolve) => {
      const settle = (frame: WireFrame | null): void => {
        this.onFrame = null;
        clearTimeout(timer);
        resolve(frame);
      };
      const timer = setTimeout(() => settle(null), ms);
      const check = (): void => {
        const frame = this.frames.shift();
        if (frame) settle(frame);
        else if ([...this.sockets].every((s) => s.destroyed)) settle(null);
      };
      this.onFrame = check;
      check();
    });
  }

  /** Closes every probe connection. */
  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private pushFrames(chunk: Buffer): void {
    for (const frame of this.reader.push(chunk)) {
      this.log.push({ at: this.at(), dir: '<', text: describeFrame(frame) });
      this.frames.push(frame);
    }
    this.onFrame?.();
  }

  private at(): number {
    return Math.round(performance.now() - this.started);
  }
}
