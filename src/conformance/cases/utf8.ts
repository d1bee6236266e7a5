/**
 * Section 6 of Autobahn|Testsuite: UTF-8 handling in text messages. 6.1–6.4 are hand-written;
 * 6.5–6.23 are generated from the sequences of Markus Kuhn's UTF-8 decoder stress test, in
 * Autobahn's order, so case 6.N.M is the same payload here and in an Autobahn report.
 */
import { isUtf8 } from 'node:buffer';
import { ev } from '../harness.js';
import type { WsCase } from '../types.js';
import { buildFrame } from '../wire.js';
import { FAIL_UTF8, KILL_AFTER, NORMAL_CLOSE } from './common.js';

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const cat = (...parts: Array<Buffer | string>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

/** "κόσμε", Kuhn's sample word. */
const KOSME = h('cebae1bdb9cf83cebcceb5');
const HELLO_UTF8 = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!', 'utf8');

/** [title, [valid, bytes][]] per subsection, from 6.5 on. */
function sequences(): Array<[string, Array<[boolean, Buffer]>]> {
  const lonely = [
    [0xc0, 0xdf],
    [0xe0, 0xef],
    [0xf0, 0xf7],
    [0xf8, 0xfb],
    [0xfc, 0xfd],
  ].map(([from, to]) => {
    const bytes: number[] = [];
    for (let b = from!; b < to!; b++) bytes.push(b, 0x20);
    return [false, Buffer.from(bytes)] as [boolean, Buffer];
  });
  const missingLast = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'].map(h);
  const nonCharacters: Buffer[] = [h('efbfbe'), h('efbfbf')];
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // beyond U+10FFFF
      for (const z3 of [0xbe, 0xbf]) {
        if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
        nonCharacters.push(Buffer.from([z1, z2, 0xbf, z3]));
      }
    }
  }
  const continuation: number[] = [];
  for (let b = 0x80; b < 0xbf; b++) continuation.push(b);
  const invalid = (...hex: string[]): Array<[boolean, Buffer]> => hex.map((x) => [false, h(x)]);
  const valid = (...items: Buffer[]): Array<[boolean, Buffer]> => items.map((x) => [true, x]);
  return [
    ['Some valid UTF-8 sequences', valid(cat('hello$world'), cat('hello', h('c2a2'), 'world'), cat('hello', h('e282ac'), 'world'), cat('hello', h('f0a4ada2'), 'world'), KOSME)],
    ['All prefixes of a valid UTF-8 string that contains multi-byte code points', Array.from({ length: KOSME.length }, (_, i) => [isUtf8(KOSME.subarray(0, i + 1)), KOSME.subarray(0, i + 1)])],
    ['First possible sequence of a certain length', valid(h('00'), h('c280'), h('e0a080'), h('f0908080'))],
    ['First possible sequence length 5/6 (invalid codepoints)', invalid('f888808080', 'fc8480808080')],
    ['Last possible sequence of a certain length', valid(h('7f'), h('dfbf'), h('efbfbf'), h('f48fbfbf'))],
    ['Last possible sequence length 4/5/6 (invalid codepoints)', invalid('f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf')],
    ['Other boundary conditions', [...valid(h('ed9fbf'), h('ee8080'), h('efbfbd'), h('f48fbfbf')), ...invalid('f4908080')]],
    ['Unexpected continuation bytes', [...invalid('80', 'bf', '80bf', '80bf80', '80bf80bf', '80bf80bf80', '80bf80bf80bf'), [false, Buffer.from(continuation)]]],
    ['Lonely start characters', lonely],
    ['Sequences with last continuation byte missing', missingLast.map((b) => [false, b] as [boolean, Buffer])],
    ['Concatenation of incomplete sequences', [[false, Buffer.concat(missingLast)]]],
    ['Impossible bytes', invalid('fe', 'ff', 'fefeffff')],
    ['Examples of an overlong ASCII character', invalid('c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af')],
    ['Maximum overlong sequences', invalid('c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf')],
    ['Overlong representation of the NUL character', invalid('c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080')],
    ['Single UTF-16 surrogates', invalid('eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf')],
    ['Paired UTF-16 surrogates', invalid('eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf')],
    ['Non-character code points (valid UTF-8)', valid(...nonCharacters)],
    ['Unicode specials (i.e. replacement char)', valid(h('efbfb9'), h('efbfba'), h('efbfbb'), h('efbfbc'), h('efbfbd'), h('efbfbe'), h('efbfbf'))],
  ];
}

/** A valid text message, sent as frames of the given pieces; echo expected. */
function validText(id: string, description: string, message: Buffer, pieces: Buffer[]): WsCase {
  return {
    id,
    description,
    expectation: "The message is echo'ed back to us.",
    async run(t) {
      t.expect({ OK: [ev.text(message)] }, NORMAL_CLOSE);
      await t.sendAll(pieces.map((payload, i) => ({ opcode: i === 0 ? 1 : 0, fin: i === pieces.length - 1, payload })));
      t.killAfter(KILL_AFTER);
    },
  };
}

/** Frames of one byte each. */
function octets(bytes: Buffer): Buffer[] {
  return Array.from(bytes, (b) => Buffer.from([b]));
}

