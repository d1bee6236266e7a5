/**
 * Runs the suite against a WebSocket server: one fresh TCP connection and opening handshake per
 * case, the case driven through a {@link CaseContext}, every case bounded in time so a hanging or
 * crashing target cannot hang the run.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { buildClientRequest, validateServerResponse } from '../handshake/client.js';
import { parseResponseHead } from '../handshake/http-head.js';
import { selectCases } from './cases/index.js';
import { parseDeflateResponse, PerMessageDeflate } from './deflate.js';
import { CaseContext, describeObserved } from './harness.js';
import { openHttp2Connection, type Http2TargetOptions } from './h2-connection.js';
import { HandshakeProbe } from './handshake-probe.js';
import type { CaseResult, ConformanceCase, HandshakeCase, LogEntry, RunReport, WsCase } from './types.js';

/** Options of {@link runServerSuite}. */
export interface ServerSuiteOptions {
  /** `--cases` patterns, comma-separated (default: all). */
  cases?: string;
  /** `--exclude` patterns, comma-separated. */
  exclude?: string;
  /** Called before each case. */
  onCaseStart?: (c: ConformanceCase, index: number, total: number) => void;
  /** Called with each result as soon as it is known. */
  onResult?: (result: CaseResult, index: number, total: number) => void;
  /** Time for TCP connect plus the opening handshake. Default 5 s. */
  connectTimeout?: number;
  /** Time the target has to answer our close frame, and to close TCP after it. Default 1 s each. */
  closeTimeout?: number;
  /**
   * Upper bound for each case in ms, replacing the case's own (10 s for most, up to 120 s for
   * section 9). A case that runs out is dropped and judged on what happened so far.
   */
  caseTimeout?: number;
  /**
   * Run each case on an RFC 8441 extended CONNECT stream of a fresh HTTP/2 connection instead of
   * an HTTP/1.1 upgrade (see h2-connection.ts): `http://`/`ws://` as h2c with prior knowledge,
   * `https://`/`wss://` over TLS. The cases that probe the HTTP/1.1 upgrade request byte by byte
   * (section H, 13.8) are left out.
   */
  http2?: boolean | Http2TargetOptions;
}

/** Runs the selected cases one after another against the server at `url` (ws:// only, or any scheme with `http2`). */
export async function runServerSuite(url: string, options: ServerSuiteOptions = {}): Promise<RunReport> {
  const target = new URL(url);
  if (!options.http2 && target.protocol !== 'ws:' && target.protocol !== 'http:') throw new Error(`conformance server needs a ws:// URL, got ${url}`);
  if (options.http2 && !['ws:', 'wss:', 'http:', 'https:'].includes(target.protocol)) {
    throw new Error(`conformance server --http2 needs an http://, https://, ws:// or wss:// URL, got ${url}`);
  }
  // Handshake cases (H, 13.8) write raw HTTP/1.1 upgrade requests; they have no HTTP/2 counterpart here.
  const cases = selectCases('server', options.cases, options.exclude).filter((c) => !options.http2 || c.kind !== 'handshake');
  if (cases.length === 0) throw new Error('no case matches the --cases/--exclude patterns');
  const startedAt = new Date().toISOString();
  const start = performance.now();
  const results: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    options.onCaseStart?.(c, i, cases.length);
    const result = c.kind === 'handshake' ? await runHandshakeCase(target, c, options.caseTimeout) : await runWsCase(target, c, options);
    results.push(result);
    options.onResult?.(result, i, cases.length);
  }
  return { mode: 'server', target: url, startedAt, duration: Math.round(performance.now() - start), results };
}

async function runHandshakeCase(url: URL, c: HandshakeCase, caseTimeout: number | undefined): Promise<CaseResult> {
  const start = performance.now();
  const probe = new HandshakeProbe(url);
  let outcome: { verdict: CaseResult['verdict']; reason: string };
  try {
    outcome = await bounded(c.run(probe), caseTimeout ?? c.timeout ?? 10_000, `case ${c.id}`);
  } catch (error) {
    outcome = { verdict: 'FAILED', reason: (error as Error).message };
  } finally {
    probe.close();
  }
  return {
    id: c.id,
    description: c.description,
    expectation: c.expectation,
    verdict: outcome.verdict,
    reason: outcome.reason,
    duration: Math.round(performance.now() - start),
    remoteCloseCode: null,
    closedBy: null,
    received: [],
    log: probe.log,
  };
}

/** An open connection after a successful opening handshake. */
interface Opened {
  socket: Socket;
  head: Buffer;
  log: LogEntry[];
  deflate: PerMessageDeflate | null;
}

