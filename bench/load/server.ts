/**
 * A server under test, in its own process: `server.ts <impl> <mode>`.
 *
 * impl: `fd` (fullduplex from src/, through tsx), `ws` (ws 8 with bufferutil, no permessage-deflate), or `raw`: the
 * ceiling, not a WebSocket implementation — a bare `node:net` server that answers the upgrade with
 * the least work that still computes Sec-WebSocket-Accept, then writes every chunk back as it
 * came (masked frames, payloads neither unmasked nor copied; only frame headers are walked, to
 * find a close frame) and ends the connection on a close frame. It shows how much of a
 * figure is Node and the kernel rather than the library (echo and handshake modes only).
 * mode:
 * - `echo`: every message is sent back as it came (also used by the handshake and memory rows);
 * - `publish`: clients on `/sub` are subscribed to one topic; each message from the client on
 *   `/pub` is published to it (fullduplex only: `server.publish('all', data)`);
 * - `loop`: each message from `/pub` is sent to every other client with a loop of `send()` over the
 *   server's client set — the textbook broadcast in both libraries.
 *
 * Commands (see ipc.ts): `stats` (CPU time, memory, client count), `gc`, `snapshot`, `exit`.
 * Started with `--expose-gc` by the harness so `gc` gives comparable heap figures.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { serveCommands } from './ipc.js';

type Impl = 'fd' | 'ws' | 'raw';
type Mode = 'echo' | 'publish' | 'loop';

const impl = process.argv[2] as Impl;
const mode = (process.argv[3] ?? 'echo') as Mode;
const HOST = '127.0.0.1';

let unhandledRejections = 0;
let lastRejection = '';
process.on('unhandledRejection', (reason) => {
  // Counted and reported rather than crashing the server (Node's default): a benchmark server
  // that dies mid-run would only show up as a timeout.
  unhandledRejections++;
  lastRejection = String(reason);
});

interface Running {
  port: number;
  clients(): number;
  close(): Promise<void>;
}

async function startFullduplex(): Promise<Running> {
  const { WebSocketServer } = await import('../../src/server/server.js');
  const server = new WebSocketServer(undefined, { port: 0, host: HOST, pingInterval: 0 });
  let publisher: unknown = null;
  server.on('connection', (ws) => {
    if (mode === 'echo') {
      ws.on('message', (data) => ws.send(data));
    } else if (ws.request.path === '/pub') {
      publisher = ws;
      if (mode === 'publish') {
        ws.on('message', (data) => server.publish('all', data));
      } else {
        ws.on('message', (data) => {
          for (const client of server.clients) if (client !== ws) client.send(data);
        });
      }
    } else if (mode === 'publish') {
      ws.subscribe('all');
    }
  });
  await server.listen();
  return {
    port: server.address().port,
    clients: () => server.clients.size - (publisher !== null && server.clients.has(publisher as never) ? 1 : 0),
    close: () => server.close(),
  };
}

async function startWs(): Promise<Running> {
  const { WebSocketServer, WebSocket } = await import('ws');
  const wss = new WebSocketServer({ port: 0, host: HOST, perMessageDeflate: false });
  let publisher: unknown = null;
  wss.on('connection', (ws, req) => {
    if (mode === 'echo') {
      ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    } else if (req.url === '/pub') {
      publisher = ws;
      // ws has no topics: its broadcast is the loop from its README.
      ws.on('message', (data, isBinary) => {
        for (const client of wss.clients) {
          if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data as Buffer, { binary: isBinary });
        }
      });
    }
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  return {
    port: (wss.address() as AddressInfo).port,
    clients: () => wss.clients.size - (publisher !== null && wss.clients.has(publisher as never) ? 1 : 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

async function startRaw(): Promise<Running> {
  const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
  const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
  const CLOSE = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
  const upgraded = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    let head: Buffer | null = null;
    // Frame boundaries, walked header to header without touching payloads: a close frame is only
    // recognized at the start of a frame (a payload byte that happens to be 0x88 is not one).
    let skip = 0; // payload bytes of the current frame still to pass through
    let partial: Buffer | null = null; // a frame header split across chunks
    socket.on('error', () => {});
    socket.on('close', () => upgraded.delete(socket));
    const onFrames = (input: Buffer): void => {
      const chunk = partial === null ? input : Buffer.concat([partial, input]);
      partial = null;
      let pos = 0;
      while (pos < chunk.length) {
        if (skip > 0) {
          const take = Math.min(skip, chunk.length - pos);
          skip -= take;
          pos += take;
          continue;
        }
        if (chunk.length - pos < 2) break;
        const len7 = chunk[pos + 1]! & 0x7f;
        const headerLength = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (chunk[pos + 1]! & 0x80 ? 4 : 0);
        if (chunk.length - pos < headerLength) break;
        if ((chunk[pos]! & 0x0f) === 0x8) {
          // The client's close frame (the handshake loop sends nothing else after it): pass back
          // what came before it, answer, end.
          if (pos > 0) socket.write(chunk.subarray(0, pos));
          socket.end(CLOSE);
          return;
        }
        const length = len7 === 126 ? chunk.readUInt16BE(pos + 2) : len7 === 127 ? Number(chunk.readBigUInt64BE(pos + 2)) : len7;
        pos += headerLength;
        skip = length;
      }
      if (pos < chunk.length) {
        // A header cut by the chunk boundary: hold its bytes back until the rest arrives.
        partial = Buffer.from(chunk.subarray(pos));
        if (pos > 0) socket.write(chunk.subarray(0, pos));
        return;
      }
      socket.write(chunk);
    };
    socket.on('data', (chunk: Buffer) => {
      if (upgraded.has(socket)) return onFrames(chunk);
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end < 0) return;
      const key = /\r\nsec-websocket-key:[ \t]*([^\r\n]*)/i.exec(head.toString('latin1', 0, end))?.[1]?.trim() ?? '';
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      upgraded.add(socket);
      if (head.length > end + 4) onFrames(head.subarray(end + 4));
      head = null;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    clients: () => upgraded.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of upgraded) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

if (impl !== 'fd' && impl !== 'ws' && impl !== 'raw') throw new Error(`unknown server implementation ${impl}`);
if (impl === 'ws' && mode === 'publish') throw new Error('ws has no publish/subscribe');
if (impl === 'raw' && mode !== 'echo') throw new Error('the raw server only echoes');

/**
 * How ws masks and unmasks in this process: ws's lib/buffer-util.js replaces its JavaScript loop
 * with bufferutil's native mask for payloads of 48 bytes and more when `require('bufferutil')`
 * succeeds (and Node has no http.websocketMask, which Node 20 has not). Read back from the loaded
 * module, so the report says what actually ran, not what is installed.
 */
