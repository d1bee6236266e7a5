/**
 * Sequence numbers per (origin, channel): the sender side hands out 1, 2, 3… per channel; the
 * receiver side drops its own echoes, suppresses duplicates and counts gaps, so that messages lost
 * between two nodes are reported exactly (a seq is consumed only for a message handed to the
 * transport, so sender-side drops and receiver-side gaps never count the same message twice).
 *
 * Memory stays bounded: the sender forgets channels idle for a prune period or two, the receiver
 * forgets (origin, channel) pairs idle for a quarter of that (so it has forgotten before the sender
 * can restart a channel at 1), origins with nothing left, and the channels it unsubscribed from.
 */
import { MAX_SEQ, ORIGIN_SIZE, nextSeq } from './wire.js';

/** Hands out sequence numbers per channel. */
export class SeqAllocator {
  // Two generations instead of a timestamp per entry: an entry unused for a whole period moves
  // to `previous` and is dropped at the next rotation. O(1) per message, no per-entry timer.
  private current = new Map<string, number>();
  private previous = new Map<string, number>();

  /** The next sequence number for `channel` (1 for a channel never seen or forgotten). */
  next(channel: string): number {
    let last = this.current.get(channel);
    if (last === undefined) {
      last = this.previous.get(channel) ?? 0;
      if (last !== 0) this.previous.delete(channel);
    }
    const seq = nextSeq(last);
    this.current.set(channel, seq);
    return seq;
  }

  /** Forgets channels not used since the previous call. Call periodically. */
  prune(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  /** Channels remembered (for leak tests). */
  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/** What {@link SeqTracker.accept} decided. */
export const ECHO = -1;
/** A message already seen (same or older seq from the same origin on the same channel). */
export const DUPLICATE = -2;

interface OriginState {
  current: Map<string, number>;
  previous: Map<string, number>;
}

const HALF = Math.floor(MAX_SEQ / 2);

/**
 * Receiver side: per (origin, channel), the last seq delivered. Anything at or behind it is a
 * duplicate (ioredis resends unanswered commands after a reconnect). Entries idle for two
 * {@link SeqTracker.prune} periods are forgotten, and an origin with none left is forgotten too:
 * prune at least four times as often as the senders' {@link SeqAllocator.prune}, so the receiver
 * forgets a channel before its sender can restart it at 1 (then seq 1 is a fresh baseline, not a
 * "duplicate").
 */
export class SeqTracker {
  private readonly self: Buffer;
  private readonly origins = new Map<string, OriginState>();

  /** `self` is this node's own origin id (its echoes are dropped). */
  constructor(self: Uint8Array) {
    if (self.length !== ORIGIN_SIZE) throw new RangeError(`origin must be ${ORIGIN_SIZE} bytes`);
    this.self = Buffer.from(self);
  }

  /**
   * Decides about one message: {@link ECHO}, {@link DUPLICATE}, or the number of messages missed
   * before it (0 when it is the next one, or the first heard from that origin on that channel).
   */
  accept(channel: string, origin: Buffer, seq: number): number {
    if (origin.equals(this.self)) return ECHO;
    const key = origin.toString('latin1');
    let state = this.origins.get(key);
    if (state === undefined) {
      state = { current: new Map(), previous: new Map() };
      this.origins.set(key, state);
    }
    let last = state.current.get(channel);
    if (last === undefined) {
      last = state.previous.get(channel);
      if (last !== undefined) state.previous.delete(channel);
    }
    if (last === undefined) {
      state.current.set(channel, seq);
      return 0;
    }
    // Forward distance on the ring 1..MAX_SEQ; more than half way round means "behind".
    const distance = (seq - last + MAX_SEQ) % MAX_SEQ;
    if (distance === 0 || distance > HALF) {
      state.current.set(channel, last);
      return DUPLICATE;
    }
    state.current.set(channel, seq);
    return distance - 1;
  }

  /** Forgets every origin's state for `channel` (called when the node unsubscribes from it). */
  forgetChannel(channel: string): void {
    for (const [key, state] of this.origins) {
      state.current.delete(channel);
      state.previous.delete(channel);
      if (state.current.size === 0 && state.previous.size === 0) this.origins.delete(key);
    }
  }

  /** Ages entries by one period; drops those idle for two, and origins with nothing left. */
  prune(): void {
    for (const [key, state] of this.origins) {
      if (state.current.size === 0) this.origins.delete(key);
      else this.origins.set(key, { current: new Map(), previous: state.current });
    }
  }

  /** Origins remembered (for leak tests). */
  get originCount(): number {
    return this.origins.size;
  }

  /** (origin, channel) pairs remembered (for leak tests). */
  get entries(): number {
    let n = 0;
    for (const state of this.origins.values()) n += state.current.size + state.previous.size;
    return n;
  }
}
