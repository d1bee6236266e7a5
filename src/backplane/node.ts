/**
 * What every backplane driver shares, whatever carries the bytes (Redis, node:cluster IPC):
 * this node's origin id, encoding with per-channel sequence numbers, the inbound path (validate,
 * drop echoes and duplicates, count gaps, deliver), the counters, and the health events — with
 * loss and malformed-input events coalesced so that an outage or a flood of bad input cannot turn
 * into a flood of events.
 */
import { randomBytes } from 'node:crypto';
import type { BackplaneEvent, BackplaneSink, BackplaneStats } from '../server/backplane.js';
import { DUPLICATE, ECHO, SeqAllocator, SeqTracker } from './sequencer.js';
import { HEADER_SIZE, ORIGIN_SIZE, WIRE_VERSION, decode, encode } from './wire.js';

/**
 * Counters of a driver: the core's {@link BackplaneStats} plus what drivers add.
 * @example
 * ```ts
 * import { redisBackplane, type DriverStats } from 'fullduplex/redis';
 *
 * const backplane = redisBackplane({ publisher, subscriber });
 * const stats: DriverStats = backplane.stats();
 * console.log(stats.published, stats.received, stats.gaps, stats.dropped, stats.echoes, stats.downs);
 * ```
 */
export interface DriverStats extends BackplaneStats {
  /** Our own messages that came back and were dropped. */
  echoes: number;
  /** Forwards handed to the transport that then failed (their loss shows up as gaps at receivers). */
  publishErrors: number;
  /** Transitions to down. */
  downs: number;
}

type DropReason = Extract<BackplaneEvent, { type: 'dropped' }>['reason'];

/** Tuning shared by the drivers. */
export interface NodeCoreOptions {
  /** Largest payload forwarded or accepted, in bytes. */
  maxMessageSize: number;
  /**
   * A sender forgets a channel idle for between this and twice this (ms), and restarts its seq at
   * 1; receivers forget (origin, channel) state idle for a quarter to a half of it, first.
   */
  idleReset: number;
  /** At most one `dropped` (per reason) and one `malformed` event per this period (ms). */
  eventInterval: number;
}

/** Defaults for {@link NodeCoreOptions}. */
export const NODE_CORE_DEFAULTS: NodeCoreOptions = {
  maxMessageSize: 16 * 1024 * 1024,
  idleReset: 4 * 60_000,
  eventInterval: 1000,
};

/** One backplane node's shared state; a driver owns one and feeds it. */
export class NodeCore {
  /** This process's origin id: 8 random bytes. */
  readonly id: Buffer = randomBytes(8);
  /** Counters, live. */
  readonly counters: DriverStats = {
    published: 0,
    received: 0,
    gaps: 0,
    dropped: 0,
    malformed: 0,
    duplicates: 0,
    up: false,
    echoes: 0,
    publishErrors: 0,
    downs: 0,
  };
  /** Receiver-side sequencing (exposed for leak checks). */
  readonly tracker: SeqTracker;
  /** Sender-side sequencing (exposed for leak checks). */
  readonly seqs = new SeqAllocator();
  private sink: BackplaneSink | null = null;
  private readonly options: NodeCoreOptions;
  private readonly pendingDrops = new Map<DropReason, number>();
  private pendingMalformed = 0;
  private lastMalformed = '';
  private eventTimer: NodeJS.Timeout | null = null;
  private maintenance: NodeJS.Timeout | null = null;
  private ticks = 0;

  constructor(options: Partial<NodeCoreOptions> = {}) {
    this.options = { ...NODE_CORE_DEFAULTS, ...options };
    this.tracker = new SeqTracker(this.id);
  }

  /** Largest payload forwarded or accepted. */
  get maxMessageSize(): number {
    return this.options.maxMessageSize;
  }

  /** Attaches the server's sink and starts the pruning timer. */
  start(sink: BackplaneSink): void {
    this.sink = sink;
    // unref: the timer never keeps a process alive.
    this.maintenance = setInterval(() => this.prune(), this.options.idleReset / 4).unref();
  }

  /** One maintenance tick: receivers age every tick, senders every fourth (see idleReset). */
  prune(): void {
    this.tracker.prune();
    if (++this.ticks % 4 === 0) this.seqs.prune();
  }

