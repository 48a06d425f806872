import { describe, expect, it } from 'vitest';
import {
  backupKeyOfManifest,
  backupObjectKey,
  backupTime,
  incompleteObjectKey,
  isAbandoned,
  manifestKeyOf,
  selectExpired,
  territoryFolder,
} from './naming.ts';

const DAY = 86_400_000;
const at = new Date('2026-11-28T02:00:00.042Z');

describe('backup object names', () => {
  it('puts backups under <prefix>/<territory>/ with a sortable timestamp', () => {
    expect(backupObjectKey('backups', 'rennes-metropole', at)).toBe(
      'backups/rennes-metropole/20261128T020000.042Z.pgdump.enc',
    );
    expect(backupObjectKey('/a/b/', 'rennes', at)).toBe('a/b/rennes/20261128T020000.042Z.pgdump.enc');
    expect(backupObjectKey('', 'rennes', at)).toBe('rennes/20261128T020000.042Z.pgdump.enc');
    expect(incompleteObjectKey('p', 'rennes', at, 'ab12')).toBe(
      'p/rennes/.incomplete/20261128T020000.042Z-ab12.pgdump.enc',
    );
  });

  it('reads the time back, and ignores keys that are not finished backups', () => {
    expect(backupTime(backupObjectKey('p', 'rennes', at))?.toISOString()).toBe(at.toISOString());
    expect(backupTime('p/rennes/notes.txt')).toBeUndefined();
    expect(backupTime('p/rennes/.incomplete/20261128T020000.042Z-ab12.pgdump.enc')).toBeUndefined();
    expect(backupTime('p/rennes/20261399T020000.042Z.pgdump.enc')).toBeUndefined();
  });

  it('sorts lexically in time order', () => {
    const keys = [5, 1, 3].map((d) => backupObjectKey('p', 't', new Date(at.getTime() + d * DAY)));
    expect([...keys].sort()).toEqual(
      [1, 3, 5].map((d) => backupObjectKey('p', 't', new Date(at.getTime() + d * DAY))),
    );
  });

  it('puts a manifest beside its backup, under the same stamp, and is never taken for a backup', () => {
    const key = backupObjectKey('p', 'rennes', at);
    const manifest = manifestKeyOf(key);
    expect(manifest).toBe('p/rennes/20261128T020000.042Z.manifest.enc');
    expect(backupTime(manifest)).toBeUndefined();
    expect(backupKeyOfManifest(manifest)).toBe(key);
    expect(backupKeyOfManifest(key)).toBeUndefined();
    expect(backupKeyOfManifest('p/rennes/notes.manifest.enc')).toBeUndefined();
    expect(() => manifestKeyOf('p/rennes/notes.txt')).toThrow(/not the name of a backup/);
  });

  it('refuses territory names that would escape their folder', () => {
    expect(() => territoryFolder('p', '../other')).toThrow(/not a valid DNS label/);
    expect(() => territoryFolder('p', 'a/b')).toThrow(/not a valid DNS label/);
  });
});

describe('retention', () => {
  const now = new Date('2027-01-10T00:00:00Z');
  const backup = (daysAgo: number) => ({
    key: `k${daysAgo}`,
    takenAt: new Date(now.getTime() - daysAgo * DAY),
  });

  it('selects only backups older than the retention period', () => {
    const all = [backup(1), backup(34), backup(35), backup(35.01), backup(90)];
    expect(selectExpired(all, { now, retentionDays: 35 }).map((b) => b.key)).toEqual(['k35.01', 'k90']);
  });

  it('always keeps the newest backups, even when all are expired', () => {
    const all = [backup(100), backup(200), backup(300)];
    expect(selectExpired(all, { now, retentionDays: 35 }).map((b) => b.key)).toEqual(['k200', 'k300']);
    expect(selectExpired(all, { now, retentionDays: 35, keepAtLeast: 3 })).toEqual([]);
    expect(selectExpired(all, { now, retentionDays: 35, keepAtLeast: 0 })).toHaveLength(3);
  });

  it('treats leftovers of dead uploads as abandoned after a day', () => {
    expect(isAbandoned(new Date(now.getTime() - DAY - 1), now)).toBe(true);
    expect(isAbandoned(new Date(now.getTime() - DAY + 1000), now)).toBe(false);
  });
});
