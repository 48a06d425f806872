// The reads of verify/restore/export against a fake object store that behaves as some S3-compatible
// stores do: no ETag in its answers, or conditions (If-Match) silently ignored. Every read must be
// conditional, and a store that cannot make it so is refused before any byte is used.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { decryptBackupTo, META, verifyBackup } from './commands.ts';
import { EncryptStream } from './format.ts';
import { backupObjectKey } from './naming.ts';

const KEY = randomBytes(32);
const TERRITORY = 'rennes-metropole';
const TAKEN_AT = new Date('2026-11-28T02:00:00.042Z');
const OBJECT_KEY = backupObjectKey('p', TERRITORY, TAKEN_AT);

async function backupObject(plain: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    Readable.from([plain]),
    new EncryptStream({
      keyId: 'k1-20261128',
      dataKey: KEY,
      randomBytes,
      chunkSize: 1024,
      binding: { territory: TERRITORY, takenAt: TAKEN_AT },
    }),
    new Writable({
      write(chunk: Buffer, _e, done) {
        parts.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(parts);
}

interface FakeStore {
  s3: S3Client;
  gets: GetObjectCommand['input'][];
}

/** A store holding one object; `etag` is what HEAD and GET answer (undefined: no ETag header). */
function fakeStore(body: Buffer, opts: { etag?: string; getEtag?: string }): FakeStore {
  const gets: GetObjectCommand['input'][] = [];
  const sha256 = createHash('sha256').update(body).digest('hex');
  const send = async (command: unknown) => {
    if (command instanceof HeadObjectCommand) {
      return {
        ContentLength: body.length,
        ETag: opts.etag,
        LastModified: new Date(),
        Metadata: { [META.ciphertextSha256]: sha256, [META.keyId]: 'k1-20261128' },
      };
    }
    if (command instanceof GetObjectCommand) {
      gets.push(command.input);
      // Like a store that ignores conditions: the body comes back whatever If-Match says.
      return { Body: Readable.from([body]), ETag: 'getEtag' in opts ? opts.getEtag : opts.etag };
    }
    throw new Error(`unexpected command ${(command as object).constructor.name}`);
  };
  return { s3: { send } as unknown as S3Client, gets };
}

const resolveKey = () => KEY;

describe('reading a backup from the store', () => {
  it('refuses an object the store gives no ETag for, instead of reading it unconditionally', async () => {
    const store = fakeStore(await backupObject(randomBytes(5000)), { etag: undefined });
    await expect(
      verifyBackup(store.s3, 'b', OBJECT_KEY, resolveKey, { territory: TERRITORY }),
    ).rejects.toThrow(/no ETag.*cannot be read conditionally/);
    expect(store.gets.filter((g) => !g.IfMatch)).toEqual([]);
  });

  it('refuses a body whose ETag is not the one asked for (a store that ignores If-Match)', async () => {
    const store = fakeStore(await backupObject(randomBytes(5000)), { etag: '"aaa"', getEtag: '"bbb"' });
    await expect(
      verifyBackup(store.s3, 'b', OBJECT_KEY, resolveKey, { territory: TERRITORY }),
    ).rejects.toThrow(/answered ETag "bbb" to a read conditional on "aaa"/);
    const silent = fakeStore(await backupObject(randomBytes(5000)), { etag: '"aaa"', getEtag: undefined });
    await expect(
      verifyBackup(silent.s3, 'b', OBJECT_KEY, resolveKey, { territory: TERRITORY }),
    ).rejects.toThrow(/answered no ETag/);
  });

  it('verifies with a conditional read, and the second read (restore, export) is conditional too', async () => {
    const plain = randomBytes(5000);
    const store = fakeStore(await backupObject(plain), { etag: '"abc-2"' });
    const verified = await verifyBackup(store.s3, 'b', OBJECT_KEY, resolveKey, { territory: TERRITORY });
    expect(verified).toMatchObject({ etag: '"abc-2"', territory: TERRITORY, takenAt: TAKEN_AT });
    const out: Buffer[] = [];
    await decryptBackupTo(
      store.s3,
      'b',
      verified,
      resolveKey,
      new Writable({
        write(chunk: Buffer, _e, done) {
          out.push(chunk);
          done();
        },
      }),
    );
    expect(Buffer.concat(out).equals(plain)).toBe(true);
    expect(store.gets.map((g) => g.IfMatch)).toEqual(['"abc-2"', '"abc-2"']);
  });

  it('fails the second read, before its last chunk is released, when its bytes are not the verified ones', async () => {
    const store = fakeStore(await backupObject(randomBytes(5000)), { etag: '"abc"' });
    const verified = await verifyBackup(store.s3, 'b', OBJECT_KEY, resolveKey, { territory: TERRITORY });
    const out: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        out.push(chunk);
        done();
      },
    });
    await expect(
      decryptBackupTo(store.s3, 'b', { ...verified, ciphertextSha256: '0'.repeat(64) }, resolveKey, sink),
    ).rejects.toThrow(/changed between verification and use/);
    expect(Buffer.concat(out).length).toBeLessThan(5000);
  });

  it('refuses a key that is not a backup name of this territory', async () => {
    const store = fakeStore(await backupObject(randomBytes(100)), { etag: '"abc"' });
    await expect(
      verifyBackup(store.s3, 'b', 'p/rennes-metropole/notes.txt', resolveKey, { territory: TERRITORY }),
    ).rejects.toThrow(/is not the name of a backup/);
    await expect(
      verifyBackup(store.s3, 'b', OBJECT_KEY, resolveKey, { territory: 'saint-malo' }),
    ).rejects.toThrow(/stored as a backup of territory "saint-malo"/);
  });
});
