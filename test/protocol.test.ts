/**
 * The sans-I/O connection: the close handshake both ways (RFC 6455 §7), automatic pongs (§5.5.2),
 * nothing sent after a close frame (§5.5.1), failing the connection (§7.1.7) — driven with bytes
 * in and bytes out, no sockets.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, FixedMaskSource, Opcode, RandomMaskSource, type ProtocolError } from '../src/frame/index.js';
import { Protocol, ReadyState, type ProtocolHandler } from '../src/protocol/protocol.js';
import { parseChunks, type FrameEvent } from './frame.helpers.js';

class Recorder implements ProtocolHandler {
  messages: Array<[string | Buffer, boolean]> = [];
  pings: Buffer[] = [];
  pongs: Buffer[] = [];
  errors: ProtocolError[] = [];
  outputs = 0;
  onMessage(data: Buffer, isBinary: boolean): void {
    this.messages.push([isBinary ? data : data.toString('utf8'), isBinary]);
  }
  onPing(payload: Buffer): void {
    this.pings.push(Buffer.from(payload));
  }
  onPong(payload: Buffer): void {
    this.pongs.push(Buffer.from(payload));
  }
  onProtocolError(error: ProtocolError): void {
    this.errors.push(error);
  }
  onOutput(): void {
    this.outputs++;
  }
}

const clientMask = new RandomMaskSource();

/** Bytes a peer of `role`'s counterpart would send. */
function peerFrame(role: 'server' | 'client', opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  // A server's peer is a client: its frames are masked.
  return Buffer.concat(encodeFrame({ fin, opcode }, bytes, role === 'server' ? clientMask : null));
}

function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code);
  payload.write(reason, 2);
  return payload;
}

/** Decodes what `protocol` wants to send, as its peer would. */
function output(protocol: Protocol, role: 'server' | 'client'): FrameEvent[] {
  const bytes = Buffer.concat(protocol.takeOutput());
  return parseChunks({ role: role === 'server' ? 'client' : 'server' }, [bytes]);
}

function make(role: 'server' | 'client'): { protocol: Protocol; handler: Recorder } {
  const handler = new Recorder();
  const protocol = new Protocol(handler, { role, maskSource: new FixedMaskSource(Buffer.from([1, 2, 3, 4])) });
  return { protocol, handler };
}

