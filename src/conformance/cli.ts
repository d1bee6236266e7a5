/**
 * `fullduplex conformance …`: the command-line face of the suite.
 *
 * - `server <ws://host:port/path> [--http2]`: test an echo server (over HTTP/2 with `--http2`).
 * - `client [--port 9001]`: run the fuzzing server and test the client that connects to it.
 * - `agent <ws://host:port>`: run fullduplex's own client against a fuzzing server.
 * - `self`: both suites against fullduplex itself, in process.
 *
 * Exit status 0 iff no case FAILED.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runAgent } from './agent.js';
import { startClientSuite, testClient, testServer, type SuiteOptions } from './index.js';
import { TerminalReporter } from './report.js';
import type { RunReport } from './types.js';

export const CONFORMANCE_USAGE = `Usage:
  fullduplex conformance server <ws://host:port/path> [--cases 1.*,2.1] [--exclude 9,12,13] [--report DIR]
      Test a server that echoes every message. Cases are numbered as in Autobahn|Testsuite.
      --http2: over HTTP/2 (RFC 8441 extended CONNECT; http:// or ws:// is h2c, https:// or wss:// TLS;
      H and 13.8 left out), with --ca FILE to trust a certificate or --insecure to accept any.
  fullduplex conformance client [--host 127.0.0.1] [--port 9001] [--cases …] [--exclude …] [--report DIR] [--agent NAME] [--keep-running]
      Start a fuzzing server (Autobahn's protocol: /getCaseCount, /runCase?case=N&agent=A,
      /updateReports?agent=A) and test the client that runs against it. Exits after the agent's
      /updateReports unless --keep-running.
  fullduplex conformance agent <ws://host:port> [--agent NAME]
      Run fullduplex's client as an echoing agent against any such fuzzing server.
  fullduplex conformance self [--cases …] [--exclude …] [--report DIR]
      Both suites against fullduplex's own server and client.
`;

const FILTER_OPTIONS = {
  cases: { type: 'string' },
  exclude: { type: 'string' },
  report: { type: 'string' },
} as const;

/** Runs `fullduplex conformance <args>`; resolves with the exit code. */
export async function runConformanceCli(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'server':
      return serverCommand(rest);
    case 'client':
      return clientCommand(rest);
    case 'agent':
      return agentCommand(rest);
    case 'self':
      return selfCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(CONFORMANCE_USAGE);
      return sub === undefined ? 2 : 0;
    default:
      process.stderr.write(`fullduplex conformance: unknown subcommand '${sub}'\n${CONFORMANCE_USAGE}`);
      return 2;
  }
}

/** Prints the summary (the report, if any, was written by the suite function); the exit code. */
function finish(report: RunReport, reporter: TerminalReporter, dir: string | undefined): number {
  reporter.summary(report);
  if (dir) process.stdout.write(`Report written to ${dir}/index.html and ${dir}/index.json\n`);
  return report.results.some((r) => r.verdict === 'FAILED') ? 1 : 0;
}

/** The suite options of the shared flags, with progress printed by `reporter`. */
function suiteOptions(values: { cases?: string; exclude?: string }, reporter: TerminalReporter, report: string | undefined): SuiteOptions {
  return {
    ...(values.cases ? { cases: values.cases } : {}),
    ...(values.exclude ? { exclude: values.exclude } : {}),
    ...(report ? { report } : {}),
    onCaseStart: (c, i, n) => reporter.caseStarted(c.id, i, n),
    onResult: (r, i, n) => reporter.caseDone(r, i, n),
  };
}

async function serverCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...FILTER_OPTIONS, http2: { type: 'boolean', default: false }, insecure: { type: 'boolean', default: false }, ca: { type: 'string' } },
  });
  const url = positionals[0];
  if (!url) throw new Error(`conformance server needs the URL of an echo server\n${CONFORMANCE_USAGE}`);
  if ((values.insecure || values.ca) && !values.http2) throw new Error('--insecure and --ca apply to TLS, which the suite speaks with --http2 only');
  const reporter = new TerminalReporter();
  process.stdout.write(`Testing the server at ${url}${values.http2 ? ' over HTTP/2' : ''}\n`);
  const report = await testServer(url, {
    ...suiteOptions(values, reporter, values.report),
    ...(values.http2 ? { http2: true, insecure: values.insecure, ...(values.ca ? { ca: readFileSync(values.ca) } : {}) } : {}),
  });
  return finish(report, reporter, values.report);
}

async function clientCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...FILTER_OPTIONS,
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '9001' },
      agent: { type: 'string' },
      'keep-running': { type: 'boolean', default: false },
    },
  });
  const reporter = new TerminalReporter();
  const suite = await startClientSuite({ host: values.host, port: Number(values.port), ...suiteOptions(values, reporter, values.report) });
  const url = suite.url;
  process.stdout.write(
    `Fuzzing server on ${url} with ${suite.cases.length} cases. Point your client at it, e.g.\n  fullduplex conformance agent ${url}\n`,
  );
  try {
    for (;;) {
      const report = await suite.nextReport(values.agent);
      process.stdout.write(`\nAgent '${report.target}' finished.\n`);
      const code = finish(report, reporter, values.report);
      if (!values['keep-running']) return code;
    }
  } finally {
    await suite.close();
  }
}

async function agentCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { agent: { type: 'string', default: 'fullduplex' } } });
  const url = positionals[0];
  if (!url) throw new Error(`conformance agent needs the URL of a fuzzing server\n${CONFORMANCE_USAGE}`);
  const tty = process.stdout.isTTY === true;
  const count = await runAgent(url, {
    agent: values.agent,
    onCase: (n, total) => {
      if (tty) process.stdout.write(`\r\x1b[2Kcase ${n}/${total}`);
    },
  });
  process.stdout.write(`${tty ? '\r\x1b[2K' : ''}Ran ${count} cases against ${url} as agent '${values.agent}'; the fuzzing server has the verdicts.\n`);
  return 0;
}

async function selfCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: FILTER_OPTIONS });
  const { WebSocketServer } = await import('../server/server.js');
  const server = new WebSocketServer(undefined, { port: 0, pingInterval: 0, maxMessageSize: 64 * 1024 * 1024, perMessageDeflate: true });
  server.on('connection', (ws) => ws.on('message', (data) => void ws.send(data).catch(() => {})));
  await server.listen();
  let code = 0;
  try {
    process.stdout.write(`Server suite against fullduplex's server at ${server.url}\n`);
    const reporter = new TerminalReporter();
    const dir = values.report ? `${values.report}/server` : undefined;
    code |= finish(await testServer(server.url, suiteOptions(values, reporter, dir)), reporter, dir);
  } finally {
    await server.close();
  }
  const clientReporter = new TerminalReporter();
  const dir = values.report ? `${values.report}/client` : undefined;
  const report = await testClient(
    (url) => {
      process.stdout.write(`\nClient suite: fullduplex's client against the fuzzing server at ${url}\n`);
      return runAgent(url, { agent: 'fullduplex' });
    },
    { agent: 'fullduplex', ...suiteOptions(values, clientReporter, dir) },
  );
  code |= finish(report, clientReporter, dir);
  return code;
}
