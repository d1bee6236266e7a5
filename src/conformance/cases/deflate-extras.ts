/**
 * permessage-deflate cases beyond Autobahn's 12.x/13.1–13.7 (RFC 7692), numbered after them:
 *
 * - 13.8 (servers): offers a server must decline — an unknown, repeated or invalid parameter —
 *   and go on without compression (101 without the extension, or the next acceptable offer);
 *   answering 400 is NON-STRICT (RFC 7692 §5 says decline, not refuse), accepting is FAILED.
 * - 13.9 (both): what a peer does on the wire once deflate is negotiated — RSV1 on a continuation
 *   or control frame (1002), uncompressed messages, compressed empty messages, back-references
 *   across messages, 1-byte compressed fragments, invalid DEFLATE data, invalid UTF-8 inside
 *   compressed text (1007).
 * - 13.10 (clients): the fuzzing server answers with each client-side parameter combination the
 *   client's offer allows (`client_max_window_bits` 8–15, `client_no_context_takeover`, all at
 *   once) and the client must compress within them.
 * - 13.11 (clients): invalid answers a client must refuse by failing the connection (RFC 7692 §7,
 *   RFC 6455 §4.1): unknown, repeated or out-of-range parameters, a parameter it did not offer,
 *   the extension twice.
 */
import { ev } from '../harness.js';
import type { ExpectedClose, HandshakeCase, Verdict, WsCase } from '../types.js';
import type { ProbeResponse } from '../handshake-probe.js';
import type { FrameSpec } from '../wire.js';
import { FAIL_PROTOCOL, FAIL_UTF8, KILL_AFTER, NORMAL_CLOSE } from './common.js';

const DEFAULT_OFFER = [{ client_max_window_bits: true as const }];
const FAIL_INFLATE: ExpectedClose = { closedByMe: false, codes: [1007, 1002], requireClean: false };

function json(i: number): Buffer {
  return Buffer.from(JSON.stringify({ id: i, kind: 'event', user: `user-${i % 7}`, items: [1, 2, 3].map((n) => ({ n, label: `label-${n}` })) }));
}

// 13.8 ----------------------------------------------------------------------------------------

function extensionsOf(res: ProbeResponse): string {
  return res.headers['sec-websocket-extensions'] ?? '';
}

function declined(id: string, description: string, offer: string): HandshakeCase {
  return {
    kind: 'handshake',
    id,
    description,
    expectation: 'The server declines this offer (RFC 7692 §5, §7): 101 without permessage-deflate. Refusing the handshake (4xx) is NON-STRICT.',
    run: async (h) => {
      const res = await h.request({ headers: { 'Sec-WebSocket-Extensions': offer } });
      if (res === null) return { verdict: 'FAILED' as Verdict, reason: 'No HTTP response.' };
      if (res.status === 101) {
        return /permessage-deflate/i.test(extensionsOf(res))
          ? { verdict: 'FAILED' as Verdict, reason: `Accepted an invalid offer: ${extensionsOf(res)}.` }
          : { verdict: 'OK' as Verdict, reason: '101 without permessage-deflate.' };
      }
      return { verdict: 'NON-STRICT' as Verdict, reason: `Refused the whole handshake with ${res.status}; RFC 7692 §5 asks to decline the offer and proceed.` };
    },
  };
}

