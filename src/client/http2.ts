import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { ClientExtension, Extension } from '../frame/extension.js';
import { permessageDeflateClient } from '../extensions/permessage-deflate.js';
import { computeAccept } from '../handshake/accept.js';
import { buildClientRequest, validateServerResponse } from '../handshake/client.js';
import { http2Transport } from '../io/http2-transport.js';
import { Session } from '../io/session.js';
import { acceptExtensionAnswers, clientSessionInit, ConnectError, DEFAULT_CLIENT_PING_INTERVAL, type ClientOptions } from './connect.js';

/**
 * The client side of WebSockets over HTTP/2 (RFC 8441): each WebSocket is an extended CONNECT
 * stream on a pooled HTTP/2 connection, one per origin and TLS options, so many sockets to one
 * server share one TCP (and TLS) connection. The pooled connection closes when its last
 * WebSocket closes.
 */

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Headers the HTTP/1.1 request has and an extended CONNECT must not (RFC 8441 §5, RFC 9113 §8.2.2). */
const HTTP1_ONLY = new Set(['host', 'upgrade', 'connection', 'sec-websocket-key']);

/** One pooled HTTP/2 connection. */
interface PoolEntry {
  readonly key: string;
  readonly session: ClientHttp2Session;
  /** Resolves once the server's SETTINGS arrived: whether it allows extended CONNECT. */
  readonly ready: Promise<boolean>;
  /** WebSockets (and handshakes in progress) on this connection. */
  streams: number;
}

const pool = new Map<string, PoolEntry>();

/** Number of pooled HTTP/2 connections (tests and metrics). */
export function http2PoolSize(): number {
  return pool.size;
}

/**
 * Opens a WebSocket as an HTTP/2 extended CONNECT stream. With `mode` `'auto'`, a server that
 * does not speak HTTP/2 or does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL is reached over
 * HTTP/1.1 instead (`fallback`); with `true` that is a {@link ConnectError}
 * (`FD_ERR_HTTP2_UNSUPPORTED`).
 */
