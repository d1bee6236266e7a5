/**
 * The case harness: one WebSocket connection to (or from) the target over a raw socket, already
 * past the opening handshake. A case drives it through {@link CaseContext}; the harness answers
 * pings, takes part in the closing handshake, records every frame both ways, checks each frame
 * the target sends against RFC 6455, and finally judges the case the way Autobahn|Testsuite does
 * (`Case.onConnectionLost`): the observed events against the expected lists, then the close.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isUtf8 } from 'node:buffer';
import { isValidWireCloseCode } from '../frame/close-code.js';
import type { PerMessageDeflate } from './deflate.js';
import { canStillMatch, ev, judge, matchesAll, type CloseFacts, type Expectations, type Judged } from './judge.js';
import type { ExpectedClose, LogEntry, Observed, TargetRole, Verdict } from './types.js';
import { buildFrame, bytesOf, closePayload, describeFrame, LenientFrameReader, shortPayload, type FrameSpec, type WireFrame } from './wire.js';

export { describeObserved, ev } from './judge.js';

/** Timing knobs of a session. */
export interface SessionOptions {
  /** What the target is. When it is a server, we are the client and mask every frame. */
  targetRole: TargetRole;
  /** Bytes that arrived with the end of the opening handshake. */
  head?: Buffer;
  /** How long to wait for the target's close frame after ours. Default 1000 ms. */
  closeTimeout?: number;
  /**
   * How long a server target has, once the closing handshake is done, to close the TCP
   * connection (RFC 6455 §7.1.1: the server closes it first). Default 1000 ms.
   */
  tcpCloseTimeout?: number;
  /** Negotiated permessage-deflate, for 12.x/13.x. */
  deflate?: PerMessageDeflate | null;
  /** The case is about size or volume: a clean 1008/1009 refusal is INFORMATIONAL (see judge.ts). */
  limits?: boolean;
}

/** How to put bytes on the wire. */
export interface SendOptions {
  /** Write in pieces of this many bytes (Autobahn's `chopsize`). */
  chop?: number;
  /** Milliseconds between pieces (default: next event loop turn). */
  delay?: number;
  /** Make sure this frame leaves in its own TCP segment (Autobahn's `sync`). */
  sync?: boolean;
}

/** How long to keep listening once a case can no longer pass. */
const DIVERGED_GRACE = 25;

/** Largest single socket write; see `write`. */
const WRITE_PIECE = 64 * 1024;

/** Frames beyond this many are counted, not listed, in the transcript. */
const MAX_LOG = 400;

/**
 * What a case sees: send frames, wait, state what it expects. Everything else (pongs, close
 * replies, the TCP close, the verdict) is the harness's job.
 */
export class CaseContext {
  readonly targetRole: TargetRole;
  /** Transcript of the connection. */
  readonly log: LogEntry[] = [];
  /** Events compared with the expectation (Autobahn's `received`). */
  readonly received: Observed[] = [];
  /** RFC 6455 rules the target broke, each a sentence. */
  readonly violations: string[] = [];
  /** Don't start the closing handshake when the expected events are in (Autobahn's `suppressClose`). */
  suppressClose = false;
  /** The negotiated permessage-deflate, if any. */
  readonly deflate: PerMessageDeflate | null;

  private readonly socket: Socket;
  private readonly started = performance.now();
  private readonly reader = new LenientFrameReader();
  private readonly closeTimeout: number;
  private readonly tcpCloseTimeout: number;
  private expected: Expectations | null = null;
  private expectedClose: ExpectedClose = { closedByMe: true, codes: [1000], requireClean: true };
  private override: { verdict: Verdict; reason: string | (() => string) } | null = null;
  private waiters: Array<() => void> = [];
  private adjuster: ((base: Judged) => Judged) | null = null;
  private readonly limits: boolean;
  /** Bytes on the wire before this context took the socket over (the opening handshake). */
  private readonly bytesAtStart: number;
  private bytesBeforeRemoteClose: number | null = null;
  /** No case may outlast this many ms from its start (the runner's `caseTimeout`). */
  private cap: number | null = null;
  /** When each entry of {@link received} arrived, in ms since the start. */
  readonly receivedAt: number[] = [];
  private logDropped = 0;
  private sentCloseAt: number | null = null;
  private remoteClose: { code: number; reason: Buffer } | null = null;
  private closedByMe: boolean | null = null;
  private handshakeDoneAt: number | null = null;
  private tcpClosed = false;
  private droppedByMe = false;
  private killAt: number | null = null;
  /** The events can no longer match any expectation. */
  private diverged = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private wake: (() => void) | null = null;
  /** Data frames of the message being received. */
  private fragments: WireFrame[] | null = null;
  /** Inbound work, in order (inflating is asynchronous). */
  private inbound: Promise<void> = Promise.resolve();

