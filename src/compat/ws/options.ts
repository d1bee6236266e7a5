import {
  permessageDeflate,
  permessageDeflateClient,
  type PerMessageDeflateClientOptions,
  type PerMessageDeflateOptions as OwnServerOptions,
} from '../../extensions/permessage-deflate.js';
import type { ClientExtension, ServerExtension } from '../../frame/extension.js';

/**
 * `ws`'s `perMessageDeflate` options, mapped onto fullduplex's permessage-deflate extension
 * (`src/extensions`). `zlibInflateOptions` and `concurrencyLimit` are accepted and ignored: our
 * inflater is budgeted per piece, and compression runs synchronously per frame.
 * @example
 * ```ts
 * import { WebSocketServer, type PerMessageDeflateOptions } from 'fullduplex/ws';
 *
 * const perMessageDeflate: PerMessageDeflateOptions = {
 *   zlibDeflateOptions: { level: 3 },
 *   clientNoContextTakeover: true,
 *   threshold: 1024,
 * };
 * const wss = new WebSocketServer({ port: 8080, perMessageDeflate });
 * ```
 */
export interface PerMessageDeflateOptions {
  /** Server resets its compressor after every message. */
  serverNoContextTakeover?: boolean;
  /** Client resets its compressor after every message. */
  clientNoContextTakeover?: boolean;
  /** Window of the server's compressor, 8–15: a server uses 15 unless set, a client asks for it only when set. */
  serverMaxWindowBits?: number | boolean;
  /** Window of the client's compressor, 8–15: a client offers it without a value unless set (`false`: not at all), a server asks for 15 unless set. */
  clientMaxWindowBits?: number | boolean;
  /** zlib settings of the compressor; `level` and `memLevel` are used, others ignored. */
  zlibDeflateOptions?: { level?: number; memLevel?: number; [key: string]: unknown };
  /** Accepted and ignored (the inflater is budgeted per piece). */
  zlibInflateOptions?: Record<string, unknown>;
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024, as `ws`. */
  threshold?: number;
  /** Accepted and ignored (compression runs synchronously per frame). */
  concurrencyLimit?: number;
}

const WS_THRESHOLD = 1024;

function tuning(options: PerMessageDeflateOptions): { level?: number; memLevel?: number; threshold: number } {
  const zlib = options.zlibDeflateOptions ?? {};
  return {
    ...(typeof zlib.level === 'number' ? { level: zlib.level } : {}),
    ...(typeof zlib.memLevel === 'number' ? { memLevel: zlib.memLevel } : {}),
    threshold: options.threshold ?? WS_THRESHOLD,
  };
}

/** The server extension for `ws`'s server option (`true` or an object), or null when off. */
export function serverDeflate(option: boolean | PerMessageDeflateOptions | undefined): ServerExtension | null {
  if (!option) return null;
  const options = option === true ? {} : option;
  const own: OwnServerOptions = { ...tuning(options) };
  if (options.serverNoContextTakeover) own.serverNoContextTakeover = true;
  if (options.clientNoContextTakeover) own.clientNoContextTakeover = true;
  // `ws` uses zlib's full 15-bit window unless told otherwise.
  own.serverMaxWindowBits = typeof options.serverMaxWindowBits === 'number' ? options.serverMaxWindowBits : 15;
  own.clientMaxWindowBits = typeof options.clientMaxWindowBits === 'number' ? options.clientMaxWindowBits : 15;
  return permessageDeflate(own);
}

/** The client extension for `ws`'s client option (default on, as in `ws`), or null when off. */
export function clientDeflate(option: boolean | PerMessageDeflateOptions | undefined): ClientExtension | null {
  if (option === false) return null;
  const options = option === undefined || option === true ? {} : option;
  const own: PerMessageDeflateClientOptions = { ...tuning(options), windowBits: 15 };
  if (options.serverNoContextTakeover) own.serverNoContextTakeover = true;
  if (options.clientNoContextTakeover) own.clientNoContextTakeover = true;
  if (typeof options.serverMaxWindowBits === 'number') own.serverMaxWindowBits = options.serverMaxWindowBits;
  own.clientMaxWindowBits = options.clientMaxWindowBits === false ? false : typeof options.clientMaxWindowBits === 'number' ? options.clientMaxWindowBits : true;
  return permessageDeflateClient(own);
}
