/**
 * Example 1's client: sends `hello world` (or the messages given as arguments), prints each reply,
 * and closes once every message was answered.
 *
 *   npx tsx examples/01-echo/client.ts [ws://127.0.0.1:8765] [message ...]
 */
import { connect } from '../../src/index.js';
import { clientUrl, otherArgs } from '../common.js';

const messages = otherArgs();
if (messages.length === 0) messages.push('hello world');

const ws = await connect(clientUrl(8765));
for (const message of messages) {
  await ws.send(message);
  console.log(`> ${message}`);
  console.log(`< ${await ws.recv()}`);
}
await ws.close();
