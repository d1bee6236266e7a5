import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { checkExtendedConnect, fromHttp2Headers, http2ResponseHeaders } from '../handshake/h2.js';
import { negotiationHeaders, rejectResponse, type HandshakeResponse } from '../handshake/server.js';
import type { WebSocketConnection } from '../io/connection.js';
import { http2Transport } from '../io/http2-transport.js';
import { Session } from '../io/session.js';
import type { AcceptorHost } from './admission.js';
import { pathOf, type Http1Acceptor } from './http1.js';

/** An HTTP/2 server, cleartext (h2c) or secure, from `node:http2`. */
export type AnyHttp2Server = Http2Server | Http2SecureServer;

/**
 * The HTTP/2 acceptor: turns RFC 8441 extended CONNECT streams into sessions. It checks the
 * request's header block ({@link checkExtendedConnect}, passed to the server's `admit()` as the
 * transport's own check), so path, subprotocol, extensions, `verify` and the router decide exactly
 * as on HTTP/1.1; then answers `:status 200` with the negotiation headers (after
 * `options.onResponse`), or the refusal with END_STREAM, and runs the session over the stream.
 *
 * It also tracks the HTTP/2 connections of servers it created, to send them GOAWAY on shutdown.
 */
export class Http2Acceptor {
  /** Streams still in the opening handshake, with the timer that resets them. */
  private readonly handshaking = new Map<ServerHttp2Stream, NodeJS.Timeout>();
  /** HTTP/2 connections of the servers this acceptor listens on by itself. */
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(private readonly host: AcceptorHost) {}

  /**
   * Handles one stream whose headers say it is for us (a CONNECT): completes the WebSocket
   * handshake or answers with the right HTTP status.
   */
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, callback?: (ws: WebSocketConnection) => void): void {
    if (this.host.closing) {
      stream.close(0x8 /* CANCEL */);
      return;
    }
    this.handshaking.set(
      stream,
      setTimeout(() => stream.close(0x8 /* CANCEL */), this.host.handshakeTimeout),
    );
    stream.on('error', noop);
    stream.once('close', () => this.endHandshake(stream));
    void this.upgrade(stream, headers, callback);
  }

  /**
   * Takes extended CONNECT streams from an HTTP/2 server. `own` servers (created by
   * {@link listenHttp2}) are answered for every stream; on a user's server only CONNECT streams
   * are touched (and only on `path`, when given), the rest is the application's. Returns a
   * function that detaches.
   */
  attach(server: AnyHttp2Server, path: string | undefined, own = false): () => void {
    const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
      if (headers[':method'] !== 'CONNECT') {
        // The compatibility API ('request' listeners) answers those, or the application does.
        if (own && server.listenerCount('request') === 0) this.refuse(stream, check405(headers));
        return;
      }
      if (!own && headers[':protocol'] === undefined) return; // a plain CONNECT: the application's
      if (!own && path !== undefined && pathOf(String(headers[':path'] ?? '')) !== path) {
        if (server.listenerCount('stream') === 1 && server.listenerCount('connect') <= 1) this.refuse(stream, rejectResponse(404));
        return;
      }
      this.handleStream(stream, headers);
    };
    // With a 'request' listener, node:http2's compatibility layer turns every CONNECT into a
    // 'connect' event and answers 405 when nobody listens. Ours say "taken" for WebSocket streams
    // (handled above) and keep the 405 for other CONNECTs when nobody else listens.
    const onConnect = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
      if (req.headers[':protocol'] !== undefined || own) return;
      if (server.listenerCount('connect') === 1) {
        res.statusCode = 405;
        res.end();
      }
    };
    server.on('stream', onStream);
    server.on('connect', onConnect);
    return () => {
      server.off('stream', onStream);
      server.off('connect', onConnect);
    };
  }

  /** Remembers the connections of a server we created, for {@link goAway}. */
  trackSessions(server: AnyHttp2Server): void {
    server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.on('error', noop);
      session.once('close', () => this.sessions.delete(session));
    });
  }

  /** Sends GOAWAY on every tracked connection: no new streams; open WebSockets finish closing. */
  goAway(): void {
    for (const session of this.sessions) if (!session.closed && !session.destroyed) session.close();
  }

  /** Number of tracked HTTP/2 connections (tests, metrics). */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Resets every stream still in its handshake (server shutdown). */
  dropAll(): void {
    for (const [stream, timer] of this.handshaking) {
      clearTimeout(timer);
      if (!stream.closed) stream.close(0x8 /* CANCEL */);
    }
    this.handshaking.clear();
  }

  /** Answers with an error status and its body, then END_STREAM. */
  refuse(stream: ServerHttp2Stream, response: HandshakeResponse): void {
    if (stream.closed || stream.destroyed || stream.headersSent) return;
    try {
      stream.respond(http2ResponseHeaders(response));
      stream.end(response.body);
    } catch {
      stream.close(0x2 /* INTERNAL_ERROR */);
    }
  }

  private endHandshake(stream: ServerHttp2Stream): void {
    const timer = this.handshaking.get(stream);
    if (timer) clearTimeout(timer);
    this.handshaking.delete(stream);
  }

  private async upgrade(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, callback?: (ws: WebSocketConnection) => void): Promise<void> {
    const { transport, peer } = http2Transport(stream);
    const connectProtocolEnabled = stream.session?.localSettings.enableConnectProtocol === true;
    const check = checkExtendedConnect(headers, { connectProtocolEnabled });
    if (!check.ok && (headers[':protocol'] === undefined || headers[':method'] !== 'CONNECT')) {
      // Not a WebSocket request at all (a plain CONNECT has no path to route on).
      this.endHandshake(stream);
      this.refuse(stream, check.response);
      return;
    }
    const admission = await this.host.admit(fromHttp2Headers(headers), peer, () => check);
    if (!admission.ok) {
      this.endHandshake(stream);
      this.refuse(stream, admission.response);
      return;
    }
    if (stream.closed || stream.destroyed || this.host.closing) {
      admission.discard();
      this.endHandshake(stream);
      if (!stream.closed) stream.close(0x8 /* CANCEL */);
      return;
    }
    const response: HandshakeResponse = { status: 200, reason: 'OK', headers: negotiationHeaders(admission) };
    try {
      this.host.options.onResponse?.(response, admission.info);
      stream.respond(http2ResponseHeaders(response));
    } catch (error) {
      admission.discard();
      this.host.emitError(error as Error);
      this.endHandshake(stream);
      this.refuse(stream, rejectResponse(500));
      return;
    }
    this.endHandshake(stream);
    stream.off('error', noop);
    const session = new Session(transport, { ...admission.init, peer }, this.host.options);
    this.host.adopt(session, callback);
  }
}

