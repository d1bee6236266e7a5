/**
 * Frame-layer micro-benchmark, in memory (no sockets): our FrameParser vs ws's Receiver, and our
 * FrameWriter vs ws's Sender.frame.
 *
 * Parser: a stream of N frames is built up front (with ws's Sender.frame, so neither side parses
 * its own encoder's output) and fed in 64 KiB chunks, as a socket delivers it. Both parsers unmask
 * in place, so every run gets a fresh copy of the stream, copied before the clock starts. Every
 * run checks that all N messages arrived with the right number of bytes.
 *
 * Encoder: N messages with our FrameWriter, taking its output every 16 frames (as a flush would),
 * vs ws's Sender.frame per message (what ws.send does before its socket write).
 *
 * Run alone: `npx tsx bench/parser.ts`; BENCH_CASE=16 limits to cases whose label contains "16".
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { FrameParser, type FrameSink } from '../src/frame/parser.js';
import { FrameWriter } from '../src/frame/frame-writer.js';
import { RandomMaskSource } from '../src/frame/mask.js';
import type { ProtocolError } from '../src/frame/errors.js';
import {
  RUNS,
  collectGarbage,
  formatBytes,
  formatMBps,
  formatRate,
  loadWs,
  median,
  now,
  printTable,
  since,
  spread,
  type WsInternals,
} from './util.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [16, 125, KiB, 64 * KiB, MiB];
const TEXT_SIZE = KiB;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;

/** Chunk size the stream is delivered in (a typical socket read). */
const CHUNK_SIZE = 64 * KiB;
/** Parser streams: about this many bytes, capped at MAX_FRAMES frames, at least MIN_FRAMES. */
const STREAM_TARGET = 32 * MiB;
const MAX_FRAMES = 400_000;
const MIN_FRAMES = 32;
/** Parser: passes over the stream per timed run are chosen so the faster side takes about this long. */
const PARSE_TARGET_NS = 40e6;
/** Parser: memory for the fresh copies masked streams need (one per pass). */
const MAX_MASKED_COPY_BYTES = 256 * MiB;
/** Encoder: N is calibrated so the faster side takes about this long per run... */
const ENCODE_TARGET_NS = 30e6;
/** ...and the slower side at most this long. */
const ENCODE_MAX_NS = 300e6;
/** Untimed runs of each side before measuring. */
const WARMUP_RUNS = 2;

const caseFilter = process.env.BENCH_CASE;
const selected = (label: string): boolean => caseFilter === undefined || label.includes(caseFilter);

function frameLength(payloadLength: number, masked: boolean): number {
  return (payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10) + (masked ? 4 : 0) + payloadLength;
}

/** Valid UTF-8 of exactly `size` bytes: mostly ASCII with some 2- and 3-byte characters. */
function textPayload(size: number): Buffer {
  const sample = 'Hello, wörld — ünïcode ✓ text; the quick brown fox jumps over the lazy dog. ';
  let text = '';
  while (Buffer.byteLength(text) < size) text += sample;
  while (Buffer.byteLength(text) > size) text = text.slice(0, -1);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length !== size) throw new Error('text payload size');
  return bytes;
}

function label(kind: string, size: number, masked: boolean): string {
  return `${kind} ${formatBytes(size)} ${masked ? 'masked' : 'unmasked'}`;
}

// Parser --------------------------------------------------------------------------------------

interface ParseCase {
  label: string;
  opcode: number;
  payload: Buffer;
  masked: boolean;
  /** What one message counts as: its payload bytes. */
  unitsPerMessage: number;
  /** Text only: make ws's listener decode to a string (off: both sides deliver validated bytes). */
  wsDecodes: boolean;
}

class CountingSink implements FrameSink {
  messages = 0;
  units = 0;
  error: ProtocolError | null = null;
  /** Text arrives as validated UTF-8 bytes (the consumer decodes if it wants a string). */
  onMessage(data: Buffer): void {
    this.messages++;
    this.units += data.length;
  }
  onPing(): void {}
  onPong(): void {}
  onClose(): void {}
  onError(error: ProtocolError): void {
    this.error = error;
  }
}

