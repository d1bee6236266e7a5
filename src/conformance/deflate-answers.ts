/**
 * 13.11.x, run by the fuzzing server: it completes the opening handshake with an invalid
 * `Sec-WebSocket-Extensions` answer, then sends one text message. A client that checks the answer
 * fails the connection (RFC 6455 §4.1: "the client MUST _Fail the WebSocket Connection_"; RFC 7692
 * §7) — it closes, perhaps after a close frame — and never echoes the message. One that echoes,
 * or stays open, accepted an answer it must refuse.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { acceptUpgrade, serializeResponse } from '../handshake/server.js';
import type { ParsedRequestHead } from '../handshake/http-head.js';
import type { CaseResult, LogEntry, Verdict, WsCase } from './types.js';
import { buildFrame } from './wire.js';

const WAIT = 3000;

/** Runs one 13.11.x case on a socket whose upgrade request was just read. */
export function runInvalidAnswerCase(c: WsCase, socket: Socket, request: ParsedRequestHead, preamble: LogEntry[], start: number): Promise<CaseResult> {
  const log = [...preamble];
  const at = (): number => Math.round(performance.now() - start);
  const result = (verdict: Verdict, reason: string, received: string[] = []): CaseResult => ({
    id: c.id,
    description: c.description,
    expectation: c.expectation,
    verdict,
    reason,
    duration: at(),
    remoteCloseCode: null,
    closedBy: null,
    received,
    log,
  });
  const accepted = acceptUpgrade(request, {});
  if (!accepted.ok) {
    socket.destroy();
    return Promise.resolve(result('FAILED', `The client's opening handshake is invalid: ${accepted.reason}.`));
  }
  const offered = request.headers['sec-websocket-extensions'] ?? '';
  if (!/permessage-deflate/i.test(offered) && /permessage-deflate/i.test(c.deflateAnswer!)) {
    socket.destroy();
    return Promise.resolve(result('UNIMPLEMENTED', 'The client did not offer permessage-deflate.'));
  }
  const response = { ...accepted.response, headers: [...accepted.response.headers, ['Sec-WebSocket-Extensions', c.deflateAnswer!] as [string, string]] };
  return new Promise<CaseResult>((resolve) => {
    const frames: string[] = [];
    let pending = Buffer.alloc(0);
    let done = false;
    const finish = (value: CaseResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Only the opcodes matter: a close frame is a fine way to fail; anything else is acceptance.
      while (pending.length >= 2) {
        const opcode = pending[0]! & 0x0f;
        let length = pending[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (pending.length < 4) break;
          length = pending.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (pending.length < 10) break;
          length = Number(pending.readBigUInt64BE(2));
          offset = 10;
        }
        if ((pending[1]! & 0x80) !== 0) offset += 4;
        if (pending.length < offset + length) break;
        pending = pending.subarray(offset + length);
        frames.push(`opcode ${opcode}`);
        log.push({ at: at(), dir: '<', text: `frame opcode=${opcode} length=${length}` });
        if (opcode !== 8) finish(result('FAILED', `The client accepted the invalid answer ${JSON.stringify(c.deflateAnswer)}: it sent a frame with opcode ${opcode}.`, frames));
      }
    });
    socket.on('close', () => {
      log.push({ at: at(), dir: '*', text: 'TCP closed' });
      finish(result('OK', `The client failed the connection after the answer ${JSON.stringify(c.deflateAnswer)}.`, frames));
    });
    const timer = setTimeout(() => finish(result('FAILED', `The client kept the connection open ${WAIT} ms after the invalid answer ${JSON.stringify(c.deflateAnswer)}.`, frames)), WAIT);
    log.push({ at: at(), dir: '>', text: `HTTP/1.1 101 with Sec-WebSocket-Extensions: ${c.deflateAnswer}` });
    socket.write(serializeResponse(response));
    socket.write(buildFrame({ opcode: 1, payload: 'echo me if you accepted the answer' }, false));
    log.push({ at: at(), dir: '>', text: 'text "echo me if you accepted the answer"' });
  });
}
