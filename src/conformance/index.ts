/**
 * `fullduplex/conformance`: the Autobahn-style conformance suite as a library. The same runners
 * as `fullduplex conformance server|client`, returning the verdicts as data instead of printing
 * them, so a project can keep its WebSocket server or client conformant from its own tests.
 *
 * - {@link testServer}: every selected case against an echo server at a URL.
 * - {@link testClient}: start the fuzzing server, let your client run the cases, get its verdicts.
 * - {@link startClientSuite}: the fuzzing server on its own, for clients started elsewhere.
 * - {@link listCases}: which cases a selection picks, without running them.
 *
 * @packageDocumentation
 */
import { selectCases } from './cases/index.js';
import { FuzzingServer } from './fuzzing-server.js';
import { writeReport } from './report.js';
import { runServerSuite } from './server-runner.js';
import type { CaseResult, RunReport, TargetRole } from './types.js';

export type { CaseResult, LogEntry, RunReport, TargetRole, Verdict } from './types.js';
export { VERDICTS } from './types.js';

/**
 * A case selection in the CLI's `--cases`/`--exclude` syntax: comma-separated patterns (or an
 * array of them). A pattern matches a case id and everything under it (`6.4` is 6.4.1–6.4.4,
 * `1` all of section 1); `*` is a wildcard (`1.*`, `*.1`); letters ignore case (`h` is section H).
 * @example
 * ```ts
 * import { listCases, type CaseSelection } from 'fullduplex/conformance';
 *
 * const framing: CaseSelection = ['1', '2', '5.*'];
 * console.log(listCases('server', { cases: framing, exclude: '5.19,5.20' }).length);
 * ```
 */
export type CaseSelection = string | readonly string[];

/**
 * What a case is, for progress callbacks and {@link listCases}.
 * @example
 * ```ts
 * import { listCases, type CaseInfo } from 'fullduplex/conformance';
 *
 * const describe = (c: CaseInfo) => `${c.id}: ${c.description} → ${c.expectation}`;
 * listCases('server', { cases: 'H' }).map(describe).forEach((line) => console.log(line));
 * ```
 */
export interface CaseInfo {
  /** Case id, numbered as in Autobahn|Testsuite (`1.1.1`, `9.3.1`) or our own sections (`H.1`, `M.1`). */
  id: string;
  /** What the case sends. */
  description: string;
  /** What the target must do. */
  expectation: string;
}

/**
 * Options shared by {@link testServer} and the client suite.
 * @example
 * ```ts
 * import { testServer, type SuiteOptions } from 'fullduplex/conformance';
 *
 * const quick: SuiteOptions = {
 *   exclude: '9,12,13',
 *   caseTimeout: 5_000,
 *   report: 'reports/conformance',
 *   onResult: (r, i, n) => console.log(`[${i + 1}/${n}] ${r.id} ${r.verdict}`),
 * };
 * await testServer('ws://127.0.0.1:9001/', quick);
 * ```
 */
export interface SuiteOptions {
  /** Cases to run (default: all of them, including the long section 9). */
  cases?: CaseSelection;
  /** Cases to leave out, e.g. `'9,12,13'` for a quick run. */
  exclude?: CaseSelection;
  /**
   * Upper bound for each case in ms, replacing the case's own (10 s for most, up to 120 s for
   * section 9). A case that runs out is dropped and judged on what happened until then.
   */
  caseTimeout?: number;
  /** How long the target has to answer the suite's close frame, and then to close TCP. Default 1000 ms each. */
  closeTimeout?: number;
  /** Write `index.html` and `index.json` into this directory once the run is done. Default: no report. */
  report?: string;
  /** Called before each case. */
  onCaseStart?: (c: CaseInfo, index: number, total: number) => void;
  /** Called with each result as soon as it is known. */
  onResult?: (result: CaseResult, index: number, total: number) => void;
}

