import { headerSize, writeHeader } from '../frame/encoder.js';
import { Opcode } from '../frame/opcode.js';
import type { SendData } from '../io/connection.js';
import { toBytes } from '../io/connection.js';

/**
 * Encodes one unmasked message frame — the form every server connection sends — so the same
 * bytes can be queued on many connections without encoding per receiver.
 */
export function encodeServerMessage(data: SendData, binary = typeof data !== 'string'): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBytes(data);
  const size = headerSize(payload.length, false);
  const frame = Buffer.allocUnsafe(size + payload.length);
  writeHeader(frame, 0, { fin: true, rsv: 0, opcode: binary ? Opcode.BINARY : Opcode.TEXT }, payload.length, null);
  payload.copy(frame, size);
  return frame;
}