/** Connects and performs the client side of the opening handshake; throws with a readable reason. */
export function openClientConnection(url: URL, offers: Array<Record<string, string | true>> | undefined, timeout: number): Promise<Opened> {
  const request = buildClientRequest({
    url,
    ...(offers ? { extensions: offers.map((params) => ({ name: 'permessage-deflate', params })) } : {}),
  });
  const log: LogEntry[] = [{ at: 0, dir: '>', text: request.head.split('\r\n')[0]! + (offers ? ` (offering ${request.head.match(/Sec-WebSocket-Extensions: (.*)/)?.[1]})` : '') }];
  return new Promise<Opened>((resolve, reject) => {
    const socket = netConnect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) });
    let received: Buffer = Buffer.alloc(0);
    const fail = (message: string): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(message));
    };
    const timer = setTimeout(() => fail(`no opening handshake response within ${timeout} ms`), timeout);
    socket.on('error', (error: NodeJS.ErrnoException) => fail(`connection failed: ${error.code ?? error.message}`));
    socket.on('close', () => fail('the server closed the connection during the opening handshake'));
    socket.on('connect', () => socket.write(request.bytes));
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseResponseHead(received);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'error') return fail(`malformed opening handshake response: ${parsed.message}`);
      log.push({ at: 0, dir: '<', text: `HTTP/${parsed.head.httpVersion} ${parsed.head.status} ${parsed.head.reason}` });
      const verdict = validateServerResponse(parsed.head, { key: request.key, ...(offers ? { extensions: ['permessage-deflate'] } : {}) });
      if (!verdict.ok) return fail(`opening handshake failed: ${verdict.error.message}`);
      let deflate: PerMessageDeflate | null = null;
      const accepted = verdict.extensions.find((e) => e.name === 'permessage-deflate');
      if (accepted) {
        log.push({ at: 0, dir: '<', text: `Sec-WebSocket-Extensions: ${parsed.head.headers['sec-websocket-extensions']}` });
        try {
          deflate = new PerMessageDeflate(parseDeflateResponse(accepted.params), 'client');
        } catch (error) {
          return fail(`invalid permessage-deflate response: ${(error as Error).message}`);
        }
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      socket.removeAllListeners('connect');
      resolve({ socket, head: received.subarray(parsed.bytesConsumed), log, deflate });
    };
    socket.on('data', onData);
  });
}

async function runWsCase(url: URL, c: WsCase, options: ServerSuiteOptions): Promise<CaseResult> {
  const start = performance.now();
  const base = { id: c.id, description: c.description, expectation: c.expectation };
  let opened: Opened;
  try {
    const timeout = options.connectTimeout ?? 5000;
    opened = options.http2
      ? await openHttp2Connection(url, c.deflateOffer, timeout, options.http2 === true ? {} : options.http2)
      : await openClientConnection(url, c.deflateOffer, timeout);
  } catch (error) {
    return { ...base, verdict: 'FAILED', reason: (error as Error).message, duration: Math.round(performance.now() - start), remoteCloseCode: null, closedBy: null, received: [], log: [] };
  }
  if (c.deflateOffer && opened.deflate === null) {
    opened.socket.destroy();
    return {
      ...base,
      verdict: 'UNIMPLEMENTED',
      reason: 'The server declined permessage-deflate.',
      duration: Math.round(performance.now() - start),
      remoteCloseCode: null,
      closedBy: null,
      received: [],
      log: opened.log,
    };
  }
  const t = new CaseContext(opened.socket, {
    targetRole: 'server',
    head: opened.head,
    deflate: opened.deflate,
    limits: c.limits ?? false,
    ...(options.closeTimeout !== undefined ? { closeTimeout: options.closeTimeout, tcpCloseTimeout: options.closeTimeout } : {}),
  });
  return judgeCase(c, t, opened.log, start, options.caseTimeout);
}

/**
 * Runs a case on an open context and turns the outcome into a result. Shared with the fuzzing
 * server. `caseTimeout` replaces the case's own upper bound and also caps the wait for the end.
 */
export async function judgeCase(c: WsCase, t: CaseContext, preamble: LogEntry[], start: number, caseTimeout?: number): Promise<CaseResult> {
  let crashed: string | null = null;
  if (caseTimeout !== undefined) t.capAt(caseTimeout);
  try {
    await bounded(c.run(t), caseTimeout ?? c.timeout ?? 10_000, `case ${c.id}`);
  } catch (error) {
    crashed = (error as Error).message;
    t.note(`case aborted: ${crashed}`);
    t.kill(crashed);
  }
  const judged = await t.finish();
  t.deflate?.close();
  return {
    id: c.id,
    description: c.description,
    expectation: c.expectation,
    verdict: crashed ? 'FAILED' : judged.verdict,
    reason: crashed ? `The case did not complete: ${crashed}. ${judged.reason}` : judged.reason,
    duration: Math.round(performance.now() - start),
    remoteCloseCode: t.remoteCloseCode,
    closedBy: t.closedBy,
    received: t.received.map(describeObserved),
    log: [...preamble, ...t.transcript],
  };
}

/** `promise`, or a rejection after `ms`. */
export function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
