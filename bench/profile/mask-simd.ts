/**
 * Masking throughput by payload size: the scalar JS loop (maskRange) against the WebAssembly
 * SIMD routine (copy in, XOR, copy out), in place. Picks the size where SIMD starts to pay.
 *
 *   npx tsx bench/profile/mask-simd.ts
 */
import { maskRange } from '../../src/frame/mask.js';
import { maskSimd, simdMaskAvailable } from '../../src/frame/mask-simd.js';

console.log(`WebAssembly SIMD available: ${simdMaskAvailable}`);
for (const size of [64, 128, 256, 512, 1024, 2048, 4096, 16384, 65536, 262144]) {
  const buf = Buffer.alloc(size + 1, 7).subarray(1); // unaligned, as payloads after a header are
  const rounds = Math.max(200, Math.floor(2e8 / size));
  const time = (f: () => void): number => {
    for (let i = 0; i < rounds / 10; i++) f();
    const t = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) f();
    return Number(process.hrtime.bigint() - t) / rounds;
  };
  const js = time(() => maskRange(buf, 0, size, 1, 2, 3, 4));
  const simd = time(() => maskSimd(buf, 0, size, buf, 0, 1, 2, 3, 4));
  console.log(`${String(size).padStart(7)} B  js ${js.toFixed(0).padStart(7)} ns (${(size / js).toFixed(2)} GB/s)  simd ${simd.toFixed(0).padStart(7)} ns (${(size / simd).toFixed(2)} GB/s)  ${(js / simd).toFixed(2)}x`);
}
