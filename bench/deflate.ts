/**
 * permessage-deflate measurements behind the defaults in src/extensions (run: npx tsx --expose-gc bench/deflate.ts).
 * Bytes per message and µs per message on seeded realistic JSON events, memory per connection,
 * and the synchronous handle path against `_processChunk` and one-shot zlib.
 */
import zlib from 'node:zlib';
import { PerMessageDeflate } from '../src/extensions/permessage-deflate.js';
import { compressStandalone } from '../src/extensions/deflater.js';
import { releaseSharedZlib } from '../src/extensions/pool.js';
import { Opcode } from '../src/frame/opcode.js';

let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const words = 'the quick brown fox jumps over lazy dog hello world user joined left room message typing status online away busy channel general random team project update deploy build release'.split(' ');
const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)]!;
function event(): object {
  return {
    type: pick(['chat.message', 'presence.update', 'typing', 'state.patch']),
    id: Math.floor(rnd() * 1e9).toString(36),
    ts: 1760000000000 + Math.floor(rnd() * 1e7),
    user: { id: Math.floor(rnd() * 5000), name: pick(words) + '_' + Math.floor(rnd() * 100), status: pick(['online', 'away', 'busy']) },
    channel: pick(['general', 'random', 'team-' + Math.floor(rnd() * 20)]),
    text: Array.from({ length: 3 + Math.floor(rnd() * 12) }, () => pick(words)).join(' '),
  };
}
/** A JSON message of about `size` bytes: one event, or an array of events. */
function message(size: number): Buffer {
  if (size <= 64) return Buffer.from(JSON.stringify({ t: pick(['typing', 'ping', 'ack']), u: Math.floor(rnd() * 5000), c: pick(['general', 'random']) }));
  const list: object[] = [];
  let s = '[]';
  while (s.length < size) {
    list.push(event());
    s = JSON.stringify(list);
  }
  return Buffer.from(s);
}
const SIZES = [64, 1024, 16384];
const corpus = new Map(SIZES.map((n) => [n, Array.from({ length: n > 4096 ? 100 : 500 }, () => message(n))]));

type Cfg = { name: string; bits: number; memLevel: number; takeover: boolean; level?: number };
const CONFIGS: Cfg[] = [
  { name: '15/8 takeover (ws defaults)', bits: 15, memLevel: 8, takeover: true },
  { name: '12/5 takeover (our default)', bits: 12, memLevel: 5, takeover: true },
  { name: '12/5 takeover level 1', bits: 12, memLevel: 5, takeover: true, level: 1 },
  { name: '10/3 takeover', bits: 10, memLevel: 3, takeover: true },
  { name: '9/2 takeover', bits: 9, memLevel: 2, takeover: true },
  { name: '15/8 no takeover', bits: 15, memLevel: 8, takeover: false },
  { name: '12/5 no takeover', bits: 12, memLevel: 5, takeover: false },
];
const ext = (c: Cfg) =>
  new PerMessageDeflate(
    { localMaxWindowBits: c.bits, remoteMaxWindowBits: c.bits, localNoContextTakeover: !c.takeover, remoteNoContextTakeover: !c.takeover },
    { level: c.level ?? 6, memLevel: c.memLevel, threshold: 0 },
  );

