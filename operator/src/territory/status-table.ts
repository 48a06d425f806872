// A plain-text table of Territories and the health of each part, for `npm start` and humans.
import type { KubeObject } from '../runtime/types.ts';
import { PART_ORDER } from './conditions.ts';

type Cond = { type: string; status: string; reason?: string };

const SHORT: Record<string, string> = {
  AuthorityVerified: 'AUTH',
  SovereigntyCompliant: 'SOV',
  NamespaceReady: 'NS',
  KeysReady: 'KEYS',
  DatabaseReady: 'DB',
  BackupReady: 'BACKUP',
};

const mark = (c: Cond | undefined) =>
  !c ? '·' : c.status === 'True' ? '✓' : c.status === 'False' ? '✗' : '?';

export function formatStatusTable(territories: KubeObject[]): string {
  const header = ['NAME', 'READY', ...PART_ORDER.map((p) => SHORT[p] ?? p), 'REASON'];
  const rows = territories
    .slice()
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
    .map((t) => {
      const conditions = ((t.status as { conditions?: Cond[] } | undefined)?.conditions ?? []) as Cond[];
      const byType = new Map(conditions.map((c) => [c.type, c]));
      const ready = byType.get('Ready');
      return [
        t.metadata.name ?? '',
        ready?.status ?? 'Unknown',
        ...PART_ORDER.map((p) => mark(byType.get(p))),
        ready?.status === 'True' ? '' : (ready?.reason ?? 'Pending'),
      ];
    });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One line per Territory that is not Ready: its Ready message, which says what to do next. */
export function formatNextSteps(territories: KubeObject[]): string {
  return territories
    .map((t) => {
      const conditions =
        (t.status as { conditions?: (Cond & { message?: string })[] } | undefined)?.conditions ?? [];
      const ready = conditions.find((c) => c.type === 'Ready');
      return ready && ready.status !== 'True'
        ? `  ${t.metadata.name}: ${ready.message ?? ready.reason}`
        : undefined;
    })
    .filter((line): line is string => line !== undefined)
    .join('\n');
}