/**
 * Options of {@link testServer}.
 * @example
 * ```ts
 * import { testServer, type ServerTestOptions } from 'fullduplex/conformance';
 *
 * const options: ServerTestOptions = { cases: '1,2,3,4,5,6,7', connectTimeout: 2_000 };
 * const run = await testServer('ws://127.0.0.1:9001/', options);
 * ```
 */
export interface ServerTestOptions extends SuiteOptions {
  /** Time for the TCP connect plus the opening handshake of each case. Default 5000 ms. */
  connectTimeout?: number;
  /**
   * Run the cases over HTTP/2 (RFC 8441): each on an extended CONNECT stream of a fresh HTTP/2
   * connection. `http://`/`ws://` URLs are h2c with prior knowledge, `https://`/`wss://` TLS with
   * ALPN `h2`. The cases that probe the HTTP/1.1 upgrade request (section H, 13.8) are left out.
   * Default false: HTTP/1.1.
   */
  http2?: boolean;
  /** With `http2` over TLS: accept any server certificate (self-signed test servers). Default false. */
  insecure?: boolean;
  /** With `http2` over TLS: extra trusted CA certificates (PEM), e.g. a self-signed server certificate. */
  ca?: string | Buffer | Array<string | Buffer>;
}

function pattern(selection: CaseSelection | undefined): string | undefined {
  if (selection === undefined) return undefined;
  return typeof selection === 'string' ? selection : selection.join(',');
}

function filters(options: SuiteOptions): { cases?: string; exclude?: string } {
  const cases = pattern(options.cases);
  const exclude = pattern(options.exclude);
  return { ...(cases !== undefined ? { cases } : {}), ...(exclude !== undefined ? { exclude } : {}) };
}

function timeouts(options: SuiteOptions): { caseTimeout?: number; closeTimeout?: number } {
  return {
    ...(options.caseTimeout !== undefined ? { caseTimeout: options.caseTimeout } : {}),
    ...(options.closeTimeout !== undefined ? { closeTimeout: options.closeTimeout } : {}),
  };
}

/**
 * The cases a selection picks for a kind of target, in run order, without running anything.
 * Throws nothing; an empty array means the patterns match no case.
 *
 * @param role `'server'` for {@link testServer}, `'client'` for the client suite (no H section).
 * @example
 * ```ts
 * import { listCases } from 'fullduplex/conformance';
 *
 * const cases = listCases('server', { cases: '2', exclude: '2.10,2.11' });
 * console.log(cases.map((c) => c.id)); // ['2.1', '2.2', …, '2.9']
 * ```
 */
export function listCases(role: TargetRole, selection: Pick<SuiteOptions, 'cases' | 'exclude'> = {}): CaseInfo[] {
  const { cases, exclude } = filters(selection);
  return selectCases(role, cases, exclude).map((c) => ({ id: c.id, description: c.description, expectation: c.expectation }));
}

/**
 * Runs the selected cases, one fresh connection each, against a WebSocket server that echoes
 * every message back (text as text, binary as binary). Resolves with every result once the run
 * is done; a case never hangs the run (each is bounded in time). Only `ws://` URLs, unless
 * `http2` is set: then the cases run on RFC 8441 extended CONNECT streams, over h2c
 * (`http://`, `ws://`) or TLS (`https://`, `wss://`), as `testServer('https://127.0.0.1:8443/', { http2: true, ca })`.
 *
 * A result's `verdict` is `OK`, `NON-STRICT` (acceptable, not the strictest reading),
 * `INFORMATIONAL` (the RFC leaves it open, or the target refused a size with 1008/1009),
 * `UNIMPLEMENTED` (permessage-deflate declined) or `FAILED` (a MUST of RFC 6455 broken).
 *
 * @throws When the URL is not `ws://` (or, with `http2`, not http/https/ws/wss), or the selection matches no case.
 * @example
 * ```ts
 * import { testServer } from 'fullduplex/conformance';
 *
 * const run = await testServer('ws://127.0.0.1:9001/', { exclude: '9,12,13', report: 'conformance-report' });
 * const failed = run.results.filter((r) => r.verdict === 'FAILED');
 * for (const r of failed) console.log(`${r.id} ${r.description}: ${r.reason} (${r.duration} ms)`);
 * process.exitCode = failed.length > 0 ? 1 : 0;
 * ```
 */
