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

  it('reads a time as the instant it names, and is short enough for a Job name', () => {
    const id = restoreRequestId({ from: 'LogicalBackup', before: '2026-11-01T04:00:00+01:00' });
    expect(id).toBe(restoreRequestId({ from: 'LogicalBackup', before: '2026-11-01T03:00:00.000Z' }));
    expect(id).toMatch(/^[0-9a-f]{10}$/);
    expect(id).not.toBe(restoreRequestId({ from: 'LogicalBackup', before: '2026-11-01T04:00:00Z' }));
  });
});
