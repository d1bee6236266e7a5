import type { ClientExtension, EncodedFrame, Extension, ExtensionParams, ServerExtension } from '../frame/extension.js';
import { Opcode } from '../frame/opcode.js';
import { compressStandalone, createDeflater, type Deflater } from './deflater.js';
import { createInflater, type Inflater } from './inflater.js';
import {
  acceptAnswer,
  acceptOffer,
  checkWindowBitsOption,
  makeOffer,
  NegotiationError,
  type ClientPolicy,
  type DeflateParams,
  type RawParams,
  type ServerPolicy,
} from './params.js';
import { windowBitsForZlib } from './zlib-sync.js';

/** The extension token (RFC 7692 §6). */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';
/** RSV1, "Per-Message Compressed" (RFC 7692 §6). */
const RSV1 = 0b100;

/** Compression settings shared by both roles. */
export interface DeflateTuning {
  /** zlib compression level 0–9. Default 6 (zlib's default). */
  level?: number;
  /** zlib memLevel 1–9: hash table size, 2^(memLevel+9) bytes. Default 5 (python-websockets' measured sweet spot). */
  memLevel?: number;
  /**
   * Messages whose first frame is shorter than this are sent uncompressed (RSV1 clear). Default 0:
   * with context takeover even tiny JSON events shrink, and without it a message whose compressed
   * form is not smaller is sent uncompressed anyway (see README of this module).
   */
  threshold?: number;
  /**
   * Seconds after which an idle connection's own zlib contexts (context-takeover directions) are
   * freed, 0 = never (default). Each direction then keeps its last window of plaintext (2^bits
   * bytes) and rebuilds the context from it, as `dictionary`, at its next message, so the bytes
   * on the wire are unaffected. A connection counts as idle when no message was compressed or
   * inflated on it since the previous sweep (sweeps run every `releaseIdleAfter` seconds on an
   * unref'd timer), so contexts go after between one and two periods of silence.
   */
  releaseIdleAfter?: number;
}

/**
 * Server options for {@link permessageDeflate}.
 * @example
 * ```ts
 * import { serve, type PerMessageDeflateOptions } from 'fullduplex';
 *
 * // Smaller windows for many idle connections; skip tiny messages.
 * const deflate: PerMessageDeflateOptions = { serverMaxWindowBits: 10, clientMaxWindowBits: 10, threshold: 64 };
 * await serve(handler, { perMessageDeflate: deflate });
 * ```
 */
export interface PerMessageDeflateOptions extends DeflateTuning {
  /** Window of our compressor, 8–15 (answered as `server_max_window_bits` when below 15). Default 12. */
  serverMaxWindowBits?: number;
  /** Window asked of the client when it offers `client_max_window_bits`. Default 12. */
  clientMaxWindowBits?: number;
  /** Reset our compressor after every message (always answer `server_no_context_takeover`). Default false. */
  serverNoContextTakeover?: boolean;
  /**
   * Ask the client to reset its compressor after every message. Default false: Safari 15.0–15.3
   * breaks on it (uWebSockets#1347), so only on explicit request.
   */
  clientNoContextTakeover?: boolean;
}

/**
 * Client options for {@link permessageDeflateClient}.
 * @example
 * ```ts
 * import { connect, type PerMessageDeflateClientOptions } from 'fullduplex';
 *
 * const deflate: PerMessageDeflateClientOptions = { clientNoContextTakeover: true, windowBits: 10 };
 * const ws = await connect('ws://127.0.0.1:8080/', { perMessageDeflate: deflate });
 * console.log(ws.extensions); // e.g. 'permessage-deflate; client_no_context_takeover; …'
 * ```
 */
export interface PerMessageDeflateClientOptions extends DeflateTuning {
  /**
   * `true` (default): offer `client_max_window_bits` without a value, letting the server pick our
   * window, as browsers, ws and undici do; a number 8–15: offer that value; `false`: don't offer it.
   */
  clientMaxWindowBits?: number | boolean;
  /** Offer `server_max_window_bits=N` (the server must compress with at most N bits). Not offered by default. */
  serverMaxWindowBits?: number;
  /** Offer `server_no_context_takeover`. Default false. */
  serverNoContextTakeover?: boolean;
  /** Offer `client_no_context_takeover` and reset our compressor per message. Default false. */
  clientNoContextTakeover?: boolean;
  /** Cap on our compressor's window below whatever the server allows, 8–15. Default 12. */
  windowBits?: number;
}

interface Tuning {
  level: number;
  memLevel: number;
  threshold: number;
  /** Idle release period in milliseconds; 0 or absent = never. */
  releaseAfterMs?: number;
}

