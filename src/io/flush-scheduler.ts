/**
 * Batches socket writes across a whole turn of the event loop.
 *
 * Sends made outside a connection's own `data` handler (timers, promise continuations, a message
 * from one socket broadcast to a thousand others) mark the connection dirty; one `setImmediate`
 * then flushes every dirty connection once. So each socket gets one write per turn, however many
 * frames were queued for it — the per-receiver coalescing that made broadcast 13x cheaper in
 * PERFORMANCE-NOTES §3.
 */

/** Anything with queued output. */
export interface Flushable {
  /** Set by the scheduler while the flushable waits in its queue. */
  flushScheduled: boolean;
  /** Writes everything queued. */
  flush(): void;
}

let queue: Flushable[] = [];
let scheduled = false;

function runFlushes(): void {
  scheduled = false;
  const batch = queue;
  queue = [];
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i]!;
    if (item.flushScheduled) {
      item.flushScheduled = false;
      item.flush();
    }
  }
}

/** Flushes `item` in the check phase of this event-loop turn (once, however often it is called). */
export function scheduleFlush(item: Flushable): void {
  if (item.flushScheduled) return;
  item.flushScheduled = true;
  queue.push(item);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runFlushes);
  }
}
