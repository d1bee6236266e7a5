/**
 * permessage-deflate interop with peers we did not write, compression asserted as negotiated:
 * our server with the `ws` client (its default offer), our client against `ws` servers (default
 * and `{ serverNoContextTakeover, serverMaxWindowBits: 10 }`) and against python-websockets'
 * server (compression on by default). The Python client against our server is covered in
 * deflate.publish.test.ts (echoes interleaved with publishes), Chromium in deflate.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import WsWebSocket, { WebSocketServer as WsServer, type ServerOptions as WsServerOptions } from 'ws';
import { connect, serve, type WebSocketConnection } from '../src/index.js';
import { cleanupAfterEach, withTimeout } from './helpers/async.js';
import { describeWithPeer } from './helpers/peers.js';
import { spawnPython } from './helpers/process.js';

const defer = cleanupAfterEach();

function json(size: number, seed = 1): string {
  const items: string[] = [];
  let length = 12;
  for (let i = seed; length < size; i++) {
    const item = JSON.stringify({ id: i, user: `user-${i % 97}`, kind: ['join', 'msg', 'leave'][i % 3], text: `hello number ${i * 7919}`, at: 1700000000 + i });
    items.push(item);
    length += item.length + 1;
  }
  return `{"events":[${items.join(',')}]}`;
}

/** Messages that exercise small, large, binary, empty and repeated (back-referencing) payloads. */
const MESSAGES: Array<string | Buffer> = ['', 'x', json(64), json(1024), json(16 * 1024, 3), Buffer.from(json(100_000, 9)), json(1024), 'héllo ✓', json(300_000, 2)];

async function roundTrips(ws: WebSocketConnection): Promise<void> {
  for (const message of MESSAGES) {
    await ws.send(message);
    const got = await ws.recv();
    if (typeof message === 'string') expect(got).toBe(message);
    else expect(Buffer.from(got as Buffer).equals(message)).toBe(true);
  }
}

describe('our server, ws client (perMessageDeflate on)', () => {
  it('negotiates with ws default offer and echoes every kind of message', async () => {
    const server = await serve(
      async (ws) => {
        for await (const message of ws) await ws.send(message);
      },
      { pingInterval: 0, perMessageDeflate: true },
    );
    defer(() => server.close());
    const ws = new WsWebSocket(server.url, { perMessageDeflate: true });
    defer(() => ws.terminate());
    let answer = '';
    ws.once('upgrade', (response) => (answer = String(response.headers['sec-websocket-extensions'])));
    const inbox: Array<{ data: Buffer; isBinary: boolean }> = [];
    let wake: (() => void) | null = null;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      inbox.push({ data, isBinary });
      wake?.();
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    expect(answer).toBe('permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    expect(ws.extensions).toBe('permessage-deflate');
    for (const message of MESSAGES) {
      ws.send(message);
      while (inbox.length === 0) await withTimeout(new Promise<void>((resolve) => (wake = resolve)), 5000, 'echo');
      const { data, isBinary } = inbox.shift()!;
      expect(isBinary).toBe(typeof message !== 'string');
      expect(data.equals(Buffer.from(message))).toBe(true);
    }
  });
});

describe('our client, ws server', () => {
  const configs: Array<[string, WsServerOptions['perMessageDeflate'], string]> = [
    ['perMessageDeflate: true', true, 'permessage-deflate'],
    [
      '{ serverNoContextTakeover, serverMaxWindowBits: 10 }',
      { serverNoContextTakeover: true, serverMaxWindowBits: 10 },
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10',
    ],
    ['{ clientNoContextTakeover, clientMaxWindowBits: 9 }', { clientNoContextTakeover: true, clientMaxWindowBits: 9 }, 'permessage-deflate; client_no_context_takeover; client_max_window_bits=9'],
  ];
  for (const [name, perMessageDeflate, header] of configs) {
    it(`${name}: negotiated by our default offer, every kind of message round-trips`, async () => {
      const wss = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
      defer(() => new Promise((resolve) => wss.close(resolve)));
      wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
      await new Promise((resolve) => wss.once('listening', resolve));
      const port = (wss.address() as { port: number }).port;
      const ws = await connect(`ws://127.0.0.1:${port}/`, { pingInterval: 0 });
      defer(() => ws.terminate());
      // ws answers client_max_window_bits only when configured (our compressor then keeps its
      // own 12-bit cap, which any window the server inflates with accepts).
      expect(ws.extensions.split('; ').sort()).toEqual(header.split('; ').sort());
      await roundTrips(ws);
      await ws.close();
    });
  }
});

describeWithPeer('python3-websockets', 'our client, python-websockets server (compression on by default)', () => {
  it('negotiates and round-trips every kind of message', async () => {
    const child = spawnPython('test/helpers/python/server.py', ['0']);
    defer(() => child.stop());
    const [, port] = await child.waitFor(/^listening (\d+)$/m);
    const ws = await connect(`ws://127.0.0.1:${port}/`, { pingInterval: 0 });
    defer(() => ws.terminate());
    expect(ws.extensions).toBe('permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    await roundTrips(ws);
    await ws.close();
  });
});