/** N frames of `payload`, each encoded by ws (masked frames get a fresh random key each). */
function buildStream(ws: WsInternals, c: ParseCase, frames: number): Buffer {
  const stream = Buffer.allocUnsafe(frames * frameLength(c.payload.length, c.masked));
  const options = { fin: true, opcode: c.opcode, mask: c.masked, readOnly: true };
  let offset = 0;
  for (let i = 0; i < frames; i++) {
    for (const part of ws.Sender.frame(c.payload, options)) {
      stream.set(part, offset);
      offset += part.length;
    }
  }
  if (offset !== stream.length) throw new Error(`stream length ${offset} != ${stream.length}`);
  return stream;
}

function split(stream: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += size) chunks.push(stream.subarray(at, Math.min(at + size, stream.length)));
  return chunks;
}

interface Result {
  label: string;
  frames: number;
  payloadBytes: number;
  oursNs: number[];
  wsNs: number[];
}

function benchParseCase(ws: WsInternals, c: ParseCase): Result {
  const frames = Math.max(MIN_FRAMES, Math.min(MAX_FRAMES, Math.floor(STREAM_TARGET / frameLength(c.payload.length, c.masked))));
  const pristine = buildStream(ws, c, frames);
  const role = c.masked ? 'server' : 'client';
  // Both parsers unmask masked streams in place, so each pass over a masked stream gets its own
  // copy, refreshed before the clock starts. Unmasked streams are never written to: every pass
  // reuses the pristine one.
  const copies: Buffer[] = [];
  const chunkLists: Buffer[][] = [];
  let passes = 1;
  const setPasses = (count: number): void => {
    passes = count;
    if (!c.masked) {
      if (chunkLists.length === 0) chunkLists.push(split(pristine, CHUNK_SIZE));
      return;
    }
    while (copies.length < passes) {
      const copy = Buffer.allocUnsafe(pristine.length);
      copies.push(copy);
      chunkLists.push(split(copy, CHUNK_SIZE));
    }
  };
  const refresh = (): void => {
    if (c.masked) for (let p = 0; p < passes; p++) copies[p]!.set(pristine);
    collectGarbage();
  };
  setPasses(1);

  // ws hands text over as a Buffer; in the undecoded row its units are bytes, not characters.
  const wsUnitsPerMessage = c.opcode === OPCODE_TEXT && !c.wsDecodes ? c.payload.length : c.unitsPerMessage;
  const check = (who: string, messages: number, units: number, unitsPerMessage: number, error: unknown): void => {
    const expectedMessages = frames * passes;
    const expectedUnits = expectedMessages * unitsPerMessage;
    if (error || messages !== expectedMessages || units !== expectedUnits) {
      throw new Error(
        `${c.label}: ${who} parsed ${messages}/${expectedMessages} messages, ${units}/${expectedUnits} units` +
          (error ? `, error: ${String(error)}` : ''),
      );
    }
  };

  const runOurs = (): number => {
    refresh();
    const sink = new CountingSink();
    const parser = new FrameParser(sink, { role });
    const start = now();
    for (let p = 0; p < passes; p++) {
      const chunks = chunkLists[c.masked ? p : 0]!;
      for (let i = 0; i < chunks.length; i++) parser.push(chunks[i]!);
    }
    const ns = since(start);
    check('fullduplex', sink.messages, sink.units, c.unitsPerMessage, sink.error);
    return ns;
  };

  const runWs = (): number => {
    refresh();
    const receiver = new ws.Receiver({
      isServer: c.masked,
      maxPayload: 100 * MiB, // WebSocketServer's default
      skipUTF8Validation: false,
      binaryType: 'nodebuffer',
    });
    let messages = 0;
    let units = 0;
    let error: Error | null = null;
    if (c.opcode === OPCODE_BINARY || !c.wsDecodes) {
      receiver.on('message', (data: Buffer) => {
        messages++;
        units += data.length;
      });
    } else {
      receiver.on('message', (data: Buffer) => {
        messages++;
        units += data.toString('utf8').length;
      });
    }
    receiver.on('error', (e: Error) => {
      error = e;
    });
    const start = now();
    for (let p = 0; p < passes; p++) {
      const chunks = chunkLists[c.masked ? p : 0]!;
      for (let i = 0; i < chunks.length; i++) receiver.write(chunks[i]!);
    }
    const ns = since(start);
    check('ws', messages, units, wsUnitsPerMessage, error);
    return ns;
  };

  // Warm up with one pass, then choose passes so the faster side runs for about PARSE_TARGET_NS.
  let faster = Infinity;
  for (let i = 0; i < WARMUP_RUNS; i++) faster = Math.min(runOurs(), runWs());
  const maxPasses = c.masked ? Math.max(1, Math.floor(MAX_MASKED_COPY_BYTES / pristine.length)) : 1000;
  setPasses(Math.max(1, Math.min(maxPasses, Math.ceil(PARSE_TARGET_NS / faster))));
  if (passes > 1) {
    runOurs();
    runWs();
  }

  const oursNs: number[] = [];
  const wsNs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    if (r % 2 === 0) {
      oursNs.push(runOurs());
      wsNs.push(runWs());
    } else {
      wsNs.push(runWs());
      oursNs.push(runOurs());
    }
  }
  copies.length = 0;
  return { label: c.label, frames: frames * passes, payloadBytes: frames * passes * c.payload.length, oursNs, wsNs };
}

