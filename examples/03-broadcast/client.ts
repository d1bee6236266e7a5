/**
 * Example 3's client: prints everything the server broadcasts, until the server closes. Start
 * several.
 *
 *   npx tsx examples/03-broadcast/client.ts [ws://127.0.0.1:6789]
 */
import { connect } from '../../src/index.js';
import { clientUrl } from '../common.js';

const url = clientUrl(6789);
const ws = await connect(url);
console.log(`connected to ${url}`);
process.on('SIGINT', () => void ws.close());
for await (const message of ws) console.log(message);
console.log(`connection closed (${ws.closeCode})`);
