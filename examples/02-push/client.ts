/**
 * Example 2's client: prints every message the server pushes, until the server closes.
 *
 *   npx tsx examples/02-push/client.ts [ws://127.0.0.1:8765]
 */
import { connect } from '../../src/index.js';
import { clientUrl } from '../common.js';

const ws = await connect(clientUrl(8765));
console.log(`connected to ${clientUrl(8765)}`);
process.on('SIGINT', () => void ws.close());
for await (const message of ws) console.log(message);
console.log(`connection closed (${ws.closeCode})`);