  /**
   * Encodes a local publish for `channel` (taking its next seq). Call only when the message will
   * really be handed to the transport: a seq taken and not sent is reported as a gap by receivers.
   */
  encode(channel: string, payload: Uint8Array, binary: boolean, broadcast: boolean): Buffer {
    this.counters.published++;
    return encode({ binary, broadcast, origin: this.id, seq: this.seqs.next(channel), payload });
  }

  /**
   * One message from the transport. `channel` identifies the sequence stream, `topic` is where it
   * goes (null: broadcast). Never throws.
   */
  inbound(channel: string, topic: string | null, raw: Uint8Array): void {
    // Our own publishes come back on every channel we also subscribe to: recognise them by the
    // origin bytes before decoding, so an echoed text payload is not UTF-8-validated for nothing.
    if (raw.length >= HEADER_SIZE && raw[0] === WIRE_VERSION && this.isOwnOrigin(raw)) {
      this.counters.echoes++;
      return;
    }
    const message = decode(raw, this.options.maxMessageSize);
    if (!message.ok) return this.malformed(message.reason);
    if (message.broadcast !== (topic === null)) return this.malformed('broadcast flag does not match the channel');
    const verdict = this.tracker.accept(channel, message.origin, message.seq);
    if (verdict === ECHO) {
      this.counters.echoes++;
      return;
    }
    if (verdict === DUPLICATE) {
      this.counters.duplicates++;
      return;
    }
    if (verdict > 0) {
      this.counters.gaps += verdict;
      this.emit({ type: 'gap', origin: message.origin.toString('hex'), topic, missed: verdict });
    }
    this.counters.received++;
    try {
      this.sink?.deliver(topic, message.payload, message.binary);
    } catch (error) {
      // The transport's read loop must survive a throwing sink; surface the bug without crashing it.
      process.emitWarning(`backplane sink threw: ${String(error)}`);
    }
  }

  private isOwnOrigin(raw: Uint8Array): boolean {
    const id = this.id;
    for (let i = 0; i < ORIGIN_SIZE; i++) if (raw[2 + i] !== id[i]) return false;
    return true;
  }

  /** Counts `count` messages not forwarded, and reports them (coalesced). */
  drop(reason: DropReason, count = 1): void {
    this.counters.dropped += count;
    this.pendingDrops.set(reason, (this.pendingDrops.get(reason) ?? 0) + count);
    this.scheduleEvents();
  }

  /** Counts and reports (coalesced) one malformed inbound message. */
  malformed(reason: string): void {
    this.counters.malformed++;
    this.pendingMalformed++;
    this.lastMalformed = reason;
    this.scheduleEvents();
  }

  /** Health transition; emits `down`/`up` only on a change. */
  setUp(up: boolean, error?: Error): void {
    if (up === this.counters.up) return;
    this.counters.up = up;
    if (up) {
      this.flushEvents();
      this.emit({ type: 'up' });
    } else {
      this.counters.downs++;
      this.emit(error === undefined ? { type: 'down' } : { type: 'down', error });
    }
  }

  /** A copy of the counters. */
  stats(): DriverStats {
    return { ...this.counters };
  }

  /** Reports what is pending and stops the timers. */
  close(): void {
    this.flushEvents();
    if (this.maintenance !== null) clearInterval(this.maintenance);
    this.maintenance = null;
    if (this.eventTimer !== null) clearTimeout(this.eventTimer);
    this.eventTimer = null;
    this.sink = null;
  }

  /** Hands an event to the sink, shielding the transport from a throwing listener. */
  emit(event: BackplaneEvent): void {
    try {
      this.sink?.event(event);
    } catch (error) {
      process.emitWarning(`backplane event listener threw: ${String(error)}`);
    }
  }

  private scheduleEvents(): void {
    if (this.eventTimer !== null) return;
    // The first occurrence is reported at once; later ones within the period are summed.
    this.flushEvents();
    this.eventTimer = setTimeout(() => {
      this.eventTimer = null;
      if (this.pendingDrops.size > 0 || this.pendingMalformed > 0) this.scheduleEvents();
    }, this.options.eventInterval).unref();
  }

  private flushEvents(): void {
    for (const [reason, count] of this.pendingDrops) this.emit({ type: 'dropped', reason, count });
    this.pendingDrops.clear();
    if (this.pendingMalformed > 0) {
      const n = this.pendingMalformed;
      this.pendingMalformed = 0;
      this.emit({ type: 'malformed', reason: n === 1 ? this.lastMalformed : `${n} messages, last: ${this.lastMalformed}` });
    }
  }
}
