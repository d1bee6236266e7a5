/**
 * Sections 9 and 10 of Autobahn|Testsuite: large messages, many fragments, slow delivery and
 * round trips (9.x, timed), and auto-fragmentation (10.1.1). A 9.x case is OK when everything
 * comes back intact; its reason carries the time. Every 9.x case is a limits case (`limits`): a
 * target that refuses cleanly with 1009 (Message Too Big) or 1008 (Policy Violation, e.g. a cap
 * on fragments) gets INFORMATIONAL, since limits are the implementation's choice (judge.ts).
 */
import type { CaseContext } from '../harness.js';
import { ev } from '../harness.js';
import type { Observed, WsCase } from '../types.js';
import type { FrameSpec } from '../wire.js';
import { repeatTo } from '../wire.js';
import { KILL_AFTER, NORMAL_CLOSE } from './common.js';

const K = 1024;
const M = 1024 * 1024;
const TEXT_PATTERN = Buffer.from('BAsd7&jh23');
const BINARY_PATTERN = Buffer.from([0xfe]);

function size(n: number): string {
  return n >= M ? `${n / M}M` : n >= K ? `${n / K}K` : `${n}`;
}

/** Adds the time to a passed timed case (a refusal or a failure has no meaningful time). */
function timed(t: CaseContext, what: string): void {
  const start = t.elapsed;
  t.adjust((base) => {
    if (base.verdict !== 'OK' && base.verdict !== 'NON-STRICT') return base;
    const end = t.receivedAt[t.receivedAt.length - 1] ?? t.elapsed;
    return { verdict: base.verdict, reason: `${what}: ${Math.round(end - start)} ms. ${base.reason}` };
  });
}

function message(binary: boolean, length: number): Buffer {
  return repeatTo(binary ? BINARY_PATTERN : TEXT_PATTERN, length);
}

function echoCase(id: string, description: string, binary: boolean, payload: Buffer, frames: FrameSpec[], chop?: number): WsCase {
  return {
    id,
    description,
    expectation: `Receive echo'ed ${binary ? 'binary' : 'text'} message (with payload as sent). Clean close with normal code.`,
    timeout: 120_000,
    limits: true,
    async run(t) {
      t.expect({ OK: [binary ? ev.binary(payload) : ev.text(payload)] }, NORMAL_CLOSE);
      timed(t, description.replace(/\.$/, ''));
      t.killAfter(100_000);
      await t.sendAll(frames, chop ? { chop } : {});
    },
  };
}

function fragments(binary: boolean, payload: Buffer, fragmentSize: number): FrameSpec[] {
  const frames: FrameSpec[] = [];
  for (let i = 0; i < payload.length || i === 0; i += fragmentSize) {
    frames.push({ opcode: i === 0 ? (binary ? 2 : 1) : 0, fin: i + fragmentSize >= payload.length, payload: payload.subarray(i, i + fragmentSize) });
  }
  return frames;
}

/** Section 9. */
export function limitCases(): WsCase[] {
  const cases: WsCase[] = [];
  for (const [sub, binary] of [[1, false], [2, true]] as const) {
    [64 * K, 256 * K, M, 4 * M, 8 * M, 16 * M].forEach((n, i) => {
      const payload = message(binary, n);
      cases.push(echoCase(`9.${sub}.${i + 1}`, `Send ${binary ? 'binary' : 'text'} message with payload of length ${size(n)}.`, binary, payload, [{ opcode: binary ? 2 : 1, payload }]));
    });
  }
  for (const [sub, binary] of [[3, false], [4, true]] as const) {
    const payload = message(binary, 4 * M);
    [64, 256, K, 4 * K, 16 * K, 64 * K, 256 * K, M, 4 * M].forEach((f, i) => {
      cases.push(echoCase(`9.${sub}.${i + 1}`, `Send fragmented ${binary ? 'binary' : 'text'} message with message payload of length 4 * 2**20 (4M). Sent out in fragments of ${size(f)}.`, binary, payload, fragments(binary, payload, f)));
    });
  }
  for (const [sub, binary] of [[5, false], [6, true]] as const) {
    const payload = message(binary, M);
    [64, 128, 256, 512, 1024, 2048].forEach((chop, i) => {
      cases.push(echoCase(`9.${sub}.${i + 1}`, `Send ${binary ? 'binary' : 'text'} message with payload of length 1 * 2**20 (1M). Sent out data in chops of ${chop} octets.`, binary, payload, [{ opcode: binary ? 2 : 1, payload }], chop));
    });
  }
  for (const [sub, binary] of [[7, false], [8, true]] as const) {
    [0, 16, 64, 256, 1024, 4096].forEach((n, i) => {
      cases.push({
        id: `9.${sub}.${i + 1}`,
        description: `Send 1000 ${binary ? 'binary' : 'text'} messages of payload size ${n} to measure implementation/network RTT (round trip time) / latency.`,
        expectation: 'Receive echo\'ed messages (with payload as sent). Timeout case after 60 secs.',
        timeout: 90_000,
        limits: true,
        async run(t) {
          const payload = message(binary, n);
          const one: Observed = binary ? ev.binary(payload) : ev.text(payload);
          t.expect({ OK: Array.from({ length: 1000 }, () => one) }, NORMAL_CLOSE);
          timed(t, `1000 round trips of ${n} bytes`);
          t.killAfter(60_000);
          for (let k = 0; k < 1000; k++) {
            await t.send({ opcode: binary ? 2 : 1, payload });
            if (!(await t.waitReceived(k + 1, 10_000))) break;
          }
        },
      });
    });
  }
  return cases;
}

/** Section 10. */
export function autoFragmentationCases(): WsCase[] {
  const payload = message(false, 65536);
  return [
    {
      id: '10.1.1',
      description: 'Send text message with payload of length 65536 auto-fragmented with autoFragmentSize = 1300.',
      expectation: "Receive echo'ed text message (with payload as sent and transmitted frame counts as expected). Clean close with normal code.",
      async run(t) {
        t.expect({ OK: [ev.text(payload)] }, NORMAL_CLOSE);
        await t.sendAll(fragments(false, payload, 1300));
        t.killAfter(KILL_AFTER * 2);
      },
    },
  ];
}
