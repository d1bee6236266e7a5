/**
 * How results are shown: live progress and a compact summary table for the terminal, and a
 * report directory with `index.json` (everything, machine-readable) and `index.html` (the same
 * for people: self-contained, no external assets, every value escaped).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SECTIONS, sectionOf } from './cases/index.js';
import type { CaseResult, RunReport, Verdict } from './types.js';
import { VERDICTS } from './types.js';

const ANSI: Record<Verdict, string> = { OK: '32', 'NON-STRICT': '33', INFORMATIONAL: '36', UNIMPLEMENTED: '90', FAILED: '31' };
const HTML_COLOURS: Record<Verdict, string> = { OK: '#2e9e44', 'NON-STRICT': '#c89200', INFORMATIONAL: '#2b7bb9', UNIMPLEMENTED: '#8a8a8a', FAILED: '#d2322d' };
const SHORT: Record<Verdict, string> = { OK: 'OK', 'NON-STRICT': 'NON-STRICT', INFORMATIONAL: 'INFO', UNIMPLEMENTED: 'UNIMPL', FAILED: 'FAILED' };

/** Counts per verdict. */
export function countVerdicts(results: CaseResult[]): Record<Verdict, number> {
  const counts = { OK: 0, 'NON-STRICT': 0, INFORMATIONAL: 0, UNIMPLEMENTED: 0, FAILED: 0 };
  for (const r of results) counts[r.verdict]++;
  return counts;
}

/** Results grouped by section, in order of first appearance. */
export function bySection(results: CaseResult[]): Map<string, CaseResult[]> {
  const groups = new Map<string, CaseResult[]>();
  for (const r of results) {
    const key = sectionOf(r.id);
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(r);
  }
  return groups;
}

/** Writes terminal output: a progress line per case on a TTY, a line per finished section otherwise. */
export class TerminalReporter {
  private readonly colour: boolean;
  private readonly tty: boolean;
  private section: string | null = null;
  private sectionResults: CaseResult[] = [];

