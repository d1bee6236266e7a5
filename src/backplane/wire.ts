/**
 * The backplane wire format, v1: what one node sends to the others for one published message.
 *
 * ```
 * byte 0       version = 1
 * byte 1       flags: bit 0 = binary (1) / text (0), bit 1 = broadcast; bits 2-7 must be 0
 * bytes 2-9    origin: 8 random bytes per process start (drops our own echoes)
 * bytes 10-13  seq, uint32 big-endian, per (origin, channel), starts at 1, wraps to 1 (never 0)
 * bytes 14-    payload bytes as published (text: UTF-8)
 * ```
 *
 * The topic is not repeated: it is the Redis channel (or the IPC envelope). No JSON, no base64:
 * binary stays binary and the payload is handed on as a view of the received buffer. A decoder
 * facing bytes from anyone who can PUBLISH to the channel must never throw and never let a text
 * message that is not UTF-8 through (clients would close with 1007): every failure is a
 * {@link Malformed} value with a reason.
 */
import { isUtf8 } from 'node:buffer';

/** The only version this code writes and reads. */
export const WIRE_VERSION = 1;
/** Bytes before the payload. */
export const HEADER_SIZE = 14;
/** Bytes of an origin id. */
export const ORIGIN_SIZE = 8;
/** Largest sequence number; the next one is 1 again. */
export const MAX_SEQ = 0xffff_ffff;

/** Flag bit: the payload is binary (else UTF-8 text). */
export const FLAG_BINARY = 0x01;
/** Flag bit: the message is a broadcast to every connection (no topic). */
export const FLAG_BROADCAST = 0x02;
const KNOWN_FLAGS = FLAG_BINARY | FLAG_BROADCAST;

/** One decoded message. `origin` and `payload` are views of the input buffer. */
export interface WireMessage {
  readonly ok: true;
  binary: boolean;
  broadcast: boolean;
  origin: Buffer;
  seq: number;
  payload: Buffer;
}

/** Input that is not a valid v1 message, with why. */
export interface Malformed {
  readonly ok: false;
  reason: string;
}

/** What the encoder needs. */
export interface WireFields {
  binary: boolean;
  broadcast: boolean;
  origin: Uint8Array;
  seq: number;
  payload: Uint8Array;
}

/**
 * Encodes one message into a new buffer (header + a copy of the payload: the Redis clients and
 * IPC take one buffer per message). Throws on a caller bug (origin size, seq out of range).
 */
export function encode(fields: WireFields): Buffer {
  if (fields.origin.length !== ORIGIN_SIZE) throw new RangeError(`origin must be ${ORIGIN_SIZE} bytes`);
  if (!Number.isInteger(fields.seq) || fields.seq < 1 || fields.seq > MAX_SEQ) {
    throw new RangeError(`seq must be an integer in 1..${MAX_SEQ}`);
  }
  const out = Buffer.allocUnsafe(HEADER_SIZE + fields.payload.length);
  out[0] = WIRE_VERSION;
  out[1] = (fields.binary ? FLAG_BINARY : 0) | (fields.broadcast ? FLAG_BROADCAST : 0);
  out.set(fields.origin, 2);
  out.writeUInt32BE(fields.seq, 10);
  out.set(fields.payload, HEADER_SIZE);
  return out;
}

/**
 * Decodes and validates one message. Never throws: anything that is not a v1 message within
 * `maxPayload` bytes (and valid UTF-8 when marked as text) comes back as {@link Malformed}.
 */
export function decode(input: Uint8Array, maxPayload = Infinity): WireMessage | Malformed {
  if (input.length < HEADER_SIZE) return malformed(`truncated: ${input.length} bytes, header needs ${HEADER_SIZE}`);
  if (input[0] !== WIRE_VERSION) return malformed(`unsupported version ${input[0]}`);
  const flags = input[1]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return malformed(`reserved flag bits set: 0x${flags.toString(16)}`);
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const seq = bytes.readUInt32BE(10);
  if (seq === 0) return malformed('seq 0');
  const payload = bytes.subarray(HEADER_SIZE);
  if (payload.length > maxPayload) return malformed(`oversized: ${payload.length} bytes > ${maxPayload}`);
  const binary = (flags & FLAG_BINARY) !== 0;
  if (!binary && !isUtf8(payload)) return malformed('text payload is not valid UTF-8');
  return {
    ok: true,
    binary,
    broadcast: (flags & FLAG_BROADCAST) !== 0,
    origin: bytes.subarray(2, 2 + ORIGIN_SIZE),
    seq,
    payload,
  };
}

function malformed(reason: string): Malformed {
  return { ok: false, reason };
}

/** The sequence number after `seq`: 1..MAX_SEQ, wrapping to 1 (0 is never used). */
export function nextSeq(seq: number): number {
  return seq >= MAX_SEQ ? 1 : seq + 1;
}
