/**
 * Example 4's client: for each URL (default: the seed's four), connects, sends a light address and
 * prints the answer — or why the connection was refused.
 *
 *   npx tsx examples/04-router/client.ts [ws://127.0.0.1:8765/light/on ...]
 */
import { ConnectError, connect } from '../../src/index.js';

const base = `ws://127.0.0.1:${process.env.PORT ?? 8765}`;
const given = process.argv.slice(2).filter((value) => /^wss?:\/\//.test(value));
const urls = given.length > 0 ? given : ['/light/on', '/light/off', '/light/1', '/switch/on'].map((path) => base + path);

for (const url of urls) {
  try {
    const ws = await connect(url);
    const lightAddr = '00-12-4b-01';
    await ws.send(lightAddr);
    console.log(`${url}: ${await ws.recv()}`);
    await ws.close();
  } catch (error) {
    if (error instanceof ConnectError && error.status !== undefined) {
      console.log(`${url}: refused: ${error.message}`);
    } else {
      console.log(`${url}: error: ${(error as Error).message}`);
    }
  }
}
