/**
 * Sections 1–5 of Autobahn|Testsuite: framing, pings and pongs, reserved bits, reserved opcodes,
 * fragmentation. Ids, payloads and expectations follow Autobahn's cases one for one.
 */
import type { CaseContext, SendOptions } from '../harness.js';
import { ev } from '../harness.js';
import type { WsCase } from '../types.js';
import type { FrameSpec } from '../wire.js';
import { FAIL_PROTOCOL, filled, KILL_AFTER, NORMAL_CLOSE } from './common.js';

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];
const HELLO = 'Hello, world!';
const SMALL_BINARY = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);

/** How a case's frames go out: one write, one TCP segment per frame, or one byte at a time. */
type Chopping = 'none' | 'frames' | 'octets';
const CHOPPING: Record<Chopping, { text: string; options: SendOptions }> = {
  none: { text: '', options: {} },
  frames: { text: ' Octets are sent in frame-wise chops.', options: { sync: true } },
  octets: { text: ' Octets are sent in octet-wise chops.', options: { chop: 1 } },
};

function sendFrames(t: CaseContext, frames: FrameSpec[], chopping: Chopping): Promise<void> {
  return t.sendAll(frames, CHOPPING[chopping].options);
}

function section1(): WsCase[] {
  const cases: WsCase[] = [];
  for (const [sub, binary] of [[1, false], [2, true]] as const) {
    const kind = binary ? 'binary' : 'text';
    const sizes: Array<[number, number | undefined]> = [...LENGTHS.map((n) => [n, undefined] as [number, undefined]), [65536, 997]];
    sizes.forEach(([length, chop], i) => {
      const payload = binary ? filled(0xfe, length) : Buffer.from('*'.repeat(length));
      cases.push({
        id: `1.${sub}.${i + 1}`,
        description: `Send ${kind} message with payload of length ${length}.${chop ? ` Sent out data in chops of ${chop} octets.` : ''}`,
        expectation: `Receive echo'ed ${kind} message (with payload as sent). Clean close with normal code.`,
        async run(t) {
          t.expect({ OK: [binary ? ev.binary(payload) : ev.text(payload)] }, NORMAL_CLOSE);
          await t.send({ opcode: binary ? 2 : 1, payload }, chop ? { chop } : {});
          t.killAfter(KILL_AFTER * 2);
        },
      });
    });
  }
  return cases;
}

