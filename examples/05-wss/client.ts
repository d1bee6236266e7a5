/**
 * Example 5's client: trusts exactly the server's certificate (and nothing else), asks for a name
 * (the first line of standard input, or an argument), sends it and prints the greeting.
 *
 *   npx tsx examples/05-wss/client.ts [wss://localhost:8765] [name]
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connect } from '../../src/index.js';
import { clientUrl, otherArgs } from '../common.js';
import { certFile } from './cert.js';

const url = clientUrl(8765, '/', 'wss', 'localhost');
// `ca` replaces the default roots: this certificate, and only it, is trusted.
const ws = await connect(url, { tls: { ca: readFileSync(certFile()) } });

let name = otherArgs()[0];
if (name === undefined) {
  const lines = createInterface({ input: process.stdin, output: process.stdout, terminal: false });
  name = await new Promise<string>((resolve) => {
    lines.question("What's your name? ", resolve);
    lines.once('close', () => resolve(''));
  });
  lines.close();
}
await ws.send(name);
console.log(`> ${name}`);
console.log(`< ${await ws.recv()}`);
await ws.close();
