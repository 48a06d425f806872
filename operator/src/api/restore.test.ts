import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RestoreSpec, restoreRequestId } from './restore.ts';
import { parseTerritory } from './territory.ts';
import { mergePatch, minimalTerritory } from './test-fixtures.ts';

const withRestore = (name: string, restore: Record<string, unknown>) =>
  mergePatch(minimalTerritory(name), { spec: { restore } as never });

describe('spec.restore', () => {
  it('is absent by default, and takes the latest backup when only its source is given', () => {
    const none = parseTerritory(minimalTerritory('rennes'));
    expect(none.ok && none.territory.spec.restore).toBeUndefined();
    const latest = parseTerritory(withRestore('rennes', { from: 'LogicalBackup' }));
    expect(latest.ok ? latest.territory.spec.restore : latest.errors).toEqual({ from: 'LogicalBackup' });
  });

  it("accepts a named backup or a time, another Territory's backups, and the Territory's own name as confirmation", () => {
    for (const restore of [
      { from: 'LogicalBackup', backup: '20261101T020000.000Z.pgdump.enc' },
      { from: 'LogicalBackup', before: '2026-11-01T03:00:00+01:00', sourceTerritory: 'rennes-ancien' },
      { from: 'LogicalBackup', replaceExistingData: 'rennes' },
    ]) {
      const result = parseTerritory(withRestore('rennes', restore));
      expect(result.ok ? result.territory.spec.restore : result.errors).toEqual(restore);
    }
  });

  it('refuses a backup and a time together, and a confirmation naming another Territory', () => {
    const both = parseTerritory(
      withRestore('rennes', {
        from: 'LogicalBackup',
        backup: '20261101T020000.000Z.pgdump.enc',
        before: '2026-11-01T03:00:00Z',
      }),
    );
    expect(both.ok ? [] : both.errors).toEqual(['spec.restore.before: give backup or before, not both']);
    const other = parseTerritory(
      withRestore('rennes', { from: 'LogicalBackup', replaceExistingData: 'nantes' }),
    );
    expect(other.ok ? [] : other.errors).toEqual([
      "spec.restore.replaceExistingData: must be the Territory's own name (metadata.name): it confirms that the restore may replace the data of this very Territory",
    ]);
  });
});

describe('spec.restore from PointInTime', () => {
  const physical = { backup: { physical: { enabled: true, encryption: 'ProviderManaged' } } };
  const withRecovery = (restore: Record<string, unknown>, over: Record<string, unknown> = physical) =>
    mergePatch(minimalTerritory('rennes'), { spec: { restore, ...over } as never });
  const errors = (manifest: unknown) => {
    const result = parseTerritory(manifest);
    return result.ok ? [] : result.errors;
  };

  it('takes a target time, with or without the confirmation, when physical backups are on', () => {
    for (const restore of [
      { from: 'PointInTime', targetTime: '2026-11-01T03:00:00+01:00' },
      { from: 'PointInTime', targetTime: '2026-11-01T03:00:00.123456Z', replaceExistingData: 'rennes' },
    ]) {
      const result = parseTerritory(withRecovery(restore));
      expect(result.ok ? result.territory.spec.restore : result.errors).toEqual(restore);
    }
  });

  it('needs the target time, and no field of a logical restore', () => {
    expect(errors(withRecovery({ from: 'PointInTime' }))).toEqual([
      'spec.restore.targetTime: from: PointInTime needs targetTime, the instant to recover the database to',
    ]);
    expect(
      errors(
        withRecovery({
          from: 'PointInTime',
          targetTime: '2026-11-01T03:00:00Z',
          backup: '20261101T020000.000Z.pgdump.enc',
          sourceTerritory: 'rennes-ancien',
        }),
      ),
    ).toEqual([
      "spec.restore.backup: backup goes with from: LogicalBackup only (PointInTime recovers this Territory's own physical backups to targetTime)",
      "spec.restore.sourceTerritory: sourceTerritory goes with from: LogicalBackup only (PointInTime recovers this Territory's own physical backups to targetTime)",
    ]);
    expect(
      errors(
        withRecovery({
          from: 'PointInTime',
          targetTime: '2026-11-01T03:00:00Z',
          before: '2026-11-01T03:00:00Z',
        }),
      ),
    ).toEqual([
      "spec.restore.before: before goes with from: LogicalBackup only (PointInTime recovers this Territory's own physical backups to targetTime)",
    ]);
  });

  it('refuses a target time on a logical restore', () => {
    expect(errors(withRecovery({ from: 'LogicalBackup', targetTime: '2026-11-01T03:00:00Z' }))).toEqual([
      'spec.restore.targetTime: targetTime goes with from: PointInTime only (a LogicalBackup restore picks its backup with before)',
    ]);
  });

  it('is refused while physical backups are off (the default), and so on SecNumCloud', () => {
    const needs =
      'spec.restore.from: PointInTime recovers from the physical backups, so it needs spec.backup.physical.enabled: true ' +
      '(refused with hosting level secnumcloud, as physical backups are)';
    const recovery = { from: 'PointInTime', targetTime: '2026-11-01T03:00:00Z' };
    expect(errors(withRecovery(recovery, {}))).toEqual([needs]);
    expect(errors(withRecovery(recovery, { backup: { physical: { enabled: false } } }))).toEqual([needs]);
    const secnumcloud = errors(withRecovery(recovery, { hosting: { level: 'secnumcloud' } }));
    expect(secnumcloud).toContain(needs);
  });
});

