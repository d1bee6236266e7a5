/**
 * The judge: pure functions from what a case expected and what happened on the connection to a
 * verdict, the way Autobahn|Testsuite's `Case.onConnectionLost` does it (the observed events
 * against the expected lists, then the close), plus the one rule of our own: in a limits case a
 * clean refusal with 1008/1009 is INFORMATIONAL, not FAILED. No sockets and no clocks here, so a
 * table of inputs and verdicts can test it (test/conformance.judge.test.ts); the harness
 * ({@link CaseContext}) gathers the facts and calls in.
 */
import type { ExpectedClose, Observed, TargetRole, Verdict } from './types.js';
import { bytesOf, shortPayload } from './wire.js';

/** The verdicts a case can expect events for, in the order they are tried. */
export const EXPECTABLE_VERDICTS = ['OK', 'NON-STRICT', 'INFORMATIONAL'] as const;

/** A verdict a case can list expected events for. */
export type ExpectableVerdict = (typeof EXPECTABLE_VERDICTS)[number];

/** The event lists a case accepts, per verdict (Autobahn's `expected`). */
export type Expectations = Partial<Record<ExpectableVerdict, Observed[]>>;

/** A verdict with the sentence that explains it. */
export interface Judged {
  verdict: Verdict;
  reason: string;
}

/** Close codes that mean "I refuse this": 1008 Policy Violation and 1009 Message Too Big. */
export const REFUSAL_CODES: readonly number[] = [1008, 1009];

/** Event constructors for expectation lists. */
export const ev = {
  text: (data: string | Buffer): Observed => ({ type: 'message', data: bytesOf(data), binary: false }),
  binary: (data: Buffer | string): Observed => ({ type: 'message', data: bytesOf(data), binary: true }),
  ping: (data: Buffer | string = ''): Observed => ({ type: 'ping', data: bytesOf(data) }),
  pong: (data: Buffer | string = ''): Observed => ({ type: 'pong', data: bytesOf(data) }),
  timeout: (label: string): Observed => ({ type: 'timeout', label }),
};

/** Short form of an observed event. */
export function describeObserved(o: Observed): string {
  switch (o.type) {
    case 'message':
      return `message ${o.binary ? 'binary' : 'text'}(${o.data.length}) ${shortPayload(o.data)}`.trimEnd();
    case 'ping':
    case 'pong':
      return `${o.type}(${o.data.length}) ${shortPayload(o.data)}`.trimEnd();
    case 'timeout':
      return `timeout ${o.label}`;
  }
}

function sameEvent(x: Observed, y: Observed): boolean {
  if (x.type !== y.type) return false;
  if (x.type === 'timeout') return y.type === 'timeout' && x.label === y.label;
  if (x.type === 'message' && y.type === 'message' && x.binary !== y.binary) return false;
  return x.data.equals((y as { data: Buffer }).data);
}

/** The two event lists are equal: same events, same order, same bytes. */
export function sameEvents(a: readonly Observed[], b: readonly Observed[]): boolean {
  return a.length === b.length && a.every((x, i) => sameEvent(x, b[i]!));
}

/** `received` is the start of `list` (so later events could still complete it). */
export function isPrefixOf(received: readonly Observed[], list: readonly Observed[]): boolean {
  return received.length <= list.length && received.every((x, i) => sameEvent(x, list[i]!));
}

/**
 * True while some expected list still starts with the events so far. Once false, no later
 * event can make the case pass, so the harness stops waiting (see `giveUpWhenDiverged`).
 */
export function canStillMatch(received: readonly Observed[], expected: Expectations): boolean {
  return Object.values(expected).some((list) => isPrefixOf(received, list));
}

/**
 * Autobahn's `finishWhenDone` condition: the events equal every expected list, so the suite
 * may start the closing handshake.
 */
export function matchesAll(received: readonly Observed[], expected: Expectations): boolean {
  const lists = Object.values(expected);
  return lists.length > 0 && lists.every((list) => sameEvents(received, list));
}

/** The first verdict whose list equals the events; FAILED with both lists when none does. */
export function judgeEvents(received: readonly Observed[], expected: Expectations | null): Judged {
  if (expected === null) return { verdict: 'FAILED', reason: 'The case stated no expectation (suite bug).' };
  for (const v of EXPECTABLE_VERDICTS) {
    const list = expected[v];
    if (list && sameEvents(received, list)) {
      return { verdict: v, reason: v === 'OK' ? 'Actual events match the expected ones.' : `Actual events match the ${v} expectation.` };
    }
  }
  const ok = expected.OK ?? [];
  return {
    verdict: 'FAILED',
    reason: `Actual events differ from any expected. Expected [${ok.map(describeObserved).join(', ')}], got [${received.map(describeObserved).join(', ')}].`,
  };
}

/** What happened to the connection, as the harness saw it. */
export interface CloseFacts {
  /** What the target is. */
  targetRole: TargetRole;
  /** True when the suite started the closing (close frame or TCP drop), false when the target did, null when nobody did. */
  closedByMe: boolean | null;
  /** The suite sent a close frame. */
  sentClose: boolean;
  /** The code of the target's close frame (1005 when it had none), or null when none came. */
  remoteCloseCode: number | null;
  /** The suite had to drop the TCP connection. */
  droppedByMe: boolean;
  /** Close frames went both ways (the closing handshake is done). */
  handshakeDone: boolean;
  /** Bytes the suite had put on the wire when the target's close frame arrived, if it did. */
  bytesBeforeRemoteClose?: number | null;
}