function resolveTuning(o: DeflateTuning): Tuning {
  const level = o.level ?? 6;
  const memLevel = o.memLevel ?? 5;
  const threshold = o.threshold ?? 0;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`level must be an integer from 0 to 9, got ${String(level)}`);
  if (!Number.isInteger(memLevel) || memLevel < 1 || memLevel > 9) throw new RangeError(`memLevel must be an integer from 1 to 9, got ${String(memLevel)}`);
  if (!Number.isInteger(threshold) || threshold < 0) throw new RangeError(`threshold must be a non-negative integer, got ${String(threshold)}`);
  const release = o.releaseIdleAfter ?? 0;
  if (typeof release !== 'number' || !(release >= 0) || !Number.isFinite(release)) throw new RangeError(`releaseIdleAfter must be a non-negative number of seconds, got ${String(release)}`);
  return { level, memLevel, threshold, releaseAfterMs: Math.round(release * 1000) };
}

/**
 * Idle sweeps, one unref'd timer per period: connections holding a dedicated zlib context are
 * registered while they hold one; a sweep frees the contexts of those untouched since the last.
 */
const sweeps = new Map<number, { members: Set<PerMessageDeflate>; timer: NodeJS.Timeout }>();

function enlist(period: number, member: PerMessageDeflate): void {
  let sweep = sweeps.get(period);
  if (sweep === undefined) {
    const members = new Set<PerMessageDeflate>();
    const timer = setInterval(() => sweepNow(period), period);
    timer.unref();
    sweeps.set(period, (sweep = { members, timer }));
  }
  sweep.members.add(member);
}

function delist(period: number, member: PerMessageDeflate): void {
  const sweep = sweeps.get(period);
  if (sweep === undefined || !sweep.members.delete(member) || sweep.members.size > 0) return;
  clearInterval(sweep.timer);
  sweeps.delete(period);
}

function sweepNow(period: number): number {
  const sweep = sweeps.get(period);
  if (sweep === undefined) return 0;
  let freed = 0;
  for (const member of [...sweep.members]) if (member.sweep()) freed++;
  return freed;
}

/**
 * Runs every idle sweep now (tests, benchmarks): frees the contexts of connections untouched
 * since the previous sweep and marks the others untouched. Returns how many connections were released.
 */
export function sweepIdleDeflate(): number {
  let freed = 0;
  for (const period of [...sweeps.keys()]) freed += sweepNow(period);
  return freed;
}

/**
 * One connection's permessage-deflate session: the runtime {@link Extension}. Holds no zlib state
 * until a compressed message is sent or received; directions without context takeover borrow a
 * pooled context per message, so they cost nothing between messages.
 */
export class PerMessageDeflate implements Extension {
  // On the prototype, not per instance: a negotiated-but-unused connection keeps only this
  // object's own four fields (the params and tuning objects are shared between connections).
  declare readonly name: typeof PERMESSAGE_DEFLATE;
  declare readonly rsvBits: number;
  /** Created at the first compressed message received. */
  private inflater: Inflater | null = null;
  /** Created at the first message compressed. */
  private deflater: Deflater | null = null;
  /** An outgoing compressed message has started and not yet ended. */
  private midMessage = false;
  /** Idle release: 0 = off, 1 = registered and used since the last sweep, 2 = registered and untouched. */
  private sweepState = 0;

  constructor(
    /** The negotiated parameters from this endpoint's point of view (shared, frozen). */
    readonly params: DeflateParams,
    private readonly tuning: Tuning,
  ) {}

  private inflaterNow(): Inflater {
    const p = this.params;
    this.touch(!p.remoteNoContextTakeover);
    return (this.inflater ??= createInflater(p.remoteMaxWindowBits, !p.remoteNoContextTakeover, (this.tuning.releaseAfterMs ?? 0) > 0));
  }

  private deflaterNow(): Deflater {
    const p = this.params;
    const t = this.tuning;
    this.touch(!p.localNoContextTakeover);
    return (this.deflater ??= createDeflater({ windowBits: p.localMaxWindowBits, level: t.level, memLevel: t.memLevel }, !p.localNoContextTakeover, (t.releaseAfterMs ?? 0) > 0));
  }

  /** Marks the connection used; registers it for idle sweeps when a takeover direction is used. */
  private touch(takeover: boolean): void {
    if (this.sweepState === 0) {
      if (!takeover || !this.tuning.releaseAfterMs) return;
      enlist(this.tuning.releaseAfterMs, this);
    }
    this.sweepState = 1;
  }