describe.each(['server', 'client'] as const)('Protocol as %s', (role) => {
  it('delivers text and binary messages', () => {
    const { protocol, handler } = make(role);
    protocol.receiveData(Buffer.concat([peerFrame(role, Opcode.TEXT, 'héllo'), peerFrame(role, Opcode.BINARY, Buffer.from([1, 2, 3]))]));
    expect(handler.messages).toEqual([
      ['héllo', false],
      [Buffer.from([1, 2, 3]), true],
    ]);
  });

  it('§5.5.2 answers a ping with a pong carrying the same payload', () => {
    const { protocol, handler } = make(role);
    protocol.receiveData(peerFrame(role, Opcode.PING, 'are you there'));
    expect(handler.pings).toEqual([Buffer.from('are you there')]);
    expect(output(protocol, role)).toEqual([{ type: 'pong', data: Buffer.from('are you there') }]);
  });

  it('§7.1.2 we close first: close frame out, CLOSING, then the peer echo completes it', () => {
    const { protocol } = make(role);
    protocol.close(1000, 'bye');
    expect(protocol.state).toBe(ReadyState.CLOSING);
    expect(protocol.closeExpected).toBe(true);
    expect(output(protocol, role)).toEqual([{ type: 'close', code: 1000, reason: 'bye' }]);
    protocol.receiveData(peerFrame(role, Opcode.CLOSE, closePayload(1000, 'bye')));
    expect(protocol.closeCode).toBe(1000);
    expect(protocol.takeOutput()).toEqual([]); // no second close frame
    // §7.1.1: the server closes TCP first; the client waits for it.
    expect(protocol.outputEnded).toBe(role === 'server');
    protocol.receiveEof();
    expect(protocol.state).toBe(ReadyState.CLOSED);
  });

  it('§5.5.1 the peer closes first: we echo its code', () => {
    const { protocol } = make(role);
    protocol.receiveData(peerFrame(role, Opcode.CLOSE, closePayload(4001, 'done')));
    expect(protocol.closeReceived).toBe(true);
    expect(protocol.closeCode).toBe(4001);
    expect(protocol.closeReason).toBe('done');
    expect(output(protocol, role)).toEqual([{ type: 'close', code: 4001, reason: '' }]);
    expect(protocol.outputEnded).toBe(role === 'server');
  });

  it('§5.5.1 an empty close is echoed empty and reported as 1005', () => {
    const { protocol } = make(role);
    protocol.receiveData(peerFrame(role, Opcode.CLOSE));
    expect(protocol.closeCode).toBe(1005);
    expect(output(protocol, role)).toEqual([{ type: 'close', code: 1005, reason: '' }]);
  });

  it('§5.5.1 nothing is sent after a close frame', () => {
    const { protocol } = make(role);
    protocol.close(1001);
    protocol.takeOutput();
    expect(protocol.sendText('late')).toBe(false);
    expect(protocol.sendBinary(Buffer.from('late'))).toBe(false);
    expect(protocol.sendPing()).toBe(false);
    protocol.receiveData(peerFrame(role, Opcode.PING, 'x'));
    expect(protocol.takeOutput()).toEqual([]);
  });

  it('messages after the peer closed are not delivered', () => {
    const { protocol, handler } = make(role);
    protocol.receiveData(Buffer.concat([peerFrame(role, Opcode.CLOSE, closePayload(1000)), peerFrame(role, Opcode.TEXT, 'after')]));
    expect(handler.messages).toEqual([]);
  });

  it('§7.1.7 fails the connection with the protocol error close code', () => {
    const { protocol, handler } = make(role);
    // RSV2 set, no extension: 1002.
    const bad = peerFrame(role, Opcode.TEXT, 'x');
    bad[0] |= 0x20;
    protocol.receiveData(Buffer.concat([bad, peerFrame(role, Opcode.TEXT, 'ignored')]));
    expect(handler.errors.map((e) => e.closeCode)).toEqual([1002]);
    expect(handler.messages).toEqual([]);
    expect(output(protocol, role)).toEqual([{ type: 'close', code: 1002, reason: expect.stringContaining('RSV') }]);
    expect(protocol.closeCode).toBe(1002);
    // A server drops TCP at once; a client waits for the server to do it.
    expect(protocol.outputEnded).toBe(role === 'server');
  });

  it('§8.1 invalid UTF-8 fails with 1007', () => {
    const { protocol, handler } = make(role);
    protocol.receiveData(peerFrame(role, Opcode.TEXT, Buffer.from([0xce, 0xba, 0xff])));
    expect(handler.errors.map((e) => e.closeCode)).toEqual([1007]);
    expect(output(protocol, role)[0]).toMatchObject({ type: 'close', code: 1007 });
  });

  it('§7.1.5 TCP ending without a close frame is 1006', () => {
    const { protocol } = make(role);
    protocol.receiveEof();
    expect(protocol.state).toBe(ReadyState.CLOSED);
    expect(protocol.closeCode).toBe(1006);
  });

  it('§5.4 fragmented sends: first frame carries the type, then continuations, FIN on the last', () => {
    const { protocol } = make(role);
    protocol.sendFragment('Hel', false);
    protocol.sendPing(Buffer.from('mid'));
    protocol.sendFragment('lo', true);
    const bytes = Buffer.concat(protocol.takeOutput());
    const opcodes: number[] = [];
    for (let p = 0; p < bytes.length; ) {
      opcodes.push(bytes[p]!);
      const length = bytes[p + 1]! & 0x7f;
      p += 2 + (bytes[p + 1]! & 0x80 ? 4 : 0) + length;
    }
    expect(opcodes).toEqual([0x01, 0x89, 0x80]);
    expect(output2(bytes, role)).toEqual([{ type: 'ping', data: Buffer.from('mid') }, { type: 'text', text: 'Hello' }]);
  });

  it('§7.4 close() refuses codes that must not be sent and over-long reasons', () => {
    const { protocol } = make(role);
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) expect(() => protocol.close(code)).toThrow(RangeError);
    expect(() => protocol.close(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(protocol.state).toBe(ReadyState.OPEN);
  });

  it('§5.5 refuses ping payloads over 125 bytes', () => {
    const { protocol } = make(role);
    expect(() => protocol.sendPing(Buffer.alloc(126))).toThrow(RangeError);
  });
});

describe('masking by side', () => {
  it('§5.3 a client masks every frame and a server masks none', () => {
    const client = make('client').protocol;
    client.sendText('abc');
    const clientBytes = Buffer.concat(client.takeOutput());
    expect(clientBytes[1]! & 0x80).toBe(0x80);
    const server = make('server').protocol;
    server.sendText('abc');
    const serverBytes = Buffer.concat(server.takeOutput());
    expect(serverBytes).toEqual(Buffer.from([0x81, 0x03, 0x61, 0x62, 0x63]));
  });
});

function output2(bytes: Buffer, role: 'server' | 'client'): FrameEvent[] {
  return parseChunks({ role: role === 'server' ? 'client' : 'server' }, [bytes]);
}