function check405(headers: IncomingHttpHeaders): HandshakeResponse {
  return rejectResponse(405, `${String(headers[':method'])} is not served here; WebSockets over HTTP/2 use extended CONNECT`, { Allow: 'CONNECT' });
}

/** Options for {@link listenHttp2}. */
export interface Http2ListenOptions {
  /** TLS options: a secure server with ALPN `h2` and `http/1.1`; without, cleartext h2c (prior knowledge). */
  tls?: TlsOptions | undefined;
  /** TLS handshake deadline. */
  handshakeTimeout: number;
  /** Accept upgrades only on this path. */
  path: string | undefined;
}

/**
 * Creates the HTTP/2 server behind `serve({ http2: true })`/`serve({ h2c: true })`: SETTINGS
 * advertise ENABLE_CONNECT_PROTOCOL; extended CONNECT streams go to the HTTP/2 acceptor; on the
 * secure server HTTP/1.1 clients (ALPN `http/1.1` or none) reach the HTTP/1.1 acceptor through
 * the `'upgrade'` event, so one port serves both. Plain HTTP requests get an error status.
 */
export function createHttp2Listener(http2: Http2Acceptor, http1: Http1Acceptor, options: Http2ListenOptions): AnyHttp2Server {
  const settings = { enableConnectProtocol: true };
  const server: AnyHttp2Server = options.tls
    ? createSecureServer({ handshakeTimeout: options.handshakeTimeout, ...options.tls, allowHTTP1: true, settings })
    : createH2cServer({ settings });
  http2.trackSessions(server);
  http2.attach(server, options.path, true);
  if (options.tls) {
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => http1.handleUpgrade(req, socket, head));
    // HTTP/1.1 requests that are not upgrades (and HTTP/2 ones that are not CONNECT) still need an
    // answer; this listener turns on node:http2's compatibility layer, whose 'connect' events our
    // acceptor takes.
    server.on('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
      const h2 = req.httpVersionMajor >= 2;
      const response = h2
        ? check405(req.headers as IncomingHttpHeaders)
        : rejectResponse(426, 'WebSocket endpoint: send an upgrade, or use HTTP/2 extended CONNECT', { Upgrade: 'websocket', Connection: 'Upgrade, close' });
      const headers: Record<string, string | string[] | number> = h2 ? http2ResponseHeaders(response) : Object.fromEntries(response.headers);
      delete headers[':status'];
      (res as ServerResponse).writeHead(response.status, headers);
      (res as ServerResponse).end(response.body ?? '');
    });
    (server as Http2SecureServer).on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
  }
  return server;
}

function noop(): void {}
