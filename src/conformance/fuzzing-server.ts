/**
 * The fuzzing server: tests WebSocket clients the way Autobahn|Testsuite's `fuzzingserver` does,
 * speaking the same protocol so existing Autobahn client drivers work unchanged:
 *
 * - `GET /getCaseCount` → one text message with the number of cases, then close.
 * - `GET /runCase?case=N&agent=NAME` → runs case N (1-based) against the client, which is
 *   expected to echo every message it receives.
 * - `GET /updateReports?agent=NAME` → the agent is done; the report is produced.
 * - `GET /getCaseInfo?case=N` and `GET /getCaseStatus?case=N&agent=NAME` → JSON.
 *
 * It is built from raw sockets and the handshake module, not from fullduplex's server: it must
 * accept and observe what a strict server would refuse. Besides each case's own checks it holds
 * every client connection to the client's side of the rules: the opening request (GET, HTTP/1.1,
 * version 13, a `Sec-WebSocket-Key` of 16 random bytes never seen before) and a mask on every frame.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { acceptUpgrade, rejectResponse, serializeResponse } from '../handshake/server.js';
import { parseRequestHead, type ParsedRequestHead } from '../handshake/http-head.js';
import type { Extension } from '../frame/extension.js';
import { selectCases } from './cases/index.js';
import { PerMessageDeflate, parseDeflateResponse } from './deflate.js';
import { runInvalidAnswerCase } from './deflate-answers.js';
import { CaseContext } from './harness.js';
import { judgeCase } from './server-runner.js';
import type { CaseResult, LogEntry, RunReport, WsCase } from './types.js';
import { buildFrame, closePayload } from './wire.js';

/** Options of {@link FuzzingServer}. */
export interface FuzzingServerOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 9001. */
  port?: number;
  /** `--cases` patterns. */
  cases?: string;
  /** `--exclude` patterns. */
  exclude?: string;
  /** Called when a case starts for an agent. */
  onCaseStart?: (agent: string, c: WsCase, index: number, total: number) => void;
  /** Called with each result. */
  onResult?: (agent: string, result: CaseResult, index: number, total: number) => void;
  /** How long the client has to answer our close frame, and to close TCP. Default 1 s. */
  closeTimeout?: number;
  /** Upper bound for each case in ms, replacing the case's own (see `ServerSuiteOptions.caseTimeout`). */
  caseTimeout?: number;
}

/** What the fuzzing server knows about one agent. */
interface AgentRun {
  startedAt: string;
  start: number;
  results: Map<number, CaseResult>;
}

/** A running fuzzing server. */
export class FuzzingServer {
  readonly cases: WsCase[];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly agents = new Map<string, AgentRun>();
  /** Every Sec-WebSocket-Key seen, to catch clients that reuse one. */
  private readonly keys = new Set<string>();
  private readonly reportWaiters: Array<{ agent: string | undefined; resolve: (report: RunReport) => void }> = [];
  private readonly options: FuzzingServerOptions;
  /** Cases still being judged (a client may move on before the suite is done with a case). */
  private readonly pending = new Set<Promise<void>>();

  constructor(options: FuzzingServerOptions = {}) {
    this.options = options;
    this.cases = selectCases('client', options.cases, options.exclude) as WsCase[];
    if (this.cases.length === 0) throw new Error('no case matches the --cases/--exclude patterns');
    this.server = createServer((socket) => this.onConnection(socket));
  }

  /** Starts listening; resolves with the base URL, e.g. `ws://127.0.0.1:9001`. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 9001, this.options.host ?? '127.0.0.1', () => resolve());
    });
    return this.url;
  }

  /** The base URL agents connect to. */
  get url(): string {
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `ws://${host}:${address.port}`;
  }

  /** Resolves with the report of the next agent (or of `agent`) that asks for `/updateReports`. */
  waitForReport(agent?: string): Promise<RunReport> {
    return new Promise((resolve) => this.reportWaiters.push({ agent, resolve }));
  }

  /** The results so far of `agent`, as a report. */
  report(agent: string): RunReport {
    const run = this.agents.get(agent);
    const results = run ? [...run.results.entries()].sort(([a], [b]) => a - b).map(([, r]) => r) : [];
    return {
      mode: 'client',
      target: agent,
      startedAt: run?.startedAt ?? new Date().toISOString(),
      duration: run ? Math.round(performance.now() - run.start) : 0,
      results,
    };
  }

