/**
 * Section H (not in Autobahn): the server side of the opening handshake, RFC 6455 §4.2. Valid
 * variations must get a correct 101; requests that are not WebSocket handshakes must not.
 */
import { computeAccept } from '../../handshake/accept.js';
import { hasToken } from '../../handshake/tokens.js';
import type { ProbeRequest, ProbeResponse } from '../handshake-probe.js';
import type { HandshakeCase, Verdict } from '../types.js';
import { buildFrame } from '../wire.js';

type Outcome = { verdict: Verdict; reason: string };

/** Is this a correct 101 for the key we sent (§4.2.2 item 5, checked as a client does, §4.1)? */
function check101(res: ProbeResponse | null): Outcome {
  if (res === null) return { verdict: 'FAILED', reason: 'No response to a valid opening handshake.' };
  if (res.status !== 101) return { verdict: 'FAILED', reason: `A valid opening handshake was refused with ${res.status} ${res.reason}.` };
  const h = res.headers;
  if (h.upgrade?.toLowerCase() !== 'websocket') return { verdict: 'FAILED', reason: `101 without "Upgrade: websocket" (got ${JSON.stringify(h.upgrade)}).` };
  if (!hasToken(h.connection, 'upgrade')) return { verdict: 'FAILED', reason: `101 without "Connection: Upgrade" (got ${JSON.stringify(h.connection)}).` };
  if (h['sec-websocket-accept'] !== computeAccept(res.key)) {
    return { verdict: 'FAILED', reason: `Wrong Sec-WebSocket-Accept ${JSON.stringify(h['sec-websocket-accept'])}; expected ${computeAccept(res.key)}.` };
  }
  return { verdict: 'OK', reason: 'Correct 101 Switching Protocols.' };
}

/** The server must not switch protocols (§4.2.1: "MUST stop processing ... and return an HTTP response with an appropriate error code"). */
function checkRefused(res: ProbeResponse | null): Outcome {
  if (res === null) return { verdict: 'NON-STRICT', reason: 'The server closed the connection without an HTTP response; §4.2.1 asks for an error status such as 400.' };
  if (res.status === 101) return { verdict: 'FAILED', reason: 'The server switched protocols for an invalid opening handshake.' };
  if (res.status >= 400 && res.status < 500) return { verdict: 'OK', reason: `Refused with ${res.status} ${res.reason}.` };
  return { verdict: 'NON-STRICT', reason: `Refused with ${res.status} ${res.reason}; a 4xx client error is expected.` };
}

function accepted(id: string, description: string, request: ProbeRequest): HandshakeCase {
  return {
    kind: 'handshake',
    id,
    description,
    expectation: 'The server accepts: 101 Switching Protocols with Upgrade, Connection and the right Sec-WebSocket-Accept.',
    run: async (h) => check101(await h.request(request)),
  };
}

function refused(id: string, description: string, request: ProbeRequest): HandshakeCase {
  return {
    kind: 'handshake',
    id,
    description,
    expectation: 'The server refuses with a 4xx status and does not switch protocols.',
    run: async (h) => checkRefused(await h.request(request)),
  };
}

