/**
 * Sequencing (src/backplane/sequencer.ts) and the shared node core (src/backplane/node.ts): for
 * any pattern of loss, duplication and late copies, the receiver delivers each message at most
 * once and its gap count equals the number of messages it never got (when the last one arrives).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { NodeCore } from '../src/backplane/node.js';
import { DUPLICATE, ECHO, SeqAllocator, SeqTracker } from '../src/backplane/sequencer.js';
import { MAX_SEQ } from '../src/backplane/wire.js';
import type { BackplaneEvent } from '../src/server/backplane.js';

const A = Buffer.alloc(8, 0xa);
const B = Buffer.alloc(8, 0xb);
const SELF = Buffer.alloc(8, 0x5);

describe('SeqTracker', () => {
  test('loss, duplicates and stale copies: delivered once each, reported loss = actual loss', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('drop', 'dup', 'stale', 'keep')), { maxLength: 200 }),
        fc.integer({ min: 1, max: MAX_SEQ }),
        (n, edits, start) => {
          // The stream the sender hands out: n seqs from `start`, wrapping to 1 after MAX_SEQ.
          const sent: number[] = [];
          for (let i = 0, s = start; i < n; i++, s = s >= MAX_SEQ ? 1 : s + 1) sent.push(s);
          const arrive = sent.map((s) => [s]);
          // Drops first, then copies: a duplicate or late copy is only ever of a message that did
          // arrive (a "late copy" of a dropped message would be its first arrival, out of order).
          for (const [at, edit] of edits) {
            const i = at % n;
            if (i === n - 1) continue; // the last one arrives, so every gap is seen
            if (edit === 'drop') arrive[i] = [];
          }
          for (const [at, edit] of edits) {
            const i = at % n;
            if (edit === 'dup' && arrive[i]![0] === sent[i]) arrive[i]!.push(sent[i]!);
            if (edit === 'stale' && i > 0 && arrive[i - 1]![0] === sent[i - 1]) arrive[i]!.push(sent[i - 1]!); // an old copy arrives late
          }
          const tracker = new SeqTracker(SELF);
          const delivered: number[] = [];
          let gaps = 0;
          let first = true;
          for (const seqs of arrive) {
            for (const s of seqs) {
              const v = tracker.accept('c', A, s);
              if (v === DUPLICATE) continue;
              expect(v).not.toBe(ECHO);
              if (!first) gaps += v;
              first = false;
              delivered.push(s);
            }
          }
          const arrived = (i: number): boolean => arrive[i]![0] === sent[i];
          const firstArrived = sent.findIndex((_, i) => arrived(i));
          const expected = sent.filter((_, i) => arrived(i));
          expect(delivered).toEqual(expected);
          expect(gaps).toBe(n - firstArrived - expected.length);
        },
      ),
    );
  });

  test('echo, per-origin and per-channel state, forgetting idle state', () => {
    const tracker = new SeqTracker(SELF);
    expect(tracker.accept('c', SELF, 1)).toBe(ECHO);
    expect(tracker.accept('c', A, 5)).toBe(0); // baseline
    expect(tracker.accept('c', B, 9)).toBe(0);
    expect(tracker.accept('d', A, 1)).toBe(0);
    expect(tracker.accept('c', A, 8)).toBe(2);
    expect(tracker.accept('c', A, 8)).toBe(DUPLICATE);
    expect(tracker.accept('c', A, 1)).toBe(DUPLICATE);
    expect(tracker.entries).toBe(3);
    tracker.forgetChannel('c');
    expect(tracker.entries).toBe(1);
    tracker.prune();
    expect(tracker.accept('d', A, 2)).toBe(0); // used after one prune: kept
    tracker.prune();
    tracker.prune();
    expect(tracker.originCount).toBe(0);
    expect(tracker.accept('d', A, 1)).toBe(0); // a sender that forgot the channel starts afresh
  });
});

describe('SeqAllocator', () => {
  test('per channel, forgets idle channels after two prunes', () => {
    const seqs = new SeqAllocator();
    expect([seqs.next('a'), seqs.next('a'), seqs.next('b')]).toEqual([1, 2, 1]);
    seqs.prune();
    expect(seqs.next('a')).toBe(3); // used in the last period: kept
    seqs.prune();
    seqs.prune();
    expect(seqs.size).toBe(0);
    expect(seqs.next('a')).toBe(1);
  });
});

describe('NodeCore', () => {
  function recording(): { core: NodeCore; events: BackplaneEvent[]; got: Array<[string | null, string, boolean]> } {
    const core = new NodeCore({ eventInterval: 60_000 });
    const events: BackplaneEvent[] = [];
    const got: Array<[string | null, string, boolean]> = [];
    core.start({ deliver: (t, p, b) => got.push([t, p.toString(), b]), event: (e) => events.push(e) });
    return { core, events, got };
  }

  test('a message from another node is delivered; its echo is not; gaps are reported', () => {
    const a = recording();
    const b = recording();
    const m1 = a.core.encode('t:x', Buffer.from('one'), false, false);
    a.core.encode('t:x', Buffer.from('lost'), false, false);
    const m3 = a.core.encode('t:x', Buffer.from('three'), true, false);
    a.core.inbound('t:x', 'x', m1);
    for (const m of [m1, m1, m3]) b.core.inbound('t:x', 'x', m);
    expect(b.got).toEqual([['x', 'one', false], ['x', 'three', true]]);
    expect(b.core.stats()).toMatchObject({ received: 2, duplicates: 1, gaps: 1 });
    expect(b.events).toEqual([{ type: 'gap', origin: a.core.id.toString('hex'), topic: 'x', missed: 1 }]);
    expect(a.core.stats()).toMatchObject({ published: 3, echoes: 1, received: 0 });
    a.core.close();
    b.core.close();
  });

  test('malformed input and a broadcast flag on a topic channel are counted, reported coalesced, never delivered', () => {
    const b = recording();
    b.core.inbound('t:x', 'x', Buffer.from('nonsense'));
    b.core.inbound('t:x', 'x', Buffer.alloc(0));
    const bc = new NodeCore().encode('b', Buffer.from('hi'), false, true);
    b.core.inbound('t:x', 'x', bc);
    expect(b.got).toEqual([]);
    expect(b.core.stats().malformed).toBe(3);
    b.core.close(); // flushes what the rate limit held back
    expect(b.events.map((e) => e.type)).toEqual(['malformed', 'malformed']);
    expect(b.events[1]).toMatchObject({ reason: expect.stringMatching(/^2 messages, last: broadcast flag/) });
  });

  test('drops are counted exactly and reported coalesced; up/down only on change', () => {
    const a = recording();
    for (let i = 0; i < 1000; i++) a.core.drop('down');
    a.core.setUp(true);
    a.core.setUp(true);
    a.core.setUp(false);
    expect(a.core.stats()).toMatchObject({ dropped: 1000, downs: 1, up: false });
    expect(a.events).toEqual([
      { type: 'dropped', reason: 'down', count: 1 },
      { type: 'dropped', reason: 'down', count: 999 },
      { type: 'up' },
      { type: 'down' },
    ]);
    a.core.close();
  });
});
