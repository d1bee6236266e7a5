import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { ClientExtension, Extension } from '../frame/extension.js';
import { permessageDeflateClient, type PerMessageDeflateClientOptions } from '../extensions/permessage-deflate.js';
import { buildClientRequest, validateServerResponse, HandshakeError } from '../handshake/client.js';
import { parseResponseHead } from '../handshake/http-head.js';
import { formatExtensions, type ExtensionOffer } from '../handshake/tokens.js';
import { WebSocketConnection } from '../io/connection.js';
import { Session, type ConnectionOptions, type SessionInit } from '../io/session.js';
import { netTransport } from '../io/transport.js';
import { openHttp2Session } from './http2.js';

/**
 * Options of {@link connect}.
 * @example
 * ```ts
 * import { connect, type ClientOptions } from 'fullduplex';
 *
 * const options: ClientOptions = {
 *   protocols: ['chat.v2'],
 *   headers: { authorization: `Bearer ${token}` },
 *   handshakeTimeout: 5_000,
 *   perMessageDeflate: true,
 *   signal: AbortSignal.timeout(10_000),
 * };
 * const ws = await connect('wss://example.com/chat', options);
 * ```
 */
export interface ClientOptions extends ConnectionOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Extra request headers (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** `Origin` header, as a browser would send. */
  origin?: string;
  /** Time allowed for TCP connect + TLS + the opening handshake. Default 10 s. */
  handshakeTimeout?: number;
  /** TLS options for `wss://`: `ca`, `rejectUnauthorized`, `servername` (SNI), client certs, … */
  tls?: TlsConnectionOptions;
  /** Largest handshake response head accepted. Default 8192 bytes. */
  maxHeadSize?: number;
  /** Aborts the opening handshake. */
  signal?: AbortSignal;
  /**
   * permessage-deflate (RFC 7692): `true` (default) or options to offer it, `false` not to. The
   * default offer is `permessage-deflate; client_max_window_bits`; our compressor then uses at most
   * 12 bits (what the server grants, capped by `windowBits`), memLevel 5.
   */
  perMessageDeflate?: boolean | PerMessageDeflateClientOptions;
  /** Other extensions to offer, after permessage-deflate. */
  extensions?: ClientExtension[];
  /**
   * WebSockets over HTTP/2 (RFC 8441): open the socket as an extended CONNECT stream on a pooled
   * HTTP/2 connection per origin (shared by every socket to that origin). `true` requires it;
   * `'auto'` falls back to an HTTP/1.1 upgrade when the server does not offer it. Default false.
   */
  http2?: boolean | 'auto';
}

/**
 * Why `connect()` failed: refused, TLS, timeout, or a bad handshake response.
 * @example
 * ```ts
 * import { ConnectError, connect } from 'fullduplex';
 *
 * try {
 *   await connect('ws://127.0.0.1:8080/private');
 * } catch (error) {
 *   if (!(error instanceof ConnectError)) throw error;
 *   console.log(error.code, error.status); // e.g. 'FD_ERR_CONNECT' undefined, or a handshake code and 401
 * }
 * ```
 */
