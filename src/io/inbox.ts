/**
 * Received messages nobody has consumed yet, and the consumers waiting for one (cf.
 * python-websockets' `Assembler`). Bounded in messages and in bytes: when either high-water mark
 * is reached the owner is told to stop reading from the transport, and told to resume once the
 * queue has drained below a quarter of both.
 *
 * Who calls what: the session pushes each message it does not dispatch as an event
 * ({@link push}); faces take them with {@link next} (one promise per `recv()`), and the session
 * calls {@link close} once the connection ends so waiters reject and later calls fail fast.
 * @example
 * ```ts
 * import { Inbox } from 'fullduplex';
 *
 * // 16 messages or 1 MiB queued pause the producer; it resumes below a quarter of both.
 * const inbox = new Inbox<string>(16, 1024 * 1024, (full) => (full ? source.pause() : source.resume()));
 * inbox.push('hello', 5);
 * console.log(await inbox.next()); // 'hello'
 * inbox.close(() => new Error('closed')); // waiters reject, later next() calls too
 * ```
 */
export class Inbox<T> {
  private items: T[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  private waiters: Array<{ resolve(item: T): void; reject(error: Error): void }> | null = null;
  private full = false;
  private closedWith: (() => Error) | null = null;

  /**
   * @param maxMessages queue length at which reading pauses
   * @param maxBytes queued bytes at which reading pauses
   * @param onFull called when a high-water mark is reached (`true`) and when the queue drains
   *   below a quarter of both (`false`)
   */
  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
    private readonly onFull: (full: boolean) => void,
  ) {}

  /** Messages queued. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Bytes queued. */
  get byteLength(): number {
    return this.bytes;
  }

  /** True when someone awaits a message (so it need not be queued). */
  get hasWaiter(): boolean {
    return this.waiters !== null && this.waiters.length > 0;
  }

  /** Hands `item` (of `size` bytes) to the oldest waiter, or queues it. */
  push(item: T, size: number): void {
    const waiters = this.waiters;
    if (waiters !== null && waiters.length > 0) {
      waiters.shift()!.resolve(item);
      return;
    }
    this.items.push(item);
    this.sizes.push(size);
    this.bytes += size;
    if (!this.full && (this.length >= this.maxMessages || this.bytes >= this.maxBytes)) {
      // Nobody is consuming: stop reading rather than buffer without bound.
      this.full = true;
      this.onFull(true);
    }
  }

  /** The next message: at once when one is queued, else when one arrives; rejects once closed. */
  next(): Promise<T> {
    if (this.head < this.items.length) return Promise.resolve(this.shift());
    if (this.closedWith !== null) return Promise.reject(this.closedWith());
    return new Promise<T>((resolve, reject) => (this.waiters ??= []).push({ resolve, reject }));
  }

  /** The connection ended: waiters reject with `error()`, later {@link next} calls too once the queue is empty. */
  close(error: () => Error): void {
    this.closedWith = error;
    const waiters = this.waiters;
    if (waiters === null || waiters.length === 0) return;
    this.waiters = null;
    const reason = error();
    for (const waiter of waiters) waiter.reject(reason);
  }

  private shift(): T {
    const item = this.items[this.head]!;
    this.bytes -= this.sizes[this.head]!;
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.sizes = [];
      this.head = 0;
    }
    if (this.full && this.length <= this.maxMessages >>> 2 && this.bytes <= this.maxBytes / 4) {
      this.full = false;
      this.onFull(false);
    }
    return item;
  }
}
