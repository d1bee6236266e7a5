/**
 * An Autobahn-protocol test agent built on fullduplex's own client: asks a fuzzing server (ours,
 * or Autobahn's `wstest -m fuzzingserver`) how many cases it has, connects once per case and
 * echoes every message back unchanged, then asks the server to write its report.
 */
import { connect } from '../client/connect.js';
import type { WebSocketConnection } from '../io/connection.js';

/** Options of {@link runAgent}. */
export interface AgentOptions {
  /** Agent name in the server's report. Default `fullduplex`. */
  agent?: string;
  /** Longest a single case may take before the agent drops it. Default 120 s (9.x cases are long). */
  caseTimeout?: number;
  /** Called before each case, with its 1-based number. */
  onCase?: (n: number, count: number) => void;
}

/** Runs every case of the fuzzing server at `base` (e.g. `ws://127.0.0.1:9001`). Resolves with the case count. */
export async function runAgent(base: string, options: AgentOptions = {}): Promise<number> {
  const root = base.replace(/\/+$/, '');
  const agent = encodeURIComponent(options.agent ?? 'fullduplex');
  const count = Number(await firstMessage(`${root}/getCaseCount`));
  if (!Number.isInteger(count) || count < 0) throw new Error(`${root}/getCaseCount did not answer with a number`);
  for (let n = 1; n <= count; n++) {
    options.onCase?.(n, count);
    await runCase(`${root}/runCase?case=${n}&agent=${agent}`, options.caseTimeout ?? 120_000);
  }
  const ws = await connect(`${root}/updateReports?agent=${agent}`, { pingInterval: 0 });
  ws.on('error', noop);
  await ws.whenClosed();
  return count;
}

async function firstMessage(url: string): Promise<string> {
  const ws = await connect(url, { pingInterval: 0 });
  ws.on('error', noop);
  const message = await new Promise<string>((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('close', () => reject(new Error(`${url} closed without a message`)));
  });
  await ws.whenClosed();
  return message;
}

async function runCase(url: string, timeout: number): Promise<void> {
  let ws: WebSocketConnection;
  try {
    ws = await connect(url, { pingInterval: 0, maxMessageSize: 64 * 1024 * 1024 });
  } catch {
    return; // the server refused this case (e.g. it needs an extension we do not offer)
  }
  ws.on('error', noop);
  // Echo every message as it came: text as text, binary as binary.
  ws.on('message', (data) => void ws.send(data).catch(noop));
  const timer = setTimeout(() => ws.terminate(), timeout);
  await ws.whenClosed();
  clearTimeout(timer);
}

function noop(): void {}