export class ConnectError extends Error {
  /** Stable identifier: `FD_ERR_CONNECT`, `FD_ERR_TLS`, `FD_ERR_TIMEOUT`, `FD_ERR_ABORTED`, or a handshake code. */
  readonly code: string;
  /** HTTP status when the server answered with something other than 101. */
  readonly status: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; status?: number | undefined }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ConnectError';
    this.code = code;
    this.status = options?.status;
  }
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** @internal Clients ping every 20 s by default (python-websockets' keepalive). */
export const DEFAULT_CLIENT_PING_INTERVAL = 20_000;

/**
 * @internal §9.1: the server's answer is checked by each extension we offered (HTTP/1.1 and HTTP/2
 * alike); anything it did not allow fails the connection now, not at the first compressed frame.
 * Returns the runtime extensions, or throws a `FD_ERR_EXTENSION_REJECTED` {@link ConnectError}
 * after disposing the ones already made.
 */
export function acceptExtensionAnswers(offered: readonly ClientExtension[], answers: readonly ExtensionOffer[], target: URL): Extension[] {
  const accepted: Extension[] = [];
  for (const answer of answers) {
    const extension = offered.find((candidate) => candidate.name === answer.name)!;
    try {
      accepted.push(extension.accept(Object.entries(answer.params)));
    } catch (error) {
      for (const made of accepted) made.dispose();
      throw new ConnectError('FD_ERR_EXTENSION_REJECTED', `${answer.name} answer from ${target.href} rejected: ${(error as Error).message}`, { cause: error });
    }
  }
  return accepted;
}

/** @internal What every client session is built from, less the transport's `peer` and `head`. */
export function clientSessionInit(
  target: URL,
  verdict: { protocol: string | null; extensions: readonly ExtensionOffer[] },
  extensions: Extension[],
  headers: Record<string, string | undefined>,
): Omit<SessionInit, 'peer' | 'head'> {
  return {
    role: 'client',
    protocol: verdict.protocol ?? '',
    extensions,
    extensionsHeader: verdict.extensions.length > 0 ? formatExtensions(verdict.extensions) : '',
    request: { url: target.pathname + target.search, path: target.pathname, query: target.searchParams, headers },
  };
}

/**
 * Opens a WebSocket connection to `url` (`ws://` or `wss://`) and resolves once it is open — the
 * shape of python-websockets' `connect(uri)`. Rejects with a {@link ConnectError} that says what
 * went wrong: connection refused, TLS failure, timeout, or the server's bad answer (with its
 * status line).
 * @example
 * ```ts
 * import { connect } from 'fullduplex';
 *
 * const ws = await connect('ws://127.0.0.1:8080/echo', { protocols: ['chat'] });
 * await ws.send('hello');
 * console.log(await ws.recv()); // 'hello'
 * await ws.close();
 * ```
 */
export async function connect(url: string | URL, options: ClientOptions = {}): Promise<WebSocketConnection> {
  return new WebSocketConnection(await openSession(url, options));
}

/**
 * The client handshake without a face: resolves with the open {@link Session}, for faces other
 * than {@link WebSocketConnection} (the WHATWG `WebSocket`, the `ws`-compatible class) to wrap.
 * @example
 * ```ts
 * import { openSession, type SessionListener } from 'fullduplex';
 *
 * // Your own face over the client's session (connect() wraps it in a WebSocketConnection).
 * const session = await openSession('ws://127.0.0.1:8080/', { perMessageDeflate: false });
 * const face: SessionListener = {
 *   onMessage: (data, isBinary) => console.log(isBinary ? data : data.toString()),
 *   onPing() {},
 *   onPong() {},
 *   onError: console.error,
 *   onDrain() {},
 *   onClose: (code) => console.log('closed', code),
 * };
 * session.attach(face);
 * await session.send('hi');
 * ```
 */
export function openSession(url: string | URL, options: ClientOptions = {}): Promise<Session> {
  if (options.http2) return openHttp2Session(url, options, options.http2, () => openSession(url, { ...options, http2: false }));
  const extensions: ClientExtension[] = [...(options.extensions ?? [])];
  // Offered by default, as browsers, ws, undici and python-websockets do.
  const deflate = options.perMessageDeflate ?? true;
  if (deflate !== false) extensions.unshift(permessageDeflateClient(deflate === true ? {} : deflate));
  let request: ReturnType<typeof buildClientRequest>;
  let target: URL;
  try {
    target = new URL(url);
    request = buildClientRequest({
      url: target,
      ...(options.protocols ? { protocols: options.protocols } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...(extensions.length > 0
        ? { extensions: extensions.flatMap((extension) => extension.offer().map((params) => ({ name: extension.name, params }))) }
        : {}),
    });
  } catch (error) {
    return Promise.reject(error);
  }
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const port = target.port ? Number(target.port) : secure ? 443 : 80;
  const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;

  return new Promise<Session>((resolve, reject) => {
    let settled = false;
    let received: Buffer = Buffer.alloc(0);
    const socket: Socket = secure
      ? tlsConnect({ host, port, servername: isIp(host) ? undefined : host, ...options.tls } as TlsConnectionOptions)
      : netConnect({ host, port });

    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new ConnectError('FD_ERR_TIMEOUT', `Opening handshake with ${target.href} timed out after ${timeout} ms`)),
      timeout,
    );
    const onAbort = (): void => fail(new ConnectError('FD_ERR_ABORTED', `Connection to ${target.href} aborted`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    const onError = (error: NodeJS.ErrnoException): void => {
      const tlsProblem = secure && (error.code?.startsWith('ERR_SSL') || error.code?.includes('CERT') || error.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || /certificate|ssl|tls/i.test(error.message));
      fail(
        tlsProblem
          ? new ConnectError('FD_ERR_TLS', `TLS handshake with ${target.host} failed: ${error.message}`, { cause: error })
          : new ConnectError('FD_ERR_CONNECT', `Could not connect to ${target.href}: ${error.code ?? error.message}`, { cause: error }),
      );
    };
    const onClose = (): void =>
      fail(new ConnectError('FD_ERR_HANDSHAKE_EOF', `${target.href} closed the connection during the opening handshake`));
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const result = parseResponseHead(received, { maxHeadSize: options.maxHeadSize });
      if (result.kind === 'incomplete') return;
      if (result.kind === 'error') {
        fail(new ConnectError('FD_ERR_HANDSHAKE_RESPONSE', `Malformed handshake response from ${target.href}: ${result.message}`));
        return;
      }
      const verdict = validateServerResponse(result.head, {
        key: request.key,
        ...(options.protocols ? { protocols: options.protocols } : {}),
        ...(extensions.length > 0 ? { extensions: extensions.map((extension) => extension.name) } : {}),
      });
      if (!verdict.ok) {
        const error: HandshakeError = verdict.error;
        fail(new ConnectError(error.code, error.message, { cause: error, status: error.status }));
        return;
      }
      let accepted: Extension[];
      try {
        accepted = acceptExtensionAnswers(extensions, verdict.extensions, target);
      } catch (error) {
        fail(error as ConnectError);
        return;
      }
      settled = true;
      cleanup();
      socket.pause();
      const { transport, peer } = netTransport(socket);
      const session = new Session(
        transport,
        {
          ...clientSessionInit(target, verdict, accepted, Object.fromEntries(Object.entries(result.head.headers))),
          peer,
          head: received.subarray(result.bytesConsumed),
        },
        { pingInterval: DEFAULT_CLIENT_PING_INTERVAL, ...options },
      );
      resolve(session);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('data', onData);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.write(request.bytes);
    });
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
