/**
 * Frame opcodes (RFC 6455 §5.2, §11.8).
 *
 * A plain object of numbers rather than a TypeScript `enum`, so the values inline into the hot
 * path and the module stays erasable.
 */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** Any opcode defined by RFC 6455. */
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/** Opcodes of data frames that start a message. */
export type DataOpcode = typeof Opcode.TEXT | typeof Opcode.BINARY;

/** True for close, ping and pong (RFC 6455 §5.5: the high bit of the opcode marks control frames). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** True for the six opcodes RFC 6455 defines; 3–7 and 0xB–0xF are reserved (§5.2). */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}