export async function testServer(url: string, options: ServerTestOptions = {}): Promise<RunReport> {
  const report = await runServerSuite(url, {
    ...filters(options),
    ...timeouts(options),
    ...(options.connectTimeout !== undefined ? { connectTimeout: options.connectTimeout } : {}),
    ...(options.http2 ? { http2: { ...(options.insecure ? { insecure: true } : {}), ...(options.ca !== undefined ? { ca: options.ca } : {}) } } : {}),
    ...(options.onCaseStart ? { onCaseStart: options.onCaseStart } : {}),
    ...(options.onResult ? { onResult: options.onResult } : {}),
  });
  if (options.report !== undefined) await writeReport(options.report, report);
  return report;
}

/**
 * Options of {@link startClientSuite}.
 * @example
 * ```ts
 * import { startClientSuite, type ClientSuiteOptions } from 'fullduplex/conformance';
 *
 * const options: ClientSuiteOptions = { host: '0.0.0.0', port: 9001, exclude: '9' };
 * const suite = await startClientSuite(options);
 * ```
 */
export interface ClientSuiteOptions extends SuiteOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on. Default 0: a free port (see {@link ClientSuite.url}). */
  port?: number;
}

/**
 * A running fuzzing server: the client suite, waiting for clients.
 * @example
 * ```ts
 * import { startClientSuite, type ClientSuite } from 'fullduplex/conformance';
 *
 * const suite: ClientSuite = await startClientSuite({ cases: '1.1' });
 * console.log(suite.url, suite.cases.map((c) => c.id));
 * const run = await suite.nextReport(); // the next agent that reports
 * await suite.close();
 * ```
 */
