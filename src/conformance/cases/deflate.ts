/**
 * Sections 12 and 13 of Autobahn|Testsuite: permessage-deflate (RFC 7692). The suite offers the
 * extension; a target that declines gets UNIMPLEMENTED (it is optional), one that accepts must
 * echo compressed messages of every size, fragmented or not, under each negotiated parameter set.
 *
 * Differences from Autobahn, on purpose: Autobahn's 12.x payloads are slices of five sample files
 * it ships (JSON, a bitmap, Faust, HTML, a PDF); here they are generated stand-ins of the same
 * kinds (structured text, compressible binary, prose, markup, incompressible binary). And each
 * case sends 100 messages, not 1000, to keep a full run short. Subcase numbers keep Autobahn's
 * layout: sizes 16 B … 128 KiB unfragmented, then with auto-fragmentation.
 */
import { ev } from '../harness.js';
import type { Observed, WsCase } from '../types.js';
import type { FrameSpec } from '../wire.js';
import { NORMAL_CLOSE } from './common.js';

const MESSAGES = 100;

/** [size, fragment size (0 = one frame)] per subcase. */
const SUBCASES: Array<[number, number]> = [
  ...[16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072].map((n) => [n, 0] as [number, number]),
  ...[8192, 16384, 32768, 65536, 131072].map((n) => [n, 256] as [number, number]),
  [65536, 4096],
  [131072, 4096],
  [131072, 32768],
];

/** A small deterministic PRNG (xorshift32), so payloads are the same on every run. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const WORDS = 'der die das und ist nicht ein zu den von sie mit es sich auch auf dem so wie noch habe ich Geist Welt Natur Faust Mephistopheles Tag Nacht Wissen'.split(' ');

function text(size: number, seed: number, render: (rnd: () => number, i: number) => string): Buffer {
  const rnd = prng(seed);
  let out = '';
  for (let i = 0; out.length < size; i++) out += render(rnd, i);
  return Buffer.from(out.slice(0, size), 'latin1');
}

/** The five payload kinds of 12.1–12.5. */
const SOURCES: Array<{ title: string; binary: boolean; make: (size: number) => Buffer }> = [
  { title: 'structured text (JSON)', binary: false, make: (n) => text(n, 1, (r, i) => `{"id":${i},"name":"item-${Math.floor(r() * 1000)}","tags":["a","b"],"value":${(r() * 100).toFixed(3)}},`) },
  {
    title: 'compressible binary (bitmap-like)',
    binary: true,
    make: (n) => {
      const rnd = prng(2);
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = (i >> 6) % 2 === 0 ? 0xff : rnd() < 0.1 ? Math.floor(rnd() * 256) : 0;
      return out;
    },
  },
  { title: 'human-readable prose', binary: false, make: (n) => text(n, 3, (r) => `${WORDS[Math.floor(r() * WORDS.length)]}${r() < 0.1 ? '. ' : ' '}`) },
  { title: 'markup (HTML)', binary: false, make: (n) => text(n, 4, (r, i) => `<div class="row-${i % 7}"><a href="/p/${Math.floor(r() * 500)}">link ${i}</a></div>\n`) },
  {
    title: 'incompressible binary (random)',
    binary: true,
    make: (n) => {
      const rnd = prng(5);
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(rnd() * 256);
      return out;
    },
  },
];

/** 13.1–13.7: [server_no_context_takeover, server_max_window_bits (0 = not requested)] per offer. */
const OFFERS: Array<Array<[boolean, number]>> = [
  [[false, 0]],
  [[true, 0]],
  [[false, 8]],
  [[false, 15]],
  [[true, 8]],
  [[true, 15]],
  [
    [true, 8],
    [true, 0],
    [false, 0],
  ],
];

function offerParams([noContext, bits]: [boolean, number]): Record<string, string | true> {
  const params: Record<string, string | true> = { client_max_window_bits: true };
  if (noContext) params.server_no_context_takeover = true;
  if (bits > 0) params.server_max_window_bits = String(bits);
  return params;
}

function deflateCase(id: string, description: string, offer: Array<Record<string, string | true>>, binary: boolean, payload: Buffer, fragment: number): WsCase {
  return {
    id,
    description,
    expectation: "Receive echo'ed messages (with payload as sent), compressed or not. Clean close with normal code. UNIMPLEMENTED when permessage-deflate is declined.",
    deflateOffer: offer,
    timeout: 120_000,
    async run(t) {
      const deflate = t.deflate!;
      const one: Observed = binary ? ev.binary(payload) : ev.text(payload);
      t.expect({ OK: Array.from({ length: MESSAGES }, () => one) }, NORMAL_CLOSE);
      t.note(`negotiated ${JSON.stringify(deflate.params)}`);
      t.killAfter(100_000);
      for (let k = 0; k < MESSAGES; k++) {
        const compressed = await deflate.compress(payload);
        const frames: FrameSpec[] = [];
        const step = fragment > 0 ? fragment : Math.max(compressed.length, 1);
        for (let i = 0; i < compressed.length || i === 0; i += step) {
          frames.push({ opcode: i === 0 ? (binary ? 2 : 1) : 0, rsv: i === 0 ? 4 : 0, fin: i + step >= compressed.length, payload: compressed.subarray(i, i + step) });
        }
        await t.sendAll(frames);
        if (!(await t.waitReceived(k + 1, 10_000))) break;
      }
    },
  };
}

/** Sections 12 and 13. */
export function deflateCases(): WsCase[] {
  const cases: WsCase[] = [];
  const defaultOffer = [offerParams([false, 0])];
  SOURCES.forEach((source, s) => {
    SUBCASES.forEach(([size, fragment], i) => {
      cases.push(
        deflateCase(
          `12.${s + 1}.${i + 1}`,
          `Send ${MESSAGES} compressed messages each of payload size ${size} (${source.title}), auto-fragment to ${fragment} octets. Use default permessage-deflate offer.`,
          defaultOffer,
          source.binary,
          source.make(size),
          fragment,
        ),
      );
    });
  });
  OFFERS.forEach((offers, o) => {
    const describeOffer = offers.map(([nc, bits]) => `(server_no_context_takeover=${nc}, server_max_window_bits=${bits || 'default'})`).join(', ');
    SUBCASES.forEach(([size, fragment], i) => {
      cases.push(
        deflateCase(
          `13.${o + 1}.${i + 1}`,
          `Send ${MESSAGES} compressed messages each of payload size ${size}, auto-fragment to ${fragment} octets. Use permessage-deflate client offers ${describeOffer}.`,
          offers.map(offerParams),
          false,
          SOURCES[0]!.make(size),
          fragment,
        ),
      );
    });
  });
  return cases;
}