/** 6.4.x: three parts with a wait after each; the target must fail at the second (fail fast). */
function failFast(id: string, description: string, parts: [Buffer, Buffer, Buffer], asChops: boolean): WsCase {
  return {
    id,
    description: `${description} PART1 = ${parts[0].toString('hex')}, PART2 = ${parts[1].toString('hex')}, PART3 = ${parts[2].toString('hex')}.`,
    expectation:
      'The first part is accepted, we expect to timeout on the first wait. The 2nd part should be rejected immediately (fail fast on UTF-8). If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.',
    timeout: 8000,
    async run(t) {
      t.expect({ OK: [ev.timeout('A')], 'NON-STRICT': [ev.timeout('A'), ev.timeout('B')] }, FAIL_UTF8);
      const whole = Buffer.concat(parts);
      // As chops: one frame, its bytes written in three pieces (header + part 1, part 2, part 3).
      const frame = asChops ? buildFrame({ opcode: 1, payload: whole }, t.targetRole === 'server') : null;
      const header = frame ? frame.length - whole.length : 0;
      const send = async (i: 0 | 1 | 2): Promise<void> => {
        if (frame) {
          const start = i === 0 ? 0 : header + parts[0].length + (i === 2 ? parts[1].length : 0);
          const end = i === 0 ? header + parts[0].length : i === 1 ? header + parts[0].length + parts[1].length : frame.length;
          await t.sendRaw(frame.subarray(start, end), i === 0 ? 'frame header and PART1' : `PART${i + 1}`);
        } else {
          await t.send({ opcode: i === 0 ? 1 : 0, fin: i === 2, payload: parts[i] });
        }
      };
      // Autobahn waits 1 s; half of that is ample for a target that fails fast, even remotely.
      await send(0);
      await t.sleep(500);
      if (!t.mark('A')) return;
      await send(1);
      await t.sleep(500);
      if (!t.mark('B')) return;
      await send(2);
      t.killAfter(KILL_AFTER);
    },
  };
}

/** Section 6. */
export function utf8Cases(): WsCase[] {
  const cases: WsCase[] = [
    validText('6.1.1', 'Send text message of length 0.', Buffer.alloc(0), [Buffer.alloc(0)]),
    validText('6.1.2', 'Send fragmented text message, 3 fragments each of length 0.', Buffer.alloc(0), [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)]),
    validText('6.1.3', 'Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.', Buffer.from('middle frame payload'), [
      Buffer.alloc(0),
      Buffer.from('middle frame payload'),
      Buffer.alloc(0),
    ]),
    validText('6.2.1', `Send a valid UTF-8 text message in one fragment. MESSAGE: ${HELLO_UTF8.toString()}`, HELLO_UTF8, [HELLO_UTF8]),
    validText('6.2.2', 'Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point boundary.', HELLO_UTF8, [
      Buffer.from('Hello-µ@ßöä'),
      Buffer.from('üàá-UTF-8!!'),
    ]),
    validText('6.2.3', 'Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.', HELLO_UTF8, octets(HELLO_UTF8)),
    validText('6.2.4', `Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends. MESSAGE: ${KOSME.toString()}`, KOSME, octets(KOSME)),
  ];
  const invalid = cat(KOSME, h('eda080'), 'edited');
  for (const [id, pieces, how] of [
    ['6.3.1', [invalid], 'unfragmented'],
    ['6.3.2', octets(invalid), 'in fragments of 1 octet'],
  ] as const) {
    cases.push({
      id,
      description: `Send invalid UTF-8 text message ${how}. MESSAGE: ${invalid.toString('hex')}`,
      expectation: 'The connection is failed immediately, since the payload is not valid UTF-8.',
      async run(t) {
        t.expect({ OK: [] }, FAIL_UTF8);
        await t.sendAll(pieces.map((payload, i) => ({ opcode: i === 0 ? 1 : 0, fin: i === pieces.length - 1, payload })));
        t.killAfter(KILL_AFTER);
      },
    });
  }
  const tail = Buffer.from('edited');
  const outOfRange = h('f4908080');
  const full = Buffer.concat([KOSME, outOfRange, tail]);
  const atByte12: [Buffer, Buffer, Buffer] = [full.subarray(0, 12), full.subarray(12, 13), full.subarray(13)];
  cases.push(
    failFast('6.4.1', 'Send invalid UTF-8 text message in 3 fragments (frames). First frame payload is valid, then wait, then 2nd frame which contains the payload making the sequence invalid, then wait, then 3rd frame with rest.', [KOSME, outOfRange, tail], false),
    failFast('6.4.2', 'Send invalid UTF-8 text message in 3 fragments (frames). First frame payload is valid, then wait, then 2nd frame which contains the byte making the sequence invalid (in the middle of a code point), then wait, then 3rd frame with rest.', atByte12, false),
    failFast('6.4.3', 'Same as Case 6.4.1, but we send message not in 3 frames, but in 3 chops of the same message frame.', [KOSME, outOfRange, tail], true),
    failFast('6.4.4', 'Same as Case 6.4.2, but we send message not in 3 frames, but in 3 chops of the same message frame.', atByte12, true),
  );
  sequences().forEach(([title, items], s) => {
    items.forEach(([valid, payload], i) => {
      const id = `6.${s + 5}.${i + 1}`;
      cases.push({
        id,
        description: `${title}: send a text message with payload which is ${valid ? '' : 'not '}valid UTF-8 in one fragment. Payload: 0x${payload.toString('hex')}`,
        expectation: valid ? "The message is echo'ed back to us." : 'The connection is failed immediately, since the payload is not valid UTF-8.',
        async run(t) {
          t.expect({ OK: valid ? [ev.text(payload)] : [] }, valid ? NORMAL_CLOSE : FAIL_UTF8);
          await t.send({ opcode: 1, payload });
          t.killAfter(KILL_AFTER / 2);
        },
      });
    });
  });
  return cases;
}