export interface ClientSuite {
  /** Base URL for clients, e.g. `ws://127.0.0.1:40123`. */
  readonly url: string;
  /** The selected cases, in order; case N (1-based) is `/runCase?case=N`. */
  readonly cases: readonly CaseInfo[];
  /**
   * Resolves with the results of the next agent (or of `agent`) that opens
   * `/updateReports?agent=NAME`, once every case it ran is judged; writes the report first when
   * {@link SuiteOptions.report} is set.
   */
  nextReport(agent?: string): Promise<RunReport>;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/**
 * Starts the fuzzing server of the client suite, speaking Autobahn's protocol, so any client
 * (another process, a browser, Autobahn's own agents) can run the cases against it:
 *
 * - `GET /getCaseCount` → a text message with the number of cases;
 * - `GET /runCase?case=N&agent=NAME` → case N; the client echoes every message it receives;
 * - `GET /updateReports?agent=NAME` → the agent is done: its report is ready.
 *
 * @example
 * ```ts
 * import { startClientSuite } from 'fullduplex/conformance';
 *
 * const suite = await startClientSuite({ cases: '1,2,5,7', port: 9001 });
 * console.log(`point your client at ${suite.url} (${suite.cases.length} cases)`);
 * const run = await suite.nextReport('my-client');
 * await suite.close();
 * console.log(run.results.filter((r) => r.verdict === 'FAILED'));
 * ```
 */
export async function startClientSuite(options: ClientSuiteOptions = {}): Promise<ClientSuite> {
  const server = new FuzzingServer({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    ...filters(options),
    ...timeouts(options),
    ...(options.onCaseStart ? { onCaseStart: (_agent: string, c: CaseInfo, i: number, n: number) => options.onCaseStart!(c, i, n) } : {}),
    ...(options.onResult ? { onResult: (_agent: string, r: CaseResult, i: number, n: number) => options.onResult!(r, i, n) } : {}),
  });
  const url = await server.listen();
  const cases = server.cases.map((c) => ({ id: c.id, description: c.description, expectation: c.expectation }));
  return {
    url,
    cases,
    async nextReport(agent?: string): Promise<RunReport> {
      const report = await server.waitForReport(agent);
      if (options.report !== undefined) await writeReport(options.report, report);
      return report;
    },
    close: () => server.close(),
  };
}

/**
 * Options of {@link testClient}.
 * @example
 * ```ts
 * import { connect } from 'fullduplex';
 * import { testClient, type ClientTestOptions } from 'fullduplex/conformance';
 *
 * const options: ClientTestOptions = { agent: 'my-client', cases: '1,2', reportTimeout: 5_000 };
 * const run = await testClient(async (url, agent) => {
 *   const count = Number(await (await connect(`${url}/getCaseCount`)).recv());
 *   for (let n = 1; n <= count; n++) {
 *     const ws = await connect(`${url}/runCase?case=${n}&agent=${agent}`);
 *     try {
 *       for await (const message of ws) await ws.send(message);
 *     } catch {} // cases end in every possible way
 *   }
 *   await (await connect(`${url}/updateReports?agent=${agent}`)).close();
 * }, options);
 * ```
 */
export interface ClientTestOptions extends ClientSuiteOptions {
  /** Agent name passed to the client and expected in `/updateReports`. Default `client`. */
  agent?: string;
  /**
   * How long to wait, once the client function resolved, for it to have opened
   * `/updateReports?agent=NAME`. Default 10000 ms; then the promise rejects.
   */
  reportTimeout?: number;
}

/**
 * Runs the client suite against your client: starts the fuzzing server on a free port, calls
 * `runClient(url, agent)`, which must run every case (connect to `/getCaseCount`, then
 * `/runCase?case=N&agent=AGENT` for N = 1…count, echoing every message, then open
 * `/updateReports?agent=AGENT`), and resolves with the client's verdicts. The server is closed
 * in every case.
 *
 * @throws What `runClient` throws; an error when the client never asked for `/updateReports`.
 * @example
 * ```ts
 * import { connect } from 'fullduplex';
 * import { testClient } from 'fullduplex/conformance';
 *
 * const once = (url: string) =>
 *   connect(url).then((ws) => {
 *     ws.on('message', (data) => void ws.send(data).catch(() => {}));
 *     return new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
 *   });
 *
 * const run = await testClient(
 *   async (url, agent) => {
 *     const count = Number(await once(`${url}/getCaseCount`));
 *     for (let n = 1; n <= count; n++) {
 *       const ws = await connect(`${url}/runCase?case=${n}&agent=${agent}`);
 *       ws.on('message', (data) => void ws.send(data).catch(() => {}));
 *       await ws.whenClosed();
 *     }
 *     await (await connect(`${url}/updateReports?agent=${agent}`)).whenClosed();
 *   },
 *   { cases: '1,2,5', agent: 'my-client' },
 * );
 * console.log(run.results.map((r) => `${r.id} ${r.verdict}`));
 * ```
 */
export async function testClient(runClient: (url: string, agent: string) => Promise<unknown>, options: ClientTestOptions = {}): Promise<RunReport> {
  const agent = options.agent ?? 'client';
  const suite = await startClientSuite(options);
  try {
    const report = suite.nextReport(agent);
    await runClient(suite.url, agent);
    let timer: NodeJS.Timeout | undefined;
    const wait = options.reportTimeout ?? 10_000;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the client finished without opening ${suite.url}/updateReports?agent=${agent} within ${wait} ms`)), wait);
    });
    return await Promise.race([report, late]).finally(() => clearTimeout(timer));
  } finally {
    await suite.close();
  }
}
