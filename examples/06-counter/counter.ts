import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocketConnection, WebSocketServer } from '../../src/index.js';

/** The seed's page, with the socket URL derived from `location` (`/ws` on the same host). */
export const PAGE = readFileSync(new URL('./index.html', import.meta.url));

/**
 * The seed's synced counter (example 6): any client can increment or decrement the value; every
 * change, and every join or leave, is published to all connected clients. Messages are
 * `{"type":"state","value":n}` and `{"type":"users","count":n}`; clients send
 * `{"action":"plus"}` or `{"action":"minus"}`.
 */
export class Counter {
  /** The shared state. */
  value = 0;
  /** Topic the counter's clients subscribe to. */
  readonly topic: string;

  constructor(topic = 'counter') {
    this.topic = topic;
  }

  /** Runs one client's connection on `server` (which publishes to the topic). */
  async handle(ws: WebSocketConnection, server: WebSocketServer): Promise<void> {
    ws.subscribe(this.topic);
    this.notifyUsers(server);
    try {
      await ws.send(this.stateEvent());
      for await (const message of ws) {
        let data: { action?: unknown };
        try {
          data = JSON.parse(String(message)) as { action?: unknown };
        } catch {
          data = {};
        }
        if (data.action === 'minus') {
          this.value--;
          server.publish(this.topic, this.stateEvent());
        } else if (data.action === 'plus') {
          this.value++;
          server.publish(this.topic, this.stateEvent());
        } else {
          console.error('unsupported event:', String(message));
        }
      }
    } finally {
      ws.unsubscribe(this.topic);
      this.notifyUsers(server);
    }
  }

  private stateEvent(): string {
    return JSON.stringify({ type: 'state', value: this.value });
  }

  private notifyUsers(server: WebSocketServer): void {
    server.publish(this.topic, JSON.stringify({ type: 'users', count: server.subscriberCount(this.topic) }));
  }
}

/** Serves the page at `/` (and `/index.html`); 404 for anything else. */
export function servePage(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if ((path === '/' || path === '/index.html') && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': PAGE.length });
    res.end(req.method === 'HEAD' ? undefined : PAGE);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('Not found\n');
}