/** Section H. */
export function handshakeCases(): HandshakeCase[] {
  return [
    accepted('H.1', 'Send a valid opening handshake.', {}),
    accepted('H.2', 'Send a valid opening handshake with "Connection: keep-alive, Upgrade" (a list of tokens, as Firefox sends).', { headers: { Connection: 'keep-alive, Upgrade' } }),
    accepted('H.3', 'Send a valid opening handshake with "Upgrade: WebSocket" and "Connection: upgrade" (other letter case).', { headers: { Upgrade: 'WebSocket', Connection: 'upgrade' } }),
    accepted('H.4', 'Send a valid opening handshake written one byte at a time.', { chop: 1 }),
    accepted('H.5', 'Send a valid opening handshake with lowercase header names and extra whitespace around values.', {
      headers: { Host: null, Upgrade: null, Connection: null, 'Sec-WebSocket-Version': null, host: 'localhost', upgrade: '  websocket ', connection: ' Upgrade  ', 'sec-websocket-version': ' 13 ' },
    }),
    {
      kind: 'handshake',
      id: 'H.6',
      description: 'Send a valid opening handshake offering a subprotocol ("x-fullduplex-conformance") and an unknown extension ("x-unknown-extension").',
      expectation: 'The server accepts; it selects no subprotocol it was not offered and accepts no extension it was not offered.',
      async run(h) {
        const res = await h.request({ headers: { 'Sec-WebSocket-Protocol': 'x-fullduplex-conformance', 'Sec-WebSocket-Extensions': 'x-unknown-extension' } });
        const base = check101(res);
        if (base.verdict !== 'OK' || res === null) return base;
        const protocol = res.headers['sec-websocket-protocol'];
        if (protocol !== undefined && protocol !== 'x-fullduplex-conformance') return { verdict: 'FAILED', reason: `Selected subprotocol ${JSON.stringify(protocol)}, which was not offered (§4.2.2).` };
        const extensions = res.headers['sec-websocket-extensions'];
        if (extensions !== undefined && /x-unknown-extension/i.test(extensions)) return { verdict: 'FAILED', reason: 'Accepted an extension the server cannot know.' };
        if (extensions !== undefined) return { verdict: 'FAILED', reason: `Accepted extensions that were not offered: ${extensions} (§9.1).` };
        return base;
      },
    },
    {
      kind: 'handshake',
      id: 'H.7',
      description: 'Send a valid opening handshake and a masked text frame in the same TCP write.',
      expectation: "The server accepts and echoes the message: bytes after the request head already belong to the WebSocket connection.",
      async run(h) {
        const frame = buildFrame({ opcode: 1, payload: 'early message' }, true);
        const res = await h.request({ after: frame });
        const base = check101(res);
        if (base.verdict !== 'OK') return base;
        const echo = await h.nextFrame(2000);
        if (echo === null) return { verdict: 'FAILED', reason: 'The message sent together with the handshake was never echoed.' };
        if (echo.opcode !== 1 || echo.payload.toString() !== 'early message') return { verdict: 'FAILED', reason: `Expected the echo of "early message", got another frame.` };
        return { verdict: 'OK', reason: 'Accepted and echoed the message that arrived with the request.' };
      },
    },
    {
      kind: 'handshake',
      id: 'H.8',
      description: 'Send an opening handshake with "Sec-WebSocket-Version: 12" (not a version the server speaks).',
      expectation: 'Refused with 426 Upgrade Required (or another 4xx, as the example in §4.4 uses 400) and a Sec-WebSocket-Version header listing 13 (§4.2.2 item 4, §4.4).',
      async run(h) {
        const res = await h.request({ headers: { 'Sec-WebSocket-Version': '12' } });
        const refusal = checkRefused(res);
        if (refusal.verdict === 'FAILED' || res === null) return refusal;
        const versions = res.headers['sec-websocket-version'];
        if (versions === undefined) return { verdict: 'FAILED', reason: `Refused with ${res.status} but without the Sec-WebSocket-Version header the server MUST send (§4.2.2 item 4).` };
        if (!versions.split(',').map((v) => v.trim()).includes('13')) return { verdict: 'FAILED', reason: `Sec-WebSocket-Version ${JSON.stringify(versions)} does not list 13.` };
        if (res.status === 426) return { verdict: 'OK', reason: `Refused with 426 Upgrade Required, Sec-WebSocket-Version: ${versions}.` };
        return { verdict: refusal.verdict, reason: `Refused with ${res.status} ${res.reason}, Sec-WebSocket-Version: ${versions} (§4.2.2 suggests 426; §4.4's example uses 400).` };
      },
    },
    refused('H.9', 'Send an opening handshake without Sec-WebSocket-Version.', { headers: { 'Sec-WebSocket-Version': null } }),
    refused('H.10', 'Send an opening handshake without Sec-WebSocket-Key.', { headers: { 'Sec-WebSocket-Key': null } }),
    refused('H.11', 'Send an opening handshake whose Sec-WebSocket-Key decodes to 15 bytes, not 16.', { headers: { 'Sec-WebSocket-Key': Buffer.alloc(15, 7).toString('base64') } }),
    refused('H.12', 'Send an opening handshake without an Upgrade header.', { headers: { Upgrade: null } }),
    refused('H.13', 'Send an opening handshake with "Connection: keep-alive" (no Upgrade token).', { headers: { Connection: 'keep-alive' } }),
    refused('H.14', 'Send an opening handshake with method POST.', { method: 'POST' }),
    {
      kind: 'handshake',
      id: 'H.15',
      description: 'Send an opening handshake as HTTP/1.0.',
      expectation: 'Refused with a 4xx status: the handshake is "an HTTP/1.1 or higher GET request" (§4.1, §4.2.1). Accepting it is lenient, not harmful: NON-STRICT.',
      async run(h) {
        const res = await h.request({ httpVersion: '1.0' });
        const refusal = checkRefused(res);
        if (refusal.verdict !== 'FAILED') return refusal;
        return { verdict: 'NON-STRICT', reason: 'The server switched protocols for an HTTP/1.0 request; §4.2.1 requires HTTP/1.1 or higher.' };
      },
    },
  ];
}
