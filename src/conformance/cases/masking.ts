/**
 * Section M (not in Autobahn, whose clients always mask and whose servers never do): frames
 * masked the wrong way for the direction they travel. RFC 6455 §5.1: "a server MUST close the
 * connection upon receiving a frame that is not masked" and "a client MUST close a connection if
 * it detects a masked frame" — both with 1002. Against a server target the suite sends unmasked
 * frames; against a client target, masked ones. The other direction is checked on every frame of
 * every case by the harness.
 */
import type { CaseContext } from '../harness.js';
import { ev } from '../harness.js';
import type { WsCase } from '../types.js';
import { FAIL_PROTOCOL, KILL_AFTER } from './common.js';

const HELLO = 'Hello, world!';

function wrong(t: CaseContext): boolean {
  return t.targetRole === 'client'; // mask toward a client, don't toward a server
}

function wording(t: CaseContext): string {
  return t.targetRole === 'client' ? 'masked' : 'unmasked';
}

/** Section M. */
export function maskingCases(): WsCase[] {
  const expectation = 'The connection is failed immediately (1002), since a server MUST NOT mask and a client MUST mask every frame.';
  return [
    {
      id: 'M.1',
      description: 'Send a small text message masked the wrong way (unmasked to a server, masked to a client).',
      expectation,
      async run(t) {
        t.expect({ OK: [] }, FAIL_PROTOCOL);
        t.note(`sending a ${wording(t)} frame`);
        await t.send({ opcode: 1, payload: HELLO, mask: wrong(t) });
        t.killAfter(KILL_AFTER);
      },
    },
    {
      id: 'M.2',
      description: 'Send a small text message masked the right way, then the same masked the wrong way, then a Ping.',
      expectation: `Echo for the first message is received, then ${expectation.charAt(0).toLowerCase()}${expectation.slice(1)} The Pong is not received.`,
      async run(t) {
        t.expect({ OK: [ev.text(HELLO)], 'NON-STRICT': [] }, FAIL_PROTOCOL);
        await t.sendAll([{ opcode: 1, payload: HELLO }, { opcode: 1, payload: HELLO, mask: wrong(t) }, { opcode: 9 }]);
        t.killAfter(KILL_AFTER);
      },
    },
    {
      id: 'M.3',
      description: 'Send a Ping with payload masked the wrong way.',
      expectation: `${expectation} No Pong is received.`,
      async run(t) {
        t.expect({ OK: [] }, FAIL_PROTOCOL);
        await t.send({ opcode: 9, payload: 'ping payload', mask: wrong(t) });
        t.killAfter(KILL_AFTER);
      },
    },
    {
      id: 'M.4',
      description: 'Send a binary message in 2 fragments, the second one masked the wrong way.',
      expectation,
      async run(t) {
        t.expect({ OK: [] }, FAIL_PROTOCOL);
        await t.sendAll([
          { opcode: 2, fin: false, payload: Buffer.from([1, 2, 3]) },
          { opcode: 0, payload: Buffer.from([4, 5, 6]), mask: wrong(t) },
        ]);
        t.killAfter(KILL_AFTER);
      },
    },
  ];
}
