import { isUtf8 } from 'node:buffer';

/*
 * Incremental UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires of text messages).
 *
 * The bulk of each piece is checked by Node's native `isUtf8`; only the few bytes of a sequence
 * that straddles a piece boundary go through the byte-at-a-time state machine below. The state
 * machine rejects a byte the moment no valid sequence can continue with it (overlongs, surrogates,
 * code points above U+10FFFF), which is what "fail fast" in Autobahn's 6.x cases checks.
 */

// State = number of continuation bytes still expected, plus the allowed range of the next one.
const ACCEPT = 0;

/**
 * Streaming validator: feed pieces with {@link Utf8Validator.push}, finish with {@link Utf8Validator.end}.
 *
 * @example
 * ```ts
 * import { Utf8Validator } from 'fullduplex/frame';
 *
 * const euro = Buffer.from('€'); // e2 82 ac
 * const validator = new Utf8Validator();
 * validator.push(euro.subarray(0, 2)); // true: a valid prefix, split mid-character
 * validator.push(euro.subarray(2)); // true
 * validator.end(); // true
 * validator.reset();
 * validator.push(Buffer.from([0xed, 0xa0])); // false at once: a UTF-16 surrogate can never follow
 * ```
 */
export class Utf8Validator {
  /** Continuation bytes still needed to complete the current sequence (0 = at a boundary). */
  private needed = ACCEPT;
  /** Allowed range for the next continuation byte (narrower than 0x80–0xBF right after E0/ED/F0/F4). */
  private lower = 0x80;
  private upper = 0xbf;

  /** Back to the initial state, for the next message. */
  reset(): void {
    this.needed = ACCEPT;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  /** True when the bytes so far end on a character boundary. */
  get isComplete(): boolean {
    return this.needed === ACCEPT;
  }

  /**
   * Validates the next piece. Returns false as soon as the bytes so far cannot be the start of
   * valid UTF-8; the validator must then be reset before reuse.
   */
  push(bytes: Uint8Array): boolean {
    const length = bytes.length;
    let i = 0;
    // Finish a sequence left open by the previous piece.
    while (this.needed !== ACCEPT && i < length) {
      if (!this.step(bytes[i]!)) return false;
      i++;
    }
    if (i === length) return true;
    // Find where the last (possibly incomplete) sequence starts: at most 3 bytes back.
    let tail = length;
    for (let k = length - 1; k >= i && k >= length - 4; k--) {
      const b = bytes[k]!;
      if (b < 0x80) break; // ASCII: boundary after it
      if (b >= 0xc0) {
        const seqLength = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        if (k + seqLength > length) tail = k; // incomplete lead sequence: check it by hand
        break;
      }
    }
    if (tail > i && !isUtf8(i === 0 && tail === length ? bytes : bytes.subarray(i, tail))) return false;
    for (let k = tail; k < length; k++) {
      if (!this.step(bytes[k]!)) return false;
    }
    return true;
  }

  /** Validates the end of the message: false when it stopped in the middle of a character. */
  end(): boolean {
    return this.needed === ACCEPT;
  }

  private step(b: number): boolean {
    if (this.needed === ACCEPT) {
      if (b < 0x80) return true;
      if (b >= 0xc2 && b <= 0xdf) {
        this.needed = 1;
      } else if (b >= 0xe0 && b <= 0xef) {
        this.needed = 2;
        // E0: no overlongs (A0–BF); ED: no surrogates (80–9F).
        if (b === 0xe0) this.lower = 0xa0;
        else if (b === 0xed) this.upper = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        this.needed = 3;
        // F0: no overlongs (90–BF); F4: nothing above U+10FFFF (80–8F).
        if (b === 0xf0) this.lower = 0x90;
        else if (b === 0xf4) this.upper = 0x8f;
      } else {
        return false; // C0, C1, F5–FF never appear; 80–BF cannot start a sequence
      }
      return true;
    }
    if (b < this.lower || b > this.upper) return false;
    this.lower = 0x80;
    this.upper = 0xbf;
    this.needed--;
    return true;
  }
}

/**
 * One-shot check of a complete byte string.
 *
 * @example
 * ```ts
 * import { isValidUtf8 } from 'fullduplex/frame';
 *
 * isValidUtf8(Buffer.from('κόσμε')); // true
 * isValidUtf8(Buffer.from([0xc0, 0xaf])); // false: overlong '/'
 * ```
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}
