import { describe, expect, it } from 'vitest';
import {
  formatMarker,
  parseMarker,
  RESTORE_EXIT,
  RestoreIntoError,
  type RestoreIntoResult,
  terminationOf,
} from './restore-into.ts';

const result: RestoreIntoResult = {
  result: 'mismatch',
  key: 'p/rennes/20261101T020000.000Z.pgdump.enc',
  takenAt: '2026-11-01T02:00:00.000Z',
  keyId: 'k1',
  source: 'rennes',
  database: 'rennes',
  replaced: true,
  tables: 4,
  rows: 120,
  mismatches: [{ table: 'public."dossiers médicaux"', expected: { rows: 2, checksum: '1' } }],
  untouched: ['public.secret_table_name'],
  seconds: 3,
};

describe('the termination message', () => {
  it('carries counts and the backup name, never a table name', () => {
    const message = terminationOf(result);
    expect(message).toEqual({
      result: 'mismatch',
      backup: '20261101T020000.000Z.pgdump.enc',
      takenAt: '2026-11-01T02:00:00.000Z',
      source: 'rennes',
      tables: 4,
      rows: 120,
      mismatches: 1,
      untouched: 1,
      replaced: true,
    });
    expect(JSON.stringify(message)).not.toMatch(/dossiers|secret_table_name/);
  });

  it('carries the outcome of a failure, and never its message (pg_restore may quote a row)', () => {
    const refused = new RestoreIntoError(RESTORE_EXIT.notEmpty, 'refused', 'database holds public.patients');
    refused.key = 'p/rennes/20261101T020000.000Z.pgdump.enc';
    expect(terminationOf(refused)).toEqual({ result: 'refused', backup: '20261101T020000.000Z.pgdump.enc' });
    expect(terminationOf(new Error('COPY patients, line 1: "Jean Dupont"'))).toEqual({ result: 'error' });
    expect(RESTORE_EXIT).toEqual({ mismatch: 4, unrestorable: 5, noBackup: 6, notEmpty: 7 });
  });
});

describe('the request recorded in the database', () => {
  const marker = {
    request: '0a1b2c3d4e',
    backup: '20261101T020000.000Z.pgdump.enc',
    source: 'rennes',
    at: '2026-11-02T10:00:00.000Z',
  };

  it('reads back what it wrote, and nothing else', () => {
    expect(parseMarker(formatMarker(marker))).toEqual(marker);
    expect(parseMarker('')).toBeUndefined();
    expect(parseMarker('la base des cantines')).toBeUndefined();
    expect(parseMarker(`${formatMarker(marker)} and more`)).toBeUndefined();
  });
});
