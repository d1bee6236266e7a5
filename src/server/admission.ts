import type { Extension, ServerExtension } from '../frame/extension.js';
import {
  formatExtensions,
  type ExtensionOffer,
} from '../handshake/tokens.js';
import { negotiate, rejectResponse, type HandshakeResponse, type UpgradeRequest } from '../handshake/server.js';
import type { WebSocketConnection } from '../io/connection.js';
import type { RequestInfo, Session, SessionInit, SessionOptions } from '../io/session.js';
import type { PeerInfo } from '../io/transport.js';

/**
 * What a `verify` hook may answer: `true`/`undefined` to accept, `false` for 403, a status number,
 * or a full response value.
 * @example
 * ```ts
 * import { serve, type VerifyResult } from 'fullduplex';
 *
 * await serve(handler, {
 *   verify(request): VerifyResult {
 *     if (request.headers.origin !== 'https://example.com') return 403;
 *     if (!request.query.has('token')) return { status: 401, headers: { 'www-authenticate': 'Bearer' } };
 *     return true;
 *   },
 * });
 * ```
 */
export type VerifyResult = boolean | void | number | { status: number; message?: string; headers?: Record<string, string> };

/**
 * Information handed to the `verify` hook before the upgrade is accepted.
 * @example
 * ```ts
 * import { serve, type UpgradeInfo } from 'fullduplex';
 *
 * const fromTrustedProxy = (request: UpgradeInfo) => request.remoteAddress === '127.0.0.1';
 * await serve(handler, {
 *   verify: (request) => fromTrustedProxy(request) && request.method === 'GET',
 *   selectProtocol: (offered) => (offered.includes('chat.v2') ? 'chat.v2' : null),
 * });
 * ```
 */
export interface UpgradeInfo extends RequestInfo {
  /** HTTP method (GET for HTTP/1.1, CONNECT for HTTP/2). */
  method: string;
  /** Remote address of the connection. */
  remoteAddress: string | undefined;
  /** Subprotocols the client offered. */
  offeredProtocols: string[];
}

/**
 * The options admission reads (a subset of the server's).
 * @example
 * ```ts
 * import { permessageDeflate, serve, type AdmissionOptions } from 'fullduplex';
 *
 * // The handshake-related part of the server's options.
 * const admission: AdmissionOptions = {
 *   path: '/ws',
 *   extensions: [permessageDeflate({ threshold: 256 })],
 *   onResponse: (response) => void response.headers.push(['set-cookie', 'seen=1']),
 * };
 * await serve(handler, { port: 8080, ...admission });
 * ```
 */
export interface AdmissionOptions extends SessionOptions {
  /** Accept upgrades only on this path (others get 404). */
  path?: string;
  /** Picks a subprotocol from those offered. */
  selectProtocol?: (offered: string[], request: UpgradeInfo) => string | null | undefined;
  /** Accepts or refuses the request before the answer is sent. */
  verify?: (request: UpgradeInfo) => VerifyResult | Promise<VerifyResult>;
  /** Extensions the server supports, in order of preference. */
  extensions?: ServerExtension[];
  /** Largest handshake request head in bytes. */
  maxHeadSize?: number;
  /** Most header fields in the handshake request. */
  maxHeaderCount?: number;
  /**
   * Called with the accepting response value just before it is sent (the 101, or HTTP/2's 200),
   * so headers can be added (cookies, say; ws's `'headers'` event). Throwing refuses with 500.
   */
  onResponse?: (response: HandshakeResponse, request: UpgradeInfo) => void;
}

/**
 * The server's decision on one request, independent of the transport that carried it: either the
 * refusal to answer with, or what the session will be built from.
 * @example
 * ```ts
 * import type { AcceptorHost, Admission } from 'fullduplex';
 *
 * // Inside an acceptor, once the request and peer are known:
 * const admission: Admission = await host.admit(request, peer, () => ({ ok: true }));
 * if (!admission.ok) {
 *   sendRefusal(admission.response); // e.g. 404, 403, 400 with a reason
 * } else {
 *   console.log(admission.info.path, admission.protocol, admission.extensions);
 * }
 * ```
 */
export type Admission =
  | {
      ok: true;
      /** The request as hooks and the connection see it. */
      info: UpgradeInfo;
      /** Negotiated subprotocol, or null. */
      protocol: string | null;
      /** Negotiated extensions, for the response header. */
      extensions: ExtensionOffer[];
      /** The session's init value, less the transport-specific `peer` and `head`. */
      init: Omit<SessionInit, 'peer' | 'head'>;
      /** Releases the negotiated extensions when the answer is never sent. */
      discard(): void;
    }
  | { ok: false; response: HandshakeResponse };

