/**
 * RFC 8441 interop with peers we did not write: `node:http2`'s own client doing the extended
 * CONNECT, with WebSocket frames written and read by hand on the stream, against our server; and
 * our client against a minimal server on raw `node:http2` that answers the CONNECT and speaks
 * frames by hand.
 */
import { connect as h2connect, createServer as createH2Server, type ServerHttp2Stream } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { connect, serve } from '../src/index.js';
import { cleanupAfterEach, nextEvent, withTimeout } from './helpers/async.js';

const defer = cleanupAfterEach();

/** A masked client frame or an unmasked server frame (FIN set, payload < 64 KiB). */
function frame(opcode: number, payload: Buffer, mask: Buffer | null): Buffer {
  const length = payload.length;
  const maskBit = mask ? 0x80 : 0;
  const head = length < 126 ? Buffer.from([0x80 | opcode, maskBit | length]) : Buffer.from([0x80 | opcode, maskBit | 126, length >> 8, length & 0xff]);
  if (!mask) return Buffer.concat([head, payload]);
  return Buffer.concat([head, mask, Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!))]);
}

/** Reads whole frames from a byte stream (payload < 64 KiB), unmasking when needed. */
function frameReader(): { push(chunk: Buffer): void; next(): Promise<{ opcode: number; masked: boolean; payload: Buffer }> } {
  let buffer = Buffer.alloc(0);
  const ready: Array<{ opcode: number; masked: boolean; payload: Buffer }> = [];
  const waiters: Array<(f: { opcode: number; masked: boolean; payload: Buffer }) => void> = [];
  return {
    push(chunk) {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (buffer.length < 2) return;
        const masked = (buffer[1]! & 0x80) !== 0;
        let length = buffer[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        }
        const total = offset + (masked ? 4 : 0) + length;
        if (buffer.length < total) return;
        let payload = buffer.subarray(offset + (masked ? 4 : 0), total);
        if (masked) {
          const mask = buffer.subarray(offset, offset + 4);
          payload = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
        }
        const f = { opcode: buffer[0]! & 0x0f, masked, payload: Buffer.from(payload) };
        buffer = buffer.subarray(total);
        const waiter = waiters.shift();
        if (waiter) waiter(f);
        else ready.push(f);
      }
    },
    next() {
      const f = ready.shift();
      if (f) return Promise.resolve(f);
      return withTimeout(new Promise((resolve) => waiters.push(resolve)), 5000, 'a WebSocket frame');
    },
  };
}

describe('RFC 8441 interop', () => {
  it("node:http2's client opens an extended CONNECT to our server and speaks frames by hand", async () => {
    const server = await serve(
      async (ws) => {
        for await (const message of ws) await ws.send(`echo: ${String(message)}`);
      },
      { h2c: true, pingInterval: 0, selectProtocol: (offered) => offered[0] },
    );
    defer(() => server.close());
    const session = h2connect(`http://127.0.0.1:${server.address().port}`);
    session.on('error', () => {});
    defer(() => session.close());
    const [settings] = await nextEvent<[{ enableConnectProtocol?: boolean }]>(session, 'remoteSettings');
    expect(settings.enableConnectProtocol).toBe(true);
    const stream = session.request({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':path': '/chat',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'chat',
      origin: 'http://example.com',
    });
    const [headers] = await nextEvent<[Record<string, unknown>]>(stream, 'response');
    expect(headers[':status']).toBe(200);
    expect(headers['sec-websocket-protocol']).toBe('chat');
    const reader = frameReader();
    stream.on('data', (chunk: Buffer) => reader.push(chunk));
    const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    stream.write(frame(0x1, Buffer.from('hello'), mask));
    const echo = await reader.next();
    expect(echo).toEqual({ opcode: 0x1, masked: false, payload: Buffer.from('echo: hello') });
    stream.write(frame(0x9, Buffer.from('p'), mask)); // ping → pong
    expect(await reader.next()).toEqual({ opcode: 0xa, masked: false, payload: Buffer.from('p') });
    const ended = nextEvent(stream, 'end');
    stream.write(frame(0x8, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]), mask));
    const close = await reader.next();
    expect(close.opcode).toBe(0x8);
    expect(close.payload.readUInt16BE(0)).toBe(1000);
    await ended;
    stream.end();
    await nextEvent(stream, 'close');
    expect(stream.rstCode).toBe(0);
  });

  it('our client against a minimal raw node:http2 server', async () => {
    const h2 = createH2Server({ settings: { enableConnectProtocol: true } });
    const seen: Array<Record<string, unknown>> = [];
    h2.on('stream', (stream: ServerHttp2Stream, headers) => {
      seen.push({ ...headers });
      stream.respond({ ':status': 200, 'sec-websocket-protocol': 'v2' });
      const reader = frameReader();
      stream.on('data', (chunk: Buffer) => reader.push(chunk));
      void (async () => {
        const message = await reader.next();
        stream.write(frame(0x1, Buffer.from(`server saw ${message.masked ? 'masked' : 'UNMASKED'} ${message.payload.toString()}`), null));
        const close = await reader.next();
        stream.end(frame(0x8, close.payload, null)); // echo the close, then END_STREAM
      })();
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => h2.close(resolve)));
    const ws = await connect(`ws://127.0.0.1:${(h2.address() as { port: number }).port}/room?x=1`, { http2: true, protocols: ['v1', 'v2'], pingInterval: 0 });
    expect(ws.protocol).toBe('v2');
    expect(seen[0]).toMatchObject({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':path': '/room?x=1',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'v1, v2',
    });
    expect(seen[0]!['sec-websocket-key']).toBeUndefined();
    expect(seen[0]!.upgrade).toBeUndefined();
    await ws.send('hi');
    expect(String(await ws.recv())).toBe('server saw masked hi');
    await ws.close(1000, 'done');
    expect(ws.closeCode).toBe(1000);
    expect(ws.wasClean).toBe(true);
  });

  it('our client refuses a non-2xx answer with the status, and an unoffered subprotocol', async () => {
    const h2 = createH2Server({ settings: { enableConnectProtocol: true } });
    h2.on('stream', (stream: ServerHttp2Stream, headers) => {
      if (headers[':path'] === '/forbidden') stream.respond({ ':status': 403 }, { endStream: true });
      else stream.respond({ ':status': 200, 'sec-websocket-protocol': 'surprise' });
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => h2.close(resolve)));
    const base = `ws://127.0.0.1:${(h2.address() as { port: number }).port}`;
    const forbidden = await connect(`${base}/forbidden`, { http2: true }).then(() => null, (e: unknown) => e);
    expect(forbidden).toMatchObject({ code: 'FD_ERR_HANDSHAKE_STATUS', status: 403 });
    const surprise = await connect(`${base}/`, { http2: true, protocols: ['a'] }).then(() => null, (e: unknown) => e);
    expect(surprise).toMatchObject({ code: 'FD_ERR_HANDSHAKE_PROTOCOL' });
  });
});