// Encoder -------------------------------------------------------------------------------------

interface EncodeCase {
  label: string;
  opcode: number;
  payload: Buffer | string;
  payloadBytes: number;
  masked: boolean;
}

function benchEncodeCase(ws: WsInternals, c: EncodeCase): Result {
  const maskSource = new RandomMaskSource();
  const expectedPerFrame = frameLength(c.payloadBytes, c.masked);
  const wsOptions = { fin: true, opcode: c.opcode, mask: c.masked, readOnly: true };

  const check = (who: string, n: number, out: number): void => {
    if (out !== n * expectedPerFrame) throw new Error(`${c.label}: ${who} produced ${out} bytes, expected ${n * expectedPerFrame}`);
  };

  const runOurs = (n: number): number => {
    collectGarbage();
    const writer = new FrameWriter(c.masked ? maskSource : null);
    const payload = c.payload;
    const opcode = c.opcode;
    let out = 0;
    const start = now();
    for (let i = 0; i < n; i++) {
      writer.writeFrame(opcode, true, 0, payload);
      if ((i & 15) === 15) {
        const parts = writer.take();
        for (let j = 0; j < parts.length; j++) out += parts[j]!.length;
      }
    }
    const parts = writer.take();
    for (let j = 0; j < parts.length; j++) out += parts[j]!.length;
    const ns = since(start);
    check('fullduplex', n, out);
    return ns;
  };

  const runWs = (n: number): number => {
    collectGarbage();
    const payload = c.payload;
    const Sender = ws.Sender;
    let out = 0;
    const start = now();
    for (let i = 0; i < n; i++) {
      const parts = Sender.frame(payload, wsOptions);
      for (let j = 0; j < parts.length; j++) out += parts[j]!.length;
    }
    const ns = since(start);
    check('ws', n, out);
    return ns;
  };

  // Calibrate N so the faster side takes about ENCODE_TARGET_NS per run (the slower at most
  // ENCODE_MAX_NS).
  let n = 64;
  for (;;) {
    const ours = runOurs(n);
    const theirs = runWs(n);
    const faster = Math.min(ours, theirs);
    const slower = Math.max(ours, theirs);
    if (faster >= ENCODE_TARGET_NS / 8 || slower >= ENCODE_MAX_NS / 8 || n >= 50_000_000) {
      n = Math.max(16, Math.round(n * Math.min(ENCODE_TARGET_NS / faster, ENCODE_MAX_NS / slower)));
      break;
    }
    n *= 4;
  }
  for (let i = 0; i < WARMUP_RUNS; i++) {
    runOurs(n);
    runWs(n);
  }
  const oursNs: number[] = [];
  const wsNs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    if (r % 2 === 0) {
      oursNs.push(runOurs(n));
      wsNs.push(runWs(n));
    } else {
      wsNs.push(runWs(n));
      oursNs.push(runOurs(n));
    }
  }
  return { label: c.label, frames: n, payloadBytes: n * c.payloadBytes, oursNs, wsNs };
}