/**
 * What an acceptor (HTTP/1.1, HTTP/2) needs from the server: admission, adoption of the new
 * session, the options, and where errors go.
 * @example
 * ```ts
 * import { Session, type AcceptorHost, type Transport, type PeerInfo } from 'fullduplex';
 * import type { UpgradeRequest } from 'fullduplex/handshake';
 *
 * // The shape of an acceptor for a new transport (see src/server/http1.ts for the real one).
 * async function accept(host: AcceptorHost, request: UpgradeRequest, transport: Transport, peer: PeerInfo) {
 *   if (host.closing) return transport.destroy();
 *   const admission = await host.admit(request, peer, () => ({ ok: true }));
 *   if (!admission.ok) return refuse(transport, admission.response);
 *   writeAcceptingResponse(transport, admission); // 101 or HTTP/2 200, with admission.extensions
 *   host.adopt(new Session(transport, { ...admission.init, peer }, host.options));
 * }
 * ```
 */
export interface AcceptorHost {
  /** The server's options (admission and session options). */
  readonly options: AdmissionOptions;
  /** True once the server is closing: acceptors refuse new connections. */
  readonly closing: boolean;
  /** ms a connection may take from accept to the end of its handshake. */
  readonly handshakeTimeout: number;
  /**
   * Decides on a request: the path, the transport's own checks (`check`), negotiation, then the
   * `verify` hooks. Resolves with the refusal or what the session is built from.
   */
  admit(request: UpgradeRequest, peer: PeerInfo, check: () => { ok: true } | { ok: false; response: HandshakeResponse }): Promise<Admission>;
  /** Takes an accepted session: wraps it in a connection, tracks it, runs the handler. */
  adopt(session: Session, callback?: (ws: WebSocketConnection) => void): WebSocketConnection;
  /** Reports an error of the server's (a throwing hook, say). */
  emitError(error: Error): void;
}

/**
 * Runs the admission steps shared by every transport. `verifiers` are the router's and the
 * options' hooks, in that order.
 */
export async function admit(
  options: AdmissionOptions,
  verifiers: ReadonlyArray<((request: UpgradeInfo) => VerifyResult | Promise<VerifyResult>) | undefined>,
  request: UpgradeRequest,
  peer: PeerInfo,
  check: () => { ok: true } | { ok: false; response: HandshakeResponse },
  onHookError: (error: Error) => void,
): Promise<Admission> {
  const info = new UpgradeInfoImpl(request, peer);
  if (options.path !== undefined && info.path !== options.path) {
    return { ok: false, response: rejectResponse(404, `No WebSocket endpoint at ${info.path}`) };
  }
  const checked = check();
  if (!checked.ok) return checked;
  const negotiation = negotiate(request, {
    ...(options.selectProtocol ? { selectProtocol: (offered: string[]) => options.selectProtocol!(offered, info) } : {}),
    ...(options.extensions ? { extensions: options.extensions } : {}),
  });
  if (!negotiation.ok) return negotiation;
  info.offeredProtocols = negotiation.offeredProtocols;
  const extensionObjects = negotiation.extensionObjects;
  const discard = (): void => disposeAll(extensionObjects);
  for (const verify of verifiers) {
    if (!verify) continue;
    let verdict: VerifyResult;
    try {
      verdict = await verify(info);
    } catch (error) {
      onHookError(error as Error);
      verdict = 500;
    }
    const refusal = refusalFor(verdict);
    if (refusal) {
      discard();
      return { ok: false, response: refusal };
    }
  }
  return {
    ok: true,
    info,
    protocol: negotiation.protocol,
    extensions: negotiation.extensions,
    init: {
      role: 'server',
      protocol: negotiation.protocol ?? '',
      extensions: extensionObjects,
      extensionsHeader: negotiation.extensions.length > 0 ? internHeader(formatExtensions(negotiation.extensions)) : '',
      request: info,
    },
    discard,
  };
}

/**
 * Answers repeat (one per server configuration and client kind), and a freshly built one is a
 * rope of ~8 concatenated strings that every connection would keep: connections share one flat copy.
 */
const headers = new Map<string, string>();

function internHeader(header: string): string {
  const known = headers.get(header);
  if (known !== undefined) return known;
  if (headers.size < 64) headers.set(header, header);
  return header;
}

function disposeAll(extensions: readonly Extension[]): void {
  for (const extension of extensions) extension.dispose();
}

function refusalFor(verdict: VerifyResult): HandshakeResponse | null {
  if (verdict === true || verdict === undefined) return null;
  if (verdict === false) return rejectResponse(403);
  if (typeof verdict === 'number') return rejectResponse(verdict);
  return rejectResponse(verdict.status, verdict.message, verdict.headers);
}

/** The request as hooks and connections see it; the query and address are computed on first use. */
class UpgradeInfoImpl implements UpgradeInfo {
  readonly url: string;
  readonly path: string;
  readonly headers: Record<string, string | undefined>;
  readonly method: string;
  offeredProtocols: string[] = [];
  private parsedQuery: URLSearchParams | null = null;

  constructor(
    request: UpgradeRequest,
    private readonly peer: PeerInfo,
  ) {
    this.url = request.target;
    const q = request.target.indexOf('?');
    this.path = q < 0 ? request.target : request.target.slice(0, q);
    this.headers = request.headers;
    this.method = request.method;
  }

  get query(): URLSearchParams {
    const q = this.url.indexOf('?');
    return (this.parsedQuery ??= new URLSearchParams(q < 0 ? '' : this.url.slice(q + 1)));
  }

  get remoteAddress(): string | undefined {
    return this.peer.address;
  }
}
