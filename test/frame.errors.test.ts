/** ProtocolError carries both a stable error code and the close code to fail the connection with (§7.1.7). */
import { describe, expect, test } from 'vitest';
import { CloseCode, ProtocolError, protocolError } from '../src/frame/index.js';

describe('ProtocolError', () => {
  test('carries code, closeCode, message and name, and is an Error', () => {
    const error = new ProtocolError('FD_ERR_INVALID_UTF8', CloseCode.INVALID_FRAME_PAYLOAD_DATA, 'bad text');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.name).toBe('ProtocolError');
    expect(error.code).toBe('FD_ERR_INVALID_UTF8');
    expect(error.closeCode).toBe(1007);
    expect(error.message).toBe('bad text');
  });

  test('protocolError() is a framing violation: close code 1002', () => {
    const error = protocolError('FD_ERR_RSV_BITS', 'rsv');
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.code).toBe('FD_ERR_RSV_BITS');
    expect(error.closeCode).toBe(CloseCode.PROTOCOL_ERROR);
    expect(error.message).toBe('rsv');
  });
});
