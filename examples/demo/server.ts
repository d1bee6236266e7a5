/**
 * The demo behind `npm start`: one port on 127.0.0.1 (`PORT`, default 8080) serves
 *
 * - `/`               the synced-counter page (example 6), whose socket is `/ws`;
 * - `/echo`           the echo endpoint (example 1);
 * - `/light/{status}` the light router (example 4).
 *
 * Other WebSocket paths are refused with 404. The same is served over HTTPS on a second port
 * (`HTTPS_PORT`, default 8443; a free one when `PORT` is 0) with HTTP/2 and HTTP/1.1 (ALPN): there
 * a browser loads the page over HTTP/2 and opens its WebSocket as an HTTP/2 stream on the same
 * connection (RFC 8441). The self-signed certificate for localhost is made on first run, as in
 * example 5. Ctrl-C closes everything and exits 0.
 */
import { createServer } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import { Router, WebSocketServer } from '../../src/index.js';
import { Counter, servePage } from '../06-counter/counter.js';
import { addLightRoutes } from '../04-router/light.js';
import { stopOnSignal } from '../common.js';
import { ensureCertificate } from '../05-wss/cert.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8080);

const counter = new Counter();
const router = new Router()
  .route('/ws', (ws) => counter.handle(ws, wss))
  .route('/echo', async (ws) => {
    for await (const message of ws) await ws.send(`I got your message: ${message}`);
  });
addLightRoutes(router);

const http = createServer(servePage);
const wss: WebSocketServer = new WebSocketServer(router).attach(http);
await new Promise<void>((resolve) => http.listen(port, host, resolve));
const address = http.address();
if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
const base = `${host}:${address.port}`;
console.log(`fullduplex demo running at http://${base}/`);
console.log(`  sockets: ws://${base}/ws (counter), ws://${base}/echo, ws://${base}/light/{on|off}`);

// HTTPS with HTTP/2 (and HTTP/1.1 for older clients) on a second port, same page, same sockets.
// The self-signed certificate is made with openssl; without it the demo still serves plain HTTP.
const sessions = new Set<ServerHttp2Session>();
let https: ReturnType<typeof createSecureServer> | null = null;
let pem: Buffer | null = null;
try {
  pem = ensureCertificate();
} catch (error) {
  console.log(`  HTTPS/HTTP/2 off: no certificate (${(error as Error).message.split('\n')[0]}); install openssl to enable it`);
}
if (pem !== null) {
  const secure = createSecureServer(
    { key: pem, cert: pem, allowHTTP1: true, settings: { enableConnectProtocol: true } },
    (req: Http2ServerRequest, res: Http2ServerResponse) => servePage(req as never, res as never),
  );
  https = secure;
  secure.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  wss.attachHttp2(secure); // extended CONNECT streams
  wss.attach(secure as never); // HTTP/1.1 upgrades on the same port ('upgrade' event)
  const httpsPort = process.env.HTTPS_PORT !== undefined ? Number(process.env.HTTPS_PORT) : port === 0 ? 0 : 8443;
  await new Promise<void>((resolve) => secure.listen(httpsPort, host, resolve));
  const secureAddress = secure.address();
  if (secureAddress === null || typeof secureAddress === 'string') throw new Error('not listening on TCP');
  console.log(`  over HTTPS with HTTP/2: https://${host}:${secureAddress.port}/ (self-signed certificate for localhost)`);
}
console.log('  press Ctrl-C to stop');

stopOnSignal(async () => {
  await wss.close();
  http.closeAllConnections();
  for (const session of sessions) session.close(); // GOAWAY; pages' idle connections end
  await Promise.all([new Promise((resolve) => http.close(resolve)), https ? new Promise((resolve) => https!.close(resolve)) : null]);
  console.log('demo stopped');
});
