/**
 * The §5.4 guard in the sans-I/O core: while a fragmented message is open, no other data message
 * may be queued ("the fragments of one message MUST NOT be interleaved between the fragments of
 * another message"), control frames may. Before the guard, a complete data frame could land
 * inside an unfinished fragmented message and the peer failed with
 * FD_ERR_EXPECTED_CONTINUATION (1002). Cf. python-websockets' send-misuse tests.
 *
 * The peer is a second `Protocol` (its `FrameParser` does the checking), fed the first one's output.
 */
import { describe, expect, it } from 'vitest';
import type { ProtocolError } from '../src/frame/index.js';
import { FrameParser, type FrameSink } from '../src/frame/parser.js';
import { Protocol, SendStateError, type ProtocolHandler } from '../src/protocol/protocol.js';

class Recorder implements ProtocolHandler {
  messages: Array<[string, boolean]> = [];
  pings: string[] = [];
  pongs: string[] = [];
  errors: ProtocolError[] = [];
  onMessage(data: Buffer, isBinary: boolean): void {
    this.messages.push([isBinary ? data.toString('hex') : data.toString('utf8'), isBinary]);
  }
  onPing(payload: Buffer): void {
    this.pings.push(payload.toString());
  }
  onPong(payload: Buffer): void {
    this.pongs.push(payload.toString());
  }
  onProtocolError(error: ProtocolError): void {
    this.errors.push(error);
  }
  onOutput(): void {}
}

/** A server-role core and a client-role core as its peer. */
function pair(): { us: Protocol; peer: Protocol; seen: Recorder; deliver(): void } {
  const us = new Protocol(new Recorder(), { role: 'server' });
  const seen = new Recorder();
  const peer = new Protocol(seen, { role: 'client' });
  return {
    us,
    peer,
    seen,
    deliver() {
      for (const chunk of us.takeOutput()) peer.receiveData(Buffer.from(chunk));
    },
  };
}

function expectFragmentError(send: () => unknown): void {
  let thrown: unknown;
  try {
    send();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(SendStateError);
  expect(thrown).toMatchObject({ name: 'SendStateError', code: 'FD_ERR_FRAGMENTED_MESSAGE_OPEN' });
}

describe('Protocol: data messages while a fragmented message is open (§5.4)', () => {
  it('sendText, sendBinary and sendShared throw SendStateError and queue nothing', () => {
    const { us, peer, seen, deliver } = pair();
    expect(us.sendFragment('ab', false)).toBe(true);
    expect(us.isSendingFragments).toBe(true);
    const before = us.pendingBytes;

    expectFragmentError(() => us.sendText('x'));
    expectFragmentError(() => us.sendBinary(Buffer.from([1, 2])));
    const shared = Buffer.from([0x81, 0x01, 0x79]); // a complete unmasked text frame "y"
    expectFragmentError(() => us.sendShared(shared, 0, shared.length));
    expect(us.pendingBytes).toBe(before);
    expect(us.isSendingFragments).toBe(true);

    expect(us.sendFragment('cd', true)).toBe(true);
    expect(us.isSendingFragments).toBe(false);
    deliver();
    expect(seen.errors).toEqual([]);
    expect(seen.messages).toEqual([['abcd', false]]);
    expect(peer.state).toBe(1);
  });

  it('allows ping, pong and close between fragments; the peer sees one valid message', () => {
    const { us, seen, deliver } = pair();
    us.sendFragment(Buffer.from([1]), false);
    us.sendPing(Buffer.from('p1'));
    us.sendFragment(Buffer.from([2]), false);
    us.sendPong(Buffer.from('q1'));
    us.sendFragment(Buffer.from([3]), true);
    deliver();
    expect(seen.errors).toEqual([]);
    expect(seen.pings).toEqual(['p1']);
    expect(seen.pongs).toEqual(['q1']);
    expect(seen.messages).toEqual([['010203', true]]);
  });

  it('a close between fragments ends the message without a protocol error on either side', () => {
    const { us, peer, seen, deliver } = pair();
    us.sendFragment('ab', false);
    us.close(1000, 'bye');
    expect(us.isSendingFragments).toBe(false);
    // Closing: further fragments and messages are refused quietly, not thrown.
    expect(us.sendFragment('cd', true)).toBe(false);
    expect(us.sendText('x')).toBe(false);
    deliver();
    expect(seen.errors).toEqual([]);
    expect(seen.messages).toEqual([]);
    expect(peer.closeReceived).toBe(true);
    expect(peer.closeCode).toBe(1000);
  });

  it('after fin, every kind of send works again and the peer sees the messages in order', () => {
    const { us, seen, deliver } = pair();
    us.sendFragment('he', false);
    expectFragmentError(() => us.sendText('too early'));
    us.sendFragment('llo', true);
    expect(us.sendText('x')).toBe(true);
    expect(us.sendBinary(Buffer.from([0xff]))).toBe(true);
    const shared = Buffer.from([0x81, 0x01, 0x79]);
    expect(us.sendShared(shared, 0, shared.length)).toBe(true);
    // A second fragmented message, binary this time.
    us.sendFragment(Buffer.from([0xaa]), false);
    us.sendFragment(Buffer.from([0xbb]), true);
    deliver();
    expect(seen.errors).toEqual([]);
    expect(seen.messages).toEqual([
      ['hello', false],
      ['x', false],
      ['ff', true],
      ['y', false],
      ['aabb', true],
    ]);
  });

  it('the bug it prevents: a complete frame inside a fragmented message fails the peer with 1002', () => {
    // Written by hand, as the old I/O layer put it on the wire: TEXT(fin=0) "ab", TEXT "x", CONT(fin) "cd".
    const errors: ProtocolError[] = [];
    const sink: FrameSink = {
      onMessage() {},
      onPing() {},
      onPong() {},
      onClose() {},
      onError(error) {
        errors.push(error);
      },
    };
    const parser = new FrameParser(sink, { role: 'client' });
    parser.push(Buffer.from([0x01, 0x02, 0x61, 0x62, 0x81, 0x01, 0x78, 0x80, 0x02, 0x63, 0x64]));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'FD_ERR_EXPECTED_CONTINUATION', closeCode: 1002 });
  });
});
