/**
 * The server suite over HTTP/2 (RFC 8441): each case runs on an extended CONNECT stream of its
 * own HTTP/2 connection, and the stream is handed to the harness through a small adapter that
 * looks like the `net.Socket` the HTTP/1.1 path gives it.
 *
 * One HTTP/2 connection per case, not one shared by all: it mirrors "a fresh TCP connection per
 * case" of the HTTP/1.1 suite, so a case that leaves its stream in a bad state (the server
 * resetting it, flow-control windows exhausted by a 16 MiB message of section 9, a suite-side
 * drop) cannot leak into the next case's timing or verdict, and a run does not depend on the
 * server's stream limits. The cost, one TCP (and TLS) handshake per case, is what the HTTP/1.1
 * suite pays too.
 *
 * How the judge's TCP expectations translate. The stream is the WebSocket's whole transport, so:
 *
 * - "the target sent TCP FIN" is the server's END_STREAM (the stream's `'end'`); the harness
 *   answers with our END_STREAM, as it answers a FIN with its own;
 * - "the server closes the TCP connection first after the closing handshake" (RFC 6455 §7.1.1)
 *   is the server ending (END_STREAM) or resetting the stream; the stream's `'close'` is the
 *   connection's close;
 * - "the target dropped TCP" is RST_STREAM from the server (or the HTTP/2 connection going away);
 * - "the suite drops TCP" ({@link CaseContext.kill}) is our RST_STREAM with CANCEL, which is
 *   what RFC 8441 §5 maps an aborted TCP connection to; the HTTP/2 connection is closed right
 *   after, since nothing else runs on it.
 */
