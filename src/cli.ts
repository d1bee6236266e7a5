/**
 * The `fullduplex` command: `echo` and `broadcast` servers for test suites and load generators,
 * and `connect`, an interactive client like wscat.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { connect } from './client/connect.js';
import { runConformanceCli } from './conformance/cli.js';
import { WebSocketServer, type ServerOptions } from './server/server.js';

const USAGE = `Usage:
  fullduplex echo      [--host 127.0.0.1] [--port 9001] [--tls-cert FILE --tls-key FILE | --h2c] [--max-message BYTES] [--deflate]
  fullduplex broadcast [--host 127.0.0.1] [--port 9001] [--tls-cert FILE --tls-key FILE | --h2c] [--max-message BYTES] [--deflate]
      With TLS, one port serves HTTP/1.1 upgrades and HTTP/2 extended CONNECT (RFC 8441, ALPN h2);
      --h2c serves cleartext HTTP/2 with prior knowledge instead of HTTP/1.1.
  fullduplex connect   <ws://host:port/path> [--protocol NAME]... [--header "Name: value"]... [--ca FILE] [--insecure] [--close-timeout MS] [--no-deflate]
  fullduplex conformance server <ws://host:port/path> | client [--port 9001] | agent <ws://host:port> | self  (--help for options)
`;

/** Runs the CLI with `argv` (without the node and script paths). Resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'echo':
      case 'broadcast':
        return await runServer(command, rest);
      case 'connect':
        return await runClient(rest);
      case 'conformance':
        return await runConformanceCli(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`fullduplex: unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`fullduplex: ${(error as Error).message}\n`);
    return 1;
  }
}

function serverOptions(args: string[]): ServerOptions {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '9001' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-message': { type: 'string' },
      h2c: { type: 'boolean', default: false },
      deflate: { type: 'boolean', default: false },
    },
  });
  const options: ServerOptions = { host: values.host, port: Number(values.port), pingInterval: 0 };
  if (values['tls-cert'] || values['tls-key']) {
    if (!values['tls-cert'] || !values['tls-key']) throw new Error('--tls-cert and --tls-key go together');
    if (values.h2c) throw new Error('--h2c is cleartext; with TLS, HTTP/2 is offered through ALPN already');
    options.tls = { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) };
    // ALPN h2 and http/1.1 on the one port: WebSockets over HTTP/2 (RFC 8441) and HTTP/1.1 upgrades.
    options.http2 = true;
  }
  if (values.h2c) options.h2c = true;
  if (values['max-message']) options.maxMessageSize = Number(values['max-message']);
  // permessage-deflate with the server defaults (12-bit windows, memLevel 5, context takeover).
  if (values.deflate) options.perMessageDeflate = true;
  return options;
}

async function runServer(kind: 'echo' | 'broadcast', args: string[]): Promise<number> {
  const server = new WebSocketServer(undefined, serverOptions(args));
  if (kind === 'echo') {
    // Echo each message back unchanged: text as text, binary as binary.
    server.on('connection', (ws) => ws.on('message', (data) => void ws.send(data).catch(noop)));
  } else {
    server.on('connection', (ws) => ws.on('message', (data) => server.broadcast(data)));
  }
  server.on('error', (error) => process.stderr.write(`fullduplex: ${error.message}\n`));
  await server.listen();
  process.stdout.write(`fullduplex ${kind} server listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

async function runClient(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      protocol: { type: 'string', multiple: true },
      header: { type: 'string', multiple: true },
      ca: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      'close-timeout': { type: 'string', default: '5000' },
      'no-deflate': { type: 'boolean', default: false },
    },
  });
  const url = positionals[0];
  if (!url) throw new Error(`connect needs a URL\n${USAGE}`);
  const closeTimeout = Number(values['close-timeout']);
  if (!Number.isInteger(closeTimeout) || closeTimeout <= 0) throw new Error(`Bad --close-timeout '${values['close-timeout']}': expected milliseconds`);
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new Error(`Bad --header '${header}': expected "Name: value"`);
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const ws = await connect(url, {
    headers,
    // At the end of input we start the close handshake and keep printing what arrives until the
    // server's close frame, for at most this long.
    closeTimeout,
    // permessage-deflate is offered by default, as browsers do.
    ...(values['no-deflate'] ? { perMessageDeflate: false } : {}),
    ...(values.protocol ? { protocols: values.protocol } : {}),
    tls: { ...(values.ca ? { ca: readFileSync(values.ca) } : {}), rejectUnauthorized: !values.insecure },
  });
  const interactive = process.stdin.isTTY === true;
  if (interactive) {
    const details = [ws.protocol, ws.extensions].filter((part) => part !== '').join('; ');
    process.stderr.write(`Connected to ${url}${details ? ` (${details})` : ''}. Ctrl-D to quit.\n`);
  }
  ws.on('message', (data, isBinary) => {
    process.stdout.write(isBinary ? `< (binary ${data.length} bytes) ${(data as Buffer).toString('hex')}\n` : `< ${String(data)}\n`);
  });
  const lines = createInterface({ input: process.stdin, terminal: false });
  lines.on('line', (line) => void ws.send(line).catch(noop));
  lines.on('close', () => void ws.close().catch(noop));
  await ws.whenClosed();
  lines.close();
  if (ws.closeCode !== 1000 && ws.closeCode !== 1005) {
    process.stderr.write(`Connection closed: ${ws.closeCode}${ws.closeReason ? ` ${ws.closeReason}` : ''}\n`);
    return 1;
  }
  return 0;
}

function noop(): void {}
