/**
 * Keepalive pings (cf. python-websockets' `keepalive()`): every `interval` ms of silence from the
 * peer's pongs, send a ping; if no pong arrives within `timeout` ms, the peer (or the path to it)
 * is gone and the owner drops the connection.
 *
 * Timers carry their owner as an argument to module-level functions: no closures per connection.
 */
export interface HeartbeatOwner {
  /** Sends a keepalive ping; returns false when the connection can no longer send. */
  sendKeepalivePing(): boolean;
  /** No pong arrived in time. */
  keepaliveTimedOut(): void;
}

/** The heartbeat of one connection. Call {@link pong} on every pong and {@link stop} at the end. */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private awaitingPong = false;

  constructor(
    private readonly owner: HeartbeatOwner,
    private readonly interval: number,
    private readonly timeout: number,
  ) {
    this.schedule(interval);
  }

  /** A pong arrived: the peer is alive; the next ping is due one interval from now. */
  pong(): void {
    if (this.timer === null) return;
    this.awaitingPong = false;
    clearTimeout(this.timer);
    this.schedule(this.interval);
  }

  /** Stops for good. */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** @internal */
  tick(): void {
    if (this.awaitingPong) {
      this.timer = null;
      this.owner.keepaliveTimedOut();
      return;
    }
    if (!this.owner.sendKeepalivePing()) {
      this.timer = null;
      return;
    }
    this.awaitingPong = true;
    this.schedule(this.timeout);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(heartbeatTick, ms, this);
    // A heartbeat alone must not keep the process alive.
    this.timer.unref();
  }
}

function heartbeatTick(heartbeat: Heartbeat): void {
  heartbeat.tick();
}