// Report --------------------------------------------------------------------------------------

function row(r: Result): string[] {
  const ours = median(r.oursNs) / 1e9;
  const theirs = median(r.wsNs) / 1e9;
  const noise = Math.max(spread(r.oursNs), spread(r.wsNs));
  return [
    r.label,
    formatRate(r.frames / ours),
    formatMBps(r.payloadBytes / ours),
    formatRate(r.frames / theirs),
    formatMBps(r.payloadBytes / theirs),
    `${(theirs / ours).toFixed(2)}x`,
    String(r.frames),
    `±${(noise * 100).toFixed(0)}%`,
  ];
}

const HEADERS = ['case', 'fullduplex frames/s', 'MB/s', 'ws frames/s', 'MB/s', 'ratio', 'N', 'noise'];

export async function run(): Promise<void> {
  const ws = loadWs();

  const parseCases: ParseCase[] = [];
  for (const size of SIZES) {
    const payload = randomBytes(size);
    for (const masked of [true, false]) {
      parseCases.push({ label: label('binary', size, masked), opcode: OPCODE_BINARY, payload, masked, unitsPerMessage: size, wsDecodes: false });
    }
  }
  const text = textPayload(TEXT_SIZE);
  // The parser hands text over as validated UTF-8 bytes, as ws's Receiver does: neither decodes.
  parseCases.push({ label: label('text', TEXT_SIZE, true), opcode: OPCODE_TEXT, payload: text, masked: true, unitsPerMessage: text.length, wsDecodes: false });
  parseCases.push({ label: label('text', TEXT_SIZE, false), opcode: OPCODE_TEXT, payload: text, masked: false, unitsPerMessage: text.length, wsDecodes: false });

  console.log(
    `\nParser: N frames in ${formatBytes(CHUNK_SIZE)} chunks; masked = client->server (role 'server'), ` +
      `unmasked = server->client (role 'client').\nMB/s = 10^6 payload bytes/s; ratio = fullduplex/ws throughput; ` +
      `noise = largest deviation of a run from the median.\nText rows: both sides validate UTF-8 and hand over the bytes undecoded.\n`,
  );
  const parseResults: Result[] = [];
  for (const c of parseCases) {
    if (!selected(c.label)) continue;
    parseResults.push(benchParseCase(ws, c));
    process.stdout.write('.');
  }
  process.stdout.write('\n');
  printTable(HEADERS, parseResults.map(row));

  const encodeCases: EncodeCase[] = [];
  for (const size of SIZES) {
    const payload = randomBytes(size);
    for (const masked of [false, true]) {
      encodeCases.push({ label: label('binary', size, masked), opcode: OPCODE_BINARY, payload, payloadBytes: size, masked });
    }
  }
  const textString = text.toString('utf8');
  encodeCases.push({ label: `${label('text', TEXT_SIZE, false)} (string)`, opcode: OPCODE_TEXT, payload: textString, payloadBytes: TEXT_SIZE, masked: false });
  encodeCases.push({ label: `${label('text', TEXT_SIZE, true)} (string)`, opcode: OPCODE_TEXT, payload: textString, payloadBytes: TEXT_SIZE, masked: true });

  console.log(
    `\nEncoder: unmasked = server (FrameWriter(null)), masked = client (FrameWriter(RandomMaskSource)); ` +
      `FrameWriter.take() every 16 frames.\nws: Sender.frame(data, { fin, opcode, mask, readOnly: true }) per message ` +
      `(as ws.send does). Unmasked payloads > 16 KiB are referenced, not copied, by both.\n`,
  );
  const encodeResults: Result[] = [];
  for (const c of encodeCases) {
    if (!selected(c.label)) continue;
    encodeResults.push(benchEncodeCase(ws, c));
    process.stdout.write('.');
  }
  process.stdout.write('\n');
  printTable(HEADERS, encodeResults.map(row));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
