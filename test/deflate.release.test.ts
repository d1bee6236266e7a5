/**
 * Idle release (`releaseIdleAfter`): a connection's takeover contexts are freed by the sweep and
 * rebuilt from the kept window as `dictionary`. Proof of equivalence: a released pair produces the
 * same compressed bytes as a never-released pair for the same message sequence, and each side
 * inflates the other's output exactly, across windows 9–15 and messages larger than the window.
 */
import { afterEach, expect, it } from 'vitest';
import { Opcode } from '../src/frame/opcode.js';
import { PerMessageDeflate, sweepIdleDeflate } from '../src/extensions/permessage-deflate.js';
import { liveZlibHandles } from '../src/extensions/zlib-sync.js';

const HOUR = 3_600_000;

function pair(bits: number, releaseAfterMs: number): [PerMessageDeflate, PerMessageDeflate] {
  const params = { localMaxWindowBits: bits, remoteMaxWindowBits: bits, localNoContextTakeover: false, remoteNoContextTakeover: false };
  const tuning = { level: 6, memLevel: 5, threshold: 0, releaseAfterMs };
  return [new PerMessageDeflate(params, tuning), new PerMessageDeflate(params, tuning)];
}

function messages(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const items = Array.from({ length: (i * 37) % 90 }, (_, j) => ({ id: j, name: `user-${(i * j) % 17}`, tag: 'abcdefghij'.slice(0, j % 10) }));
    out.push(Buffer.from(JSON.stringify({ seq: i, kind: i % 3 === 0 ? 'update' : 'event', items })));
  }
  return out;
}

const made: PerMessageDeflate[] = [];
afterEach(() => {
  for (const e of made.splice(0)) e.dispose();
});

it.each([9, 10, 12, 15])('released and rebuilt contexts produce identical bytes and inflate exactly (window %i)', (bits) => {
  const baseline = liveZlibHandles();
  const [a, b] = pair(bits, HOUR);
  const [ra, rb] = pair(bits, 0);
  made.push(a, b, ra, rb);
  let released = 0;
  for (const [i, msg] of messages(60).entries()) {
    // Alternate directions so both deflaters and both inflaters get released and rebuilt.
    const [from, to, refFrom, refTo] = i % 2 === 0 ? [a, b, ra, rb] : [b, a, rb, ra];
    const frame = from.encode(msg, Opcode.TEXT, true);
    const ref = refFrom.encode(msg, Opcode.TEXT, true);
    expect(Buffer.from(frame.payload)).toEqual(Buffer.from(ref.payload));
    expect(to.decode(Buffer.from(frame.payload), true, 1 << 30)).toEqual(msg);
    expect(refTo.decode(Buffer.from(ref.payload), true, 1 << 30)).toEqual(msg);
    if (i % 3 === 2) {
      sweepIdleDeflate(); // marks a and b untouched
      released += sweepIdleDeflate(); // frees them
    }
  }
  expect(released).toBeGreaterThan(10);
  // Only the reference pair's four contexts remain after a final release.
  sweepIdleDeflate();
  sweepIdleDeflate();
  expect(liveZlibHandles() - baseline).toBe(4);
});

it('a connection used between sweeps keeps its contexts; a fragmented message in progress is never released', () => {
  const [a, b] = pair(12, HOUR);
  made.push(a, b);
  const msg = messages(3)[2]!;
  b.decode(Buffer.from(a.encode(msg, Opcode.TEXT, true).payload), true, 1 << 30);
  const before = liveZlibHandles();
  sweepIdleDeflate();
  expect(liveZlibHandles()).toBe(before); // touched since the previous sweep
  const first = a.encode(msg.subarray(0, 100), Opcode.TEXT, false);
  sweepIdleDeflate();
  sweepIdleDeflate();
  const rest = a.encode(msg.subarray(100), Opcode.CONTINUATION, true);
  const out = Buffer.concat([b.decode(Buffer.from(first.payload), false, 1 << 30), b.decode(Buffer.from(rest.payload), true, 1 << 30)]);
  expect(out).toEqual(msg);
  sweepIdleDeflate();
  sweepIdleDeflate();
  expect(liveZlibHandles()).toBe(before - 2); // a's deflater and b's inflater
});
