// `territoryctl status [NAME]`: every Territory with the health of each part of its stack, and the
// reason of the first part that fails (what to fix first: parts are listed in the order the
// operator reconciles them, so a later part often only waits on an earlier one).
import { Command, Option } from 'commander';
import { lookupAuthority } from '../../api/geography.ts';
import type { AuthorityKind, Condition } from '../../api/territory.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { PART_ORDER, type RequiredPart } from '../../territory/conditions.ts';
import { type ClusterOptions, connect, getTerritory, listTerritories } from './cluster.ts';
import { formatData, formatTable, outputFormat, type Style, styleFor } from './output.ts';

type PartType = RequiredPart;

/** ✓ done, ✗ failed (needs a fix), … not there yet (waiting on an earlier part, or no status yet). */
export type Mark = 'ok' | 'failed' | 'pending';

export interface PartState {
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  mark: Mark;
}

export interface StatusRow {
  name: string;
  authority: { kind: string; code: string };
  officialName: string;
  ready: PartState;
  parts: Record<PartType, PartState>;
  /** Reason of the first failing part, else of Ready when it is not True; empty when Ready. */
  reason: string;
  message: string;
  /** The status describes an older spec: the operator has not caught up (or is not running). */
  stale: boolean;
}

export const PART_COLUMNS: Record<PartType, string> = {
  AuthorityVerified: 'VERIFIED',
  SovereigntyCompliant: 'SOVEREIGN',
  NamespaceReady: 'NAMESPACE',
  KeysReady: 'KEYS',
  DatabaseReady: 'DATABASE',
  BackupReady: 'BACKUP',
};

interface RawTerritory {
  metadata: { name?: string; generation?: number };
  spec?: { authority?: { kind?: string; code?: string; displayName?: string } };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    authority?: { officialName?: string };
  };
}

function partMark(c: Condition | undefined): Mark {
  if (!c || c.status === 'Unknown') return 'pending';
  if (c.status === 'True') return 'ok';
  // Parts after a failing one are reported False/Blocked by the operator: they wait, they did not fail.
  return c.reason === 'Blocked' ? 'pending' : 'failed';
}

function state(c: Condition | undefined, mark: Mark): PartState {
  return c ? { status: c.status, reason: c.reason, message: c.message, mark } : { status: 'Unknown', mark };
}

function officialNameOf(t: RawTerritory): string {
  const fromStatus = t.status?.authority?.officialName;
  if (fromStatus) return fromStatus;
  const a = t.spec?.authority;
  if (a?.kind && a.code) {
    const found = lookupAuthority(a.kind as AuthorityKind, a.code, a.displayName);
    if (found.found) return found.officialName;
  }
  return a?.displayName ?? '';
}

/** One row of the table from a Territory as the API server returns it. Pure. */
export function statusRow(object: KubeObject): StatusRow {
  const t = object as unknown as RawTerritory;
  const conditions = t.status?.conditions ?? [];
  const byType = new Map(conditions.map((c) => [c.type, c]));
  const parts = Object.fromEntries(
    PART_ORDER.map((type) => {
      const c = byType.get(type);
      return [type, state(c, partMark(c))];
    }),
  ) as Record<PartType, PartState>;
  const readyCondition = byType.get('Ready');
  const stalled = byType.get('Stalled')?.status === 'True';
  const readyMark: Mark =
    readyCondition?.status === 'True'
      ? 'ok'
      : readyCondition?.status === 'False' && stalled
        ? 'failed'
        : 'pending';
  const ready = state(readyCondition, readyMark);
  const firstFailing = PART_ORDER.map((type) => byType.get(type)).find((c) => c && partMark(c) === 'failed');
  let reason = '';
  let message = '';
  if (firstFailing) {
    reason = firstFailing.reason;
    message = `${firstFailing.type}: ${firstFailing.message}`;
  } else if (readyCondition && readyCondition.status !== 'True') {
    reason = readyCondition.reason;
    message = readyCondition.message;
  } else if (!readyCondition) {
    reason = 'NotReconciled';
    message = 'no status yet: is the operator running? (`territoryctl doctor` checks)';
  }
  const generation = t.metadata.generation;
  const observed = t.status?.observedGeneration;
  return {
    name: t.metadata.name ?? '',
    authority: { kind: t.spec?.authority?.kind ?? '', code: t.spec?.authority?.code ?? '' },
    officialName: officialNameOf(t),
    ready,
    parts,
    reason,
    message,
    stale: readyCondition !== undefined && generation !== undefined && observed !== generation,
  };
}

function markText(mark: Mark, style: Style): string {
  if (mark === 'ok') return style.ok('✓');
  if (mark === 'failed') return style.bad('✗');
  return style.pending('…');
}

export function formatStatusTable(rows: StatusRow[], style: Style): string {
  const headers = [
    'NAME',
    'AUTHORITY',
    'OFFICIAL NAME',
    'READY',
    ...PART_ORDER.map((p) => PART_COLUMNS[p]),
    'REASON',
  ];
  const body = rows.map((r) => [
    r.name,
    `${r.authority.kind} ${r.authority.code}`,
    r.officialName,
    markText(r.ready.mark, style),
    ...PART_ORDER.map((p) => markText(r.parts[p].mark, style)),
    r.stale ? `${r.reason}${r.reason ? ' ' : ''}${style.dim('(status of an older generation)')}` : r.reason,
  ]);
  return formatTable(headers, body);
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show every Territory with the health of each part and the reason of the first failure')
    .argument('[name]', 'only this Territory')
    .addOption(new Option('-o, --output <format>', 'table, json or yaml').default('table'))
    .addHelpText('after', '\nMarks: ✓ ready, ✗ failed (needs a fix), … not yet (waiting on an earlier part).')
    .action(async (name: string | undefined, o: { output: string }, command: Command) => {
      const format = outputFormat(o.output, ['table', 'json', 'yaml'] as const);
      const kube = await connect(command.optsWithGlobals<ClusterOptions>());
      try {
        const objects = name ? [await getTerritory(kube, name)] : await listTerritories(kube);
        const rows = objects.map(statusRow);
        if (format !== 'table') {
          process.stdout.write(formatData(name ? rows[0] : rows, format));
          return;
        }
        if (rows.length === 0) {
          process.stderr.write('No Territories on this cluster.\n');
          return;
        }
        process.stdout.write(formatStatusTable(rows, styleFor(process.stdout)));
      } finally {
        await kube.close();
      }
    });
}
