import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Extension } from '../../frame/extension.js';
import { computeAccept, generateKey } from '../../handshake/accept.js';
import { formatExtensions, parseExtensionsRaw } from '../../handshake/tokens.js';
import { Session } from '../../io/session.js';
import { netTransport } from '../../io/transport.js';
import { clientDeflate } from './options.js';
import { emitErrorAndClose, kAborted, type ClientOptions, type WebSocket } from './websocket.js';

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
/** RFC 7230 token characters: what a subprotocol name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Starts a client handshake for the `ws` face over `node:http`/`node:https` — as `ws` does, so
 * `agent`, `createConnection`, TLS options, `'upgrade'`, `'unexpected-response'` and redirects
 * behave the same — then wraps the upgraded socket in a {@link Session}.
 */
export function initAsClient(ws: WebSocket, address: string | URL, protocols: string[], options: ClientOptions): void {
  const opts = {
    autoPong: true,
    protocolVersion: 13,
    maxPayload: DEFAULT_MAX_PAYLOAD,
    followRedirects: false,
    maxRedirects: 10,
    handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT,
    ...options,
  };
  if (opts.protocolVersion !== 8 && opts.protocolVersion !== 13) {
    throw new RangeError(`Unsupported protocol version: ${opts.protocolVersion} (supported versions: 8, 13)`);
  }
  ws._autoPong = opts.autoPong;
  ws._deferEvents = opts.allowSynchronousEvents === false;

  let url: URL;
  if (address instanceof URL) {
    url = new URL(address.href);
  } else {
    try {
      url = new URL(address);
    } catch {
      throw new SyntaxError(`Invalid URL: ${address}`);
    }
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  ws._url = url.href;

  const isSecure = url.protocol === 'wss:';
  const isIpc = url.protocol === 'ws+unix:';
  let invalid: string | undefined;
  if (url.protocol !== 'ws:' && !isSecure && !isIpc) {
    invalid = 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"';
  } else if (isIpc && !url.pathname) {
    invalid = "The URL's pathname is empty";
  } else if (url.hash) {
    invalid = 'The URL contains a fragment identifier';
  }
  if (invalid !== undefined) {
    const error = new SyntaxError(invalid);
    // The first request throws; a redirect to a bad URL is reported as an error event instead.
    if (ws._redirects === 0) throw error;
    process.nextTick(emitErrorAndClose, ws, error);
    return;
  }

  const protocolSet = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== 'string' || !TOKEN.test(protocol) || protocolSet.has(protocol)) {
      throw new SyntaxError('An invalid or duplicated subprotocol was specified');
    }
    protocolSet.add(protocol);
  }

  const key = generateKey();
  const deflate = clientDeflate(opts.perMessageDeflate);
  const headers: Record<string, string | number | string[]> = {
    ...(opts.headers as Record<string, string> | undefined),
    'Sec-WebSocket-Version': opts.protocolVersion,
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
  };
  if (deflate !== null) headers['Sec-WebSocket-Extensions'] = formatExtensions(deflate.offer().map((params) => ({ name: deflate.name, params })));
  if (protocolSet.size > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  if (opts.origin) headers[opts.protocolVersion < 13 ? 'Sec-WebSocket-Origin' : 'Origin'] = opts.origin;

  const defaultPort = isSecure ? 443 : 80;
  const requestOptions: RequestOptions & TlsConnectionOptions = {
    ...(opts as RequestOptions & TlsConnectionOptions),
    headers: headers as Record<string, string>,
    method: 'GET',
    defaultPort,
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port ? Number(url.port) : defaultPort,
    path: url.pathname + url.search,
    createConnection: (opts.createConnection ?? (isSecure ? secureConnection : plainConnection)) as RequestOptions['createConnection'],
  };
  delete (requestOptions as { timeout?: number }).timeout;
  delete (requestOptions as { hostname?: string }).hostname;
  if (url.username || url.password) requestOptions.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  if (isIpc) {
    // `ws+unix:/path/to.sock:/request/path?query`: the query belongs to the request path.
    const [socketPath, path] = url.pathname.split(':');
    requestOptions.socketPath = socketPath!;
    requestOptions.path = (path ?? '/') + url.search;
    delete requestOptions.host;
    delete requestOptions.port;
  }

  const req = (isSecure ? httpsRequest : httpRequest)(requestOptions);
  ws._req = req;
  if (ws._redirects > 0) ws.emit('redirect', ws._url, req);

  if (opts.handshakeTimeout > 0) {
    req.setTimeout(opts.handshakeTimeout, () => ws._abortHandshake('Opening handshake has timed out'));
  }
  req.on('error', (error) => {
    if (ws._req === null || (req as ClientRequest & { [kAborted]?: boolean })[kAborted]) return;
    ws._req = null;
    emitErrorAndClose(ws, error);
  });
  req.on('response', (res: IncomingMessage) => {
    const location = res.headers.location;
    const status = res.statusCode ?? 0;
    if (location && opts.followRedirects && status >= 300 && status < 400) {
      if (++ws._redirects > opts.maxRedirects) {
        ws._abortHandshake('Maximum redirects exceeded');
        return;
      }
      (req as ClientRequest & { [kAborted]?: boolean })[kAborted] = true;
      req.destroy();
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        process.nextTick(emitErrorAndClose, ws, new SyntaxError(`Invalid URL: ${location}`));
        return;
      }
      initAsClient(ws, next, protocols, options);
    } else if (!ws.emit('unexpected-response', req, res)) {
      ws._abortHandshake(`Unexpected server response: ${status}`);
    }
  });
  req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
    ws.emit('upgrade', res);
    // An 'upgrade' listener may have closed the socket.
    if (ws.readyState !== 0) return;
    ws._req = null;
    const fail = (message: string): void => {
      socket.destroy();
      ws._abortHandshake(message);
    };
    const upgrade = res.headers.upgrade;
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return fail('Invalid Upgrade header');
    if (res.headers['sec-websocket-accept'] !== computeAccept(key)) return fail('Invalid Sec-WebSocket-Accept header');

    const serverProtocol = res.headers['sec-websocket-protocol'];
    let protocolError: string | undefined;
    if (serverProtocol !== undefined) {
      if (protocolSet.size === 0) protocolError = 'Server sent a subprotocol but none was requested';
      else if (!protocolSet.has(serverProtocol)) protocolError = 'Server sent an invalid subprotocol';
    } else if (protocolSet.size > 0) {
      protocolError = 'Server sent no subprotocol';
    }
    if (protocolError !== undefined) return fail(protocolError);

    const extensions: Extension[] = [];
    let extensionsHeader = '';
    const answer = res.headers['sec-websocket-extensions'];
    if (answer !== undefined) {
      if (deflate === null) return fail('Server sent a Sec-WebSocket-Extensions header but no extension was requested');
      let parsed: ReturnType<typeof parseExtensionsRaw>;
      try {
        parsed = parseExtensionsRaw(answer);
      } catch {
        return fail('Invalid Sec-WebSocket-Extensions header');
      }
      if (parsed.length !== 1 || parsed[0]!.name !== deflate.name) return fail('Server indicated an extension that was not requested');
      try {
        extensions.push(deflate.accept(parsed[0]!.params));
      } catch {
        return fail('Invalid Sec-WebSocket-Extensions header');
      }
      extensionsHeader = answer;
    }

    const net = socket as Socket;
    if (typeof net.setTimeout === 'function') net.setTimeout(0);
    const { transport, peer } = typeof net.setNoDelay === 'function' ? netTransport(net) : { transport: net, peer: { address: undefined, port: undefined } };
    const session = new Session(
      transport,
      {
        role: 'client',
        protocol: serverProtocol ?? '',
        extensions,
        extensionsHeader,
        peer,
        request: {
          url: url.pathname + url.search,
          path: url.pathname,
          query: url.searchParams,
          headers: res.headers as Record<string, string | undefined>,
        },
        head,
      },
      { maxMessageSize: opts.maxPayload, autoPong: opts.autoPong, readBackpressure: false },
    );
    ws._setSession(session, socket);
    ws.emit('open');
  });

  if (opts.finishRequest) opts.finishRequest(req, ws);
  else req.end();
}

function plainConnection(options: RequestOptions & { path?: string }): Socket {
  return netConnect({ ...(options as object), ...(options.socketPath ? { path: options.socketPath } : {}) } as Parameters<typeof netConnect>[0]);
}

function secureConnection(options: TlsConnectionOptions & { host?: string }): Socket {
  const servername = options.servername ?? (options.host && isIP(options.host) === 0 ? options.host : undefined);
  return tlsConnect({ ...options, ...(servername !== undefined ? { servername } : {}) });
}
