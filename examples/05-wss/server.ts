/**
 * Example 5 of the seed, secure WebSocket (wss://): the greeting server over TLS, with a
 * self-signed certificate for `localhost` created on first run (`openssl` must be installed).
 *
 *   npx tsx examples/05-wss/server.ts [port]      (default 8765, or PORT; CERT_FILE=…/localhost.pem)
 */
import { serve } from '../../src/index.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';
import { ensureCertificate } from './cert.js';

const pem = ensureCertificate();
const server = await serve(
  async (ws) => {
    const name = await ws.recv();
    console.log(`< ${name}`);
    const greeting = `Hello ${name}!`;
    await ws.send(greeting);
    console.log(`> ${greeting}`);
  },
  { host: serverHost(), port: serverPort(8765), tls: { cert: pem, key: pem } },
);
console.log(`secure server listening on wss://localhost:${server.address().port}/`);
stopOnSignal(() => server.close());
