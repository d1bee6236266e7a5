/**
 * Bad input never crashes the server, never hangs a connection: random and mutated bytes after a
 * real handshake, through a real socket, always end with the server failing the connection with
 * a protocol close code (or closing TCP) — and the server keeps serving everyone else.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, serve, type WebSocketServer } from '../src/index.js';
import { Op, RawClient, clientFrame } from './helpers/raw.js';

let server: WebSocketServer;
let port: number;

beforeAll(async () => {
  server = await serve(
    (ws) => {
      ws.on('message', (data) => void ws.send(data));
    },
    // A peer stuck mid-frame is dropped by the heartbeat: its pongs can never be parsed.
    { port: 0, maxMessageSize: 64 * 1024, closeTimeout: 1000, pingInterval: 100, pongTimeout: 200 },
  );
  port = server.address().port;
});

afterAll(async () => {
  await server.close();
});

/** A valid masked frame stream to mutate. */
const validStream = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 40 }).map((text) => clientFrame(Op.TEXT, text)),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => clientFrame(Op.BINARY, Buffer.from(bytes))),
      fc.uint8Array({ maxLength: 20 }).map((bytes) => clientFrame(Op.PING, Buffer.from(bytes))),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((frames) => Buffer.concat(frames));

const mutated = fc
  .tuple(validStream, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
  .map(([bytes, edits]) => {
    const copy = Buffer.from(bytes);
    for (const [at, value] of edits) copy[at % copy.length] = value;
    return copy;
  });

const randomBytes = fc.uint8Array({ minLength: 1, maxLength: 400 }).map((bytes) => Buffer.from(bytes));

describe('random and mutated bytes on a live connection', () => {
  it('end in a protocol close code, an echo, or a TCP close — never a crash or a hang', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, randomBytes), async (bytes) => {
        const client = await RawClient.open(port);
        try {
          client.write(bytes);
          // Then a clean close of our own: whatever the bytes did, the server must end the
          // connection — with a close frame whose code is a legal one, by closing TCP, or (for
          // bytes that leave a frame unfinished) through the heartbeat.
          client.send(Op.CLOSE, Buffer.from([0x03, 0xe8]));
          await client.waitClosed(3000);
          const closes = client.frames.filter((frame) => frame.opcode === Op.CLOSE);
          for (const close of closes) {
            expect([1000, 1002, 1007, 1009, 1011]).toContain(close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1000);
          }
        } finally {
          client.destroy();
        }
      }),
      { numRuns: 40 },
    );
    // And the server still serves.
    const ws = await connect(`ws://127.0.0.1:${port}/`);
    await ws.send('still here');
    expect(await ws.recv()).toBe('still here');
    await ws.close();
  });

  it('a peer that stops mid-frame is dropped by the heartbeat, not kept forever', async () => {
    const client = await RawClient.open(port);
    // A masked binary frame that announces 1000 bytes, then only 10 of them.
    client.write(Buffer.concat([clientFrame(Op.BINARY, Buffer.alloc(1000, 1)).subarray(0, 18)]));
    await client.waitClosed(3000);
    expect(client.isDestroyed).toBe(true);
  });
});