function section2(): WsCase[] {
  const pong = (id: string, description: string, payload: Buffer | string, options: SendOptions = {}): WsCase => ({
    id,
    description,
    expectation: 'Pong (with payload as sent) is sent in reply to Ping. Clean close with normal code.',
    async run(t) {
      t.expect({ OK: [ev.pong(payload)] }, NORMAL_CLOSE);
      await t.send({ opcode: 9, payload }, options);
      t.killAfter(KILL_AFTER);
    },
  });
  const unsolicited = (id: string, payload: string): WsCase => ({
    id,
    description: `Send unsolicited Pong ${payload ? `with payload "${payload}"` : 'without payload'}, then close.`,
    expectation: 'Nothing in reply to the Pong. Clean close with normal code.',
    async run(t) {
      t.expect({ OK: [] }, NORMAL_CLOSE);
      await t.sendAll([{ opcode: 10, payload }, { opcode: 8, payload: Buffer.from([0x03, 0xe8]) }]);
      t.killAfter(KILL_AFTER);
    },
  });
  const tenPings = (id: string, chopping: Chopping): WsCase => ({
    id,
    description: `Send 10 Pings with payload.${CHOPPING[chopping].text}`,
    expectation: 'Pongs for our Pings with all the payloads, in order. Clean close with normal code.',
    async run(t) {
      const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
      t.expect({ OK: payloads.map((p) => ev.pong(p)) }, NORMAL_CLOSE);
      await sendFrames(t, payloads.map((payload) => ({ opcode: 9, payload })), chopping);
      t.killAfter(KILL_AFTER * 3);
    },
  });
  return [
    pong('2.1', 'Send ping without payload.', ''),
    pong('2.2', 'Send ping with small text payload.', HELLO),
    pong('2.3', 'Send ping with small binary (non UTF-8) payload.', SMALL_BINARY),
    pong('2.4', 'Send ping with binary payload of 125 octets.', filled(0xfe, 125)),
    {
      id: '2.5',
      description: 'Send ping with binary payload of 126 octets.',
      expectation: 'Connection is failed immediately (1002/Protocol Error), since control frames are only allowed to have payload up to and including 125 octets.',
      async run(t) {
        t.expect({ OK: [] }, FAIL_PROTOCOL);
        await t.send({ opcode: 9, payload: filled(0xfe, 126) });
        t.killAfter(KILL_AFTER);
      },
    },
    pong('2.6', 'Send ping with binary payload of 125 octets, send in octet-wise chops.', filled(0xfe, 125), { chop: 1, delay: 1 }),
    unsolicited('2.7', ''),
    unsolicited('2.8', 'unsolicited pong payload'),
    {
      id: '2.9',
      description: 'Send unsolicited Pong with payload "ping payload", then Ping with the same payload.',
      expectation: 'Pong for our Ping is received.',
      async run(t) {
        t.expect({ OK: [ev.pong('ping payload')] }, NORMAL_CLOSE);
        await t.sendAll([{ opcode: 10, payload: 'unsolicited pong payload' }, { opcode: 9, payload: 'ping payload' }]);
        t.killAfter(KILL_AFTER);
      },
    },
    tenPings('2.10', 'none'),
    tenPings('2.11', 'octets'),
  ];
}

/** Small data message, then the offending frame, then a ping; the target must fail at the second. */
function failAfterEcho(id: string, description: string, expectation: string, bad: FrameSpec, chopping: Chopping): WsCase {
  return {
    id,
    description: `${description}${CHOPPING[chopping].text}`,
    expectation,
    async run(t) {
      t.expect({ OK: [ev.text(HELLO)], 'NON-STRICT': [] }, FAIL_PROTOCOL);
      await sendFrames(t, [{ opcode: 1, payload: HELLO }, bad, { opcode: 9 }], chopping);
      t.killAfter(KILL_AFTER);
    },
  };
}

/** One offending frame; the target must fail the connection. */
function failAtOnce(id: string, description: string, expectation: string, frames: FrameSpec[], chopping: Chopping = 'none'): WsCase {
  return {
    id,
    description: `${description}${CHOPPING[chopping].text}`,
    expectation,
    async run(t) {
      t.expect({ OK: [] }, FAIL_PROTOCOL);
      await sendFrames(t, frames, chopping);
      t.killAfter(KILL_AFTER);
    },
  };
}

function section3(): WsCase[] {
  const why = 'since RSV must be 0, when no extension defining RSV meaning has been negotiated.';
  const rsvAfterEcho = (n: number, chopping: Chopping): WsCase =>
    failAfterEcho(
      `3.${n}`,
      `Send small text message, then send again with RSV = ${n}, then send Ping.`,
      `Echo for first message is received, but then connection is failed immediately, ${why} The Pong is not received.`,
      { opcode: 1, payload: HELLO, rsv: n },
      chopping,
    );
  return [
    failAtOnce('3.1', 'Send small text message with RSV = 1.', `The connection is failed immediately (1002/protocol error), ${why}`, [{ opcode: 1, payload: HELLO, rsv: 1 }]),
    rsvAfterEcho(2, 'none'),
    rsvAfterEcho(3, 'frames'),
    rsvAfterEcho(4, 'octets'),
    failAtOnce('3.5', 'Send small binary message with RSV = 5.', `The connection is failed immediately, ${why}`, [{ opcode: 2, payload: SMALL_BINARY, rsv: 5 }]),
    failAtOnce('3.6', 'Send Ping with small text payload and RSV = 6.', `The connection is failed immediately, ${why}`, [{ opcode: 9, payload: HELLO, rsv: 6 }]),
    {
      id: '3.7',
      description: 'Send Close with RSV = 7.',
      expectation: `The connection is failed immediately, ${why}`,
      async run(t) {
        t.expect({ OK: [] }, FAIL_PROTOCOL);
        await t.send({ opcode: 8, rsv: 7, payload: Buffer.from([0x03, 0xe8]) }, { notClose: true });
        t.killAfter(KILL_AFTER);
      },
    },
  ];
}