  constructor(socket: Socket, options: SessionOptions) {
    this.socket = socket;
    this.targetRole = options.targetRole;
    this.closeTimeout = options.closeTimeout ?? 1000;
    this.tcpCloseTimeout = options.tcpCloseTimeout ?? 1000;
    this.deflate = options.deflate ?? null;
    this.limits = options.limits ?? false;
    this.bytesAtStart = socket.bytesWritten;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.note('TCP FIN from target');
      this.onTcpClosed();
      socket.end();
    });
    socket.on('close', () => {
      if (!this.tcpClosed) this.note('TCP closed');
      this.onTcpClosed();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.note(`socket error ${error.code ?? error.message}`));
    if (options.head && options.head.length > 0) this.onData(options.head);
  }

  /** True while neither side has sent a close frame and TCP is up (Autobahn's STATE_OPEN). */
  get isOpen(): boolean {
    return this.sentCloseAt === null && this.remoteClose === null && !this.tcpClosed;
  }

  /** Milliseconds since the case started. */
  get elapsed(): number {
    return performance.now() - this.started;
  }

  /** The verdicts and event lists this case accepts, and how the connection must end. */
  expect(expected: Expectations, close: ExpectedClose): void {
    this.expected = expected;
    this.expectedClose = close;
  }

  /**
   * Sets the verdict regardless of the events (informational cases, timing results). A function
   * reason is called when the case is judged, after the connection ended.
   */
  setVerdict(verdict: Verdict, reason: string | (() => string)): void {
    this.override = { verdict, reason };
  }

  /** Rewrites the verdict once the case is judged (timed cases add their timing, accept 1009). */
  adjust(fn: (base: Judged) => Judged): void {
    this.adjuster = fn;
  }

  /** Resolves true once `count` events were received, false if the connection ends or `ms` pass first. */
  waitReceived(count: number, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const deadline = setTimeout(() => done(false), ms);
      const check = (): void => {
        if (this.received.length >= count) done(true);
        else if (this.tcpClosed || this.remoteClose !== null) done(false);
      };
      const done = (value: boolean): void => {
        clearTimeout(deadline);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(value);
      };
      this.waiters.push(check);
      check();
    });
  }

  /**
   * Sends one frame: masked when the target is a server, unless the spec says otherwise. A close
   * frame counts as the start of our closing handshake unless `options.notClose` (3.7 sends one
   * with RSV bits, which the target must treat as a protocol error, not a close).
   */
  async send(spec: FrameSpec, options: SendOptions & { notClose?: boolean } = {}): Promise<void> {
    const frame = buildFrame(spec, this.targetRole === 'server');
    const payload = bytesOf(spec.payload);
    const shown = { fin: spec.fin ?? true, rsv: spec.rsv ?? 0, opcode: spec.opcode, masked: frame[1]! >= 0x80, payload };
    const length = spec.declaredLength !== undefined && spec.declaredLength > payload.length ? ` declared ${spec.declaredLength}` : '';
    this.logSent(`${describeFrame(shown)}${length}${options.chop ? ` in chops of ${options.chop}` : ''}`);
    const written = this.write(frame, options); // the bytes are queued before this returns
    if (spec.opcode === 8 && this.sentCloseAt === null && !options.notClose) this.markCloseSent();
    await written;
  }

  /** Sends several frames back to back (one TCP write, unless `options` chops it). */
  async sendAll(specs: FrameSpec[], options: SendOptions = {}): Promise<void> {
    if (options.chop || options.sync) {
      for (const spec of specs) await this.send(spec, options);
      return;
    }
    const frames = specs.map((spec) => {
      const frame = buildFrame(spec, this.targetRole === 'server');
      this.logSent(describeFrame({ fin: spec.fin ?? true, rsv: spec.rsv ?? 0, opcode: spec.opcode, masked: frame[1]! >= 0x80, payload: bytesOf(spec.payload) }));
      return frame;
    });
    const written = this.write(Buffer.concat(frames), {});
    if (specs.some((spec) => spec.opcode === 8) && this.sentCloseAt === null) this.markCloseSent();
    await written;
  }

  /** A close frame with `code` and `reason` (none: empty payload). */
  sendClose(code?: number, reason?: Buffer | string, options: SendOptions = {}): Promise<void> {
    return this.send({ opcode: 8, payload: closePayload(code, reason) }, options);
  }

  /** Writes bytes as they are, e.g. the pieces of a frame (Autobahn's `sendMessageFrameData`). */
  async sendRaw(bytes: Buffer, label: string, options: SendOptions = {}): Promise<void> {
    this.logSent(`raw (${bytes.length}) ${label}`);
    await this.write(bytes, options);
  }

  /** Waits `ms`, or less if the connection ends meanwhile (nothing more can happen on it then). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!this.tcpClosed) return;
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
      this.timer(ms, () => {
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      });
      check();
    });
  }

  /**
   * Records a `timeout` marker when the connection is still open, as Autobahn's `continueLater`
   * does, and returns whether it was.
   */
  mark(label: string): boolean {
    if (!this.isOpen) return false;
    this.received.push(ev.timeout(label));
    this.note(`still open: timeout ${label}`);
    return true;
  }

  /** Adds a line to the transcript. */
  note(text: string): void {
    this.addLog('*', text);
  }

  /** Drop the TCP connection `ms` from now unless it ended by itself (Autobahn's `killAfter`). */
  killAfter(ms: number): void {
    const at = this.elapsed + ms;
    this.killAt = this.diverged && this.killAt !== null ? Math.min(this.killAt, at) : at;
  }

  /** Start the closing handshake `ms` from now if still open (Autobahn's `closeAfter`). */
  closeAfter(ms: number): void {
    this.timer(ms, () => {
      if (this.isOpen) void this.sendClose(this.expectedClose.codes[0] ?? 1000);
    });
    this.killAfter(ms + this.closeTimeout + this.tcpCloseTimeout);
  }

  /** @internal Drops the connection no later than `ms` after the case started, whatever the case asked for. */
  capAt(ms: number): void {
    this.cap = ms;
    this.wake?.();
  }

  /** @internal Waits until the connection is over, then judges it. Called by the runner. */
  async finish(): Promise<Judged> {
    if (this.killAt === null) this.killAfter(2000);
    while (!this.tcpClosed) {
      const now = this.elapsed;
      let deadline = this.killAt!;
      let why = this.diverged ? 'the case can no longer pass' : 'the case time ran out';
      if (this.cap !== null && this.cap < deadline) {
        deadline = this.cap;
        why = 'the case timeout ran out';
      }
      if (this.sentCloseAt !== null && this.remoteClose === null && this.sentCloseAt + this.closeTimeout < deadline) {
        deadline = this.sentCloseAt + this.closeTimeout;
        why = 'no close frame came back';
      }
      if (this.handshakeDoneAt !== null && this.handshakeDoneAt + this.tcpCloseTimeout < deadline) {
        deadline = this.handshakeDoneAt + this.tcpCloseTimeout;
        why = this.targetRole === 'server' ? 'the server did not close the TCP connection' : 'the client did not close the TCP connection';
      }
      if (now >= deadline) {
        this.kill(why);
        break;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer(deadline - now, resolve);
      });
      this.wake = null;
    }
    await this.inbound;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const base = this.judge();
    return this.adjuster ? this.adjuster(base) : base;
  }

  /** @internal Drops the connection now (the case threw or overran). */
  kill(why: string): void {
    if (this.tcpClosed) return;
    this.note(`suite drops TCP: ${why}`);
    this.droppedByMe = true;
    if (this.closedByMe === null) this.closedByMe = true;
    this.tcpClosed = true;
    this.socket.destroy();
    this.wake?.();
  }

  /** Who started the closing, for the report. */
  get closedBy(): 'suite' | 'target' | null {
    return this.closedByMe === null ? null : this.closedByMe ? 'suite' : 'target';
  }

  /** The close code the target sent (1005 when its close frame had none). */
  get remoteCloseCode(): number | null {
    return this.remoteClose?.code ?? null;
  }

  /** The facts of the connection's end, for the judge. */
  get closeFacts(): CloseFacts {
    return {
      targetRole: this.targetRole,
      closedByMe: this.closedByMe,
      sentClose: this.sentCloseAt !== null,
      remoteCloseCode: this.remoteClose?.code ?? null,
      droppedByMe: this.droppedByMe,
      handshakeDone: this.handshakeDoneAt !== null,
      bytesBeforeRemoteClose: this.bytesBeforeRemoteClose,
    };
  }

  private judge(): Judged {
    const override = this.override && {
      verdict: this.override.verdict,
      reason: typeof this.override.reason === 'function' ? this.override.reason() : this.override.reason,
    };
    return judge({
      expected: this.expected,
      expectedClose: this.expectedClose,
      received: this.received,
      close: this.closeFacts,
      violations: this.violations,
      override,
      limits: this.limits,
    });
  }

  private markCloseSent(): void {
    this.sentCloseAt = this.elapsed;
    if (this.closedByMe === null) this.closedByMe = true;
    if (this.remoteClose !== null) this.closingHandshakeDone();
  }

  private closingHandshakeDone(): void {
    this.handshakeDoneAt = this.elapsed;
    // A server (us, when testing a client) closes the TCP connection first (§7.1.1).
    if (this.targetRole === 'client') {
      this.note('suite (server) closes TCP');
      this.socket.end();
    }
    this.wake?.();
  }

  private onTcpClosed(): void {
    if (this.tcpClosed) return;
    this.tcpClosed = true;
    if (this.closedByMe === null) this.closedByMe = false;
    this.wake?.();
    for (const waiter of [...this.waiters]) waiter();
  }

  private async write(bytes: Buffer, options: SendOptions): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (options.chop && options.chop > 0) {
      for (let i = 0; i < bytes.length; i += options.chop) {
        if (this.socket.destroyed || this.socket.writableEnded) return;
        this.socket.write(bytes.subarray(i, i + options.chop));
        await (options.delay ? this.sleep(options.delay) : new Promise((resolve) => setImmediate(resolve)));
      }
      return;
    }
    const flushed = new Promise<void>((resolve) => {
      // Big writes go in pieces so the socket's counters show how far they got when the target
      // refuses mid-message (the limits rule reports it); the pieces still stream back to back.
      for (let i = 0; i < bytes.length || i === 0; i += WRITE_PIECE) {
        const last = i + WRITE_PIECE >= bytes.length;
        this.socket.write(bytes.subarray(i, i + WRITE_PIECE), last ? () => resolve() : undefined);
      }
    });
    if (options.sync) {
      await flushed;
      await this.sleep(5);
    }
  }

  private timer(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    this.timers.add(timer);
  }

  private logSent(text: string): void {
    this.addLog('>', text);
  }

  /** Keeps the transcript readable for cases that exchange thousands of frames (9.x). */
  private addLog(dir: LogEntry['dir'], text: string): void {
    if (this.log.length < MAX_LOG || dir === '*') {
      this.log.push({ at: Math.round(this.elapsed), dir, text });
    } else {
      this.logDropped++;
    }
  }

  /** @internal The transcript, with a note of how many frames were left out. */
  get transcript(): LogEntry[] {
    return this.logDropped === 0 ? this.log : [...this.log, { at: Math.round(this.elapsed), dir: '*', text: `(${this.logDropped} more frames not shown)` }];
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.reader.push(chunk)) {
      this.addLog('<', describeFrame(frame));
      this.inbound = this.inbound.then(() => this.onFrame(frame));
    }
    if (this.reader.overflow) {
      this.violations.push('a frame declared a length beyond the 64 MiB the suite reads');
      this.kill('oversized frame');
    }
  }

  private push(observed: Observed): void {
    this.received.push(observed);
    this.receivedAt.push(this.elapsed);
    this.finishWhenDone();
    this.giveUpWhenDiverged();
    for (const waiter of [...this.waiters]) waiter();
  }

  /**
   * Once the events are no longer the start of any expected list, no later event can make the
   * case pass: stop waiting for the kill timer and drop the connection shortly (a little grace
   * keeps the target's next frames in the transcript). Keeps runs against broken targets short.
   * Informational cases judge whatever happens, so they wait as usual.
   */
  private giveUpWhenDiverged(): void {
    if (this.expected === null || this.override !== null) return;
    if (canStillMatch(this.received, this.expected)) return;
    this.diverged = true;
    const soon = this.elapsed + DIVERGED_GRACE;
    if (this.killAt === null || this.killAt > soon) {
      this.note('events differ from every expectation: ending the case');
      this.killAt = soon;
      this.wake?.();
    }
  }

  /** Autobahn's `finishWhenDone`: once the events match every expectation, start the close. */
  private finishWhenDone(): void {
    const expected = this.expected;
    if (expected === null || this.suppressClose || !this.expectedClose.closedByMe || !this.isOpen) return;
    if (matchesAll(this.received, expected)) {
      void this.sendClose(this.expectedClose.codes[0] ?? 1000);
    }
  }

  /** Records a rule the target broke outside the frames (the fuzzing server's handshake checks). */
  addViolation(text: string): void {
    this.violation(text);
  }

  private violation(text: string): void {
    if (!this.violations.includes(text)) this.violations.push(text);
  }

  private async onFrame(frame: WireFrame): Promise<void> {
    if (this.remoteClose !== null) {
      this.violation(`sent a ${describeFrame(frame)} frame after its close frame (§5.5.1)`);
      return;
    }
    const targetIsClient = this.targetRole === 'client';
    if (frame.masked !== targetIsClient) {
      this.violation(targetIsClient ? 'sent an unmasked frame (§5.1: a client MUST mask every frame)' : 'sent a masked frame (§5.1: a server MUST NOT mask)');
    }
    if (frame.nonMinimalLength) this.violation('encoded a payload length in more bytes than needed (§5.2)');
    const control = frame.opcode >= 8;
    const rsv1Allowed = this.deflate !== null && !control && frame.opcode !== 0;
    if ((frame.rsv & 3) !== 0 || ((frame.rsv & 4) !== 0 && !rsv1Allowed)) {
      this.violation(`set RSV bits ${frame.rsv} without a negotiated extension that defines them (§5.2)`);
    }
    if (![0, 1, 2, 8, 9, 10].includes(frame.opcode)) {
      this.violation(`used reserved opcode ${frame.opcode} (§5.2)`);
      return;
    }
    if (control && (!frame.fin || frame.payload.length > 125)) {
      this.violation('sent a fragmented or oversized control frame (§5.5)');
    }
    switch (frame.opcode) {
      case 8:
        return this.onClose(frame);
      case 9:
        this.push(ev.ping(frame.payload));
        if (this.sentCloseAt === null) await this.send({ opcode: 10, payload: frame.payload });
        return;
      case 10:
        this.push(ev.pong(frame.payload));
        return;
      default:
        return this.onDataFrame(frame);
    }
  }

  private async onDataFrame(frame: WireFrame): Promise<void> {
    if (frame.opcode === 0 && this.fragments === null) {
      this.violation('sent a continuation frame with no message to continue (§5.4)');
      return;
    }
    if (frame.opcode !== 0 && this.fragments !== null) {
      this.violation('started a new message before finishing the previous one (§5.4)');
      this.fragments = null;
    }
    if (this.fragments === null) this.fragments = [];
    this.fragments.push(frame);
    if (!frame.fin) return;
    const frames = this.fragments;
    this.fragments = null;
    const first = frames[0]!;
    let data: Buffer = Buffer.concat(frames.map((f) => f.payload));
    if ((first.rsv & 4) !== 0 && this.deflate !== null) {
      try {
        data = await this.deflate.inflate(data);
      } catch (error) {
        this.violation(`sent a compressed message that does not inflate: ${(error as Error).message}`);
        return;
      }
    }
    const binary = first.opcode === 2;
    if (!binary && !isUtf8(data)) this.violation(`sent a text message that is not valid UTF-8: ${shortPayload(data)} (§8.1)`);
    this.push({ type: 'message', data, binary });
  }

  private async onClose(frame: WireFrame): Promise<void> {
    const p = frame.payload;
    let code = 1005;
    let reason: Buffer = Buffer.alloc(0);
    if (p.length === 1) {
      this.violation('sent a close frame with a 1-byte payload (§5.5.1)');
    } else if (p.length >= 2) {
      code = p.readUInt16BE(0);
      reason = p.subarray(2);
      if (!isValidWireCloseCode(code)) this.violation(`sent close code ${code}, which may not be sent (§7.4)`);
      if (!isUtf8(reason)) this.violation('sent a close reason that is not valid UTF-8 (§5.5.1)');
    }
    this.remoteClose = { code, reason };
    // What actually left (bytes still queued in the socket did not reach the target).
    this.bytesBeforeRemoteClose = this.socket.bytesWritten - this.socket.writableLength - this.bytesAtStart;
    if (this.closedByMe === null) this.closedByMe = false;
    for (const waiter of [...this.waiters]) waiter();
    if (this.sentCloseAt === null) {
      // Echo the code (§5.5.1), or answer a code we may not send with none.
      await this.sendClose(code !== 1005 && isValidWireCloseCode(code) ? code : undefined);
    } else {
      this.closingHandshakeDone();
    }
  }
}
