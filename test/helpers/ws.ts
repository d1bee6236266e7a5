/**
 * Helpers around the `ws` package, the reference implementation our server and client are
 * checked against: open a client, start a server, and read messages one at a time.
 */
import WsWebSocket, { WebSocketServer as WsServer, type ClientOptions, type ServerOptions } from 'ws';
import type { WebSocketConnection } from '../../src/index.js';
import { withTimeout } from './async.js';

export { WsWebSocket, WsServer };

/** One message as received: text as a string, binary as a Buffer. */
export interface Received {
  data: string | Buffer;
  isBinary: boolean;
}

const inboxes = new WeakMap<object, Inbox>();

/**
 * Collects the messages of a `ws` socket or of one of our connections, in order, so a test can
 * await them one by one without missing any that arrived early. {@link openWs} attaches one
 * before the socket opens, since `ws` may emit a message that came with the 101 response before
 * an `await` on the open event resumes.
 */
export class Inbox {
  private readonly items: Received[] = [];
  private readonly waiters: Array<(item: Received) => void> = [];

  /** The inbox of `source`, created on first use (one `message` listener per source). */
  static of(source: WsWebSocket | WebSocketConnection): Inbox {
    let inbox = inboxes.get(source);
    if (!inbox) {
      inbox = new Inbox(source);
      inboxes.set(source, inbox);
    }
    return inbox;
  }

  private constructor(source: WsWebSocket | WebSocketConnection) {
    const push = (item: Received): void => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(item);
      else this.items.push(item);
    };
    if (source instanceof WsWebSocket) {
      source.on('message', (data, isBinary) => {
        const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        push({ data: isBinary ? bytes : bytes.toString('utf8'), isBinary });
      });
    } else {
      source.on('message', (data, isBinary) => push({ data, isBinary }));
    }
  }

  /** The next message, within `ms`. */
  next(ms = 10_000): Promise<Received> {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    return withTimeout(new Promise<Received>((resolve) => this.waiters.push(resolve)), ms, 'a message');
  }
}

/** Opens a `ws` client and waits for it to be open. */
export async function openWs(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<WsWebSocket> {
  const ws = new WsWebSocket(url, protocols, options);
  Inbox.of(ws);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    5000,
    `ws client to open ${url}`,
  );
  return ws;
}

/** What a `ws` client saw when its connection closed. */
export function wsClosed(ws: WsWebSocket, ms = 5000): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WsWebSocket.CLOSED) throw new Error('already closed');
  return withTimeout(
    new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }))),
    ms,
    'ws client close',
  );
}

/** A listening `ws` server on 127.0.0.1 with a free port, and its URL. */
export async function startWsServer(options: Omit<ServerOptions, 'port' | 'host'> = {}): Promise<{ wss: WsServer; url: string; port: number }> {
  const wss = new WsServer({ ...options, host: '127.0.0.1', port: 0 });
  await withTimeout(new Promise<void>((resolve) => wss.once('listening', () => resolve())), 5000, 'ws server to listen');
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('ws server has no TCP address');
  return { wss, url: `ws://127.0.0.1:${address.port}/`, port: address.port };
}

/** Closes a `ws` server, dropping its clients first (`ws` leaves them open otherwise). */
export function stopWsServer(wss: WsServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  return new Promise((resolve) => wss.close(() => resolve()));
}
