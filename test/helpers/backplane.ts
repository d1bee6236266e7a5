/**
 * Driving backplanes directly in tests: a sink that records what it is given, and a poll-until
 * helper (events are awaited, counts asserted; nothing here measures time).
 */
import type { BackplaneEvent, BackplaneSink } from '../../src/server/backplane.js';
import { sleep } from './async.js';

/** One delivery a sink received. */
export interface Delivery {
  topic: string | null;
  payload: Buffer;
  binary: boolean;
}

/** A {@link BackplaneSink} that keeps everything (payloads copied: views may be reused). */
export class RecordingSink implements BackplaneSink {
  readonly got: Delivery[] = [];
  readonly events: BackplaneEvent[] = [];

  deliver(topic: string | null, payload: Buffer, binary: boolean): void {
    this.got.push({ topic, payload: Buffer.from(payload), binary });
  }

  event(event: BackplaneEvent): void {
    this.events.push(event);
  }

  /** Deliveries for `topic`. */
  on(topic: string | null): Delivery[] {
    return this.got.filter((d) => d.topic === topic);
  }

  /** How many events of `type` so far. */
  count(type: BackplaneEvent['type']): number {
    return this.events.filter((e) => e.type === type).length;
  }
}

/** Polls `check` until it returns true, or throws after `ms` naming `what`. */
export async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}
