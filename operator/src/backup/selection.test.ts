import { describe, expect, it } from 'vitest';
import { BACKUP_NAME, describeChoice, selectBackup } from './selection.ts';

const at = (iso: string) => ({
  key: `p/t/${iso.replace(/[-:]/g, '')}.pgdump.enc`,
  takenAt: new Date(iso),
});
const backups = [
  at('2026-11-03T02:00:00.000Z'),
  at('2026-11-01T02:00:00.000Z'),
  at('2026-11-02T02:00:00.000Z'),
];

describe('selectBackup', () => {
  it('takes the latest, whatever the listing order', () => {
    expect(selectBackup(backups, { latest: true })).toBe('p/t/20261103T020000.000Z.pgdump.enc');
  });

  it('takes the latest taken at or before a time (the bound included)', () => {
    expect(selectBackup(backups, { before: new Date('2026-11-02T02:00:00Z') })).toBe(
      'p/t/20261102T020000.000Z.pgdump.enc',
    );
    expect(selectBackup(backups, { before: new Date('2026-11-02T01:59:59.999Z') })).toBe(
      'p/t/20261101T020000.000Z.pgdump.enc',
    );
    expect(selectBackup(backups, { before: new Date('2026-10-31T00:00:00Z') })).toBeUndefined();
  });

  it('finds a named backup by its name or its full key, and nothing else', () => {
    expect(selectBackup(backups, { object: '20261101T020000.000Z.pgdump.enc' })).toBe(
      'p/t/20261101T020000.000Z.pgdump.enc',
    );
    expect(selectBackup(backups, { object: 'p/t/20261102T020000.000Z.pgdump.enc' })).toBe(
      'p/t/20261102T020000.000Z.pgdump.enc',
    );
    expect(selectBackup(backups, { object: '20261104T020000.000Z.pgdump.enc' })).toBeUndefined();
  });

  it('finds nothing in an empty folder', () => {
    expect(selectBackup([], { latest: true })).toBeUndefined();
  });

  it('says what it looked for', () => {
    expect(describeChoice({ before: new Date('2026-11-02T00:00:00Z') })).toBe(
      'the latest backup taken at or before 2026-11-02T00:00:00.000Z',
    );
    expect(BACKUP_NAME.test('20261101T020000.000Z.pgdump.enc')).toBe(true);
    expect(BACKUP_NAME.test('20261101T020000.000Z.manifest.enc')).toBe(false);
  });
});