describe('which fields go with which source (property)', () => {
  const draw = fc.record({
    restore: fc.record(
      {
        from: fc.constantFrom('LogicalBackup', 'PointInTime'),
        targetTime: fc.constant('2026-11-01T03:00:00Z'),
        backup: fc.constant('20261101T020000.000Z.pgdump.enc'),
        before: fc.constant('2026-11-01T03:00:00Z'),
        sourceTerritory: fc.constant('rennes-ancien'),
        replaceExistingData: fc.constant('rennes'),
      },
      { requiredKeys: ['from'] },
    ),
    physical: fc.boolean(),
  });

  it('accepts a request exactly when its fields fit its source', () => {
    fc.assert(
      fc.property(draw, ({ restore, physical }) => {
        const has = (field: string) => field in restore;
        const fits =
          restore.from === 'PointInTime'
            ? has('targetTime') && !has('backup') && !has('before') && !has('sourceTerritory') && physical
            : !has('targetTime') && !(has('backup') && has('before'));
        const manifest = mergePatch(minimalTerritory('rennes'), {
          spec: {
            restore,
            backup: {
              physical: physical ? { enabled: true, encryption: 'ProviderManaged' } : { enabled: false },
            },
          } as never,
        });
        const result = parseTerritory(manifest);
        expect(result.ok, JSON.stringify(result.ok ? restore : result.errors)).toBe(fits);
      }),
    );
  });
});

describe('restoreRequestId', () => {
  const request = fc.record(
    {
      from: fc.constant('LogicalBackup' as const),
      backup: fc.constantFrom('20261101T020000.000Z.pgdump.enc', '20261102T020000.000Z.pgdump.enc'),
      sourceTerritory: fc.constantFrom('rennes', 'nantes'),
      replaceExistingData: fc.constantFrom('rennes', 'nantes'),
    },
    { requiredKeys: ['from'] },
  );

  it('is the same whatever the order of the fields', () => {
    fc.assert(
      fc.property(request, (r) => {
        const reversed = Object.fromEntries(Object.entries(r).reverse()) as RestoreSpec;
        expect(restoreRequestId(reversed)).toBe(restoreRequestId(r));
      }),
    );
  });

  it('differs for requests that differ in any field', () => {
    fc.assert(
      fc.property(request, request, (a, b) => {
        const same = JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
        expect(restoreRequestId(a) === restoreRequestId(b)).toBe(same);
      }),
    );
  });

  it('keeps the ids of existing requests: a changed id would run a restore that Succeeded once more', () => {
    // Computed on the code of aba2714 (before targetTime existed); they must never change.
    expect(restoreRequestId({ from: 'LogicalBackup' })).toBe('9aebf03809');
    expect(
      restoreRequestId({
        from: 'LogicalBackup',
        before: '2026-11-01T03:00:00Z',
        sourceTerritory: 'rennes-ancien',
        replaceExistingData: 'rennes',
      }),
    ).toBe('159f136157');
  });

  it('gives a point-in-time recovery an id of its own, one per target instant', () => {
    const recovery = (targetTime: string) =>
      restoreRequestId({ from: 'PointInTime', targetTime, replaceExistingData: 'rennes' });
    const id = recovery('2026-11-01T03:00:00Z');
    expect(id).toMatch(/^[0-9a-f]{10}$/);
    expect(id).not.toBe(restoreRequestId({ from: 'LogicalBackup', replaceExistingData: 'rennes' }));
    expect(id).not.toBe(restoreRequestId({ from: 'PointInTime', replaceExistingData: 'rennes' }));
    expect(id).not.toBe(recovery('2026-11-01T03:00:01Z'));
    expect(id).toBe(recovery('2026-11-01T04:00:00.000+01:00'));
  });

  it('reads a time as the instant it names, and is short enough for a Job name', () => {
    const id = restoreRequestId({ from: 'LogicalBackup', before: '2026-11-01T04:00:00+01:00' });
    expect(id).toBe(restoreRequestId({ from: 'LogicalBackup', before: '2026-11-01T03:00:00.000Z' }));
    expect(id).toMatch(/^[0-9a-f]{10}$/);
    expect(id).not.toBe(restoreRequestId({ from: 'LogicalBackup', before: '2026-11-01T04:00:00Z' }));
  });
});
