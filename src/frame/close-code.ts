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
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: never sent on the wire. */
  NO_STATUS_RECEIVED: 1005,
  /** Reserved: never sent on the wire; reported when the TCP connection ended without a close frame. */
  ABNORMAL_CLOSURE: 1006,
  INVALID_FRAME_PAYLOAD_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
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