function negotiationCases(): HandshakeCase[] {
  const cases = [
    declined('13.8.1', 'Offer permessage-deflate with server_no_context_takeover twice.', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'),
    declined('13.8.2', 'Offer permessage-deflate with an unknown parameter.', 'permessage-deflate; x_unknown_parameter=1'),
    declined('13.8.3', 'Offer permessage-deflate with server_max_window_bits=16 (out of range).', 'permessage-deflate; server_max_window_bits=16'),
    declined('13.8.4', 'Offer permessage-deflate with server_max_window_bits=0x9 (not a decimal integer).', 'permessage-deflate; server_max_window_bits=0x9'),
    declined('13.8.5', 'Offer permessage-deflate with server_max_window_bits=09 (leading zero).', 'permessage-deflate; server_max_window_bits=09'),
    declined('13.8.6', 'Offer permessage-deflate with client_max_window_bits=7 (out of range).', 'permessage-deflate; client_max_window_bits=7'),
    declined('13.8.7', 'Offer permessage-deflate with a value on server_no_context_takeover.', 'permessage-deflate; server_no_context_takeover=1'),
    declined('13.8.8', 'Offer permessage-deflate with server_max_window_bits without a value.', 'permessage-deflate; server_max_window_bits'),
  ];
  cases.push({
    kind: 'handshake',
    id: '13.8.9',
    description: 'Offer an invalid permessage-deflate (repeated parameter) followed by a valid one with server_max_window_bits=10.',
    expectation: 'The server skips the first offer and accepts the second, answering server_max_window_bits of at most 10 (or declines both: INFORMATIONAL).',
    run: async (h) => {
      const res = await h.request({ headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits; client_max_window_bits, permessage-deflate; server_max_window_bits=10' } });
      if (res === null || res.status !== 101) return { verdict: 'NON-STRICT' as Verdict, reason: `No 101 (${res === null ? 'no response' : res.status}); the second offer was acceptable.` };
      const answer = extensionsOf(res);
      if (answer === '') return { verdict: 'INFORMATIONAL' as Verdict, reason: 'Declined both offers.' };
      const bits = /server_max_window_bits=(\d+)/.exec(answer);
      if (/client_max_window_bits/.test(answer)) return { verdict: 'FAILED' as Verdict, reason: `Answered client_max_window_bits, which the accepted offer did not carry: ${answer}.` };
      if (bits === null || Number(bits[1]) > 10) return { verdict: 'FAILED' as Verdict, reason: `The answer must carry server_max_window_bits <= 10: ${answer}.` };
      return { verdict: 'OK' as Verdict, reason: `Accepted the second offer: ${answer}.` };
    },
  });
  return cases;
}

// 13.9 ----------------------------------------------------------------------------------------

function wireCase(id: string, description: string, expectation: string, run: WsCase['run']): WsCase {
  return { id, description, expectation, deflateOffer: DEFAULT_OFFER, run };
}

function wireCases(): WsCase[] {
  return [
    wireCase('13.9.1', 'Send a compressed text message in two fragments with RSV1 set on the continuation frame too.', 'The target fails the connection (1002): RSV1 only on the first frame (RFC 7692 §6.1).', async (t) => {
      const data = await t.deflate!.compress(json(1));
      t.expect({ OK: [] }, FAIL_PROTOCOL);
      await t.sendAll([
        { opcode: 1, rsv: 4, fin: false, payload: data.subarray(0, 4) },
        { opcode: 0, rsv: 4, fin: true, payload: data.subarray(4) },
      ]);
      t.killAfter(KILL_AFTER);
    }),
    wireCase('13.9.2', 'Send a ping with RSV1 set.', 'The target fails the connection (1002): control frames are never compressed (RFC 7692 §6.1).', async (t) => {
      t.expect({ OK: [] }, FAIL_PROTOCOL);
      await t.send({ opcode: 9, rsv: 4, payload: Buffer.from('ping') });
      t.killAfter(KILL_AFTER);
    }),
    wireCase('13.9.3', 'Send an uncompressed text message (RSV1 clear) after permessage-deflate was negotiated.', 'Echoed as sent (compressed or not), then a clean close.', async (t) => {
      t.expect({ OK: [ev.text('plain text, not compressed')] }, NORMAL_CLOSE);
      await t.send({ opcode: 1, payload: Buffer.from('plain text, not compressed') });
      await t.waitReceived(1, 5000);
      await t.sendClose(1000);
      t.killAfter(KILL_AFTER);
    }),
    wireCase('13.9.4', 'Send compressed empty text and binary messages.', 'Both echoed empty, then a clean close.', async (t) => {
      t.expect({ OK: [ev.text(''), ev.binary(Buffer.alloc(0))] }, NORMAL_CLOSE);
      const empty = await t.deflate!.compress(Buffer.alloc(0));
      await t.send({ opcode: 1, rsv: 4, payload: empty });
      await t.send({ opcode: 2, rsv: 4, payload: await t.deflate!.compress(Buffer.alloc(0)) });
      await t.waitReceived(2, 5000);
      await t.sendClose(1000);
      t.killAfter(KILL_AFTER);
    }),
    wireCase('13.9.5', 'Send the same compressed message 10 times (with context takeover, later ones refer back into earlier ones).', 'All echoed, then a clean close.', async (t) => {
      const message = json(5);
      t.expect({ OK: Array.from({ length: 10 }, () => ev.text(message)) }, NORMAL_CLOSE);
      for (let i = 0; i < 10; i++) await t.send({ opcode: 1, rsv: 4, payload: await t.deflate!.compress(message) });
      await t.waitReceived(10, 5000);
      await t.sendClose(1000);
      t.killAfter(KILL_AFTER);
    }),
    wireCase('13.9.6', 'Send a compressed text message in 1-byte fragments.', 'Echoed, then a clean close.', async (t) => {
      const message = json(6);
      const data = await t.deflate!.compress(message);
      t.expect({ OK: [ev.text(message)] }, NORMAL_CLOSE);
      const frames: FrameSpec[] = [];
      for (let i = 0; i < data.length; i++) frames.push({ opcode: i === 0 ? 1 : 0, rsv: i === 0 ? 4 : 0, fin: i === data.length - 1, payload: data.subarray(i, i + 1) });
      await t.sendAll(frames);
      await t.waitReceived(1, 5000);
      await t.sendClose(1000);
      t.killAfter(KILL_AFTER);
    }),
    wireCase('13.9.7', 'Send a binary message with RSV1 whose payload is not valid DEFLATE data.', 'The target fails the connection (1007 or 1002).', async (t) => {
      t.expect({ OK: [] }, FAIL_INFLATE);
      await t.send({ opcode: 2, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x13]) });
      t.killAfter(KILL_AFTER);
    }),
    wireCase('13.9.8', 'Send a compressed text message that inflates to invalid UTF-8.', 'The target fails the connection with 1007.', async (t) => {
      t.expect({ OK: [] }, FAIL_UTF8);
      await t.send({ opcode: 1, rsv: 4, payload: await t.deflate!.compress(Buffer.from([0x48, 0x69, 0xc0, 0xaf, 0x21])) });
      t.killAfter(KILL_AFTER);
    }),
  ];
}

// 13.10 ---------------------------------------------------------------------------------------

function answerCase(id: string, description: string, answer: Record<string, string | true>): WsCase {
  return {
    id,
    description,
    expectation: 'The client accepts the answer, compresses within it, and echoes 20 messages; then a clean close.',
    only: 'client',
    deflateOffer: [answer],
    async run(t) {
      const messages = Array.from({ length: 20 }, (_, i) => json(i % 4));
      t.expect({ OK: messages.map((m) => ev.text(m)) }, NORMAL_CLOSE);
      t.note(`negotiated ${JSON.stringify(t.deflate!.params)}`);
      for (const message of messages) await t.send({ opcode: 1, rsv: 4, payload: await t.deflate!.compress(message) });
      await t.waitReceived(messages.length, 5000);
      await t.sendClose(1000);
      t.killAfter(KILL_AFTER);
    },
  };
}

function clientParameterCases(): WsCase[] {
  const cases: WsCase[] = [];
  for (let bits = 8; bits <= 15; bits++) cases.push(answerCase(`13.10.${bits - 7}`, `Answer client_max_window_bits=${bits} (when the client offered it).`, { client_max_window_bits: String(bits) }));
  cases.push(answerCase('13.10.9', 'Answer client_no_context_takeover.', { client_no_context_takeover: true }));
  cases.push(
    answerCase('13.10.10', 'Answer every parameter: both no_context_takeover, server_max_window_bits=9, client_max_window_bits=9.', {
      server_no_context_takeover: true,
      client_no_context_takeover: true,
      server_max_window_bits: '9',
      client_max_window_bits: '9',
    }),
  );
  return cases;
}

// 13.11 ---------------------------------------------------------------------------------------

function rejectCase(id: string, description: string, answer: string): WsCase {
  return {
    id,
    description,
    expectation: 'The client fails the connection during the handshake (RFC 6455 §4.1, RFC 7692 §7): it closes without sending a data frame.',
    only: 'client',
    deflateAnswer: answer,
    // Run by the fuzzing server itself (see deflate-answers.ts); never called.
    run: () => Promise.resolve(),
  };
}

function invalidAnswerCases(): WsCase[] {
  return [
    rejectCase('13.11.1', 'Answer permessage-deflate with an unknown parameter.', 'permessage-deflate; x_unknown=1'),
    rejectCase('13.11.2', 'Answer permessage-deflate with server_no_context_takeover twice.', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'),
    rejectCase('13.11.3', 'Answer server_max_window_bits=16.', 'permessage-deflate; server_max_window_bits=16'),
    rejectCase('13.11.4', 'Answer server_max_window_bits=0x9.', 'permessage-deflate; server_max_window_bits=0x9'),
    rejectCase('13.11.5', 'Answer server_max_window_bits without a value.', 'permessage-deflate; server_max_window_bits'),
    rejectCase('13.11.6', 'Answer client_max_window_bits=16.', 'permessage-deflate; client_max_window_bits=16'),
    rejectCase('13.11.7', 'Answer permessage-deflate twice.', 'permessage-deflate, permessage-deflate'),
    rejectCase('13.11.8', 'Answer an extension the client did not offer.', 'x-not-offered-extension'),
  ];
}

/** The extra permessage-deflate cases (13.8–13.11). */
export function deflateExtraCases(): Array<WsCase | HandshakeCase> {
  return [...negotiationCases(), ...wireCases(), ...clientParameterCases(), ...invalidAnswerCases()];
}