/** Autobahn's close check; null when the close was right, else why it was not. */
export function judgeClose(want: ExpectedClose, facts: CloseFacts): string | null {
  const closedByMe = facts.closedByMe ?? true;
  if (want.closedByMe !== closedByMe) {
    return want.closedByMe
      ? `The connection was failed by the wrong endpoint: the target closed it (${facts.remoteCloseCode !== null ? `close ${facts.remoteCloseCode}` : 'TCP drop'}) where the suite should have.`
      : 'The connection was failed by the wrong endpoint: the target should have failed it, but the suite had to close it.';
  }
  if (want.requireClean && !isClean(facts)) return 'UNCLEAN: the spec requires a clean close here, but the closing handshake did not complete.';
  const code = facts.remoteCloseCode;
  if (code !== null && code !== 1005 && !want.codes.includes(code)) {
    return `WRONG CODE: the target closed with ${code}; expected ${want.codes.join(' or ')} (or no code).`;
  }
  if (serverLeftTcpOpen(facts)) {
    return 'The server did not close the TCP connection after the closing handshake (RFC 6455 §7.1.1: the server closes it first); the suite had to.';
  }
  return null;
}

/** Close frames both ways, and the TCP connection not cut by the suite before that. */
function isClean(facts: CloseFacts): boolean {
  return facts.sentClose && facts.remoteCloseCode !== null && !(facts.droppedByMe && !facts.handshakeDone);
}

function serverLeftTcpOpen(facts: CloseFacts): boolean {
  return facts.droppedByMe && facts.handshakeDone && facts.targetRole === 'server';
}

/**
 * The limits rule. A suite cannot know the sizes a target is configured to accept, so in a case
 * about size or volume (section 9) a target that refuses cleanly is INFORMATIONAL: it closed the
 * connection itself with 1009 (Message Too Big) or 1008 (Policy Violation), everything it echoed
 * before was right, it broke no rule, and the closing handshake completed (and a server closed
 * TCP). Anything else stays as judged: a wrong code, a TCP drop without a close frame, garbled
 * echoes, a protocol error. Returns null when the rule does not apply.
 */
export function judgeRefusal(input: {
  received: readonly Observed[];
  expected: Expectations | null;
  close: CloseFacts;
  violations: readonly string[];
}): Judged | null {
  const { close } = input;
  const code = close.remoteCloseCode;
  if (code === null || !REFUSAL_CODES.includes(code)) return null;
  if (close.closedByMe !== false || input.violations.length > 0) return null;
  if (!isClean(close) || serverLeftTcpOpen(close)) return null;
  if (input.expected === null || !canStillMatch(input.received, input.expected)) return null;
  const after = close.bytesBeforeRemoteClose ?? null;
  const what = code === 1009 ? 'Message Too Big' : 'Policy Violation';
  return {
    verdict: 'INFORMATIONAL',
    reason: `closed with ${code} (${what})${after !== null ? ` after ${after} bytes` : ''}: the target refused the size or volume of this case, a limit it may set.`,
  };
}

/** Everything a case's verdict depends on. */
export interface JudgeInput {
  /** The event lists the case accepts (null: the case stated none, a suite bug). */
  expected: Expectations | null;
  /** How the connection must end. */
  expectedClose: ExpectedClose;
  /** What the target did. */
  received: readonly Observed[];
  /** How the connection ended. */
  close: CloseFacts;
  /** RFC 6455 rules the target broke, each a sentence. */
  violations: readonly string[];
  /** A verdict the case set regardless of the events (informational cases). */
  override?: Judged | null;
  /** The case is about size or volume: apply {@link judgeRefusal}. */
  limits?: boolean;
}

/**
 * The verdict of a case. In order: a case's own verdict (with the close problems and violations
 * appended to its reason); FAILED on any RFC 6455 violation; the limits rule; FAILED when the
 * close was wrong; otherwise the verdict of the events.
 */
export function judge(input: JudgeInput): Judged {
  const events = judgeEvents(input.received, input.expected);
  const close = judgeClose(input.expectedClose, input.close);
  if (input.override) {
    const extra = [close, ...input.violations].filter((s) => s !== null).join(' ');
    return { verdict: input.override.verdict, reason: `${input.override.reason}${extra ? ` (${extra})` : ''}` };
  }
  if (input.violations.length > 0) {
    return { verdict: 'FAILED', reason: `The target broke RFC 6455: ${input.violations.join('; ')}` };
  }
  if (input.limits && (events.verdict === 'FAILED' || close !== null)) {
    const refusal = judgeRefusal(input);
    if (refusal) return refusal;
  }
  if (close !== null) return { verdict: 'FAILED', reason: events.verdict === 'FAILED' ? `${events.reason} ${close}` : close };
  const code = input.close.remoteCloseCode;
  const tail = code !== null ? ` Target closed with ${code}.` : input.close.closedByMe === false ? ' Target dropped TCP without a close frame.' : '';
  return { verdict: events.verdict, reason: `${events.reason}${tail}` };
}
