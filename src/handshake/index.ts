/**
 * The opening handshake of RFC 6455 for both sides, without I/O: HTTP head parsing, header value
 * scanners, the server's accept/reject decision and the client's request and response check.
 */
export { WS_GUID, computeAccept, generateKey, isValidKey } from './accept.js';
export { isToken } from './chars.js';
export {
  DEFAULT_MAX_HEAD_SIZE,
  DEFAULT_MAX_HEADER_COUNT,
  parseRequestHead,
  parseResponseHead,
} from './http-head.js';
export type {
  HeadLimits,
  HeadParseError,
  HeadParseResult,
  ParsedHeaders,
  ParsedRequestHead,
  ParsedResponseHead,
} from './http-head.js';
export {
  HeaderSyntaxError,
  formatExtensions,
  hasToken,
  parseExtensions,
  parseSubprotocols,
  parseTokenList,
} from './tokens.js';
export type { ExtensionOffer } from './tokens.js';
export { acceptUpgrade, checkHttp1Upgrade, negotiate, negotiationHeaders, fromIncomingMessage, rejectResponse, serializeResponse } from './server.js';
export type {
  HandshakeResponse,
  ServerHandshakeOptions,
  ServerHandshakeResult,
  UpgradeRequest,
  Negotiation,
  Http1Check,
} from './server.js';
export { HandshakeError, buildClientRequest, validateServerResponse } from './client.js';
export type {
  ClientHandshakeResult,
  ClientRequest,
  ClientRequestOptions,
  ExpectedHandshake,
  HandshakeErrorCode,
} from './client.js';
export { checkExtendedConnect, fromHttp2Headers, http2ResponseHeaders } from './h2.js';
export type { ExtendedConnectContext, Http2Check, Http2RequestHeaders } from './h2.js';