  /**
   * Called by the idle sweep: frees the dedicated zlib contexts if the connection was untouched
   * since the previous sweep and no message is half-way through either direction.
   * @internal
   */
  sweep(): boolean {
    if (this.sweepState === 1) {
      this.sweepState = 2;
      return false;
    }
    if (this.midMessage) return false;
    // A message half-way in (inflater) keeps its context; the rest of it re-registers the connection.
    const deflaterFreed = this.deflater?.release() ?? false;
    const inflaterFreed = this.inflater?.release() ?? false;
    this.sweepState = 0;
    delist(this.tuning.releaseAfterMs!, this);
    return deflaterFreed || inflaterFreed;
  }

  decode(piece: Buffer, fin: boolean, budget: number): Buffer {
    return this.inflaterNow().decode(piece, fin, budget);
  }

  encode(payload: Uint8Array, opcode: number, fin: boolean): EncodedFrame {
    if (opcode !== Opcode.CONTINUATION) {
      // Decide before feeding the compressor: a declined message must never enter its window
      // (sockudo-ws#14), since the peer's inflater never sees it.
      if (payload.length < this.tuning.threshold) return { payload, rsv: 0 };
      const out = this.deflaterNow().compress(payload, fin);
      // Without takeover the context was reset at the end of the message, so when compression
      // does not pay, sending the original instead leaves both sides consistent.
      if (fin && this.params.localNoContextTakeover && out.length >= payload.length) return { payload, rsv: 0 };
      this.midMessage = !fin;
      return { payload: out, rsv: RSV1 };
    }
    if (!this.midMessage) throw new Error('permessage-deflate: continuation frame without a compressed first frame');
    this.midMessage = !fin;
    return { payload: this.deflaterNow().compress(payload, fin), rsv: 0 };
  }

  /**
   * The frame to send for a message compressed once for many receivers ({@link SharedMessage}):
   * the shared bytes for this connection's window class, and this connection's compressor forgets
   * its history so it never references bytes the peer holds in a different order. Call it at the
   * moment the message becomes this connection's next data message (the same moment `encode` would
   * be called), never while a fragmented message is being sent; the frame is a single FIN frame.
   */
  encodeShared(message: SharedMessage): EncodedFrame {
    if (this.midMessage) throw new Error('permessage-deflate: encodeShared() while a fragmented message is being sent');
    const payload = message.payload;
    if (payload.length < this.tuning.threshold) return { payload, rsv: 0 };
    const compressed = message.compressedFor(windowBitsForZlib(this.params.localMaxWindowBits), this.tuning);
    if (this.params.localNoContextTakeover) {
      if (compressed.length >= payload.length) return { payload, rsv: 0 };
    } else {
      // The peer's window now holds these bytes after what our context knows; forgetting makes
      // our next message reference nothing before it, which the peer can always inflate.
      this.deflater?.forget();
    }
    return { payload: compressed, rsv: RSV1 };
  }

  dispose(): void {
    if (this.sweepState !== 0) delist(this.tuning.releaseAfterMs!, this);
    this.sweepState = 0;
    this.inflater?.dispose();
    this.deflater?.dispose();
    this.inflater = null;
    this.deflater = null;
    this.midMessage = false;
  }
}
Object.defineProperty(PerMessageDeflate.prototype, 'name', { value: PERMESSAGE_DEFLATE });
Object.defineProperty(PerMessageDeflate.prototype, 'rsvBits', { value: RSV1 });

/**
 * Negotiated parameter sets, shared: there are at most 8 × 8 × 2 × 2 of them, so every connection
 * with the same parameters points at one frozen object instead of owning a copy.
 */
const sharedParams = new Map<number, DeflateParams>();

function internParams(p: DeflateParams): DeflateParams {
  const key = p.localMaxWindowBits | (p.remoteMaxWindowBits << 4) | (p.localNoContextTakeover ? 256 : 0) | (p.remoteNoContextTakeover ? 512 : 0);
  let shared = sharedParams.get(key);
  if (shared === undefined) sharedParams.set(key, (shared = Object.freeze({ ...p })));
  return shared;
}

/**
 * One outgoing message compressed at most once per window class, for publish/broadcast.
 *
 * Why it is valid: the bytes come from a fresh context, so they reference nothing before them and
 * any receiver can inflate them whatever its history (RFC 7692 §7.2.2: back-references are the
 * sender's choice). What must never happen is the receiver's own compressor later referencing a
 * window the peer no longer has in the same order (sockudo-ws#14): for receivers without context
 * takeover nothing is kept anyway; for receivers with it, {@link PerMessageDeflate.encodeShared}
 * resets their compressor, which afterwards references only bytes of the message it compresses.
 * The cost is one message compressed without context per broadcast on those connections.
 */
