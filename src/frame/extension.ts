/**
 * A negotiated extension as the frame pipeline sees it (RFC 6455 §9), in both directions.
 *
 * The parser and the protocol core know no particular extension: they ask the negotiated ones
 * which RSV bits they own, hand every incoming message that used those bits to {@link
 * Extension.decode} piece by piece, and pass outgoing messages through {@link Extension.encode}.
 * permessage-deflate (RFC 7692) plugs in here by owning RSV1.
 *
 * Decoding is synchronous by design: the parser calls `decode` with each piece of payload as it
 * arrives and counts what comes out against the message size budget, so a decompression bomb is
 * stopped at the limit, never buffered first. (zlib's synchronous processing is used for this; an
 * asynchronous decoder would need a decoding state in the parser and an input queue in the core,
 * which ws has and which costs a promise or callback per message.)
 *
 * Who calls what:
 * - The handshake turns an accepted offer into an `Extension` ({@link ServerExtension.negotiate}
 *   on a server, {@link ClientExtension.accept} on a client); the session passes the list to the
 *   protocol core, whose parser and writer call `decode`/`encode`.
 * - The session calls {@link Extension.dispose} once when the connection ends.
 * @example
 * ```ts
 * import type { Extension, EncodedFrame } from 'fullduplex';
 *
 * // An identity extension owning RSV2: decodes by passing pieces through, within the budget.
 * const identity: Extension = {
 *   name: 'x-identity',
 *   rsvBits: 0b010,
 *   decode(piece, _fin, budget) {
 *     if (piece.length > budget) throw new Error('message too big'); // real code: ProtocolError 1009
 *     return piece;
 *   },
 *   encode(payload, opcode, _fin): EncodedFrame {
 *     return { payload, rsv: opcode === 0 ? 0 : 0b010 }; // RSV bits on the first frame only
 *   },
 *   dispose() {},
 * };
 * ```
 */
export interface Extension {
  /** Extension name as negotiated, e.g. `permessage-deflate`. */
  readonly name: string;
  /** RSV bits this extension sets on the first frame of a data message it encoded (RSV1 = 0b100). */
  readonly rsvBits: number;
  /**
   * Decodes the next piece of a message whose first frame carried this extension's RSV bits.
   * Pieces arrive in order (frame boundaries are invisible); `fin` is true for the last piece of
   * the message's final frame (it may be empty). Returns the decoded bytes of this piece (possibly
   * empty; the buffer may be reused by the extension after the next call, so the caller copies if
   * it keeps it).
   *
   * `budget` is how many decoded bytes the message may still produce. Producing more must throw a
   * {@link ProtocolError} with code `FD_ERR_MESSAGE_TOO_BIG` and close code 1009, without ever
   * holding much more than `budget` bytes. Any other throw fails the connection (a
   * `ProtocolError` with its own close code; anything else 1007... see the parser).
   */
  decode(piece: Buffer, fin: boolean, budget: number): Buffer;
  /**
   * Encodes one outgoing data frame. `opcode` is TEXT or BINARY for the first frame of a message
   * and CONTINUATION after it; `fin` marks the last frame. For a first frame the extension may
   * decline (small messages, say) by returning `rsv: 0` and the payload unchanged; the core then
   * sends the rest of that message without calling `encode` again. For continuation frames of an
   * encoded message, `rsv` must be 0 (only the first frame carries RSV bits, RFC 7692 §6).
   */
  encode(payload: Uint8Array, opcode: number, fin: boolean): EncodedFrame;
  /** Releases what the extension holds (zlib handles). Called once, when the connection ends. */
  dispose(): void;
}

/**
 * The result of {@link Extension.encode}.
 * @example
 * ```ts
 * import type { EncodedFrame } from 'fullduplex';
 *
 * // Declining to encode a small first frame: payload unchanged, no RSV bits.
 * const declined = (payload: Uint8Array): EncodedFrame => ({ payload, rsv: 0 });
 * ```
 */
export interface EncodedFrame {
  /** The frame's payload after encoding (or unchanged when declined). */
  payload: Uint8Array;
  /** RSV bits to set on the frame (0 when declined, and on continuation frames). */
  rsv: number;
}

/**
 * One extension offer or answer's parameters; a parameter without a value is `true`.
 * @example
 * ```ts
 * import type { ExtensionParams } from 'fullduplex';
 *
 * // permessage-deflate; client_max_window_bits; server_max_window_bits=10
 * const offer: ExtensionParams = { client_max_window_bits: true, server_max_window_bits: '10' };
 * ```
 */
export type ExtensionParams = Record<string, string | true>;

/**
 * Server-side negotiation of one extension. It receives every offer of its name, in the client's
 * order of preference, each as the raw list of `[name, value]` parameters (so a repeated parameter
 * is visible), and returns the accepted answer with the runtime {@link Extension}, or `null` to
 * decline them all. An offer it cannot accept is declined, not an error (RFC 7692 §5): the
 * connection then proceeds without the extension.
 * @example
 * ```ts
 * import { serve, type ServerExtension } from 'fullduplex';
 *
 * // Accepts the first offer of x-identity without parameters (see the Extension example).
 * const identityServer: ServerExtension = {
 *   name: 'x-identity',
 *   negotiate: (offers) => (offers.some((params) => params.length === 0) ? { params: {}, extension: identity } : null),
 * };
 * await serve(handler, { extensions: [identityServer] });
 * ```
 */
export interface ServerExtension {
  /** Extension name as offered, e.g. `permessage-deflate`. */
  readonly name: string;
  /** Accepts one of `offers` (answer parameters and runtime extension) or declines all with null. */
  negotiate(offers: ReadonlyArray<ReadonlyArray<readonly [string, string | true]>>): { params: ExtensionParams; extension: Extension } | null;
}

/**
 * Client-side negotiation of one extension: what to offer, and the check of the server's answer.
 * @example
 * ```ts
 * import { connect, type ClientExtension } from 'fullduplex';
 *
 * const identityClient: ClientExtension = {
 *   name: 'x-identity',
 *   offer: () => [{}],
 *   accept(params) {
 *     if (params.length > 0) throw new Error('x-identity takes no parameters');
 *     return identity; // see the Extension example
 *   },
 * };
 * const ws = await connect('ws://127.0.0.1:8080/', { extensions: [identityClient] });
 * ```
 */
export interface ClientExtension {
  /** Extension name to offer, e.g. `permessage-deflate`. */
  readonly name: string;
  /** The offers to send, most preferred first (each one element of `Sec-WebSocket-Extensions`). */
  offer(): ExtensionParams[];
  /**
   * Validates the server's answer (raw parameter list, repeats visible) and returns the runtime
   * extension. Throws an `Error` whose message says what is wrong; the client then fails the
   * connection with `ConnectError` code `FD_ERR_EXTENSION_REJECTED`.
   */
  accept(params: ReadonlyArray<readonly [string, string | true]>): Extension;
}
