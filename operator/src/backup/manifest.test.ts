import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHECKSUM_ALGORITHM } from './checksum-sql.ts';
import { BackupFormatError, EncryptStream } from './format.ts';
import { newManifest, openManifest, sealManifest } from './manifest.ts';
import { compareChecksums, type DatabaseChecksums, LARGE_OBJECTS } from './table-checksums.ts';

const dataKey = randomBytes(32);
const otherKey = randomBytes(32);
const binding = { territory: 'rennes', takenAt: new Date('2026-11-01T02:00:00.000Z') };
const checksums: DatabaseChecksums = {
  algorithm: CHECKSUM_ALGORITHM,
  server: { versionNum: 170002, encoding: 'UTF8' },
  roles: ['purpose_cantine'],
  tables: [
    { schema: 'public', name: 'communes', rows: 3, checksum: '-123' },
    { schema: 'public', name: 'vide', rows: 0, checksum: '0' },
  ],
  largeObjects: { count: 1, checksum: '42' },
};
const manifest = newManifest(checksums, { ciphertextSha256: 'ab'.repeat(32), plaintextBytes: 1234 });
const seal = () => sealManifest(manifest, { keyId: 'k1', dataKey, binding, randomBytes });

describe('the backup manifest', () => {
  it('is sealed like a dump (no table name in clear) and opens with the same key and binding', async () => {
    const sealed = await seal();
    expect(sealed.subarray(0, 8).toString('ascii')).toBe('TERRBK01');
    expect(sealed.includes(Buffer.from('communes'))).toBe(false);
    expect(await openManifest(sealed, { resolveKey: () => dataKey, expect: binding })).toEqual(manifest);
  });

  it('refuses another key, another binding, a flipped byte', async () => {
    const sealed = await seal();
    await expect(openManifest(sealed, { resolveKey: () => otherKey, expect: binding })).rejects.toThrow(
      /wrong key/,
    );
    await expect(
      openManifest(sealed, { resolveKey: () => dataKey, expect: { ...binding, territory: 'brest' } }),
    ).rejects.toThrow(/copied or renamed/);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 20] = (flipped[flipped.length - 20] ?? 0) ^ 1;
    await expect(openManifest(flipped, { resolveKey: () => dataKey, expect: binding })).rejects.toThrow(
      /tampered/,
    );
  });

  it('refuses an authentic object that is not a manifest (a dump put at its name)', async () => {
    const chunks: Buffer[] = [];
    const enc = new EncryptStream({ keyId: 'k1', dataKey, binding, randomBytes });
    enc.on('data', (c: Buffer) => chunks.push(c));
    enc.end(Buffer.from('PGDMP\x01\x0e\x00'));
    await new Promise((r) => enc.on('end', r));
    const error = await openManifest(Buffer.concat(chunks), {
      resolveKey: () => dataKey,
      expect: binding,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupFormatError);
    expect((error as Error).message).toContain('not a manifest');
  });
});

describe('comparing checksums', () => {
  it('finds nothing when they are equal, in any table order', () => {
    expect(compareChecksums(checksums, { ...checksums, tables: [...checksums.tables].reverse() })).toEqual(
      [],
    );
  });

  it('names each table that differs, is missing or was not in the backup, and the large objects', () => {
    const got: DatabaseChecksums = {
      ...checksums,
      tables: [
        { schema: 'public', name: 'communes', rows: 2, checksum: '-100' },
        { schema: 'public', name: 'a"b', rows: 1, checksum: '7' },
      ],
      largeObjects: { count: 0, checksum: '0' },
    };
    expect(compareChecksums(checksums, got)).toEqual([
      {
        table: 'public.communes',
        expected: { rows: 3, checksum: '-123' },
        got: { rows: 2, checksum: '-100' },
      },
      { table: 'public.vide', expected: { rows: 0, checksum: '0' } },
      { table: 'public."a""b"', got: { rows: 1, checksum: '7' } },
      { table: LARGE_OBJECTS, expected: { rows: 1, checksum: '42' }, got: { rows: 0, checksum: '0' } },
    ]);
  });

  it('refuses to compare checksums computed another way', () => {
    expect(() => compareChecksums(checksums, { ...checksums, algorithm: 'other/1' })).toThrow(/computed as/);
  });
});
