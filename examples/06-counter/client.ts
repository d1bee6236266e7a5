/**
 * A command-line client for the counter's JSON protocol: prints what the server sends, sends the
 * actions given as arguments (`plus`, `minus`), and closes once the server reported the state
 * after the last of them. Works with example 6 and with the seed's Python counter server.
 *
 *   npx tsx examples/06-counter/client.ts [ws://127.0.0.1:6789/ws] [plus|minus ...]
 */
import { connect } from '../../src/index.js';
import { clientUrl, otherArgs } from '../common.js';

const actions = otherArgs();
const ws = await connect(clientUrl(6789, '/ws'));
let statesToSee = actions.length + 1; // the initial state, then one per action
for await (const message of ws) {
  const event = JSON.parse(String(message)) as { type: string; value?: number; count?: number };
  if (event.type === 'users') {
    console.log(`users: ${event.count}`);
  } else if (event.type === 'state') {
    console.log(`state: ${event.value}`);
    if (--statesToSee === 0) break;
    if (statesToSee === actions.length) {
      for (const action of actions) await ws.send(JSON.stringify({ action }));
    }
  } else {
    console.log(`unsupported event: ${String(message)}`);
  }
}
await ws.close();