export async function openHttp2Session(url: string | URL, options: ClientOptions, mode: true | 'auto', fallback: () => Promise<Session>): Promise<Session> {
  const extensions: ClientExtension[] = [...(options.extensions ?? [])];
  // Offered by default, as browsers, ws, undici and python-websockets do.
  const deflate = options.perMessageDeflate ?? true;
  if (deflate !== false) extensions.unshift(permessageDeflateClient(deflate === true ? {} : deflate));
  const target = new URL(url);
  // The HTTP/1.1 request builder validates URL, subprotocols, extensions and headers (CR/LF
  // included); its header list, less what HTTP/2 replaces, is the extended CONNECT's.
  const request = buildClientRequest({
    url: target,
    ...(options.protocols ? { protocols: options.protocols } : {}),
    ...(options.origin ? { origin: options.origin } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(extensions.length > 0
      ? { extensions: extensions.flatMap((extension) => extension.offer().map((params) => ({ name: extension.name, params }))) }
      : {}),
  });
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const lines = request.head.split('\r\n');
  const headers: Record<string, string> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': secure ? 'https' : 'http',
    ':path': lines[0]!.split(' ')[1]!,
    ':authority': target.host,
  };
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'host') headers[':authority'] = value;
    else if (!HTTP1_ONLY.has(name)) headers[name] = value;
  }

  const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const deadline = AbortSignal.timeout(timeout);
  const entry = acquire(target, secure, options);
  let supported: boolean;
  try {
    supported = await raceDeadline(entry.ready, deadline, options.signal, target);
  } catch (error) {
    release(entry);
    if (mode === 'auto' && error instanceof ConnectError && error.code === 'FD_ERR_HTTP2_UNSUPPORTED') return fallback();
    throw error;
  }
  if (!supported) {
    release(entry);
    if (mode === 'auto') return fallback();
    throw new ConnectError('FD_ERR_HTTP2_UNSUPPORTED', `${target.host} does not allow WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)`);
  }

  let stream: ClientHttp2Stream;
  try {
    stream = entry.session.request(headers, { endStream: false });
  } catch (error) {
    release(entry);
    throw new ConnectError('FD_ERR_CONNECT', `Could not open an HTTP/2 stream to ${target.href}: ${(error as Error).message}`, { cause: error });
  }
  stream.once('close', () => release(entry));
  let response: IncomingHttpHeaders;
  try {
    response = await raceDeadline(responseOf(stream, target), deadline, options.signal, target);
  } catch (error) {
    if (!stream.closed) stream.close(0x8 /* CANCEL */);
    throw error;
  }
  const status = Number(response[':status']);
  const fields: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(response)) {
    if (!name.startsWith(':') && value !== undefined) fields[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  // Subprotocol and extensions are checked exactly as for a 101: RFC 8441 §5 keeps them. The
  // HTTP/1.1-only parts (Upgrade, Connection, the accept hash) have no HTTP/2 counterpart, so
  // they are filled in; only a 2xx status means success.
  const verdict = validateServerResponse(
    {
      httpVersion: '2.0',
      status: status >= 200 && status < 300 ? 101 : status,
      reason: '',
      headers: { ...fields, upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': computeAccept(request.key) },
      rawHeaders: [],
    },
    {
      key: request.key,
      ...(options.protocols ? { protocols: options.protocols } : {}),
      ...(extensions.length > 0 ? { extensions: extensions.map((extension) => extension.name) } : {}),
    },
  );
  if (!verdict.ok) {
    if (!stream.closed) stream.close(0x8 /* CANCEL */);
    const error = verdict.error;
    const message = error.code === 'FD_ERR_HANDSHAKE_STATUS' ? `Unexpected server response: ${status}` : error.message;
    throw new ConnectError(error.code, message, { cause: error, status });
  }
  let accepted: Extension[];
  try {
    accepted = acceptExtensionAnswers(extensions, verdict.extensions, target);
  } catch (error) {
    if (!stream.closed) stream.close(0x8 /* CANCEL */);
    throw error;
  }
  const { transport, peer } = http2Transport(stream);
  return new Session(transport, { ...clientSessionInit(target, verdict, accepted, fields), peer }, { pingInterval: DEFAULT_CLIENT_PING_INTERVAL, ...options });
}

/** The pooled connection for this origin and TLS options, opened if needed; counts one more user. */
function acquire(target: URL, secure: boolean, options: ClientOptions): PoolEntry {
  const origin = `${secure ? 'https' : 'http'}://${target.host}`;
  const key = `${origin} ${secure ? tlsKey(options) : ''}`;
  let entry = pool.get(key);
  if (!entry || entry.session.closed || entry.session.destroyed) {
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const session = http2Connect(origin, {
      ...(secure ? { ...options.tls, ...(isIp(host) ? {} : { servername: host }) } : {}),
      ...(secure ? { ALPNProtocols: ['h2'] } : {}),
    } as Parameters<typeof http2Connect>[1]);
    const ready = new Promise<boolean>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        const tls = secure && /certificate|ssl|tls|CERT/i.test(`${error.code ?? ''} ${error.message}`);
        reject(
          tls
            ? new ConnectError('FD_ERR_TLS', `TLS handshake with ${target.host} failed: ${error.message}`, { cause: error })
            : error.code === 'ERR_HTTP2_ERROR' || error.code === 'ERR_HTTP2_SESSION_ERROR' || error.code === 'ECONNRESET' || error.code === 'ERR_HTTP2_GOAWAY_SESSION'
              ? new ConnectError('FD_ERR_HTTP2_UNSUPPORTED', `${target.host} does not speak HTTP/2: ${error.message}`, { cause: error })
              : new ConnectError('FD_ERR_CONNECT', `Could not connect to ${target.href}: ${error.code ?? error.message}`, { cause: error }),
        );
      };
      session.once('error', onError);
      session.once('remoteSettings', (settings) => {
        session.off('error', onError);
        resolve(settings.enableConnectProtocol === true);
      });
      session.once('close', () => reject(new ConnectError('FD_ERR_HTTP2_UNSUPPORTED', `${target.host} closed the HTTP/2 connection before its SETTINGS`)));
      // A TLS server that picked no ALPN (or http/1.1) never speaks HTTP/2 on this connection.
      session.socket?.once('secureConnect', () => {
        const alpn = (session.socket as { alpnProtocol?: string | false }).alpnProtocol;
        if (alpn !== 'h2') onError(Object.assign(new Error(`ALPN chose ${alpn === false ? 'nothing' : alpn}`), { code: 'ERR_HTTP2_ERROR' }));
      });
    });
    ready.catch(() => {}); // observed by whoever awaits it
    session.on('error', () => {}); // a connection error closes its streams, which report it
    entry = { key, session, ready, streams: 0 };
    pool.set(key, entry);
    session.once('close', () => {
      if (pool.get(key) === entry) pool.delete(key);
    });
  }
  entry.streams++;
  return entry;
}

/** One user less; the last one closes the connection (GOAWAY), so nothing keeps the process alive. */
function release(entry: PoolEntry): void {
  entry.streams--;
  if (entry.streams > 0) return;
  if (pool.get(entry.key) === entry) pool.delete(entry.key);
  if (!entry.session.closed && !entry.session.destroyed) entry.session.close();
}

function responseOf(stream: ClientHttp2Stream, target: URL): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    stream.once('response', resolve);
    stream.on('error', (error) => reject(new ConnectError('FD_ERR_CONNECT', `HTTP/2 stream to ${target.href} failed: ${error.message}`, { cause: error })));
    stream.once('close', () =>
      reject(new ConnectError('FD_ERR_HANDSHAKE_EOF', `${target.href} reset the stream during the opening handshake (code ${stream.rstCode})`)),
    );
  });
}

function raceDeadline<T>(promise: Promise<T>, deadline: AbortSignal, signal: AbortSignal | undefined, target: URL): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onTimeout = (): void => reject(new ConnectError('FD_ERR_TIMEOUT', `Opening handshake with ${target.href} timed out`));
    const onAbort = (): void => reject(new ConnectError('FD_ERR_ABORTED', `Connection to ${target.href} aborted`));
    if (deadline.aborted) return onTimeout();
    if (signal?.aborted) return onAbort();
    deadline.addEventListener('abort', onTimeout, { once: true });
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      deadline.removeEventListener('abort', onTimeout);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

/** Connections are shared only between callers with the same TLS options. */
function tlsKey(options: ClientOptions): string {
  const tls = options.tls;
  if (!tls) return '';
  return JSON.stringify(tls, (_key, value: unknown) => (Buffer.isBuffer(value) ? value.toString('base64') : value));
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
