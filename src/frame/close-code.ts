/**
 * Close status codes (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry").
 * Names follow the RFC's wording so an error can be traced to the rule that produced it.
 *
 * @example
 * ```ts
 * import { CloseCode } from 'fullduplex';
 *
 * // Close with a code the peer can act on instead of a bare number.
 * await ws.close(CloseCode.GOING_AWAY, 'server restarting');
 * ```
 */
export const CloseCode = {
  /** 1000: the purpose of the connection is fulfilled. */
  NORMAL_CLOSURE: 1000,
  /** 1001: the endpoint is going away (server shutdown, page navigation). */
  GOING_AWAY: 1001,
  /** 1002: the peer broke the protocol. */
  PROTOCOL_ERROR: 1002,
  /** 1003: a data type the endpoint cannot accept (text to a binary-only endpoint, say). */
  UNSUPPORTED_DATA: 1003,
  /** Reserved: never sent on the wire. */
  NO_STATUS_RECEIVED: 1005,
  /** Reserved: never sent on the wire; reported when the TCP connection ended without a close frame. */
  ABNORMAL_CLOSURE: 1006,
  /** 1007: data inconsistent with the message type (invalid UTF-8 in text). */
  INVALID_FRAME_PAYLOAD_DATA: 1007,
  /** 1008: a policy was violated (generic; also our outgoing buffer limit). */
  POLICY_VIOLATION: 1008,
  /** 1009: a message too big to process. */
  MESSAGE_TOO_BIG: 1009,
  /** 1010 (client only): the server did not negotiate an extension the client requires. */
  MANDATORY_EXTENSION: 1010,
  /** 1011: an unexpected condition prevented the server from fulfilling the request. */
  INTERNAL_ERROR: 1011,
  /** 1012: the service is restarting (IANA registry). */
  SERVICE_RESTART: 1012,
  /** 1013: temporary overload; try again later (IANA registry). */
  TRY_AGAIN_LATER: 1013,
  /** 1014: a gateway or proxy got an invalid response upstream (IANA registry). */
  BAD_GATEWAY: 1014,
  /** Reserved: never sent on the wire; reported when the TLS handshake failed. */
  TLS_HANDSHAKE: 1015,
} as const;

/**
 * May `code` appear in a close frame? (RFC 6455 §7.4.1–§7.4.2.)
 *
 * Valid: 1000–1003, 1007–1014 (assigned by IANA), 3000–3999 (registered for libraries and
 * frameworks) and 4000–4999 (private use). Everything else — below 1000, 1004 (reserved),
 * 1005/1006/1015 (must not be sent), 1016–2999 (reserved for future RFCs) and 5000+ — is invalid.
 *
 * @example
 * ```ts
 * import { isValidWireCloseCode } from 'fullduplex';
 *
 * isValidWireCloseCode(1000); // true
 * isValidWireCloseCode(4001); // true: private use
 * isValidWireCloseCode(1006); // false: reserved, never sent in a close frame
 * ```
 */
export function isValidWireCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  if (code < 1000 || code > 1014) return false;
  return code !== 1004 && code !== 1005 && code !== 1006;
}
