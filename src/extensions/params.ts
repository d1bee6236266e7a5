/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1): parsing offers and answers into
 * {@link DeflateParams}, strictly. Pure functions, no zlib: the runtime side lives in
 * `permessage-deflate.ts`.
 */

/** A raw parameter list as the handshake hands it over: order kept, repeats visible. */
export type RawParams = ReadonlyArray<readonly [string, string | true]>;

/**
 * The parameters of one negotiated permessage-deflate session, from this endpoint's point of view.
 * "Local" is the direction we compress, "remote" the one we inflate.
 */
export interface DeflateParams {
  /** Largest LZ77 window (bits, 8–15) our compressor may use: the peer inflates with this. */
  localMaxWindowBits: number;
  /** Largest window (bits, 8–15) the peer's compressor may use: we inflate with this. */
  remoteMaxWindowBits: number;
  /** We reset our compressor after every message. */
  localNoContextTakeover: boolean;
  /** The peer resets its compressor after every message, so our inflater needs no memory between messages. */
  remoteNoContextTakeover: boolean;
}

/** Thrown by the parsers below; the server turns it into "decline this offer", the client into a failed handshake. */
export class NegotiationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NegotiationError';
  }
}

const SERVER_NO_CONTEXT_TAKEOVER = 'server_no_context_takeover';
const CLIENT_NO_CONTEXT_TAKEOVER = 'client_no_context_takeover';
const SERVER_MAX_WINDOW_BITS = 'server_max_window_bits';
const CLIENT_MAX_WINDOW_BITS = 'client_max_window_bits';

/**
 * Parses a window-bits value: RFC 7692 §7.1.2.1 allows only a decimal integer 8–15 "without
 * leading zeros", so `09`, `0x9`, `1e1`, `9.0`, `+9`, ` 9` are all invalid (unlike `Number()`).
 * A quoted-string value arrives here already unquoted (RFC 6455 §9.1), so `"10"` is 10.
 *
 * @returns the number of bits, or `null` if the value is not allowed.
 */
export function parseWindowBits(value: string): number | null {
  if (value.length === 1) {
    const c = value.charCodeAt(0);
    return c === 0x38 || c === 0x39 ? c - 0x30 : null; // "8" | "9"
  }
  if (value.length === 2 && value.charCodeAt(0) === 0x31) {
    const d = value.charCodeAt(1) - 0x30; // "10".."15"
    return d >= 0 && d <= 5 ? 10 + d : null;
  }
  return null;
}

/** Checks an option value: an integer 8–15. */
export function checkWindowBitsOption(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 8 || value > 15) {
    throw new RangeError(`${name} must be an integer from 8 to 15, got ${String(value)}`);
  }
  return value;
}

/** The parameters of one offer or answer after the generic checks (known names, no repeats, valid values). */
export interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** `undefined` when absent. */
  serverMaxWindowBits: number | undefined;
  /** `undefined` when absent, `true` when present without a value (only legal in an offer). */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Checks a raw parameter list: every name known, none repeated, `*_no_context_takeover` without a
 * value, `*_max_window_bits` values valid (RFC 7692 §7: otherwise the offer is declined / the
 * answer rejected). `client_max_window_bits` without a value is accepted here; the client rejects
 * it in an answer.
 *
 * @throws {NegotiationError} naming the offending parameter.
 */
export function parseParams(params: RawParams): ParsedParams {
  const out: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) throw new NegotiationError(`duplicate parameter ${name}`);
    seen.add(name);
    switch (name) {
      case SERVER_NO_CONTEXT_TAKEOVER:
      case CLIENT_NO_CONTEXT_TAKEOVER:
        if (value !== true) throw new NegotiationError(`${name} takes no value, got ${JSON.stringify(value)}`);
        if (name === SERVER_NO_CONTEXT_TAKEOVER) out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case SERVER_MAX_WINDOW_BITS: {
        if (value === true) throw new NegotiationError(`${name} needs a value`);
        const bits = parseWindowBits(value);
        if (bits === null) throw new NegotiationError(`invalid ${name} ${JSON.stringify(value)} (must be 8 to 15)`);
        out.serverMaxWindowBits = bits;
        break;
      }
      case CLIENT_MAX_WINDOW_BITS: {
        if (value === true) {
          out.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === null) throw new NegotiationError(`invalid ${name} ${JSON.stringify(value)} (must be 8 to 15)`);
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        throw new NegotiationError(`unknown parameter ${name}`);
    }
  }
  return out;
}

