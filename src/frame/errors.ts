import { CloseCode } from './close-code.js';

/**
 * Stable, greppable identifiers for every way a peer can break the protocol.
 *
 * @example
 * ```ts
 * import { ProtocolError, type ProtocolErrorCode } from 'fullduplex';
 *
 * const counts = new Map<ProtocolErrorCode, number>();
 * ws.on('error', (error) => {
 *   if (error instanceof ProtocolError) counts.set(error.code, (counts.get(error.code) ?? 0) + 1);
 * });
 * ```
 */
export type ProtocolErrorCode =
  | 'FD_ERR_RSV_BITS'
  | 'FD_ERR_RESERVED_OPCODE'
  | 'FD_ERR_CONTROL_TOO_LONG'
  | 'FD_ERR_CONTROL_FRAGMENTED'
  | 'FD_ERR_UNEXPECTED_CONTINUATION'
  | 'FD_ERR_EXPECTED_CONTINUATION'
  | 'FD_ERR_MASK_REQUIRED'
  | 'FD_ERR_MASK_FORBIDDEN'
  | 'FD_ERR_LENGTH_TOO_BIG'
  | 'FD_ERR_MESSAGE_TOO_BIG'
  | 'FD_ERR_INVALID_UTF8'
  | 'FD_ERR_CLOSE_PAYLOAD_LENGTH'
  | 'FD_ERR_INVALID_CLOSE_CODE'
  | 'FD_ERR_INVALID_CLOSE_REASON'
  | 'FD_ERR_EXTENSION';

/**
 * A violation of RFC 6455 by the peer. Every instance carries the close code the connection must
 * be failed with (§7.1.7), so the decision is made once, where the violation is detected, and the
 * I/O layer only has to send it.
 *
 * @example
 * ```ts
 * import { ProtocolError } from 'fullduplex';
 *
 * ws.on('error', (error) => {
 *   if (error instanceof ProtocolError) {
 *     console.warn(`peer broke the protocol: ${error.code}, closing with ${error.closeCode}`);
 *   }
 * });
 * ```
 */
export class ProtocolError extends Error {
  /** Stable identifier, e.g. `FD_ERR_RSV_BITS`. */
  readonly code: ProtocolErrorCode;
  /** Close code to fail the connection with: 1002, 1007 or 1009. */
  readonly closeCode: number;

  constructor(code: ProtocolErrorCode, closeCode: number, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = closeCode;
  }
}

/**
 * Shorthand for the common case: a framing violation, close code 1002.
 *
 * @example
 * ```ts
 * import { protocolError } from 'fullduplex/frame';
 *
 * const error = protocolError('FD_ERR_RSV_BITS', 'RSV1 set without a negotiated extension');
 * console.log(error.closeCode); // 1002
 * ```
 */
export function protocolError(code: ProtocolErrorCode, message: string): ProtocolError {
  return new ProtocolError(code, CloseCode.PROTOCOL_ERROR, message);
}
