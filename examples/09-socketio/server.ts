/**
 * The synced counter (example 6) on socket.io, with `fullduplex/ws` as engine.io's WebSocket
 * engine (`wsEngine`): socket.io's rooms, acknowledgements and reconnection over fullduplex
 * sessions, with no change to socket.io. The page loads socket.io's client from
 * `/socket.io/socket.io.js` (served by socket.io itself).
 *
 *   npx tsx examples/09-socketio/server.ts [port]     then open http://127.0.0.1:6789/
 *
 * socket.io and socket.io-client are devDependencies of this repository only; fullduplex has no
 * runtime dependency on them.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { WebSocketServer } from '../../src/compat/ws/index.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';

const page = readFileSync(new URL('./index.html', import.meta.url));
const http = createServer((req, res) => {
  if (req.url === '/' || req.url === '/index.html') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
  } else {
    res.writeHead(404).end();
  }
});

const io = new Server(http, { wsEngine: WebSocketServer, perMessageDeflate: { threshold: 256 } });
let value = 0;

io.on('connection', (socket) => {
  void socket.join('counter');
  io.to('counter').emit('users', io.engine.clientsCount);
  socket.emit('state', value);
  // Acknowledged actions: the sender learns the value its click produced.
  socket.on('action', (action: unknown, ack?: (value: number) => void) => {
    if (action === 'plus') value++;
    else if (action === 'minus') value--;
    else return;
    // Everyone else hears about it; the sender gets the acknowledgement.
    socket.to('counter').emit('state', value);
    ack?.(value);
  });
  socket.on('disconnect', () => io.to('counter').emit('users', io.engine.clientsCount));
});

http.listen(serverPort(6789), serverHost(), () => {
  const address = http.address() as { port: number };
  console.log(`socket.io counter on fullduplex/ws: http://${serverHost()}:${address.port}/`);
});
stopOnSignal(() => new Promise<void>((resolve) => io.close(() => resolve())));
