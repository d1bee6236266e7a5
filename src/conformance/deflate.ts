/**
 * permessage-deflate (RFC 7692) for the suite's side of 12.x/13.x, on `node:zlib`: compress what
 * we send, inflate what the target sends, keeping or dropping the LZ77 context between messages
 * as negotiated (§7.1.1, §7.1.2).
 */
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';

/** The negotiated parameters (RFC 7692 §7.1). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Reads the parameters of an accepted `permessage-deflate` response, or throws on bad ones. */
export function parseDeflateResponse(params: Record<string, string | true>): DeflateParams {
  const bits = (name: string): number => {
    const value = params[name];
    if (value === undefined) return 15;
    const n = value === true ? NaN : Number(value);
    if (!Number.isInteger(n) || n < 8 || n > 15) throw new Error(`invalid ${name}=${String(value)}`);
    return n;
  };
  for (const name of Object.keys(params)) {
    if (!['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'].includes(name)) {
      throw new Error(`unknown parameter ${name}`);
    }
  }
  return {
    serverNoContextTakeover: params.server_no_context_takeover !== undefined,
    clientNoContextTakeover: params.client_no_context_takeover !== undefined,
    serverMaxWindowBits: bits('server_max_window_bits'),
    clientMaxWindowBits: bits('client_max_window_bits'),
  };
}

/** One side's permessage-deflate state. */
export class PerMessageDeflate {
  private deflater: DeflateRaw | null = null;
  private inflater: InflateRaw | null = null;
  private readonly keepSendContext: boolean;
  private readonly keepReceiveContext: boolean;
  private readonly windowBits: number;

  /** `ourRole` decides which of the parameters apply to our compressor. */
  constructor(
    readonly params: DeflateParams,
    ourRole: 'client' | 'server',
  ) {
    const client = ourRole === 'client';
    this.keepSendContext = !(client ? params.clientNoContextTakeover : params.serverNoContextTakeover);
    this.keepReceiveContext = !(client ? params.serverNoContextTakeover : params.clientNoContextTakeover);
    // zlib cannot produce raw deflate with an 8-bit window; 9 bits stays within a peer's limit of 8
    // only in theory, so use 9 like `ws` does, which every inflater we know of accepts.
    this.windowBits = Math.max(9, client ? params.clientMaxWindowBits : params.serverMaxWindowBits);
  }

  /** Compresses one message payload (without the 00 00 FF FF tail, §7.2.1). */
  async compress(data: Buffer): Promise<Buffer> {
    this.deflater ??= createDeflateRaw({ windowBits: this.windowBits });
    const out = await run(this.deflater, data);
    if (!this.keepSendContext) {
      this.deflater.close();
      this.deflater = null;
    }
    return out.length >= 4 && out.subarray(-4).equals(TAIL) ? out.subarray(0, -4) : out;
  }

  /** Inflates one message payload as received (§7.2.2). */
  async inflate(data: Buffer): Promise<Buffer> {
    this.inflater ??= createInflateRaw({ windowBits: 15 });
    const out = await run(this.inflater, Buffer.concat([data, TAIL]));
    if (!this.keepReceiveContext) {
      this.inflater.close();
      this.inflater = null;
    }
    return out;
  }

  /** Releases the zlib streams. */
  close(): void {
    this.deflater?.close();
    this.inflater?.close();
  }
}

function run(stream: DeflateRaw | InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => void chunks.push(chunk);
    const onError = (error: Error): void => {
      stream.off('data', onData);
      reject(error);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(input);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', onError);
      resolve(Buffer.concat(chunks));
    });
  });
}
