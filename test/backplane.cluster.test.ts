/**
 * `fullduplex/cluster`: a real node:cluster primary with two workers (test/fixtures/
 * backplane-cluster.ts). Interest routing in the primary, exactly-once FIFO delivery between
 * workers, Buffers intact over IPC (advanced serialization, and the base64 fallback under JSON),
 * broadcasts to every other worker.
 */
import { describe, expect, test } from 'vitest';
import { spawnTsx } from './helpers/process.js';

interface Report {
  me: number;
  got: Array<{ topic: string | null; binary: boolean; size: number; text: string }>;
  stats: { published: number; received: number; gaps: number; duplicates: number; malformed: number; dropped: number; echoes: number };
}

const N = 500;

describe('fullduplex/cluster', () => {
  test.each(['advanced', 'json'])('two workers behind clusterPrimary (%s serialization)', async (mode) => {
    const child = spawnTsx('test/fixtures/backplane-cluster.ts', [mode]);
    const [line] = await child.waitFor(/^\{.*\}$/m, 18_000);
    await child.exited;
    const result = JSON.parse(line!) as { reports: Report[]; primary: { forwarded: number; unrouted: number } };
    const w1 = result.reports.find((r) => r.me === 1)!;
    const w2 = result.reports.find((r) => r.me === 2)!;

    // Worker 1 got worker 2's binary messages in order, the 1 MiB one intact, plus `only1` and a broadcast.
    const both1 = w1.got.filter((d) => d.topic === 'both');
    expect(both1.length).toBe(N);
    expect(both1.every((d) => d.binary)).toBe(true);
    expect(both1[0]!.size).toBe(1 << 20);
    expect(both1[0]!.text).toBe('0707070707070707');
    expect(both1.slice(1).map((d) => Buffer.from(d.text, 'hex').readUInt32LE(0))).toEqual(Array.from({ length: N - 1 }, (_, i) => i + 1));
    expect(w1.got.filter((d) => d.topic === 'only1').map((d) => d.text)).toEqual(['for worker 1']);
    expect(w1.got.filter((d) => d.topic === null).map((d) => d.text)).toEqual(['broadcast from 2']);

    // Worker 2 got worker 1's text in order, nothing for `only1` or `nobody`, and a broadcast.
    const both2 = w2.got.filter((d) => d.topic === 'both');
    expect(both2.map((d) => d.text)).toEqual(Array.from({ length: N }, (_, i) => `${i} grüße 😀`));
    expect(w2.got.filter((d) => d.topic !== 'both' && d.topic !== null)).toEqual([]);
    expect(w2.got.filter((d) => d.topic === null).map((d) => d.text)).toEqual(['broadcast from 1']);

    for (const r of [w1, w2]) expect(r.stats).toMatchObject({ gaps: 0, duplicates: 0, malformed: 0, dropped: 0, echoes: 0 });
    expect(result.primary).toMatchObject({ forwarded: 2 * N + 3, unrouted: 1 }); // `nobody` went nowhere
  }, 20_000);
});