/** What the server is willing to do (resolved options). */
export interface ServerPolicy {
  /** Our compressor's window (8–15); answered as `server_max_window_bits` when below 15 or capped by the offer. */
  serverMaxWindowBits: number;
  /** Window we ask the client to use when it offered `client_max_window_bits`. */
  clientMaxWindowBits: number;
  /** Always answer `server_no_context_takeover`. */
  serverNoContextTakeover: boolean;
  /** Always answer `client_no_context_takeover` (breaks Safari 15.0–15.3: opt-in only). */
  clientNoContextTakeover: boolean;
}

/**
 * Accepts one offer under `policy` (RFC 7692 §7.1), or throws if it cannot be accepted.
 *
 * - `server_no_context_takeover` offered → answered (§7.1.1.1); also answered if the policy wants it.
 * - `client_no_context_takeover` offered → echoed: the client promised to reset (§7.1.1.2), so our
 *   inflater needs no memory between messages; answered on our own initiative only if the policy says so.
 * - `server_max_window_bits=N` offered → answer `min(N, ours)` (§7.1.2.1: same or smaller); not offered →
 *   answer ours if below 15 (a smaller window than the default 15 is always decodable by the client,
 *   and tells it to allocate less).
 * - `client_max_window_bits[=N]` offered → answer `min(N or 15, ours)` when that is below what the
 *   client would otherwise use; never answered when not offered (§7.1.2.2), and then we inflate with 15.
 *
 * @returns the answer's parameters and the session parameters from the server's point of view.
 * @throws {NegotiationError} for an offer to decline.
 */
export function acceptOffer(offer: RawParams, policy: ServerPolicy): { answer: Record<string, string | true>; params: DeflateParams } {
  const p = parseParams(offer);
  const answer: Record<string, string | true> = {};
  const serverNoTakeover = p.serverNoContextTakeover || policy.serverNoContextTakeover;
  const clientNoTakeover = p.clientNoContextTakeover || policy.clientNoContextTakeover;
  if (serverNoTakeover) answer[SERVER_NO_CONTEXT_TAKEOVER] = true;
  if (clientNoTakeover) answer[CLIENT_NO_CONTEXT_TAKEOVER] = true;

  const serverBits = Math.min(p.serverMaxWindowBits ?? 15, policy.serverMaxWindowBits);
  if (p.serverMaxWindowBits !== undefined || serverBits < 15) answer[SERVER_MAX_WINDOW_BITS] = String(serverBits);

  let clientBits = 15;
  if (p.clientMaxWindowBits !== undefined) {
    const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
    clientBits = Math.min(offered, policy.clientMaxWindowBits);
    // Without a value the client waits for ours; with one it already promised <= offered.
    if (clientBits < offered || p.clientMaxWindowBits === true) answer[CLIENT_MAX_WINDOW_BITS] = String(clientBits);
  }
  return {
    answer,
    params: {
      localMaxWindowBits: serverBits,
      remoteMaxWindowBits: clientBits,
      localNoContextTakeover: serverNoTakeover,
      remoteNoContextTakeover: clientNoTakeover,
    },
  };
}