  /** Stops listening and drops every connection. */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), 10_000);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseRequestHead(received);
      if (parsed.kind === 'incomplete') return;
      clearTimeout(timer);
      socket.off('data', onData);
      if (parsed.kind === 'error') {
        socket.end(serializeResponse(rejectResponse(parsed.status, parsed.message)));
        return;
      }
      void this.route(socket, parsed.head, received.subarray(parsed.bytesConsumed)).catch(() => socket.destroy());
    };
    socket.on('data', onData);
  }

  private async route(socket: Socket, request: ParsedRequestHead, head: Buffer): Promise<void> {
    const url = new URL(request.target, 'ws://fuzzing.invalid');
    const agent = url.searchParams.get('agent') ?? 'unknown';
    const caseNumber = Number(url.searchParams.get('case'));
    const validCase = Number.isInteger(caseNumber) && caseNumber >= 1 && caseNumber <= this.cases.length;
    switch (url.pathname) {
      case '/getCaseCount':
        return this.answer(socket, request, String(this.cases.length));
      case '/getCaseInfo': {
        const c = validCase ? this.cases[caseNumber - 1]! : null;
        return this.answer(socket, request, JSON.stringify(c ? { id: c.id, description: c.description } : null));
      }
      case '/getCaseStatus': {
        const result = validCase ? this.agents.get(agent)?.results.get(caseNumber) : undefined;
        return this.answer(socket, request, JSON.stringify({ behavior: result?.verdict ?? 'UNKNOWN' }));
      }
      case '/updateReports': {
        await this.answer(socket, request, null);
        await Promise.all([...this.pending]);
        const report = this.report(agent);
        for (const waiter of this.reportWaiters.splice(0)) {
          if (waiter.agent === undefined || waiter.agent === agent) waiter.resolve(report);
          else this.reportWaiters.push(waiter);
        }
        return;
      }
      case '/runCase':
        if (!validCase) {
          socket.end(serializeResponse(rejectResponse(404, `No case ${url.searchParams.get('case')}; there are ${this.cases.length}`)));
          return;
        }
        {
          const running = this.runCase(socket, request, head, agent, caseNumber);
          this.pending.add(running);
          await running.finally(() => this.pending.delete(running));
        }
        return;
      default:
        socket.end(serializeResponse(rejectResponse(404, 'Unknown path: use /getCaseCount, /runCase, /updateReports')));
    }
  }

  /** Accepts the upgrade, sends `text` (if any) and closes (1000). */
  private async answer(socket: Socket, request: ParsedRequestHead, text: string | null): Promise<void> {
    const key = request.headers['sec-websocket-key'];
    if (key !== undefined) this.keys.add(key);
    const result = acceptUpgrade(request);
    if (!result.ok) {
      socket.end(serializeResponse(result.response));
      return;
    }
    const frames = [serializeResponse(result.response)];
    if (text !== null) frames.push(buildFrame({ opcode: 1, payload: text }, false));
    frames.push(buildFrame({ opcode: 8, payload: closePayload(1000) }, false));
    socket.write(Buffer.concat(frames));
    // Wait for the client's close frame (any bytes will do here), then close TCP as a server does.
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, 2000);
      socket.once('data', done);
      socket.once('close', done);
    });
    socket.end();
  }

  private async runCase(socket: Socket, request: ParsedRequestHead, head: Buffer, agent: string, caseNumber: number): Promise<void> {
    const c = this.cases[caseNumber - 1]!;
    const start = performance.now();
    let run = this.agents.get(agent);
    if (!run) this.agents.set(agent, (run = { startedAt: new Date().toISOString(), start, results: new Map() }));
    this.options.onCaseStart?.(agent, c, caseNumber - 1, this.cases.length);
    const preamble: LogEntry[] = [{ at: 0, dir: '<', text: `${request.method} ${request.target} HTTP/${request.httpVersion}` }];
    const finish = (result: CaseResult): void => {
      run.results.set(caseNumber, result);
      this.options.onResult?.(agent, result, caseNumber - 1, this.cases.length);
    };
    const fail = (reason: string, verdict: CaseResult['verdict'] = 'FAILED'): void =>
      finish({ id: c.id, description: c.description, expectation: c.expectation, verdict, reason, duration: Math.round(performance.now() - start), remoteCloseCode: null, closedBy: null, received: [], log: preamble });

    // The client's side of the opening handshake (RFC 6455 §4.1), beyond what acceptUpgrade checks.
    const problems: string[] = [];
    const key = request.headers['sec-websocket-key'];
    if (key !== undefined) {
      if (this.keys.has(key)) problems.push(`reused Sec-WebSocket-Key ${key}: it must be a fresh random nonce for each connection (§4.1 item 7)`);
      this.keys.add(key);
    }
    if (c.deflateAnswer !== undefined) {
      // 13.11.x: an invalid answer the client must refuse (see deflate-answers.ts).
      finish(await runInvalidAnswerCase(c, socket, request, preamble, start));
      return;
    }
    const offers = c.deflateOffer ? ['permessage-deflate'] : [];
    let deflate: PerMessageDeflate | null = null;
    const result = acceptUpgrade(request, {
      extensions: offers.length
        ? [
            {
              name: 'permessage-deflate',
              negotiate: (clientOffers) => {
                const params = acceptClientOffer(Object.fromEntries(clientOffers[0]!), c.deflateOffer![0]!);
                deflate = new PerMessageDeflate(parseDeflateResponse(params), 'server');
                return { params, extension: UNUSED_EXTENSION };
              },
            },
          ]
        : [],
    });
    if (!result.ok) {
      socket.end(serializeResponse(result.response));
      fail(`The client's opening handshake is invalid: ${result.reason}.`);
      return;
    }
    if (c.deflateOffer && deflate === null) {
      socket.end(serializeResponse(rejectResponse(400, 'this case needs permessage-deflate')));
      fail('The client did not offer permessage-deflate.', 'UNIMPLEMENTED');
      return;
    }
    socket.write(serializeResponse(result.response));
    const t = new CaseContext(socket, {
      targetRole: 'client',
      head,
      deflate,
      limits: c.limits ?? false,
      ...(this.options.closeTimeout !== undefined ? { closeTimeout: this.options.closeTimeout, tcpCloseTimeout: this.options.closeTimeout } : {}),
    });
    for (const problem of problems) t.addViolation(problem);
    finish(await judgeCase(c, t, preamble, start, this.options.caseTimeout));
  }
}

