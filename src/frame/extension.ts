/**
 * A negotiated extension as the receive pipeline sees it (RFC 6455 §9).
 *
 * The parser does not know about any particular extension: it asks the negotiated ones which RSV
 * bits they own, and hands every message that used those bits to the extension that owns them
 * before UTF-8 validation and delivery. permessage-deflate (RFC 7692) plugs in here by owning
 * RSV1 and inflating in {@link ReceiveExtension.decodeMessage}.
 */
export interface ReceiveExtension {
  /** Extension name as negotiated, e.g. `permessage-deflate`. */
  readonly name: string;
  /** RSV bits this extension may set on the first frame of a data message (RSV1 = 0b100). */
  readonly rsvBits: number;
  /**
   * Turns the payload of a complete message sent with `rsv` bits into the message's application
   * data. Throwing a {@link ProtocolError} fails the connection with its close code.
   */
  decodeMessage(payload: Buffer, rsv: number): Buffer;
}
