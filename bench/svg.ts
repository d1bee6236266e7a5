/**
 * The results chart (bench/results/latest.svg), written by hand: no charting dependency.
 *
 * Two panels of horizontal bars, one group per workload: throughput relative to ws (left) and
 * server CPU per operation relative to ws, as ws ÷ server (right), so in both panels longer is
 * better and the dashed line at 1x is ws; the scale is logarithmic (powers of two), bars grow
 * from 1x to the right when better than ws and to the left when worse. Whiskers show the range over the interleaved runs. The
 * memory row (RSS per idle connection, ws ÷ server) sits in the right panel.
 */
import type { MemorySummary, Stat, WorkloadSummary } from './report.js';

interface Bar {
  server: string;
  value: Stat;
}

interface Row {
  label: string;
  left: Bar[];
  right: Bar[];
}

const COLORS: Record<string, string> = { fd: '#1f6fb2', 'fd loop': '#7fb0dc', raw: '#9a9a9a' };
const WIDTH = 1110;
const LABEL_W = 270;
const PANEL_W = 330;
const GAP = 40;
const BAR_H = 14;
const ROW_PAD = 10;
const TOP = 92;

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

/** Renders the chart; `subtitle` names the machine and the run. */
export function renderSvg(workloads: WorkloadSummary[], memory: MemorySummary | null, subtitle: string): string {
  const rows: Row[] = workloads.map((w) => ({
    label: w.label,
    left: w.vsWs.map((r) => ({ server: r.server, value: r.rate })),
    right: w.vsWs.map((r) => ({ server: r.server, value: r.cpu })),
  }));
  if (memory) {
    rows.push({
      label: `idle RSS/conn at ${memory.connections.toLocaleString('en-US')} conns`,
      left: [],
      right: memory.vsWs.map((r) => ({ server: r.server, value: { median: r.rss, min: r.rss, max: r.rss } })),
    });
  }
  const all = rows.flatMap((r) => [...r.left, ...r.right]).flatMap((b) => [b.value.max, b.value.median]).filter(Number.isFinite);
  // Log scale centered on ws (1x): 2x faster and 2x slower are the same length; bars grow from 1x.
  const positive = all.filter((v) => v > 0);
  const hiExp = Math.max(1, Math.ceil(Math.log2(Math.max(...positive, 1))));
  const loExp = Math.min(-1, Math.floor(Math.log2(Math.min(...positive, 1))));
  const x = (v: number): number => {
    const e = Math.log2(Math.max(v, 2 ** loExp));
    return ((Math.min(e, hiExp) - loExp) / (hiExp - loExp)) * PANEL_W;
  };
  const one = x(1);

  const parts: string[] = [];
  let y = TOP;
  const panelX = [LABEL_W, LABEL_W + PANEL_W + GAP];
  for (const row of rows) {
    const n = Math.max(row.left.length, row.right.length, 1);
    const h = n * (BAR_H + 3) + ROW_PAD;
    parts.push(`<text x="${LABEL_W - 10}" y="${y + h / 2}" text-anchor="end" class="label">${escape(row.label)}</text>`);
    for (const [p, bars] of [row.left, row.right].entries()) {
      bars.forEach((bar, i) => {
        const by = y + i * (BAR_H + 3);
        const x0 = panelX[p]!;
        const color = COLORS[bar.server] ?? '#555';
        const v = bar.value;
        const left = Math.min(one, x(v.median));
        parts.push(`<rect x="${(x0 + left).toFixed(1)}" y="${by}" width="${Math.abs(x(v.median) - one).toFixed(1)}" height="${BAR_H}" fill="${color}"><title>${escape(`${bar.server}: ${fmt(v.median)} (range ${fmt(v.min)}–${fmt(v.max)})`)}</title></rect>`);
        if (v.min !== v.max && Number.isFinite(v.min)) {
          const cy = by + BAR_H / 2;
          parts.push(`<path d="M${(x0 + x(v.min)).toFixed(1)} ${cy}H${(x0 + x(v.max)).toFixed(1)}M${(x0 + x(v.min)).toFixed(1)} ${cy - 4}v8M${(x0 + x(v.max)).toFixed(1)} ${cy - 4}v8" class="whisker"/>`);
        }
        parts.push(`<text x="${(x0 + Math.max(x(v.median), Number.isFinite(v.max) ? x(v.max) : 0) + 5).toFixed(1)}" y="${by + BAR_H - 3}" class="value">${escape(`${bar.server} ${fmt(v.median)}`)}</text>`);
      });
    }
    y += h;
    parts.push(`<line x1="20" x2="${WIDTH - 20}" y1="${y - ROW_PAD / 2}" y2="${y - ROW_PAD / 2}" class="sep"/>`);
  }
  const height = y + 40;
  // axes: ticks every 1x and the ws line at 1x
  const axes: string[] = [];
  for (const x0 of panelX) {
    for (let e = loExp; e <= hiExp; e++) {
      const t = 2 ** e;
      const tx = (x0 + x(t)).toFixed(1);
      axes.push(`<line x1="${tx}" x2="${tx}" y1="${TOP - 6}" y2="${y}" class="${e === 0 ? 'ws' : 'grid'}"/>`);
      axes.push(`<text x="${tx}" y="${y + 16}" text-anchor="middle" class="tick">${t >= 1 ? t : `1/${1 / t}`}x</text>`);
    }
  }
  const header = [
    `<text x="20" y="28" class="title">fullduplex vs ws 8 (+ bufferutil): relative to ws, bars right of 1x are better</text>`,
    `<text x="20" y="48" class="sub">${escape(subtitle)}</text>`,
    `<text x="${panelX[0]}" y="${TOP - 14}" class="head">throughput ÷ ws throughput</text>`,
    `<text x="${panelX[1]}" y="${TOP - 14}" class="head">ws server CPU per op ÷ server CPU per op</text>`,
    `<text x="20" y="${height - 8}" class="sub">log scale; dashed line = ws (1x), bars to the right = better than ws. fd = fullduplex; raw = bare node:net echo, the ceiling; whiskers = range over runs.</text>`,
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">`,
    `<style>.title{font-size:17px;font-weight:600}.sub{font-size:12px;fill:#555}.head{font-size:13px;font-weight:600}` +
      `.label{font-size:12px}.value{font-size:11px;fill:#333}.tick{font-size:11px;fill:#666}.grid{stroke:#e4e4e4}` +
      `.ws{stroke:#d33;stroke-dasharray:4 3}.sep{stroke:#f0f0f0}.whisker{stroke:#222;fill:none}</style>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...header,
    ...axes,
    ...parts,
    `</svg>`,
    '',
  ].join('\n');
}
