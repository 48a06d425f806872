// The backup manifest: what a restore drill compares a restored database with. Written by `backup`
// beside the dump, at `<stamp>.manifest.enc`: every table's row count and checksum (computed in the
// snapshot pg_dump dumped), the roles a restore needs, the source server's encoding, and the sha256
// of the dump object it describes, so that it can describe no other.
//
// It is a TERRBK01 object like the dump (format.ts): encrypted with the same key, bound to the same
// territory and time, so the storage provider reads no table name and a manifest copied from another
// backup or territory is refused like a dump would be. A dump and a manifest swapped with each other
// fail too: the manifest is JSON with a format field, the dump a pg_dump archive.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { type BackupBinding, BackupFormatError, DecryptStream, EncryptStream } from './format.ts';
import type { DatabaseChecksums } from './table-checksums.ts';

export const MANIFEST_FORMAT = 'territory-backup-manifest/1';

/** A manifest is small (about 100 bytes a table); one above this is not read into memory. */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

const countAndChecksum = { checksum: z.string().regex(/^-?\d+$/) };

const ManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  /** The dump object this manifest describes: its ciphertext sha256 and plaintext size. */
  dump: z.object({
    ciphertextSha256: z.string().regex(/^[0-9a-f]{64}$/),
    plaintextBytes: z.number().int().nonnegative(),
  }),
  checksums: z.object({
    algorithm: z.string(),
    server: z.object({ versionNum: z.number().int(), encoding: z.string().regex(/^[A-Z0-9_]+$/) }),
    roles: z.array(z.string().min(1)),
    tables: z.array(
      z.object({
        schema: z.string().min(1),
        name: z.string().min(1),
        rows: z.number().int().nonnegative(),
        ...countAndChecksum,
      }),
    ),
    largeObjects: z.object({ count: z.number().int().nonnegative(), ...countAndChecksum }),
  }),
});

export type BackupManifest = z.infer<typeof ManifestSchema>;

export function newManifest(
  checksums: DatabaseChecksums,
  dump: { ciphertextSha256: string; plaintextBytes: number },
): BackupManifest {
  return { format: MANIFEST_FORMAT, dump, checksums };
}

async function collect(source: Readable, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    source,
    transform,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}

/** The manifest as a TERRBK01 object, sealed like the dump it describes. */
export function sealManifest(
  manifest: BackupManifest,
  opts: {
    keyId: string;
    dataKey: Uint8Array;
    binding: BackupBinding;
    randomBytes: (size: number) => Uint8Array;
  },
): Promise<Buffer> {
  const json = Buffer.from(JSON.stringify(manifest), 'utf8');
  return collect(Readable.from([json]), new EncryptStream(opts));
}

/**
 * Authenticates and decrypts a manifest object, checks its binding (what its name says) and its
 * shape. Every failure is a BackupFormatError: a manifest that does not open is a bad backup.
 */
export async function openManifest(
  object: Buffer,
  opts: { resolveKey: (keyId: string) => Uint8Array; expect: BackupBinding },
): Promise<BackupManifest> {
  const plain = await collect(Readable.from([object]), new DecryptStream(opts));
  let value: unknown;
  try {
    value = JSON.parse(plain.toString('utf8'));
  } catch {
    throw new BackupFormatError('corrupted', 'the backup manifest is not a manifest (it does not hold JSON)');
  }
  const parsed = ManifestSchema.safeParse(value);
  if (!parsed.success) {
    throw new BackupFormatError(
      'corrupted',
      `the backup manifest is not one this tool reads (${MANIFEST_FORMAT}): ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}
