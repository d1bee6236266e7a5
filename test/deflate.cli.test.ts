/**
 * The CLI and permessage-deflate: `fullduplex echo --deflate` and `broadcast --deflate` negotiate
 * it (and the defaults do not), `fullduplex connect` offers it by default and `--no-deflate` opts
 * out.
 */
import { describe, expect, it } from 'vitest';
import WsWebSocket from 'ws';
import { connect, serve, type WebSocketConnection } from '../src/index.js';
import { cleanupAfterEach, withTimeout } from './helpers/async.js';
import { spawnTsx, type Child } from './helpers/process.js';

const CLI = 'test/fixtures/cli.ts';
const LISTENING = /^fullduplex (echo|broadcast) server listening on (ws:\/\/127\.0\.0\.1:\d+\/)$/m;
const defer = cleanupAfterEach();

function cli(args: string[]): Child {
  const proc = spawnTsx(CLI, args);
  defer(() => proc.stop());
  return proc;
}

async function cliServer(args: string[]): Promise<string> {
  return (await cli(args).waitFor(LISTENING))[2]!;
}

describe('fullduplex echo/broadcast --deflate', () => {
  it('echo --deflate negotiates with our client and echoes', async () => {
    const url = await cliServer(['echo', '--port', '0', '--deflate']);
    const ws = await connect(url, { pingInterval: 0 });
    defer(() => ws.terminate());
    expect(ws.extensions).toBe('permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    const text = JSON.stringify({ hello: 'world'.repeat(200) });
    await ws.send(text);
    expect(await ws.recv()).toBe(text);
  });

  it('echo without --deflate does not negotiate it', async () => {
    const url = await cliServer(['echo', '--port', '0']);
    const ws = await connect(url, { pingInterval: 0 });
    defer(() => ws.terminate());
    expect(ws.extensions).toBe('');
  });

  it('broadcast --deflate: a ws client and ours (both compressed) get every broadcast', async () => {
    const url = await cliServer(['broadcast', '--port', '0', '--deflate']);
    const ours = await connect(url, { pingInterval: 0 });
    defer(() => ours.terminate());
    const theirs = new WsWebSocket(url, { perMessageDeflate: true });
    defer(() => theirs.terminate());
    const got: string[] = [];
    theirs.on('message', (data: Buffer) => got.push(data.toString()));
    await new Promise((resolve, reject) => theirs.once('open', resolve).once('error', reject));
    expect(theirs.extensions).toBe('permessage-deflate');
    expect(ours.extensions).toContain('permessage-deflate');
    const messages = ['one', JSON.stringify({ n: 2, pad: 'x'.repeat(2000) }), 'three'];
    for (const message of messages) {
      await ours.send(message);
      expect(await ours.recv()).toBe(message);
    }
    await withTimeout(
      (async () => {
        while (got.length < messages.length) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      5000,
      'ws client broadcasts',
    );
    expect(got).toEqual(messages);
  });
});

describe('fullduplex connect offers permessage-deflate by default', () => {
  async function serverSeeing(): Promise<{ url: string; next: Promise<WebSocketConnection> }> {
    let resolve!: (ws: WebSocketConnection) => void;
    const next = new Promise<WebSocketConnection>((r) => (resolve = r));
    const server = await serve(
      async (ws) => {
        resolve(ws);
        for await (const message of ws) await ws.send(message);
      },
      { pingInterval: 0, perMessageDeflate: true },
    );
    defer(() => server.close());
    return { url: server.url, next };
  }

  it('by default: negotiated, and a line round-trips', async () => {
    const { url, next } = await serverSeeing();
    const proc = cli(['connect', url]);
    const ws = await withTimeout(next, 10_000, 'the CLI connection');
    expect(ws.extensions).toBe('permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    proc.process.stdin!.write('hello deflate\n');
    await proc.waitFor(/^< hello deflate$/m);
    proc.process.stdin!.end();
    expect((await proc.waitExit(10_000)).code).toBe(0);
  });

  it('--no-deflate: not offered', async () => {
    const { url, next } = await serverSeeing();
    const proc = cli(['connect', url, '--no-deflate']);
    const ws = await withTimeout(next, 10_000, 'the CLI connection');
    expect(ws.extensions).toBe('');
    proc.process.stdin!.end();
    expect((await proc.waitExit(10_000)).code).toBe(0);
  });
});
