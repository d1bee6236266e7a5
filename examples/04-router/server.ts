/**
 * Example 4 of the seed, routing: `/light/on` and `/light/off` switch the light, `/light/1` gets
 * `invalid params`, and any other path (`/switch/on`) is refused at the handshake with 404.
 *
 *   npx tsx examples/04-router/server.ts [port]      (default 8765, or PORT; LIGHT_DELAY_MS=2000)
 */
import { Router, serve } from '../../src/index.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';
import { addLightRoutes } from './light.js';

const router = addLightRoutes(new Router());
const server = await serve(router, { host: serverHost(), port: serverPort(8765) });
console.log(`router listening on ${server.url} (route: /light/{status})`);
stopOnSignal(() => server.close());