  constructor(private readonly out: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean } = process.stdout) {
    this.tty = out.isTTY === true;
    this.colour = this.tty && !process.env.NO_COLOR;
  }

  /** Marks the start of a case (TTY: shows what is running). */
  caseStarted(id: string, index: number, total: number): void {
    if (this.tty) this.out.write(`\r\x1b[2K[${String(index + 1).padStart(String(total).length)}/${total}] ${id} …`);
  }

  /** Records a finished case. */
  caseDone(result: CaseResult, index: number, total: number): void {
    const section = sectionOf(result.id);
    if (this.section !== null && section !== this.section) this.flushSection();
    this.section = section;
    this.sectionResults.push(result);
    if (this.tty) this.out.write(`\r\x1b[2K[${String(index + 1).padStart(String(total).length)}/${total}] ${result.id} ${this.paint(result.verdict, SHORT[result.verdict])}`);
    if (result.verdict === 'FAILED') {
      if (this.tty) this.out.write('\r\x1b[2K');
      this.out.write(`  ${this.paint('FAILED', 'FAILED')} ${result.id}: ${result.reason}\n`);
    }
    if (index === total - 1) this.flushSection();
  }

  /** Prints the summary table, the cases that were not OK, and the bottom line. */
  summary(report: RunReport): void {
    const rows = [...bySection(report.results)].map(([section, results]) => ({ section, results, counts: countVerdicts(results) }));
    const total = countVerdicts(report.results);
    const head = `${'Section'.padEnd(50)}${'Cases'.padStart(6)}${VERDICTS.map((v) => SHORT[v].padStart(11)).join('')}`;
    this.out.write(`\n${head}\n${'-'.repeat(head.length)}\n`);
    for (const row of rows) {
      const name = `${row.section.padEnd(4)}${SECTIONS[row.section] ?? ''}`.slice(0, 49).padEnd(50);
      this.out.write(`${name}${String(row.results.length).padStart(6)}${VERDICTS.map((v) => this.cell(v, row.counts[v])).join('')}\n`);
    }
    this.out.write(`${'-'.repeat(head.length)}\n${'Total'.padEnd(50)}${String(report.results.length).padStart(6)}${VERDICTS.map((v) => this.cell(v, total[v])).join('')}\n`);
    const notable = report.results.filter((r) => r.verdict !== 'OK' && r.verdict !== 'UNIMPLEMENTED');
    if (notable.length > 0) {
      this.out.write('\nNot OK:\n');
      for (const r of notable) this.out.write(`  ${r.id.padEnd(8)} ${this.paint(r.verdict, SHORT[r.verdict].padEnd(10))} ${r.reason.length > 160 ? `${r.reason.slice(0, 157)}...` : r.reason}\n`);
    }
    const failed = total.FAILED;
    const verdict = failed === 0 ? this.paint('OK', 'PASSED') : this.paint('FAILED', 'FAILED');
    this.out.write(`\n${verdict}: ${failed} FAILED, ${total.OK} OK, ${total['NON-STRICT']} NON-STRICT, ${total.INFORMATIONAL} INFORMATIONAL, ${total.UNIMPLEMENTED} UNIMPLEMENTED in ${(report.duration / 1000).toFixed(1)} s (${report.target})\n`);
  }

  private flushSection(): void {
    if (this.section === null) return;
    const counts = countVerdicts(this.sectionResults);
    const parts = VERDICTS.filter((v) => counts[v] > 0).map((v) => this.paint(v, `${counts[v]} ${SHORT[v]}`));
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${this.section.padEnd(4)}${(SECTIONS[this.section] ?? '').padEnd(44)}${String(this.sectionResults.length).padStart(4)} cases  ${parts.join(', ')}\n`);
    this.section = null;
    this.sectionResults = [];
  }

  private cell(v: Verdict, n: number): string {
    const text = String(n).padStart(11);
    return n > 0 && v !== 'OK' ? this.paint(v, text) : text;
  }

  private paint(v: Verdict, text: string): string {
    return this.colour ? `\x1b[${ANSI[v]}m${text}\x1b[0m` : text;
  }
}

/** Writes `index.json` and `index.html` into `dir` (created if needed). */
export async function writeReport(dir: string, report: RunReport): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'index.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, 'index.html'), renderHtml(report));
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The HTML report: summary per section, then every case with what was sent and received and why. */
export function renderHtml(report: RunReport): string {
  const e = escapeHtml;
  const total = countVerdicts(report.results);
  const badge = (v: Verdict): string => `<span class="v" style="background:${HTML_COLOURS[v]}">${e(v)}</span>`;
  const sections = [...bySection(report.results)];
  const summaryRows = sections
    .map(([section, results]) => {
      const counts = countVerdicts(results);
      const worst = [...VERDICTS].reverse().find((v) => counts[v] > 0 && v !== 'UNIMPLEMENTED' && v !== 'INFORMATIONAL') ?? 'OK';
      return `<tr><td><a href="#s-${e(section)}">${e(section)}</a></td><td>${e(SECTIONS[section] ?? '')}</td><td class="n">${results.length}</td>${VERDICTS.map(
        (v) => `<td class="n"${counts[v] > 0 ? ` style="color:${HTML_COLOURS[v]};font-weight:bold"` : ''}>${counts[v]}</td>`,
      ).join('')}<td>${badge(worst)}</td></tr>`;
    })
    .join('\n');
  const caseBlocks = sections
    .map(([section, results]) => {
      const items = results
        .map((r) => {
          const transcript = r.log.map((l) => `${String(l.at).padStart(6)} ms ${l.dir} ${l.text}`).join('\n');
          return `<details id="c-${e(r.id)}"${r.verdict === 'FAILED' ? ' open' : ''}><summary>${badge(r.verdict)} <b>${e(r.id)}</b> ${e(r.description)} <span class="d">${r.duration} ms</span></summary>
<dl><dt>Expectation</dt><dd>${e(r.expectation)}</dd><dt>Verdict</dt><dd>${badge(r.verdict)} ${e(r.reason)}</dd>
<dt>Observed events</dt><dd>${r.received.length === 0 ? '<i>none</i>' : `<ul>${r.received.map((x) => `<li><code>${e(x)}</code></li>`).join('')}</ul>`}</dd>
<dt>Close</dt><dd>${r.closedBy === null ? 'nobody closed' : `closed by the ${e(r.closedBy)}`}${r.remoteCloseCode !== null ? `, target's close code ${r.remoteCloseCode}` : ''}</dd>
<dt>Transcript (&gt; sent, &lt; received, * note)</dt><dd><pre>${e(transcript)}</pre></dd></dl></details>`;
        })
        .join('\n');
      return `<h2 id="s-${e(section)}">${e(section)} ${e(SECTIONS[section] ?? '')}</h2>\n${items}`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fullduplex conformance: ${e(report.target)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.v{color:#fff;border-radius:3px;padding:0 .4em;font-size:12px;font-weight:bold}
details{border-bottom:1px solid #eee;padding:.2em 0}summary{cursor:pointer}.d{color:#888;font-size:12px}
dl{margin:.5em 0 1em 1.5em}dt{font-weight:bold;margin-top:.4em}dd{margin-left:1em}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px;max-height:30em}code{font-size:12px}
.total{font-size:16px;margin:1em 0}
</style></head><body>
<h1>WebSocket conformance report</h1>
<p>Target ${e(report.mode)}: <code>${e(report.target)}</code> &middot; started ${e(report.startedAt)} &middot; ${(report.duration / 1000).toFixed(1)} s &middot; ${report.results.length} cases</p>
<p class="total">${VERDICTS.map((v) => `${badge(v)} ${total[v]}`).join(' &nbsp; ')}</p>
<p>Verdicts mean what they mean in Autobahn|Testsuite: OK (as the RFC requires), NON-STRICT (acceptable, not the strictest reading), INFORMATIONAL (left open by the RFC), UNIMPLEMENTED (optional feature not offered), FAILED (a MUST broken).</p>
<table><thead><tr><th>Section</th><th></th><th>Cases</th>${VERDICTS.map((v) => `<th>${e(SHORT[v])}</th>`).join('')}<th></th></tr></thead>
<tbody>
${summaryRows}
</tbody></table>
${caseBlocks}
</body></html>
`;
}