const memOnly = process.argv[2] === 'mem';
if (!memOnly) {
console.log('## Bytes per message (mean compressed payload; raw = uncompressed mean), µs per message (encode / decode)');
for (const n of SIZES) {
  const msgs = corpus.get(n)!;
  const raw = msgs.reduce((a, m) => a + m.length, 0) / msgs.length;
  console.log(`\n### ~${n} B JSON (raw mean ${raw.toFixed(0)} B, ${msgs.length} messages)`);
  for (const c of CONFIGS) {
    const a = ext(c);
    const b = ext(c);
    let bytes = 0;
    let bestEnc = Infinity;
    let bestDec = Infinity;
    for (let round = 0; round < 5; round++) {
      bytes = 0;
      let tEnc = 0;
      let tDec = 0;
      for (const m of msgs) {
        let t = process.hrtime.bigint();
        const e = a.encode(m, Opcode.TEXT, true);
        tEnc += Number(process.hrtime.bigint() - t);
        bytes += e.rsv ? e.payload.length : m.length;
        t = process.hrtime.bigint();
        const d = e.rsv ? b.decode(Buffer.from(e.payload), true, 1 << 30) : m;
        tDec += Number(process.hrtime.bigint() - t);
        if (d.length !== m.length) throw new Error('mismatch');
      }
      bestEnc = Math.min(bestEnc, tEnc);
      bestDec = Math.min(bestDec, tDec);
    }
    console.log(`${c.name.padEnd(30)} ${(bytes / msgs.length).toFixed(0).padStart(6)} B (${((100 * bytes) / msgs.length / raw).toFixed(1)}%)  enc ${(bestEnc / msgs.length / 1000).toFixed(1)} µs  dec ${(bestDec / msgs.length / 1000).toFixed(1)} µs`);
    a.dispose();
    b.dispose();
  }
}

// ---- sync paths compared, 1 KiB JSON, context takeover (persistent stream) vs one-shot
console.log('\n## zlib call paths, ~1 KiB JSON, 12/5 level 6, µs per message (mean of 3 × 500)');
const msgs1k = corpus.get(1024)!;
function time(label: string, fn: (m: Buffer) => void) {
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t = process.hrtime.bigint();
    for (const m of msgs1k) fn(m);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / msgs1k.length / 1000);
  }
  console.log(`${label.padEnd(58)} ${best.toFixed(1)} µs`);
}
{
  const a = ext(CONFIGS[1]!);
  time('deflate: our handle.writeSync (persistent, takeover)', (m) => void a.encode(m, Opcode.TEXT, true));
  a.dispose();
  type PC = { _processChunk(b: Buffer, f: number): Buffer; close(): void; _handle: { close(): void } | null };
  const d = zlib.createDeflateRaw({ windowBits: 12, memLevel: 5 }) as unknown as PC;
  const realClose = d._handle!.close;
  d._handle!.close = () => {}; // minizlib's trick: processChunkSync closes the handle when it returns
  const warn = process.emitWarning;
  process.emitWarning = () => {};
  time('deflate: stream._processChunk (persistent, takeover)', (m) => {
    (d as unknown as { removeAllListeners(e: string): void }).removeAllListeners('error');
    const h = d._handle;
    d._processChunk(m, zlib.constants.Z_SYNC_FLUSH);
    d._handle = h; // processChunkSync nulls it (minizlib restores it the same way)
  });
  process.emitWarning = warn;
  realClose.call(d._handle!);
  time('deflate: deflateRawSync one-shot (no context)', (m) => void zlib.deflateRawSync(m, { windowBits: 12, memLevel: 5, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
  let hist = Buffer.alloc(0);
  time('deflate: deflateRawSync one-shot + 4 KiB dictionary (takeover)', (m) => {
    zlib.deflateRawSync(m, { windowBits: 12, memLevel: 5, finishFlush: zlib.constants.Z_SYNC_FLUSH, ...(hist.length ? { dictionary: hist } : {}) });
    hist = Buffer.concat([hist, m]).subarray(-4096);
  });
  const n = ext({ ...CONFIGS[1]!, takeover: false });
  time('deflate: our pooled context (no takeover)', (m) => void n.encode(m, Opcode.TEXT, true));
  n.dispose();

  const enc = ext(CONFIGS[1]!);
  const comp = msgs1k.map((m) => Buffer.from(enc.encode(m, Opcode.TEXT, true).payload));
  enc.dispose();
  const compMap = new Map(msgs1k.map((m, i) => [m, comp[i]!]));
  const TAIL = Buffer.from([0, 0, 0xff, 0xff]);
  let b = ext(CONFIGS[1]!);
  let idx = 0;
  time('inflate: our handle.writeSync (persistent, takeover)', (m) => {
    if (idx++ % msgs1k.length === 0) {
      b.dispose();
      b = ext(CONFIGS[1]!);
    }
    b.decode(compMap.get(m)!, true, 1 << 30);
  });
  b.dispose();
  let i2 = 0;
  let inf = zlib.createInflateRaw({ windowBits: 12 }) as unknown as PC;
  const fresh = () => {
    const s = zlib.createInflateRaw({ windowBits: 12 }) as unknown as PC;
    s._handle!.close = () => {};
    return s;
  };
  inf = fresh();
  process.emitWarning = () => {};
  time('inflate: stream._processChunk (persistent, takeover)', (m) => {
    if (i2++ % msgs1k.length === 0) inf = fresh();
    (inf as unknown as { removeAllListeners(e: string): void }).removeAllListeners('error');
    const h = inf._handle;
    inf._processChunk(Buffer.concat([compMap.get(m)!, TAIL]), zlib.constants.Z_SYNC_FLUSH);
    inf._handle = h;
  });
  process.emitWarning = warn;
  const ncomp = new Map(msgs1k.map((m) => [m, zlib.deflateRawSync(m, { windowBits: 12, memLevel: 5, finishFlush: zlib.constants.Z_SYNC_FLUSH })]));
  time('inflate: inflateRawSync one-shot (no context)', (m) => void zlib.inflateRawSync(ncomp.get(m)!, { windowBits: 12, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
  const nb = ext({ ...CONFIGS[1]!, takeover: false });
  time('inflate: our pooled context (no takeover)', (m) => void nb.decode(ncomp.get(m)!.subarray(0, -4), true, 1 << 30));
  nb.dispose();
}

// ---- large messages: one decode call
console.log('\n## One decode call on a large message (blocking time)');
for (const [label, payload] of [
  ['16 MiB JSON', Buffer.concat(Array.from({ length: 1100 }, () => message(16384)))],
  ['16 MiB zeros', Buffer.alloc(16 << 20)],
] as const) {
  const a = ext({ ...CONFIGS[0]!, level: 1 });
  const c = Buffer.from(a.encode(payload, Opcode.BINARY, true).payload);
  a.dispose();
  for (let r = 0; r < 3; r++) {
    const b = ext(CONFIGS[0]!);
    const t = process.hrtime.bigint();
    const out = b.decode(c, true, 1 << 30);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r === 2) console.log(`${label}: ${(c.length / 1048576).toFixed(2)} MiB compressed → ${(out.length / 1048576).toFixed(1)} MiB in ${ms.toFixed(1)} ms`);
    b.dispose();
  }
  const b = ext(CONFIGS[0]!);
  const t = process.hrtime.bigint();
  try {
    b.decode(c, true, 1 << 20);
  } catch {
    console.log(`  same with a 1 MiB budget: 1009 after ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(2)} ms`);
  }
  b.dispose();
}

}
// ---- memory per connection
if (memOnly) console.log('\n## Memory per connection after 2 messages (~1 KiB JSON) each way; N = 2000 connections');
const gc = (globalThis as { gc?: () => void }).gc;
const mem = () => {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, ext: m.external + m.arrayBuffers, heap: m.heapUsed };
};
const N = 2000;
// Each configuration in its own process (`mem <index>`): glibc keeps freed zlib memory, so a
// second configuration in the same process would reuse it and under-report.
const memConfigs = memOnly ? (process.argv[3] === 'idle' ? [] : [CONFIGS[Number(process.argv[3])]!]) : [];
for (const c of memConfigs) {
  releaseSharedZlib();
  const before = mem();
  const list: PerMessageDeflate[] = [];
  for (let i = 0; i < N; i++) {
    const s = ext(c);
    for (let k = 0; k < 2; k++) {
      const list1k = corpus.get(1024)!;
      const m = list1k[(i + k) % list1k.length]!;
      s.encode(m, Opcode.TEXT, true);
      // Standalone bytes are valid for any receiver (each connection has its own peer in reality).
      s.decode(compressStandalone(m, { windowBits: c.bits, level: 6, memLevel: c.memLevel }), true, 1 << 30);
    }
    list.push(s);
  }
  const after = mem();
  console.log(
    `${c.name.padEnd(30)} rss ${((after.rss - before.rss) / N / 1024).toFixed(1)} KiB, zlib+buffers (external) ${((after.ext - before.ext) / N / 1024).toFixed(1)} KiB, JS heap ${((after.heap - before.heap) / N / 1024).toFixed(2)} KiB per connection`,
  );
  for (const s of list) s.dispose();
}
if (!memOnly || process.argv[3] === 'idle') {
  const before = mem();
  const list = Array.from({ length: N }, () => ext(CONFIGS[1]!));
  const after = mem();
  console.log(`${'idle (negotiated, never used)'.padEnd(30)} rss ${((after.rss - before.rss) / N / 1024).toFixed(2)} KiB, external ${((after.ext - before.ext) / N / 1024).toFixed(2)} KiB, JS heap ${((after.heap - before.heap) / N / 1024).toFixed(2)} KiB per connection`);
  for (const s of list) s.dispose();
}
