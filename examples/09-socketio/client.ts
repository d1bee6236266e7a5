/**
 * A command-line client for example 9 through socket.io-client: prints the state, sends the
 * actions given as arguments (`plus`, `minus`) with acknowledgements, and exits.
 *
 *   npx tsx examples/09-socketio/client.ts [http://127.0.0.1:6789] [plus|minus ...]
 */
import { io } from 'socket.io-client';
import { otherArgs } from '../common.js';

const url = process.argv.slice(2).find((arg) => /^https?:\/\//.test(arg)) ?? `http://127.0.0.1:${process.env.PORT ?? 6789}`;
const socket = io(url, { transports: ['websocket'] });
const initial = await new Promise<number>((resolve) => socket.once('state', resolve));
console.log(`state: ${initial}`);
for (const action of otherArgs().filter((arg) => !/^https?:\/\//.test(arg))) {
  const value = (await socket.emitWithAck('action', action)) as number;
  console.log(`${action} -> ${value}`);
}
socket.disconnect();
