import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { DEFAULT_MAX_HEAD_SIZE, parseRequestHead } from '../handshake/http-head.js';
import {
  checkHttp1Upgrade,
  fromIncomingMessage,
  negotiationHeaders,
  rejectResponse,
  serializeResponse,
  type HandshakeResponse,
  type UpgradeRequest,
} from '../handshake/server.js';
import { Session } from '../io/session.js';
import { netTransport } from '../io/transport.js';
import type { WebSocketConnection } from '../io/connection.js';
import type { AcceptorHost, Admission } from './admission.js';

/**
 * The HTTP/1.1 acceptor: turns sockets into sessions through the RFC 6455 upgrade. It reads the
 * request head itself on a listening socket ({@link acceptSocket}) or takes one from
 * `node:http`'s `'upgrade'` event ({@link handleUpgrade}), runs the HTTP/1.1 checks, asks the
 * server to admit the request (path, negotiation, `verify` — the same decision every transport
 * shares), writes the 101 or the refusal, and hands the session to the server.
 */
export class Http1Acceptor {
  /** Sockets still in the opening handshake, with the timer that drops them. */
  private readonly handshaking = new Map<Socket, NodeJS.Timeout>();
  /** One shared 'close' listener for sockets in the handshake (`this` is the socket). */
  private readonly onHandshakeSocketClose: (this: Socket) => void;

  constructor(private readonly host: AcceptorHost) {
    const handshaking = this.handshaking;
    this.onHandshakeSocketClose = function (this: Socket): void {
      endHandshake(handshaking, this);
    };
  }