function section4(): WsCase[] {
  const cases: WsCase[] = [];
  for (const [sub, base, kind] of [[1, 3, 'non-control'], [2, 11, 'control']] as const) {
    const why = 'since reserved opcode frame is used.';
    cases.push(
      failAtOnce(`4.${sub}.1`, `Send frame with reserved ${kind} Opcode = ${base}.`, `The connection is failed immediately, ${why}`, [{ opcode: base }]),
      failAtOnce(`4.${sub}.2`, `Send frame with reserved ${kind} Opcode = ${base + 1} and non-empty payload.`, `The connection is failed immediately, ${why}`, [
        { opcode: base + 1, payload: 'reserved opcode payload' },
      ]),
    );
    const after = (n: number, payload: boolean, chopping: Chopping): WsCase =>
      failAfterEcho(
        `4.${sub}.${n}`,
        `Send small text message, then send frame with reserved ${kind} Opcode = ${base + n - 1}${payload ? ' and non-empty payload' : ''}, then send Ping.`,
        `Echo for first message is received, but then connection is failed immediately, ${why} A Pong is not received.`,
        { opcode: base + n - 1, ...(payload ? { payload: 'reserved opcode payload' } : {}) },
        chopping,
      );
    cases.push(after(3, false, 'none'), after(4, true, 'none'), after(5, true, 'octets'));
  }
  return cases;
}

