// Output helpers shared by the subcommands: machine formats (JSON, YAML), aligned tables, and
// colours that only appear on a terminal (never in pipes, files or when NO_COLOR is set).
import { stringify as toYaml } from 'yaml';
import { CliError, EXIT } from './errors.ts';

export type DataFormat = 'json' | 'yaml';

/** Checks an `-o` value against the formats a command supports, with an error that lists them. */
export function outputFormat<T extends string>(value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new CliError(`unknown output format "${value}"`, {
    hint: `use -o ${allowed.join('|')}`,
    exitCode: EXIT.usage,
  });
}

export function formatData(value: unknown, format: DataFormat): string {
  if (format === 'json') return `${JSON.stringify(value, null, 2)}\n`;
  // lineWidth 0: never fold long strings, so the output diffs cleanly and round-trips.
  return toYaml(value, { lineWidth: 0 });
}

export interface Style {
  ok(text: string): string;
  bad(text: string): string;
  pending(text: string): string;
  bold(text: string): string;
  dim(text: string): string;
}

const plain: Style = { ok: (t) => t, bad: (t) => t, pending: (t) => t, bold: (t) => t, dim: (t) => t };

const sgr = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const coloured: Style = {
  ok: sgr(32, 39),
  bad: sgr(31, 39),
  pending: sgr(33, 39),
  bold: sgr(1, 22),
  dim: sgr(2, 22),
};

/** Colours for a stream: only a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const wanted = stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
  return wanted ? coloured : plain;
}

export const noStyle = plain;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
const ANSI = /\u001b\[[0-9;]*m/g;

/** Width of a cell as a terminal shows it: escape sequences take no room. */
export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

/** A left-aligned table with two spaces between columns, like kubectl's. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) =>
    Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleWidth(cell)),
      )
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}