  /** A new connection on a listening socket: read the request head with our own parser. */
  acceptSocket(socket: Socket): void {
    if (this.host.closing) {
      socket.destroy();
      return;
    }
    this.trackHandshake(socket);
    const options = this.host.options;
    const limits = { maxHeadSize: options.maxHeadSize, maxHeaderCount: options.maxHeaderCount };
    const maxHeadSize = options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE;
    let pieces: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      pieces.push(chunk);
      size += chunk.length;
      // A head can only end on a LF, so a client trickling bytes (slowloris) costs a rescan per
      // line, not per byte: linear work overall.
      if (chunk.indexOf(0x0a) < 0 && size <= maxHeadSize) return;
      const received = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size);
      pieces = [received];
      const result = parseRequestHead(received, limits);
      if (result.kind === 'incomplete') return;
      socket.off('data', onData);
      socket.pause();
      if (result.kind === 'error') {
        this.refuse(socket, rejectResponse(result.status, result.message));
        return;
      }
      const { head } = result;
      const request: UpgradeRequest = { method: head.method, target: head.target, httpVersion: head.httpVersion, headers: head.headers };
      void this.upgrade(request, socket, received.subarray(result.bytesConsumed));
    };
    socket.on('data', onData);
  }

  /** An upgrade request from `node:http`: complete it, or answer with the right HTTP error. */
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, callback?: (ws: WebSocketConnection) => void): void {
    this.trackHandshake(socket);
    void this.upgrade(fromIncomingMessage(req), socket, head, callback);
  }

  /** Takes upgrades from an HTTP server on `path` (or any path); returns a function that detaches. */
  attach(httpServer: HttpServer, path: string | undefined): () => void {
    const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
      if (path !== undefined && pathOf(req.url ?? '/') !== path) {
        // Another upgrade handler may own this path; answer only if nobody else listens.
        if (httpServer.listenerCount('upgrade') === 1) this.refuse(socket, rejectResponse(404));
        return;
      }
      this.handleUpgrade(req, socket, head);
    };
    httpServer.on('upgrade', onUpgrade);
    return () => httpServer.off('upgrade', onUpgrade);
  }

  /** Drops every socket still in its handshake (server shutdown). */
  dropAll(): void {
    for (const [socket, timer] of this.handshaking) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.handshaking.clear();
  }

  /** Answers with an error response and closes the socket. */
  refuse(socket: Socket, response: HandshakeResponse): void {
    if (!socket.destroyed) socket.end(serializeResponse(response));
    // Do not wait for the client to read the response forever.
    socket.setTimeout(1000, () => socket.destroy());
  }

  private trackHandshake(socket: Socket): void {
    // A fixed deadline from accept, not an idle timeout: a client trickling one byte at a time
    // (slowloris) must not be able to hold the socket open.
    this.handshaking.set(socket, setTimeout(destroySocket, this.host.handshakeTimeout, socket));
    socket.on('error', noop);
    // on, not once: no wrapper per socket; upgrade() removes it, and 'close' fires only once.
    socket.on('close', this.onHandshakeSocketClose);
  }

  /**
   * The 101 as a response value, passed through `onResponse`, serialized; null after refusing
   * with 500 when the hook or the serializer threw.
   */
  private acceptingResponse(socket: Socket, admission: Extract<Admission, { ok: true }>, accept: string): Buffer | null {
    const response: HandshakeResponse = {
      status: 101,
      reason: 'Switching Protocols',
      headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Accept', accept], ...negotiationHeaders(admission)],
    };
    try {
      this.host.options.onResponse?.(response, admission.info);
      return serializeResponse(response);
    } catch (error) {
      admission.discard();
      this.host.emitError(error as Error);
      this.refuse(socket, rejectResponse(500));
      return null;
    }
  }

  private async upgrade(request: UpgradeRequest, socket: Socket, head: Buffer, callback?: (ws: WebSocketConnection) => void): Promise<void> {
    // The transport's own peer object (no closures over this call's scope kept per connection).
    const { transport, peer } = netTransport(socket);
    let accept = '';
    const admission = await this.host.admit(request, peer, () => {
      const check = checkHttp1Upgrade(request);
      if (check.ok) accept = check.accept;
      return check;
    });
    if (!admission.ok) {
      this.refuse(socket, admission.response);
      return;
    }
    if (socket.destroyed || this.host.closing) {
      admission.discard();
      socket.destroy();
      return;
    }
    let bytes: Buffer;
    if (this.host.options.onResponse === undefined && admission.protocol === null && admission.extensions.length === 0) {
      // The common answer: nothing negotiated, no hook to edit it. Prebuilt bytes plus the key,
      // instead of a response object, header arrays and a validating serializer per upgrade.
      bytes = switchingProtocols(accept);
    } else {
      const built = this.acceptingResponse(socket, admission, accept);
      if (built === null) return;
      bytes = built;
    }
    socket.write(bytes);
    socket.off('error', noop);
    socket.off('close', this.onHandshakeSocketClose);
    endHandshake(this.handshaking, socket);
    const init = admission.init;
    // Spelled out rather than spread: a literal keeps its fields in the object (no separate
    // property array), and an empty `head` is dropped so the request's read buffer is not kept.
    const session = new Session(
      transport,
      {
        role: init.role,
        protocol: init.protocol,
        extensions: init.extensions,
        extensionsHeader: init.extensionsHeader,
        request: init.request,
        peer,
        head: head.length > 0 ? head : undefined,
      },
      this.host.options,
    );
    socket.resume();
    this.host.adopt(session, callback);
  }
}

/** Bytes of the 101 up to the accept value (RFC 6455 §4.2.2 item 5). */
const SWITCHING_PREFIX = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ', 'latin1');
/** A Sec-WebSocket-Accept value is base64 of a SHA-1: always 28 characters. */
const ACCEPT_LENGTH = 28;

/** The 101 for `accept` with nothing negotiated: one small buffer, from Node's pool. */
function switchingProtocols(accept: string): Buffer {
  const out = Buffer.allocUnsafe(SWITCHING_PREFIX.length + ACCEPT_LENGTH + 4);
  SWITCHING_PREFIX.copy(out, 0);
  let at = SWITCHING_PREFIX.length + out.write(accept, SWITCHING_PREFIX.length, 'latin1');
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  return at === out.length ? out : out.subarray(0, at);
}

function endHandshake(handshaking: Map<Socket, NodeJS.Timeout>, socket: Socket): void {
  const timer = handshaking.get(socket);
  if (timer) clearTimeout(timer);
  handshaking.delete(socket);
}

/** The path of a request target, without the query. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function noop(): void {}

function destroySocket(socket: Socket): void {
  socket.destroy();
}