/**
 * The handshake wants a runtime extension with an accepted offer; the fuzzing server frames its
 * own bytes (the harness inflates with {@link PerMessageDeflate}), so this one is never called.
 */
const UNUSED_EXTENSION: Extension = {
  name: 'permessage-deflate',
  rsvBits: 0b100,
  decode: () => {
    throw new Error('the fuzzing server does not decode through the frame pipeline');
  },
  encode: (payload) => ({ payload, rsv: 0 }),
  dispose: () => {},
};

/**
 * The server's answer to a client's permessage-deflate offer: the parameters the case asks the
 * server side for (context takeover, window bits), never a `client_max_window_bits` the client
 * did not offer (RFC 7692 §7.1.2.2).
 */
function acceptClientOffer(offer: Record<string, string | true>, wanted: Record<string, string | true>): Record<string, string | true> {
  const params: Record<string, string | true> = {};
  if (wanted.server_no_context_takeover !== undefined) params.server_no_context_takeover = true;
  if (typeof wanted.server_max_window_bits === 'string') params.server_max_window_bits = wanted.server_max_window_bits;
  if (typeof offer.client_max_window_bits === 'string') params.client_max_window_bits = offer.client_max_window_bits;
  // 13.10.x: a client window the case asks for, when the offer allows one (bare, or at least as large).
  const wantedBits = wanted.client_max_window_bits;
  if (typeof wantedBits === 'string' && (offer.client_max_window_bits === true || Number(offer.client_max_window_bits) >= Number(wantedBits))) {
    params.client_max_window_bits = wantedBits;
  }
  if (offer.client_no_context_takeover !== undefined || wanted.client_no_context_takeover !== undefined) params.client_no_context_takeover = true;
  return params;
}
