/**
 * Every case of the suite, in report order, and the `--cases` filter.
 *
 * Sections 1–7, 9, 10, 12 and 13 carry Autobahn|Testsuite's numbers, so a result can be compared
 * case by case with a published Autobahn report. Two sections are our own and use letters so they
 * can never be mistaken for Autobahn's: H (opening handshake, server targets) and M (masking in
 * the wrong direction).
 */
import type { ConformanceCase, TargetRole } from '../types.js';
import { closeCases } from './close.js';
import { deflateCases } from './deflate.js';
import { deflateExtraCases } from './deflate-extras.js';
import { framingCases } from './framing.js';
import { handshakeCases } from './handshake.js';
import { autoFragmentationCases, limitCases } from './limits.js';
import { maskingCases } from './masking.js';
import { utf8Cases } from './utf8.js';

/** Section titles, for summaries. */
export const SECTIONS: Record<string, string> = {
  H: 'Opening handshake',
  '1': 'Framing',
  '2': 'Pings/Pongs',
  '3': 'Reserved Bits',
  '4': 'Opcodes',
  '5': 'Fragmentation',
  '6': 'UTF-8 Handling',
  '7': 'Close Handling',
  '9': 'Limits/Performance',
  '10': 'Auto-Fragmentation',
  M: 'Masking',
  '12': 'WebSocket Compression (different payloads)',
  '13': 'WebSocket Compression (different parameters)',
};

/** The section of a case id: its first component. */
export function sectionOf(id: string): string {
  return id.split('.')[0]!;
}

let cached: ConformanceCase[] | null = null;

/** All cases, in order. */
export function allCases(): ConformanceCase[] {
  cached ??= [
    ...handshakeCases(),
    ...framingCases(),
    ...utf8Cases(),
    ...closeCases(),
    ...limitCases(),
    ...autoFragmentationCases(),
    ...maskingCases(),
    ...deflateCases(),
    ...deflateExtraCases(),
  ];
  return cached;
}

/**
 * Does `id` match one of the comma-separated `patterns`? A pattern matches the id itself and
 * everything under it (`6.4` matches 6.4.1–6.4.4, `1` all of section 1); `*` is a wildcard
 * (`1.*`, `*.1`). Letters are compared case-insensitively (`h` is section H).
 */
export function matchesPattern(id: string, pattern: string): boolean {
  const p = pattern.trim();
  if (p === '') return false;
  if (p.includes('*')) {
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
    return re.test(id);
  }
  return id.toLowerCase() === p.toLowerCase() || id.toLowerCase().startsWith(`${p.toLowerCase()}.`);
}

/** Cases for a target kind, filtered by `--cases` and `--exclude` pattern lists. */
export function selectCases(role: TargetRole, include?: string, exclude?: string): ConformanceCase[] {
  const inc = include ? include.split(',').filter((p) => p.trim() !== '') : [];
  const exc = exclude ? exclude.split(',').filter((p) => p.trim() !== '') : [];
  return allCases().filter((c) => {
    if (c.only !== undefined && c.only !== role) return false;
    if (c.kind === 'handshake' && role !== 'server') return false;
    if (inc.length > 0 && !inc.some((p) => matchesPattern(c.id, p))) return false;
    return !exc.some((p) => matchesPattern(c.id, p));
  });
}
