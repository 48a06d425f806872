import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../runtime/types.ts';
import { PART_ORDER } from '../../territory/conditions.ts';
import { noStyle, styleFor } from './output.ts';
import { formatStatusTable, statusRow } from './status.ts';

const T = '2026-11-28T10:00:00Z';

function territory(
  name: string,
  conditions: [string, string, string][] | undefined,
  generation = 1,
): KubeObject {
  return {
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'Territory',
    metadata: { name, generation },
    spec: { authority: { kind: 'commune', code: '35001' } },
    ...(conditions
      ? {
          status: {
            observedGeneration: 1,
            authority: { officialName: 'Acigné' },
            conditions: conditions.map(([type, status, reason]) => ({
              type,
              status,
              reason,
              message: `${type} says ${reason}`,
              lastTransitionTime: T,
            })),
          },
        }
      : {}),
  };
}

const allTrue = PART_ORDER.map((p) => [p, 'True', 'Fine'] as [string, string, string]);

describe('status rows', () => {
  it('marks a ready Territory ✓ everywhere with no reason', () => {
    const row = statusRow(territory('ok', [['Ready', 'True', 'Ready'], ...allTrue]));
    expect(row.ready.mark).toBe('ok');
    expect(PART_ORDER.map((p) => row.parts[p].mark)).toEqual(PART_ORDER.map(() => 'ok'));
    expect(row.reason).toBe('');
    expect(row.officialName).toBe('Acigné');
  });

  it('gives the reason of the first failing part; parts blocked behind it are pending, not failed', () => {
    const row = statusRow(
      territory('sov', [
        ['Ready', 'False', 'RegionNotEligible'],
        ['Stalled', 'True', 'RegionNotEligible'],
        ['AuthorityVerified', 'True', 'OfficialCode'],
        ['SovereigntyCompliant', 'False', 'RegionNotEligible'],
        ['NamespaceReady', 'True', 'Isolated'],
        ['KeysReady', 'False', 'Blocked'],
        ['DatabaseReady', 'False', 'Blocked'],
        ['BackupReady', 'False', 'Blocked'],
      ]),
    );
    expect(row.ready.mark).toBe('failed');
    expect(row.parts.SovereigntyCompliant.mark).toBe('failed');
    expect(row.parts.KeysReady.mark).toBe('pending');
    expect(row.reason).toBe('RegionNotEligible');
    expect(row.message).toBe('SovereigntyCompliant: SovereigntyCompliant says RegionNotEligible');
  });

  it('shows a converging Territory as pending, and one never reconciled as NotReconciled', () => {
    const converging = statusRow(
      territory('db', [
        ['Ready', 'False', 'Starting'],
        ['Reconciling', 'True', 'Starting'],
        ['Stalled', 'False', 'Progressing'],
      ]),
    );
    expect(converging.ready.mark).toBe('pending');
    expect(converging.reason).toBe('Starting');
    const fresh = statusRow(territory('new', undefined));
    expect(fresh.ready.mark).toBe('pending');
    expect(fresh.reason).toBe('NotReconciled');
    // Without status, the official name comes from the official geography.
    expect(fresh.officialName).toBe('Acigné');
  });

  it('flags a status older than the spec', () => {
    expect(statusRow(territory('old', [['Ready', 'True', 'Ready'], ...allTrue], 2)).stale).toBe(true);
    expect(statusRow(territory('old', [['Ready', 'True', 'Ready'], ...allTrue], 1)).stale).toBe(false);
  });
});

describe('status table', () => {
  const rows = [
    statusRow(territory('acigne', [['Ready', 'True', 'Ready'], ...allTrue])),
    statusRow(territory('new', undefined)),
  ];

  it('has one column per part and aligned columns', () => {
    const lines = formatStatusTable(rows, noStyle).trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^NAME +AUTHORITY +OFFICIAL NAME +READY +VERIFIED +SOVEREIGN +NAMESPACE +KEYS +DATABASE +BACKUP +REASON$/,
    );
    expect(lines[1]).toMatch(/^acigne +commune 35001 +Acigné +✓ +✓ +✓ +✓ +✓ +✓ +✓$/);
    expect(lines[2]).toMatch(/^new +commune 35001 +Acigné +… +… +… +… +… +… +… +NotReconciled$/);
    const readyColumn = lines[0]?.indexOf('READY');
    expect(lines[1]?.indexOf('✓')).toBe(readyColumn);
  });

  it('uses colours only on a terminal, and never with NO_COLOR', () => {
    expect(formatStatusTable(rows, styleFor({ isTTY: false }, {}))).not.toContain('\u001b[');
    expect(formatStatusTable(rows, styleFor({ isTTY: true }, {}))).toContain('\u001b[32m✓');
    expect(formatStatusTable(rows, styleFor({ isTTY: true }, { NO_COLOR: '1' }))).not.toContain('\u001b[');
  });
});
