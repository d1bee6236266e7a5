/**
 * Frame opcodes (RFC 6455 §5.2, §11.8).
 *
 * A plain object of numbers rather than a TypeScript `enum`, so the values inline into the hot
 * path and the module stays erasable.
 *
 * @example
 * ```ts
 * import { Opcode } from 'fullduplex/frame';
 *
 * const first = Buffer.from([0x81, 0x05]); // FIN + text, 5-byte payload
 * console.log((first[0]! & 0x0f) === Opcode.TEXT); // true
 * ```
 */
export const Opcode = {
  /** A continuation frame of a fragmented message. */
  CONTINUATION: 0x0,
  /** The first frame of a text (UTF-8) message. */
  TEXT: 0x1,
  /** The first frame of a binary message. */
  BINARY: 0x2,
  /** Close frame (§5.5.1). */
  CLOSE: 0x8,
  /** Ping frame (§5.5.2). */
  PING: 0x9,
  /** Pong frame (§5.5.3). */
  PONG: 0xa,
} as const;

/**
 * Any opcode defined by RFC 6455.
 *
 * @example
 * ```ts
 * import { Opcode, type OpcodeValue } from 'fullduplex/frame';
 *
 * const name = (opcode: OpcodeValue): string =>
 *   Object.keys(Opcode).find((key) => Opcode[key as keyof typeof Opcode] === opcode) ?? '?';
 * console.log(name(Opcode.PING)); // 'PING'
 * ```
 */
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/**
 * Opcodes of data frames that start a message.
 *
 * @example
 * ```ts
 * import { Opcode, type DataOpcode } from 'fullduplex/frame';
 *
 * const opcodeFor = (data: string | Buffer): DataOpcode => (typeof data === 'string' ? Opcode.TEXT : Opcode.BINARY);
 * console.log(opcodeFor('hi')); // 1
 * ```
 */
export type DataOpcode = typeof Opcode.TEXT | typeof Opcode.BINARY;

/**
 * True for close, ping and pong (RFC 6455 §5.5: the high bit of the opcode marks control frames).
 *
 * @example
 * ```ts
 * import { Opcode, isControlOpcode } from 'fullduplex/frame';
 *
 * isControlOpcode(Opcode.PING); // true: may arrive between the fragments of a message
 * isControlOpcode(Opcode.TEXT); // false
 * ```
 */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * True for the six opcodes RFC 6455 defines; 3–7 and 0xB–0xF are reserved (§5.2).
 *
 * @example
 * ```ts
 * import { isKnownOpcode } from 'fullduplex/frame';
 *
 * isKnownOpcode(0x1); // true (text)
 * isKnownOpcode(0x3); // false: reserved, the connection is failed with 1002
 * ```
 */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}
