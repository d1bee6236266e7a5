/**
 * The last `size` bytes that went through one direction of a context-takeover session, kept so a
 * released zlib context can be rebuilt with them as its `dictionary`: a fresh context primed with
 * the peer's window compresses (or inflates) exactly as the old one would have, because RFC 7692
 * back-references reach at most 2^window_bits bytes back. A ring buffer allocated at first use:
 * appending costs one copy of at most `size` bytes, nothing is shifted.
 */
export class WindowHistory {
  private ring: Buffer | null = null;
  /** Next write position in `ring`. */
  private pos = 0;
  /** Bytes held, at most `size`. */
  private filled = 0;

  constructor(private readonly size: number) {}

  /** Records bytes that entered (deflate) or left (inflate) the context. */
  append(data: Uint8Array): void {
    const size = this.size;
    if (data.length === 0) return;
    const ring = (this.ring ??= Buffer.allocUnsafe(size));
    let src = data;
    if (src.length >= size) {
      src = src.subarray(src.length - size);
      ring.set(src, 0);
      this.pos = 0;
      this.filled = size;
      return;
    }
    const first = Math.min(src.length, size - this.pos);
    ring.set(src.subarray(0, first), this.pos);
    if (first < src.length) ring.set(src.subarray(first), 0);
    this.pos = (this.pos + src.length) % size;
    this.filled = Math.min(size, this.filled + src.length);
  }

  /** The held bytes in order, oldest first (a new buffer), or `null` when empty. */
  contents(): Buffer | null {
    if (this.ring === null || this.filled === 0) return null;
    const start = (this.pos - this.filled + this.size) % this.size;
    if (start + this.filled <= this.size) return Buffer.from(this.ring.subarray(start, start + this.filled));
    return Buffer.concat([this.ring.subarray(start), this.ring.subarray(0, this.pos)], this.filled);
  }

  /** Forgets everything and frees the buffer. */
  clear(): void {
    this.ring = null;
    this.pos = 0;
    this.filled = 0;
  }
}
