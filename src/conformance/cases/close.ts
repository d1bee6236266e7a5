/**
 * Section 7 of Autobahn|Testsuite: the closing handshake. Close frames with and without codes and
 * reasons, frames after a close, valid and invalid close codes. Every case also checks the TCP
 * close itself: the harness fails a server that leaves the TCP connection open after the
 * closing handshake (RFC 6455 §7.1.1).
 */
import { describeObserved, ev } from '../harness.js';
import type { WsCase } from '../types.js';
import { closePayload } from '../wire.js';
import { KILL_AFTER, NORMAL_CLOSE } from './common.js';

const PROTOCOL_ERROR_CLOSE = { closedByMe: true, codes: [1002], requireClean: false };

/** We close first with `payload`; `close` says how the target must answer. */
function closeWith(id: string, description: string, expectation: string, payload: Buffer, close = NORMAL_CLOSE): WsCase {
  return {
    id,
    description,
    expectation,
    async run(t) {
      t.expect({ OK: [] }, close);
      await t.send({ opcode: 8, payload });
      t.killAfter(KILL_AFTER);
    },
  };
}

/** Section 7. */
export function closeCases(): WsCase[] {
  const hello = 'Hello World!';
  const cases: WsCase[] = [
    {
      id: '7.1.1',
      description: 'Send a message followed by a close frame.',
      expectation: 'Echoed message followed by clean close with normal code.',
      async run(t) {
        t.expect({ OK: [ev.text(hello)] }, NORMAL_CLOSE);
        await t.sendAll([{ opcode: 1, payload: hello }, { opcode: 8, payload: closePayload(1000) }]);
        t.killAfter(KILL_AFTER);
      },
    },
    {
      id: '7.1.2',
      description: 'Send two close frames.',
      expectation: 'Clean close with normal code. Second close frame ignored.',
      async run(t) {
        t.expect({ OK: [] }, NORMAL_CLOSE);
        await t.sendAll([{ opcode: 8, payload: closePayload(1000) }, { opcode: 8, payload: closePayload(1000) }]);
        t.killAfter(KILL_AFTER);
      },
    },
    {
      id: '7.1.3',
      description: 'Send a ping after close message.',
      expectation: 'Clean close with normal code, no pong.',
      async run(t) {
        t.expect({ OK: [] }, NORMAL_CLOSE);
        await t.sendAll([{ opcode: 8, payload: closePayload(1000) }, { opcode: 9, payload: hello }]);
        t.killAfter(KILL_AFTER);
      },
    },
    {
      id: '7.1.4',
      description: 'Send text message after sending a close frame.',
      expectation: 'Clean close with normal code. Text message ignored.',
      async run(t) {
        t.expect({ OK: [] }, NORMAL_CLOSE);
        await t.sendAll([{ opcode: 8, payload: closePayload(1000) }, { opcode: 1, payload: hello }]);
        t.killAfter(KILL_AFTER);
      },
    },
    {
      id: '7.1.5',
      description: 'Send message fragment1 followed by close then fragment2.',
      expectation: 'Clean close with normal code.',
      async run(t) {
        t.expect({ OK: [] }, NORMAL_CLOSE);
        await t.sendAll([
          { opcode: 1, fin: false, payload: 'fragment1' },
          { opcode: 8, payload: closePayload(1000) },
          { opcode: 0, payload: 'fragment2' },
        ]);
        t.killAfter(KILL_AFTER);
      },
    },
    {
      id: '7.1.6',
      description: 'Send 256K message followed by close then a ping.',
      expectation:
        'Case outcome depends on implementation defined close behavior. Message and close frame are sent back to back. If the close frame is processed before the text message write is complete (as can happen in asynchronous processing models) the close frame is processed first and the text message may not be received or may only be partially received.',
      async run(t) {
        t.suppressClose = true;
        t.expect({ OK: [] }, NORMAL_CLOSE);
        await t.sendAll([
          { opcode: 1, payload: 'BAsd7&jh23', declaredLength: 256 * 1024 },
          { opcode: 1, payload: hello },
          { opcode: 8, payload: closePayload(1000) },
          { opcode: 9 },
        ]);
        t.setVerdict('INFORMATIONAL', () =>
          t.received.some((o) => o.type === 'message' && o.data.toString() === hello)
            ? `Text messages were processed before close: [${t.received.map(describeObserved).join(', ')}].`
            : `Close was processed before the text messages were returned: [${t.received.map(describeObserved).join(', ')}].`,
        );
        t.killAfter(KILL_AFTER * 2);
      },
    },
    closeWith('7.3.1', 'Send a close frame with payload length 0 (no close code, no close reason).', 'Clean close with normal code.', Buffer.alloc(0)),
    closeWith('7.3.2', 'Send a close frame with payload length 1.', 'Clean close with protocol error or drop TCP.', Buffer.from('a'), PROTOCOL_ERROR_CLOSE),
    closeWith('7.3.3', 'Send a close frame with payload length 2 (regular close with a code).', 'Clean close with normal code.', closePayload(1000)),
    closeWith('7.3.4', 'Send a close frame with close code and close reason.', 'Clean close with normal code.', closePayload(1000, 'Hello World!')),
    closeWith('7.3.5', 'Send a close frame with close code and close reason of maximum length (123).', 'Clean close with normal code.', closePayload(1000, '*'.repeat(123))),
    closeWith(
      '7.3.6',
      'Send a close frame with close code and close reason which is too long (124) - total frame payload 126 octets.',
      'Clean close with protocol error code or dropped TCP connection.',
      closePayload(1000, '*'.repeat(124)),
      PROTOCOL_ERROR_CLOSE,
    ),
    closeWith(
      '7.5.1',
      'Send a close frame with invalid UTF8 payload.',
      'Clean close with protocol error or invalid utf8 code or dropped TCP.',
      closePayload(1000, Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex')),
      { closedByMe: true, codes: [1002, 1007], requireClean: false },
    ),
  ];
  [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach((code, i) => {
    cases.push(
      closeWith(`7.7.${i + 1}`, `Send close with valid close code ${code}.`, 'Clean close with normal or echoed code.', closePayload(code), {
        closedByMe: true,
        codes: [1000, code],
        requireClean: true,
      }),
    );
  });
  [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].forEach((code, i) => {
    cases.push(
      closeWith(`7.9.${i + 1}`, `Send close with invalid close code ${code}.`, 'Clean close with protocol error code or drop TCP.', closePayload(code), PROTOCOL_ERROR_CLOSE),
    );
  });
  [5000, 65535].forEach((code, i) => {
    cases.push({
      id: `7.13.${i + 1}`,
      description: `Send close with close code ${code}.`,
      expectation: 'Actual events are undefined by the spec.',
      async run(t) {
        t.suppressClose = true;
        t.expect({ OK: [] }, { closedByMe: true, codes: [1000, code, 1002], requireClean: false });
        t.setVerdict('INFORMATIONAL', () => `Actual events are undefined by the spec; the target answered ${t.remoteCloseCode === null ? 'without a close frame' : `close ${t.remoteCloseCode}`}.`);
        await t.send({ opcode: 8, payload: closePayload(code) });
        t.killAfter(KILL_AFTER);
      },
    });
  });
  return cases;
}