/** What the client offers (resolved options). */
export interface ClientPolicy {
  /** `true`: offer `client_max_window_bits` without a value; a number: with that value; `false`: not at all. */
  clientMaxWindowBits: number | boolean;
  /** Ask the server for a smaller window (`server_max_window_bits=N`), or `undefined`. */
  serverMaxWindowBits: number | undefined;
  /** Ask the server to reset its compressor per message. */
  serverNoContextTakeover: boolean;
  /** Announce that we reset our compressor per message. Off by default: never on our own initiative. */
  clientNoContextTakeover: boolean;
  /** Cap on our own compressor's window (8–15), below whatever the server allows. */
  windowBits: number;
}

/** The single offer a client sends under `policy` (RFC 7692 §7.1). */
export function makeOffer(policy: ClientPolicy): Record<string, string | true> {
  const offer: Record<string, string | true> = {};
  if (policy.clientMaxWindowBits !== false) {
    offer[CLIENT_MAX_WINDOW_BITS] = policy.clientMaxWindowBits === true ? true : String(policy.clientMaxWindowBits);
  }
  if (policy.serverMaxWindowBits !== undefined) offer[SERVER_MAX_WINDOW_BITS] = String(policy.serverMaxWindowBits);
  if (policy.serverNoContextTakeover) offer[SERVER_NO_CONTEXT_TAKEOVER] = true;
  if (policy.clientNoContextTakeover) offer[CLIENT_NO_CONTEXT_TAKEOVER] = true;
  return offer;
}

/**
 * Validates the server's answer to {@link makeOffer}'s offer (RFC 7692 §7.1) and returns the
 * session parameters from the client's point of view.
 *
 * Rejected: unknown, repeated or malformed parameters; `client_max_window_bits` when we did not
 * offer it, without a value, or above our offered value; `server_max_window_bits` above what we
 * asked, or missing when we asked for it; `server_no_context_takeover` missing when we asked for it.
 * Accepted: anything the server may add on its own (`client_no_context_takeover`,
 * `server_no_context_takeover`, `server_max_window_bits`).
 *
 * @throws {NegotiationError} with a message naming the problem.
 */
export function acceptAnswer(answer: RawParams, policy: ClientPolicy): DeflateParams {
  const p = parseParams(answer);
  if (p.clientMaxWindowBits !== undefined) {
    if (policy.clientMaxWindowBits === false) throw new NegotiationError(`${CLIENT_MAX_WINDOW_BITS} in the answer but not offered`);
    if (p.clientMaxWindowBits === true) throw new NegotiationError(`${CLIENT_MAX_WINDOW_BITS} in the answer needs a value`);
    if (typeof policy.clientMaxWindowBits === 'number' && p.clientMaxWindowBits > policy.clientMaxWindowBits) {
      throw new NegotiationError(`${CLIENT_MAX_WINDOW_BITS}=${p.clientMaxWindowBits} exceeds the offered ${policy.clientMaxWindowBits}`);
    }
  }
  if (policy.serverMaxWindowBits !== undefined) {
    if (p.serverMaxWindowBits === undefined) throw new NegotiationError(`${SERVER_MAX_WINDOW_BITS} missing from the answer although offered`);
    if (p.serverMaxWindowBits > policy.serverMaxWindowBits) {
      throw new NegotiationError(`${SERVER_MAX_WINDOW_BITS}=${p.serverMaxWindowBits} exceeds the offered ${policy.serverMaxWindowBits}`);
    }
  }
  if (policy.serverNoContextTakeover && !p.serverNoContextTakeover) {
    throw new NegotiationError(`${SERVER_NO_CONTEXT_TAKEOVER} missing from the answer although offered`);
  }
  const offeredClientBits = typeof policy.clientMaxWindowBits === 'number' ? policy.clientMaxWindowBits : 15;
  const allowedClientBits = typeof p.clientMaxWindowBits === 'number' ? p.clientMaxWindowBits : offeredClientBits;
  return {
    localMaxWindowBits: Math.min(allowedClientBits, policy.windowBits),
    remoteMaxWindowBits: p.serverMaxWindowBits ?? 15,
    localNoContextTakeover: p.clientNoContextTakeover || policy.clientNoContextTakeover,
    remoteNoContextTakeover: p.serverNoContextTakeover,
  };
}
