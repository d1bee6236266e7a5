/**
 * WebSocket extensions: permessage-deflate (RFC 7692).
 * @packageDocumentation
 */
export {
  permessageDeflate,
  permessageDeflateClient,
  PerMessageDeflate,
  SharedMessage,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateOptions,
  type PerMessageDeflateClientOptions,
  type DeflateTuning,
  sweepIdleDeflate,
} from './permessage-deflate.js';
export { compressStandalone, type DeflateSettings } from './deflater.js';
export { parseWindowBits, NegotiationError, type DeflateParams, type RawParams } from './params.js';
export { liveZlibHandles } from './zlib-sync.js';
export { pooledZlibHandles, releaseSharedZlib } from './pool.js';