function section5(): WsCase[] {
  const cases: WsCase[] = [];
  const noFragmentedControl = 'The connection is failed immediately, since control messages MUST NOT be fragmented.';
  cases.push(
    failAtOnce('5.1', 'Send Ping fragmented into 2 fragments.', noFragmentedControl, [
      { opcode: 9, fin: false, payload: 'fragment1' },
      { opcode: 0, payload: 'fragment2' },
    ]),
    failAtOnce('5.2', 'Send Pong fragmented into 2 fragments.', noFragmentedControl, [
      { opcode: 10, fin: false, payload: 'fragment1' },
      { opcode: 0, payload: 'fragment2' },
    ]),
  );
  (['none', 'frames', 'octets'] as const).forEach((chopping, i) => {
    cases.push({
      id: `5.${3 + i}`,
      description: `Send text Message fragmented into 2 fragments.${CHOPPING[chopping].text}`,
      expectation: "Message is processed and echo'ed back to us.",
      async run(t) {
        t.expect({ OK: [ev.text('fragment1fragment2')] }, NORMAL_CLOSE);
        await sendFrames(t, [{ opcode: 1, fin: false, payload: 'fragment1' }, { opcode: 0, payload: 'fragment2' }], chopping);
        t.killAfter(KILL_AFTER);
      },
    });
  });
  (['none', 'frames', 'octets'] as const).forEach((chopping, i) => {
    cases.push({
      id: `5.${6 + i}`,
      description: `Send text Message fragmented into 2 fragments, one ping with payload in-between.${CHOPPING[chopping].text}`,
      expectation: "A pong is received, then the message is echo'ed back to us.",
      async run(t) {
        t.expect({ OK: [ev.pong('ping payload'), ev.text('fragment1fragment2')] }, NORMAL_CLOSE);
        await sendFrames(
          t,
          [{ opcode: 1, fin: false, payload: 'fragment1' }, { opcode: 9, payload: 'ping payload' }, { opcode: 0, payload: 'fragment2' }],
          chopping,
        );
        t.killAfter(KILL_AFTER);
      },
    });
  });
  for (const [first, fin] of [[9, true], [12, false]] as const) {
    (['none', 'frames', 'octets'] as const).forEach((chopping, i) => {
      cases.push(
        failAtOnce(
          `5.${first + i}`,
          `Send unfragmented Text Message after Continuation Frame with FIN = ${fin}, where there is no text Message fragment to continue.`,
          'The connection is failed immediately, since there is no message to continue.',
          [{ opcode: 0, fin, payload: 'non-continuation payload' }, { opcode: 1, payload: HELLO }],
          chopping,
        ),
      );
    });
  }
  cases.push({
    id: '5.15',
    description:
      'Send text Message fragmented into 2 fragments, then Continuation Frame with FIN = false where there is nothing to continue, then unfragmented Text Message, all sent in one chop.',
    expectation: 'The connection is failed immediately, since there is no message to continue.',
    async run(t) {
      t.expect({ OK: [ev.text('fragment1fragment2')], 'NON-STRICT': [] }, FAIL_PROTOCOL);
      await t.sendAll([
        { opcode: 1, fin: false, payload: 'fragment1' },
        { opcode: 0, payload: 'fragment2' },
        { opcode: 0, fin: false, payload: 'fragment3' },
        { opcode: 1, payload: 'fragment4' },
      ]);
      t.killAfter(KILL_AFTER);
    },
  });
  for (const [id, fin] of [['5.16', false], ['5.17', true]] as const) {
    const frames: FrameSpec[] = [
      { opcode: 0, fin, payload: 'fragment1' },
      { opcode: 1, fin: false, payload: 'fragment2' },
      { opcode: 0, payload: 'fragment3' },
    ];
    cases.push(
      failAtOnce(
        id,
        `Repeated 2x: Continuation Frame with FIN = ${fin} (where there is nothing to continue), then text Message fragmented into 2 fragments.`,
        'The connection is failed immediately, since there is no message to continue.',
        [...frames, ...frames],
      ),
    );
  }
  cases.push(
    failAtOnce(
      '5.18',
      'Send text Message fragmented into 2 fragments, with both frame opcodes set to text, sent in one chop.',
      'The connection is failed immediately, since all data frames after the initial data frame must have opcode 0.',
      [{ opcode: 1, fin: false, payload: 'fragment1' }, { opcode: 1, payload: 'fragment2' }],
    ),
  );
  for (const [id, sync] of [['5.19', false], ['5.20', true]] as const) {
    cases.push({
      id,
      description: `A fragmented text message is sent in multiple frames. After sending the first 2 frames of the text message, a Ping is sent. Then we wait 1s, then we send 2 more text fragments, another Ping and then the final text fragment. Everything is legal.${sync ? ' Each frame is sent in its own TCP segment.' : ''}`,
      expectation: "The peer immediately answers the first Ping before it has received the last text message fragment. The peer pong's back the Ping's payload exactly, and echo's the payload of the fragmented message back to us.",
      timeout: 8000,
      async run(t) {
        const fragments = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'];
        t.expect({ OK: [ev.pong('pongme 1!'), ev.pong('pongme 2!'), ev.text(fragments.join(''))] }, NORMAL_CLOSE);
        const options: SendOptions = sync ? { sync: true } : {};
        await t.sendAll(
          [{ opcode: 1, fin: false, payload: fragments[0] }, { opcode: 0, fin: false, payload: fragments[1] }, { opcode: 9, payload: 'pongme 1!' }],
          options,
        );
        await t.sleep(1000);
        if (!t.isOpen) return;
        await t.sendAll(
          [
            { opcode: 0, fin: false, payload: fragments[2] },
            { opcode: 0, fin: false, payload: fragments[3] },
            { opcode: 9, payload: 'pongme 2!' },
            { opcode: 0, payload: fragments[4] },
          ],
          options,
        );
        t.closeAfter(1000);
      },
    });
  }
  return cases;
}

/** Sections 1–5. */
export function framingCases(): WsCase[] {
  return [...section1(), ...section2(), ...section3(), ...section4(), ...section5()];
}
