// Figures measured by the e2e suite (time to Ready, backup size, failover time, build durations),
// gathered across test files into one report: each figure is a JSON line appended to figures.jsonl
// in the run's results folder; the global teardown turns them into report.json and report.md.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Figure {
  /** Section of the report, e.g. "time to Ready". */
  section: string;
  /** What was measured, e.g. a Territory's name. */
  subject: string;
  value: number;
  unit: 's' | 'ms' | 'bytes' | 'count';
  note?: string;
}

const FIGURES = 'figures.jsonl';

export function recordFigure(resultsDir: string, figure: Figure): void {
  appendFileSync(join(resultsDir, FIGURES), `${JSON.stringify(figure)}\n`);
}

export function readFigures(resultsDir: string): Figure[] {
  const file = join(resultsDir, FIGURES);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Figure);
}

function formatValue(f: Figure): string {
  if (f.unit === 'bytes')
    return f.value >= 1024 * 1024
      ? `${(f.value / 1024 / 1024).toFixed(1)} MiB`
      : `${(f.value / 1024).toFixed(1)} KiB`;
  if (f.unit === 's') return `${f.value.toFixed(1)} s`;
  if (f.unit === 'ms') return `${Math.round(f.value)} ms`;
  return String(f.value);
}

export function writeReport(
  resultsDir: string,
  context: Record<string, string>,
): { json: string; markdown: string } {
  const figures = readFigures(resultsDir);
  const json = join(resultsDir, 'report.json');
  const markdown = join(resultsDir, 'report.md');
  writeFileSync(json, `${JSON.stringify({ context, figures }, null, 2)}\n`);
  const sections = [...new Set(figures.map((f) => f.section))];
  const lines = [
    '# Territory e2e report',
    '',
    ...Object.entries(context).map(([k, v]) => `- ${k}: ${v}`),
    '',
  ];
  for (const section of sections) {
    lines.push(`## ${section}`, '', '| subject | value | note |', '|---|---|---|');
    for (const f of figures.filter((x) => x.section === section)) {
      lines.push(`| ${f.subject} | ${formatValue(f)} | ${f.note ?? ''} |`);
    }
    lines.push('');
  }
  writeFileSync(markdown, `${lines.join('\n')}\n`);
  return { json, markdown };
}
