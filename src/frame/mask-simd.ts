/**
 * Unmasking large payloads with WebAssembly SIMD, without a native dependency.
 *
 * The module is assembled below by hand, byte by byte, from this text form:
 *
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   ;; XOR [ptr, ptr + len) with the 4-byte key repeated; len is a multiple of 64.
 *   (func (export "mask") (param $ptr i32) (param $len i32) (param $key i32)
 *     (local $k v128) (local $end i32)
 *     (local.set $k (i32x4.splat (local.get $key)))
 *     (local.set $end (i32.add (local.get $ptr) (local.get $len)))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $ptr) (local.get $end)))
 *       (v128.store offset=0  (local.get $ptr) (v128.xor (v128.load offset=0  (local.get $ptr)) (local.get $k)))
 *       (v128.store offset=16 (local.get $ptr) (v128.xor (v128.load offset=16 (local.get $ptr)) (local.get $k)))
 *       (v128.store offset=32 (local.get $ptr) (v128.xor (v128.load offset=32 (local.get $ptr)) (local.get $k)))
 *       (v128.store offset=48 (local.get $ptr) (v128.xor (v128.load offset=48 (local.get $ptr)) (local.get $k)))
 *       (local.set $ptr (i32.add (local.get $ptr) (i32.const 64)))
 *       (br 0))))
 * ```
 *
 * WebAssembly memory cannot alias a Node Buffer, so a payload is copied in, XORed 64 bytes per
 * iteration, and copied out — to where it was, or straight into the message buffer it is being
 * assembled in (which saves the concatenation copy a payload spanning TCP chunks needs anyway).
 * Both copies are `memcpy`; the XOR is four 128-bit operations per 64 bytes. Memory of the module
 * is one page (64 KiB): longer payloads go through in 64 KiB blocks, so it never grows.
 */

/** Bytes of the module's memory, and the largest block masked per call. */
const BLOCK = 64 * 1024;

/** `local.get n` */
const get = (n: number): number[] => [0x20, n];
/** `v128.store offset=o (ptr) (v128.xor (v128.load offset=o (ptr)) (k))`: 16 bytes XORed in place. */
const xor16 = (offset: number): number[] => [
  ...get(0),
  ...get(0),
  0xfd, 0x00, 0x04, offset, // v128.load align=16 offset
  ...get(3),
  0xfd, 0x51, // v128.xor
  0xfd, 0x0b, 0x04, offset, // v128.store align=16 offset
];

const body = [
  0x02, 0x01, 0x7b, 0x01, 0x7f, // locals: 1 × v128 ($k = 3), 1 × i32 ($end = 4)
  ...get(2), 0xfd, 0x11, 0x21, 0x03, // $k = i32x4.splat($key)
  ...get(0), ...get(1), 0x6a, 0x21, 0x04, // $end = $ptr + $len
  0x02, 0x40, // block
  0x03, 0x40, // loop
  ...get(0), ...get(4), 0x4f, 0x0d, 0x01, // br_if 1 ($ptr >= $end)
  ...xor16(0), ...xor16(16), ...xor16(32), ...xor16(48),
  ...get(0), 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00, // $ptr += 64
  0x0c, 0x00, // br 0
  0x0b, // end loop
  0x0b, // end block
  0x0b, // end func
];

/** A section: id, byte length (LEB128), content. */
function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];

/** The module's bytes (exported for tests that check it validates). */
export const MASK_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // types: (i32 i32 i32) -> ()
  ...section(3, [0x01, 0x00]), // functions: one, of type 0
  ...section(5, [0x01, 0x00, 0x01]), // memory: one, min 1 page, no max
  ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('mask'), 0x00, 0x00]), // exports
  ...section(10, [0x01, ...leb(body.length), ...body]), // code
]);

interface MaskExports {
  memory: { buffer: ArrayBuffer };
  mask(ptr: number, length: number, key: number): void;
}

/** The slice of the WebAssembly global used here (the project's lib settings do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const WebAssembly = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** The instance, or null where WebAssembly SIMD is unavailable (then callers keep the JS loop). */
const instance: MaskExports | null = (() => {
  try {
    if (WebAssembly === undefined || !WebAssembly.validate(MASK_WASM)) return null;
    const module = new WebAssembly.Module(MASK_WASM);
    return new WebAssembly.Instance(module).exports as unknown as MaskExports;
  } catch {
    return null;
  }
})();
const wasmMask = instance?.mask;
/** A Buffer over the module's memory: `Buffer#copy` is a plain memcpy, with no view per call. */
const heap = instance ? Buffer.from(instance.memory.buffer) : null;
const copy = Buffer.prototype.copy;

/** True when the WebAssembly SIMD routine is in use. */
export const simdMaskAvailable = instance !== null;

/**
 * XORs `source[start, end)` with the key `k0 k1 k2 k3` (rotated so `k0` applies to
 * `source[start]`) and writes the result to `target` at `targetOffset` (which may be `source` at
 * `start`: in place). Returns false, doing nothing, when WebAssembly SIMD is unavailable.
 */
export function maskSimd(
  source: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  targetOffset: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
): boolean {
  if (heap === null) return false;
  // Little-endian memory: the word whose bytes in memory are k0 k1 k2 k3.
  const key = k0 | (k1 << 8) | (k2 << 16) | (k3 << 24);
  // Each block is a multiple of 4 bytes except the last, so the key phase carries over.
  for (let at = start; at < end; at += BLOCK) {
    const n = end - at < BLOCK ? end - at : BLOCK;
    copy.call(source, heap, 0, at, at + n);
    wasmMask!(0, (n + 63) & ~63, key);
    copy.call(heap, target, targetOffset + (at - start), 0, n);
  }
  return true;
}
