/**
 * The judge as a table: expected events, received events and the facts of the connection's end
 * in, a verdict out. Each row is one rule of judge.ts (Autobahn's `onConnectionLost`, plus the
 * limits rule for section 9).
 */
import { describe, expect, it } from 'vitest';
import { canStillMatch, ev, judge, judgeClose, judgeEvents, matchesAll, sameEvents, type CloseFacts, type JudgeInput } from '../src/conformance/judge.js';
import { FAIL_PROTOCOL, NORMAL_CLOSE } from '../src/conformance/cases/common.js';
import type { Verdict } from '../src/conformance/types.js';

/** The suite closed with 1000, the target echoed it, the server closed TCP. */
const CLEAN_BY_SUITE: CloseFacts = { targetRole: 'server', closedByMe: true, sentClose: true, remoteCloseCode: 1000, droppedByMe: false, handshakeDone: true };

/** The target sent a close frame with `code` first; the suite echoed it; the target closed TCP. */
function byTarget(code: number, more: Partial<CloseFacts> = {}): CloseFacts {
  return { targetRole: 'server', closedByMe: false, sentClose: true, remoteCloseCode: code, droppedByMe: false, handshakeDone: true, bytesBeforeRemoteClose: 65_536, ...more };
}

/** The target dropped TCP without a close frame. */
const DROPPED_BY_TARGET: CloseFacts = { targetRole: 'server', closedByMe: false, sentClose: false, remoteCloseCode: null, droppedByMe: false, handshakeDone: false };

const BIG = ev.binary(Buffer.alloc(4096, 0xfe));
const ECHO = { expected: { OK: [BIG] }, expectedClose: NORMAL_CLOSE };

interface Row {
  name: string;
  input: JudgeInput;
  verdict: Verdict;
  reason: RegExp;
}