export class SharedMessage {
  private readonly byWindow = new Map<number, Buffer>();

  /** `payload` must not change while the message is being sent. */
  constructor(readonly payload: Uint8Array) {}

  /** The compressed bytes for receivers whose compressor window is `windowBits` (already adjusted for zlib). */
  compressedFor(windowBits: number, tuning: { level: number; memLevel: number }): Buffer {
    let out = this.byWindow.get(windowBits);
    if (out === undefined) {
      out = compressStandalone(this.payload, { windowBits, level: tuning.level, memLevel: tuning.memLevel });
      this.byWindow.set(windowBits, out);
    }
    return out;
  }
}

/**
 * Server side of permessage-deflate: accepts the first acceptable offer (RFC 7692 §5, §7.1), one
 * with an unknown, repeated or invalid parameter is declined and the next one tried.
 *
 * Defaults: our window 12 bits, memLevel 5, level 6, client window 12 when the client offers
 * `client_max_window_bits`, context takeover both ways.
 * @example
 * ```ts
 * import { permessageDeflate, serve } from 'fullduplex';
 *
 * // Same as `perMessageDeflate: { serverNoContextTakeover: true }`, in an explicit extension list.
 * await serve(handler, { extensions: [permessageDeflate({ serverNoContextTakeover: true })] });
 * ```
 */
export function permessageDeflate(options: PerMessageDeflateOptions = {}): ServerExtension {
  const tuning = resolveTuning(options);
  const policy: ServerPolicy = {
    serverMaxWindowBits: checkWindowBitsOption('serverMaxWindowBits', options.serverMaxWindowBits ?? 12),
    clientMaxWindowBits: checkWindowBitsOption('clientMaxWindowBits', options.clientMaxWindowBits ?? 12),
    serverNoContextTakeover: options.serverNoContextTakeover ?? false,
    clientNoContextTakeover: options.clientNoContextTakeover ?? false,
  };
  return {
    name: PERMESSAGE_DEFLATE,
    negotiate(offers: ReadonlyArray<RawParams>): { params: ExtensionParams; extension: Extension } | null {
      for (const offer of offers) {
        let accepted: ReturnType<typeof acceptOffer>;
        try {
          accepted = acceptOffer(offer, policy);
        } catch (err) {
          if (err instanceof NegotiationError) continue; // decline, try the next (RFC 7692 §5)
          throw err;
        }
        return { params: accepted.answer, extension: new PerMessageDeflate(internParams(accepted.params), tuning) };
      }
      return null;
    },
  };
}

/**
 * Client side of permessage-deflate: offers `permessage-deflate; client_max_window_bits` by
 * default and validates the server's answer during the handshake (a bad answer throws an `Error`
 * naming the problem, never later at the first compressed frame).
 * @example
 * ```ts
 * import { connect, permessageDeflateClient } from 'fullduplex';
 *
 * const ws = await connect('ws://127.0.0.1:8080/', {
 *   extensions: [permessageDeflateClient({ clientMaxWindowBits: 12, level: 1 })],
 * });
 * ```
 */
export function permessageDeflateClient(options: PerMessageDeflateClientOptions = {}): ClientExtension {
  const tuning = resolveTuning(options);
  const cmwb = options.clientMaxWindowBits ?? true;
  const policy: ClientPolicy = {
    clientMaxWindowBits: typeof cmwb === 'number' ? checkWindowBitsOption('clientMaxWindowBits', cmwb) : cmwb,
    serverMaxWindowBits: options.serverMaxWindowBits === undefined ? undefined : checkWindowBitsOption('serverMaxWindowBits', options.serverMaxWindowBits),
    serverNoContextTakeover: options.serverNoContextTakeover ?? false,
    clientNoContextTakeover: options.clientNoContextTakeover ?? false,
    windowBits: checkWindowBitsOption('windowBits', options.windowBits ?? 12),
  };
  return {
    name: PERMESSAGE_DEFLATE,
    offer: () => [makeOffer(policy)],
    accept(params: RawParams): Extension {
      let negotiated: DeflateParams;
      try {
        negotiated = acceptAnswer(params, policy);
      } catch (err) {
        if (err instanceof NegotiationError) throw new Error(`invalid permessage-deflate answer: ${err.message}`);
        throw err;
      }
      return new PerMessageDeflate(internParams(negotiated), tuning);
    },
  };
}
