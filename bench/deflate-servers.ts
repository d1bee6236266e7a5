/**
 * The servers of the compressed benchmark (bench/deflate-echo.ts), one per process so the load
 * generator can read each one's CPU: `fd` (fullduplex, `perMessageDeflate: true`, its defaults)
 * or `ws` (`perMessageDeflate: true`, its defaults), in `echo` mode (every message sent back) or
 * `broadcast` mode (connections on /sub receive what the one on /pub sends: fullduplex publishes
 * to a topic, compressing once; ws sends to each subscriber, compressing per subscriber).
 *
 *   npx tsx bench/deflate-servers.ts fd|ws echo|broadcast [--plain]
 *
 * Prints `listening PORT` when ready. `--plain` turns compression off (memory baselines).
 */
import { WebSocketServer as WsServer, type WebSocket as WsSocket } from 'ws';
import { serve } from '../src/index.js';

const [impl, mode] = process.argv.slice(2) as ['fd' | 'ws', 'echo' | 'broadcast'];
const plain = process.argv.includes('--plain');

if (impl === 'fd') {
  const server = await serve(
    (ws) => {
      if (mode === 'broadcast' && ws.request.path === '/sub') {
        ws.subscribe('b');
        return;
      }
      if (mode === 'broadcast') ws.on('message', (data) => void server.publish('b', data as string));
      else ws.on('message', (data) => void ws.send(data).catch(() => {}));
    },
    // FD_RELEASE_IDLE_AFTER (seconds): idle release on, for the used-then-idle memory figure.
    { port: 0, pingInterval: 0, perMessageDeflate: !plain && (process.env.FD_RELEASE_IDLE_AFTER ? { releaseIdleAfter: Number(process.env.FD_RELEASE_IDLE_AFTER) } : true), maxMessageSize: 64 << 20 },
  );
  console.log(`listening ${new URL(server.url).port}`);
} else {
  const wss = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: !plain, maxPayload: 64 << 20 });
  const subscribers = new Set<WsSocket>();
  wss.on('connection', (ws, request) => {
    ws.on('error', () => {});
    if (mode === 'broadcast' && request.url === '/sub') {
      subscribers.add(ws);
      ws.on('close', () => subscribers.delete(ws));
      return;
    }
    if (mode === 'broadcast') ws.on('message', (data, isBinary) => { for (const s of subscribers) s.send(data, { binary: isBinary }); });
    else ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  console.log(`listening ${(wss.address() as { port: number }).port}`);
}