const ROWS: Row[] = [
  {
    name: 'events match OK, clean close by the suite',
    input: { ...ECHO, received: [BIG], close: CLEAN_BY_SUITE, violations: [] },
    verdict: 'OK',
    reason: /^Actual events match the expected ones\. Target closed with 1000\.$/,
  },
  {
    name: 'events match only the NON-STRICT list',
    input: { expected: { OK: [ev.text('a'), ev.text('b')], 'NON-STRICT': [ev.text('a')] }, expectedClose: NORMAL_CLOSE, received: [ev.text('a')], close: CLEAN_BY_SUITE, violations: [] },
    verdict: 'NON-STRICT',
    reason: /match the NON-STRICT expectation/,
  },
  {
    name: 'events match only the INFORMATIONAL list',
    input: { expected: { OK: [], INFORMATIONAL: [ev.pong('x')] }, expectedClose: NORMAL_CLOSE, received: [ev.pong('x')], close: CLEAN_BY_SUITE, violations: [] },
    verdict: 'INFORMATIONAL',
    reason: /match the INFORMATIONAL expectation/,
  },
  {
    name: 'the case set its own verdict; close problems go into the reason',
    input: { expected: { OK: [] }, expectedClose: NORMAL_CLOSE, received: [], close: DROPPED_BY_TARGET, violations: [], override: { verdict: 'INFORMATIONAL', reason: 'Timing only.' } },
    verdict: 'INFORMATIONAL',
    reason: /^Timing only\. \(The connection was failed by the wrong endpoint/,
  },
  {
    name: 'events differ: FAILED with both lists',
    input: { ...ECHO, received: [ev.binary('x')], close: CLEAN_BY_SUITE, violations: [] },
    verdict: 'FAILED',
    reason: /differ from any expected\. Expected \[message binary\(4096\).*got \[message binary\(1\)/,
  },
  {
    name: 'text where binary was expected is a different event',
    input: { ...ECHO, received: [ev.text(Buffer.alloc(4096, 0xfe))], close: CLEAN_BY_SUITE, violations: [] },
    verdict: 'FAILED',
    reason: /differ from any expected/,
  },
  {
    name: 'an RFC 6455 violation fails whatever the events',
    input: { ...ECHO, received: [BIG], close: CLEAN_BY_SUITE, violations: ['sent a masked frame (§5.1: a server MUST NOT mask)'] },
    verdict: 'FAILED',
    reason: /^The target broke RFC 6455: sent a masked frame/,
  },
  {
    name: 'the target must fail the connection and does, with 1002',
    input: { expected: { OK: [] }, expectedClose: FAIL_PROTOCOL, received: [], close: byTarget(1002), violations: [] },
    verdict: 'OK',
    reason: /Target closed with 1002\.$/,
  },
  {
    name: 'the target must fail the connection and drops TCP instead (allowed)',
    input: { expected: { OK: [] }, expectedClose: FAIL_PROTOCOL, received: [], close: DROPPED_BY_TARGET, violations: [] },
    verdict: 'OK',
    reason: /Target dropped TCP without a close frame\.$/,
  },
  {
    name: 'the target must fail the connection but closes with 1000: WRONG CODE',
    input: { expected: { OK: [] }, expectedClose: FAIL_PROTOCOL, received: [], close: byTarget(1000), violations: [] },
    verdict: 'FAILED',
    reason: /^WRONG CODE: the target closed with 1000; expected 1002/,
  },
  {
    name: 'the target must fail the connection but the suite had to: wrong endpoint',
    input: { expected: { OK: [] }, expectedClose: FAIL_PROTOCOL, received: [], close: { ...CLEAN_BY_SUITE, droppedByMe: true, sentClose: false, remoteCloseCode: null, handshakeDone: false }, violations: [] },
    verdict: 'FAILED',
    reason: /the target should have failed it, but the suite had to close it/,
  },
  {
    name: 'a clean close is required but no close frame came back: UNCLEAN',
    input: { ...ECHO, received: [BIG], close: { ...CLEAN_BY_SUITE, remoteCloseCode: null, droppedByMe: true, handshakeDone: false }, violations: [] },
    verdict: 'FAILED',
    reason: /^UNCLEAN/,
  },
  {
    name: 'a server that leaves TCP open after the closing handshake',
    input: { ...ECHO, received: [BIG], close: { ...CLEAN_BY_SUITE, droppedByMe: true }, violations: [] },
    verdict: 'FAILED',
    reason: /did not close the TCP connection/,
  },
  {
    name: 'a client that leaves TCP open is not at fault (the server closes first)',
    input: { ...ECHO, received: [BIG], close: { ...CLEAN_BY_SUITE, targetRole: 'client', droppedByMe: true }, violations: [] },
    verdict: 'OK',
    reason: /match the expected ones/,
  },
  // The limits rule (section 9): refusing cleanly with 1008/1009 is INFORMATIONAL.
  {
    name: 'limits: clean refusal with 1009 before any echo',
    input: { ...ECHO, limits: true, received: [], close: byTarget(1009), violations: [] },
    verdict: 'INFORMATIONAL',
    reason: /^closed with 1009 \(Message Too Big\) after 65536 bytes/,
  },
  {
    name: 'limits: clean refusal with 1008 (a cap on fragments)',
    input: { ...ECHO, limits: true, received: [], close: byTarget(1008), violations: [] },
    verdict: 'INFORMATIONAL',
    reason: /^closed with 1008 \(Policy Violation\) after 65536 bytes/,
  },
  {
    name: 'limits: refusal after some correct echoes (a volume limit)',
    input: { expected: { OK: [BIG, BIG, BIG] }, expectedClose: NORMAL_CLOSE, limits: true, received: [BIG], close: byTarget(1008), violations: [] },
    verdict: 'INFORMATIONAL',
    reason: /^closed with 1008/,
  },
  {
    name: 'limits: the same 1009 outside a limits case stays FAILED',
    input: { ...ECHO, received: [], close: byTarget(1009), violations: [] },
    verdict: 'FAILED',
    reason: /wrong endpoint: the target closed it \(close 1009\)/,
  },
  {
    name: 'limits: refusal with a wrong code (1002) is FAILED',
    input: { ...ECHO, limits: true, received: [], close: byTarget(1002), violations: [] },
    verdict: 'FAILED',
    reason: /close 1002/,
  },
  {
    name: 'limits: refusal with 1011 (internal error, a crash) is FAILED',
    input: { ...ECHO, limits: true, received: [], close: byTarget(1011), violations: [] },
    verdict: 'FAILED',
    reason: /close 1011/,
  },
  {
    name: 'limits: a TCP drop without a close frame is FAILED',
    input: { ...ECHO, limits: true, received: [], close: DROPPED_BY_TARGET, violations: [] },
    verdict: 'FAILED',
    reason: /TCP drop/,
  },
  {
    name: 'limits: 1009 and then the closing handshake never completes is FAILED',
    input: { ...ECHO, limits: true, received: [], close: byTarget(1009, { sentClose: false, handshakeDone: false, droppedByMe: true }), violations: [] },
    verdict: 'FAILED',
    reason: /close 1009/,
  },
  {
    name: 'limits: 1009 from a server that then leaves TCP open is FAILED',
    input: { ...ECHO, limits: true, received: [], close: byTarget(1009, { droppedByMe: true }), violations: [] },
    verdict: 'FAILED',
    reason: /close 1009/,
  },
  {
    name: 'limits: 1009 after a garbled echo is FAILED (the echo was wrong)',
    input: { ...ECHO, limits: true, received: [ev.binary('garbled')], close: byTarget(1009), violations: [] },
    verdict: 'FAILED',
    reason: /differ from any expected/,
  },
  {
    name: 'limits: 1009 with a protocol violation is FAILED',
    input: { ...ECHO, limits: true, received: [], close: byTarget(1009), violations: ['sent a close reason that is not valid UTF-8 (§5.5.1)'] },
    verdict: 'FAILED',
    reason: /^The target broke RFC 6455/,
  },
  {
    name: 'limits: no byte count known, the reason says so without a number',
    input: { ...ECHO, limits: true, received: [], close: byTarget(1009, { bytesBeforeRemoteClose: null }), violations: [] },
    verdict: 'INFORMATIONAL',
    reason: /^closed with 1009 \(Message Too Big\): /,
  },
  {
    name: 'limits: a target that echoes everything is still OK',
    input: { ...ECHO, limits: true, received: [BIG], close: CLEAN_BY_SUITE, violations: [] },
    verdict: 'OK',
    reason: /match the expected ones/,
  },
];

describe('judge', () => {
  it.each(ROWS)('$name → $verdict', ({ input, verdict, reason }) => {
    const judged = judge(input);
    expect(judged.verdict).toBe(verdict);
    expect(judged.reason).toMatch(reason);
  });

  it('a case with no expectation is a suite bug, FAILED', () => {
    expect(judgeEvents([], null)).toEqual({ verdict: 'FAILED', reason: 'The case stated no expectation (suite bug).' });
  });

  it('judgeClose is null for a right close', () => {
    expect(judgeClose(NORMAL_CLOSE, CLEAN_BY_SUITE)).toBeNull();
    expect(judgeClose(FAIL_PROTOCOL, byTarget(1005))).toBeNull(); // a close frame without a code is always accepted
  });
});

describe('event matching', () => {
  it('sameEvents compares type, kind and bytes, in order', () => {
    expect(sameEvents([ev.text('a'), ev.ping('p')], [ev.text('a'), ev.ping('p')])).toBe(true);
    expect(sameEvents([ev.ping('p'), ev.text('a')], [ev.text('a'), ev.ping('p')])).toBe(false);
    expect(sameEvents([ev.text('a')], [ev.binary('a')])).toBe(false);
    expect(sameEvents([ev.ping('a')], [ev.pong('a')])).toBe(false);
    expect(sameEvents([ev.timeout('x')], [ev.timeout('y')])).toBe(false);
    expect(sameEvents([], [])).toBe(true);
  });

  it('canStillMatch: the events so far start some expected list (giveUpWhenDiverged)', () => {
    const expected = { OK: [ev.text('a'), ev.text('b')], 'NON-STRICT': [ev.text('c')] };
    expect(canStillMatch([], expected)).toBe(true);
    expect(canStillMatch([ev.text('a')], expected)).toBe(true);
    expect(canStillMatch([ev.text('c')], expected)).toBe(true);
    expect(canStillMatch([ev.text('b')], expected)).toBe(false);
    expect(canStillMatch([ev.text('a'), ev.text('b'), ev.text('b')], expected)).toBe(false);
  });

  it('matchesAll: the events equal every list (finishWhenDone)', () => {
    expect(matchesAll([ev.text('a')], { OK: [ev.text('a')] })).toBe(true);
    expect(matchesAll([ev.text('a')], { OK: [ev.text('a')], 'NON-STRICT': [] })).toBe(false);
    expect(matchesAll([], {})).toBe(false);
  });
});