function wsMaskImplementation(): string {
  const require = createRequire(import.meta.url);
  const bufferUtil = require(require.resolve('ws').replace(/index\.js$/, 'lib/buffer-util.js')) as { mask: () => void };
  const source = bufferUtil.mask.toString();
  if (source.includes('bufferUtil.mask')) return 'bufferutil (native)';
  if (source.includes('websocketMask')) return 'http.websocketMask (native, Node built-in)';
  return 'JavaScript loop (bufferutil NOT loaded)';
}

const running = impl === 'fd' ? await startFullduplex() : impl === 'ws' ? await startWs() : await startRaw();
const gc = (globalThis as { gc?: () => void }).gc;

serveCommands(
  {
    stats: () => ({
      cpu: process.cpuUsage(),
      memory: process.memoryUsage(),
      clients: running.clients(),
      unhandledRejections,
      lastRejection,
    }),
    gc: () => {
      if (!gc) throw new Error('server child started without --expose-gc');
      gc();
      gc();
      return process.memoryUsage();
    },
    /** Writes a heap snapshot (for memory investigations) and returns its path. */
    snapshot: async (args: { path?: string }) => {
      const { writeHeapSnapshot } = await import('node:v8');
      gc?.();
      return writeHeapSnapshot(args.path);
    },
    exit: async () => {
      // Do not wait for slow close handshakes: the numbers are taken, the profile (if any) is
      // written by process.exit.
      const timer = setTimeout(() => process.exit(0), 1000);
      await running.close().catch(() => {});
      clearTimeout(timer);
      process.exit(0);
    },
  },
  { port: running.port, pid: process.pid, mask: impl === 'ws' ? wsMaskImplementation() : impl === 'fd' ? 'fullduplex' : 'none (unparsed)' },
);
