/**
 * The frame layer of fullduplex: pure RFC 6455 framing with no I/O.
 * @packageDocumentation
 */
export { Opcode, isControlOpcode, isKnownOpcode, type OpcodeValue, type DataOpcode } from './opcode.js';
export { CloseCode, isValidWireCloseCode } from './close-code.js';
export { ProtocolError, protocolError, type ProtocolErrorCode } from './errors.js';
export { applyMask, RandomMaskSource, FixedMaskSource, type MaskSource } from './mask.js';
export { Utf8Validator, isValidUtf8 } from './utf8.js';
export { encodeFrame, writeHeader, headerSize, toBuffer, COPY_THRESHOLD, type FrameHeaderFields } from './encoder.js';
export { FrameWriter } from './frame-writer.js';
export { FrameParser, DEFAULT_MAX_MESSAGE_SIZE, type FrameSink, type FrameParserOptions } from './parser.js';
export type { Extension, EncodedFrame, ExtensionParams, ServerExtension, ClientExtension } from './extension.js';