import { connect as http2Connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { computeAccept } from '../handshake/accept.js';
import { validateServerResponse } from '../handshake/client.js';
import { formatExtensions } from '../handshake/tokens.js';
import { parseDeflateResponse, PerMessageDeflate } from './deflate.js';
import type { LogEntry } from './types.js';

/** TLS knobs for `https://`/`wss://` targets. */
export interface Http2TargetOptions {
  /** Accept any certificate (self-signed test servers). Default false: the certificate is verified. */
  insecure?: boolean;
  /** Extra trusted CA certificates (PEM), e.g. the test server's self-signed certificate. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** An extended CONNECT stream after a `:status 200`, ready for a {@link CaseContext}. */
export interface Http2Opened {
  /** The stream, shaped as the socket the harness expects (see {@link Http2StreamSocket}). */
  socket: Socket;
  /** Always empty: HTTP/2 delivers what follows the response as stream data. */
  head: Buffer;
  log: LogEntry[];
  deflate: PerMessageDeflate | null;
}

/** Whether a URL is reached over TLS: `https:` and `wss:`. Throws on other schemes. */
function isSecure(url: URL): boolean {
  switch (url.protocol) {
    case 'https:':
    case 'wss:':
      return true;
    case 'http:':
    case 'ws:':
      return false;
    default:
      throw new Error(`conformance server --http2 needs an http://, https://, ws:// or wss:// URL, got ${url.href}`);
  }
}

/**
 * Opens an HTTP/2 connection to `url` (`https:`/`wss:` over TLS with ALPN `h2`; `http:`/`ws:`
 * as h2c with prior knowledge), waits for the server's SETTINGS, which must carry
 * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3), opens an extended CONNECT stream with
 * `:protocol websocket` (offering permessage-deflate with `offers`, as the HTTP/1.1 path does),
 * and checks the answer: a 2xx status and extension answers that were offered and are valid.
 * Rejects with a readable reason, after closing the connection, on any failure or after `timeout` ms.
 */
export function openHttp2Connection(
  url: URL,
  offers: Array<Record<string, string | true>> | undefined,
  timeout: number,
  options: Http2TargetOptions = {},
): Promise<Http2Opened> {
  const secure = isSecure(url);
  const path = `${url.pathname || '/'}${url.search}`;
  const extensionsHeader = offers ? formatExtensions(offers.map((params) => ({ name: 'permessage-deflate', params }))) : undefined;
  const log: LogEntry[] = [{ at: 0, dir: '>', text: `HTTP/2 CONNECT :protocol websocket ${path}${extensionsHeader ? ` (offering ${extensionsHeader})` : ''}` }];
  const origin = `${secure ? 'https' : 'http'}://${url.host}`;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<Http2Opened>((resolve, reject) => {
    const session: ClientHttp2Session = http2Connect(origin, {
      ...(secure
        ? {
            ALPNProtocols: ['h2'],
            rejectUnauthorized: options.insecure !== true,
            ...(options.ca !== undefined ? { ca: options.ca } : {}),
            ...(/^[\d.]+$/.test(host) || host.includes(':') ? {} : { servername: host }),
          }
        : {}),
    });
    let stream: ClientHttp2Stream | null = null;
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (stream && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      session.destroy();
      reject(new Error(message));
    };
    const timer = setTimeout(() => fail(`no HTTP/2 extended CONNECT response within ${timeout} ms`), timeout);
    // A session error after the handshake closes the stream, which the harness sees.
    session.on('error', (error: NodeJS.ErrnoException) => fail(`HTTP/2 connection failed: ${error.code ?? error.message}`));
    session.once('close', () => fail('the server closed the HTTP/2 connection during the opening handshake'));
    session.socket?.once('secureConnect', () => {
      const alpn = (session.socket as { alpnProtocol?: string | false }).alpnProtocol;
      if (alpn !== 'h2') fail(`the server does not speak HTTP/2 over TLS (ALPN chose ${alpn === false || alpn === undefined ? 'nothing' : alpn})`);
    });
    session.once('remoteSettings', (settings) => {
      if (settled) return;
      if (settings.enableConnectProtocol !== true) {
        return fail('the server does not allow WebSockets over HTTP/2: its SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)');
      }
      log.push({ at: 0, dir: '<', text: 'SETTINGS with ENABLE_CONNECT_PROTOCOL=1' });
      try {
        stream = session.request(
          {
            ':method': 'CONNECT',
            ':protocol': 'websocket',
            ':scheme': secure ? 'https' : 'http',
            ':path': path,
            ':authority': url.host,
            'sec-websocket-version': '13',
            ...(extensionsHeader ? { 'sec-websocket-extensions': extensionsHeader } : {}),
          },
          { endStream: false },
        );
      } catch (error) {
        return fail(`could not open an extended CONNECT stream: ${(error as Error).message}`);
      }
      const opened = stream;
      opened.on('error', (error: NodeJS.ErrnoException) => fail(`the stream failed during the opening handshake: ${error.code ?? error.message}`));
      opened.once('close', () => fail(`the server reset the stream during the opening handshake (code ${opened.rstCode})`));
      opened.once('response', (headers: IncomingHttpHeaders) => {
        if (settled) return;
        const status = Number(headers[':status']);
        const fields: Record<string, string> = Object.create(null);
        for (const [name, value] of Object.entries(headers)) {
          if (!name.startsWith(':') && value !== undefined) fields[name] = Array.isArray(value) ? value.join(', ') : String(value);
        }
        log.push({ at: 0, dir: '<', text: `HTTP/2 :status ${status}` });
        // RFC 8441 §5 keeps the extension negotiation of RFC 6455; what HTTP/2 drops (Upgrade,
        // Connection, the accept hash) is filled in so the HTTP/1.1 checks apply unchanged.
        const key = 'dGhlIHNhbXBsZSBub25jZQ==';
        const verdict = validateServerResponse(
          {
            httpVersion: '2.0',
            status: status >= 200 && status < 300 ? 101 : status,
            reason: '',
            headers: { ...fields, upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': computeAccept(key) },
            rawHeaders: [],
          },
          { key, ...(offers ? { extensions: ['permessage-deflate'] } : {}) },
        );
        if (!verdict.ok) {
          const message = verdict.error.code === 'FD_ERR_HANDSHAKE_STATUS' ? `the server answered :status ${status}` : verdict.error.message;
          return fail(`opening handshake failed: ${message}`);
        }
        let deflate: PerMessageDeflate | null = null;
        const accepted = verdict.extensions.find((e) => e.name === 'permessage-deflate');
        if (accepted) {
          log.push({ at: 0, dir: '<', text: `sec-websocket-extensions: ${fields['sec-websocket-extensions']}` });
          try {
            deflate = new PerMessageDeflate(parseDeflateResponse(accepted.params), 'client');
          } catch (error) {
            return fail(`invalid permessage-deflate response: ${(error as Error).message}`);
          }
        }
        settled = true;
        clearTimeout(timer);
        opened.removeAllListeners('error');
        opened.removeAllListeners('close');
        session.removeAllListeners('error');
        session.removeAllListeners('close');
        resolve({ socket: new Http2StreamSocket(opened, session) as unknown as Socket, head: Buffer.alloc(0), log, deflate });
      });
    });
  });
}

/**
 * An extended CONNECT stream with the members of `net.Socket` the harness uses: `write`, `end`
 * (END_STREAM), `destroy` (RST_STREAM CANCEL), `writableLength`, `writableEnded`, `destroyed`,
 * `bytesWritten` (counted here: the bytes handed to `write`, as a socket counts them),
 * `setNoDelay` (applied to the connection's socket) and the events `data`, `end`, `close`,
 * `error`. The HTTP/2 connection belongs to the stream: it is closed once the stream closes.
 */
export class Http2StreamSocket extends EventEmitter {
  private written = 0;

  constructor(
    readonly stream: ClientHttp2Stream,
    readonly session: ClientHttp2Session,
  ) {
    super();
    // Stream errors (a reset with an error code) end in 'close', which is what the harness judges on.
    stream.on('error', (error) => this.emit('error', error));
    session.on('error', () => {});
    stream.once('close', () => {
      if (!session.destroyed) session.destroy();
      this.emit('close', false);
    });
  }

  /**
   * Data and end are passed through only once someone listens, so nothing is read (and lost)
   * before the harness is attached; the other events are forwarded from the start.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as EventEmitter.on
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    if (event === 'data' || event === 'end') {
      this.stream.on(event, listener);
      return this;
    }
    return super.on(event, listener);
  }

  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean {
    this.written += chunk.length;
    return this.stream.write(chunk, callback);
  }

  end(): this {
    this.stream.end();
    return this;
  }

  destroy(): this {
    if (!this.stream.closed && !this.stream.destroyed) this.stream.close(constants.NGHTTP2_CANCEL);
    else if (!this.session.destroyed) this.session.destroy();
    return this;
  }

  setNoDelay(noDelay = true): this {
    try {
      this.session.socket?.setNoDelay(noDelay);
    } catch {
      // Not every socket behind a session allows it; small frames then wait for Nagle, no more.
    }
    return this;
  }

  get bytesWritten(): number {
    return this.written;
  }

  get writableLength(): number {
    return this.stream.writableLength;
  }

  get writableEnded(): boolean {
    return this.stream.writableEnded;
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }
}
