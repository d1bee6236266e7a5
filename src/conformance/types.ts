/**
 * Shared vocabulary of the conformance suite: verdicts (with Autobahn|Testsuite's meanings),
 * the events a case observes, case definitions and results.
 */
import type { CaseContext } from './harness.js';
import type { HandshakeProbe } from './handshake-probe.js';

/**
 * A case's outcome, as Autobahn defines them:
 * - `OK`: the target behaved as the RFC requires.
 * - `NON-STRICT`: acceptable, but not the strictest reading (e.g. UTF-8 checked only at the end
 *   of a message instead of failing fast).
 * - `INFORMATIONAL`: the RFC leaves it open; reported for comparison, never a failure.
 * - `UNIMPLEMENTED`: an optional feature the target does not offer (permessage-deflate).
 * - `FAILED`: the target broke a MUST of RFC 6455.
 * @example
 * ```ts
 * import { testServer, type Verdict } from 'fullduplex/conformance';
 *
 * const run = await testServer('ws://127.0.0.1:9001/', { cases: '1,2' });
 * const acceptable = new Set<Verdict>(['OK', 'NON-STRICT', 'INFORMATIONAL']);
 * const bad = run.results.filter((r) => !acceptable.has(r.verdict));
 * ```
 */
export type Verdict = 'OK' | 'NON-STRICT' | 'INFORMATIONAL' | 'UNIMPLEMENTED' | 'FAILED';

/**
 * Every verdict, best first; used for ordering and summaries.
 * @example
 * ```ts
 * import { VERDICTS, testServer } from 'fullduplex/conformance';
 *
 * const run = await testServer('ws://127.0.0.1:9001/', { cases: '1' });
 * for (const verdict of VERDICTS) console.log(verdict, run.results.filter((r) => r.verdict === verdict).length);
 * ```
 */
export const VERDICTS: readonly Verdict[] = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'];

/** What a case saw the target do (Autobahn's `received` list), or a marker the case recorded. */
export type Observed =
  | { type: 'message'; data: Buffer; binary: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'timeout'; label: string };

/** Expected close behaviour (Autobahn's `expectedClose`). */
export interface ExpectedClose {
  /** True when the suite starts the closing handshake; false when the target must fail/close. */
  closedByMe: boolean;
  /** Close codes acceptable from the target; a close frame without a code is always accepted. */
  codes: number[];
  /** The closing handshake must complete (close frames both ways, then the TCP close). */
  requireClean: boolean;
}

/**
 * Which side of a connection the target plays: a server we connect to, or a client that connects to us.
 * @example
 * ```ts
 * import { listCases, type TargetRole } from 'fullduplex/conformance';
 *
 * const role: TargetRole = 'client';
 * console.log(listCases(role).length); // the client suite has no H (handshake) section
 * ```
 */
export type TargetRole = 'server' | 'client';

/**
 * One line of a case's transcript, in short form.
 * @example
 * ```ts
 * import { testServer, type LogEntry } from 'fullduplex/conformance';
 *
 * const run = await testServer('ws://127.0.0.1:9001/', { cases: '5.1' });
 * const print = (entry: LogEntry) => console.log(`${entry.at} ms ${entry.dir} ${entry.text}`);
 * run.results[0]!.log.forEach(print);
 * ```
 */
export interface LogEntry {
  /** Milliseconds since the case started. */
  at: number;
  /** `>` sent by the suite, `<` received from the target, `*` a note (TCP events, waits, verdict input). */
  dir: '>' | '<' | '*';
  /** What happened, in short form: a frame, a TCP event or a note. */
  text: string;
}

/** A case that runs over an open WebSocket connection. */
export interface WsCase {
  kind?: 'ws';
  id: string;
  description: string;
  expectation: string;
  /** Only for one kind of target; default both. */
  only?: TargetRole;
  /**
   * permessage-deflate offers for the opening handshake (12.x/13.x), each a parameter set, in
   * order of preference. When the target declines, the case is UNIMPLEMENTED.
   */
  deflateOffer?: Array<Record<string, string | true>>;
  /**
   * Client targets only: the fuzzing server answers the client's offer with this raw
   * `Sec-WebSocket-Extensions` value, which the client must refuse by failing the connection
   * (13.11.x); `run` is then not called.
   */
  deflateAnswer?: string;
  /** Upper bound for the whole case in ms (default 10 s). */
  timeout?: number;
  /**
   * The case is about size or volume (section 9): a target that refuses it cleanly with 1008 or
   * 1009 is INFORMATIONAL, since a suite cannot know the limits a target is configured with.
   */
  limits?: boolean;
  run(t: CaseContext): Promise<void>;
}

/** A case about the opening handshake itself (server targets only). */
export interface HandshakeCase {
  kind: 'handshake';
  id: string;
  description: string;
  expectation: string;
  only?: 'server';
  timeout?: number;
  run(h: HandshakeProbe): Promise<{ verdict: Verdict; reason: string }>;
}

export type ConformanceCase = WsCase | HandshakeCase;

/**
 * The outcome of one case.
 * @example
 * ```ts
 * import { testServer, type CaseResult } from 'fullduplex/conformance';
 *
 * const onResult = (r: CaseResult) => console.log(r.id, r.verdict, r.reason, r.remoteCloseCode, r.closedBy);
 * await testServer('ws://127.0.0.1:9001/', { cases: '7', onResult });
 * ```
 */
export interface CaseResult {
  /** Case id, e.g. `5.19`. */
  id: string;
  /** What the case sends. */
  description: string;
  /** What the target must do. */
  expectation: string;
  /** The judgement, see {@link Verdict}. */
  verdict: Verdict;
  /** Why this verdict, in one line. */
  reason: string;
  /** Wall time of the case in ms. */
  duration: number;
  /** Close code the target sent, if any (1005 for a close frame without one). */
  remoteCloseCode: number | null;
  /** Who started the closing: `suite`, `target`, or null when nobody did. */
  closedBy: 'suite' | 'target' | null;
  /** The events compared against the expectation, in short form. */
  received: string[];
  /** Transcript of the exchanged frames and TCP events. */
  log: LogEntry[];
}

/**
 * A whole run: target, options and results in case order.
 * @example
 * ```ts
 * import { testServer, type RunReport } from 'fullduplex/conformance';
 *
 * const run: RunReport = await testServer('ws://127.0.0.1:9001/', { exclude: '9,12,13' });
 * console.log(`${run.mode} ${run.target}: ${run.results.length} cases in ${run.duration} ms (started ${run.startedAt})`);
 * ```
 */
export interface RunReport {
  /** `server` when a server was tested, `client` when a client (agent) was. */
  mode: TargetRole;
  /** URL of the tested server, or the agent name of the tested client. */
  target: string;
  /** When the run started, ISO 8601. */
  startedAt: string;
  /** Wall time of the whole run in ms. */
  duration: number;
  /** One result per selected case, in case order. */
  results: CaseResult[];
}
