import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  BackupFormatError,
  DecryptStream,
  EncryptStream,
  encryptedSize,
  MAGIC,
  parseHeader,
} from './format.ts';

const KEY = Buffer.alloc(32, 1);
const OTHER_KEY = Buffer.alloc(32, 2);
const KEY_ID = 'k1-20261128';
const CHUNK = 1024;
/** What every object of these tests is: a backup of this territory, taken at this time. */
const BINDING = { territory: 'rennes-metropole', takenAt: new Date('2026-11-28T02:00:00.042Z') };

function encrypt(plain: Buffer, chunkSize = CHUNK, key = KEY, binding = BINDING): Promise<Buffer> {
  return collect(
    Readable.from(split(plain, 777)),
    new EncryptStream({ keyId: KEY_ID, dataKey: key, randomBytes, chunkSize, binding }),
  );
}

function decrypt(object: Buffer, key = KEY, pieceSize = 333, expected = BINDING): Promise<Buffer> {
  return collect(
    Readable.from(split(object, pieceSize)),
    new DecryptStream({
      resolveKey: (id) => {
        if (id !== KEY_ID) throw new Error(`unknown key ${id}`);
        return key;
      },
      expect: expected,
    }),
  );
}

/** Feed input in odd-sized pieces so chunk boundaries never line up with writes. */
function split(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

async function collect(source: Readable, transform: EncryptStream | DecryptStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    source,
    transform,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        parts.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(parts);
}

async function refusal(p: Promise<unknown>): Promise<BackupFormatError> {
  const e = await anyRefusal(p);
  if (e instanceof BackupFormatError) return e;
  throw e;
}

/** Like refusal, but also accepts the key lookup's own error (a flipped key id names no key). */
async function anyRefusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the object to be refused, but it decrypted');
}

describe('TERRBK01 round trip', () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5])(
    'round-trips %i bytes',
    async (size) => {
      const plain = randomBytes(size);
      const object = await encrypt(plain);
      expect(object.subarray(0, 8).equals(MAGIC)).toBe(true);
      expect(object.length).toBe(encryptedSize(size, { keyId: KEY_ID, territory: BINDING.territory }, CHUNK));
      expect((await decrypt(object)).equals(plain)).toBe(true);
    },
  );

  it('round-trips several MiB with the default 64 KiB chunks, streaming', async () => {
    const plain = randomBytes(6 * 1024 * 1024 + 12345);
    const object = await collect(
      Readable.from(split(plain, 100_000)),
      new EncryptStream({ keyId: KEY_ID, dataKey: KEY, randomBytes, binding: BINDING }),
    );
    expect(object.length).toBe(encryptedSize(plain.length, { keyId: KEY_ID, territory: BINDING.territory }));
    const back = await decrypt(object);
    expect(createHash('sha256').update(back).digest('hex')).toBe(
      createHash('sha256').update(plain).digest('hex'),
    );
  });

  it('encrypts the same plaintext differently each time (fresh salt, per-object key)', async () => {
    const plain = Buffer.from('same dump');
    const a = await encrypt(plain);
    const b = await encrypt(plain);
    expect(a.equals(b)).toBe(false);
    expect(parseHeader(a)?.keyId).toBe(KEY_ID);
  });
});

describe('TERRBK01 refuses damaged objects', () => {
  it('refuses a flip of any single byte, header or chunk, and names the place', async () => {
    const plain = randomBytes(2 * CHUNK + 100);
    const object = await encrypt(plain);
    const headerLength = parseHeader(object)?.bytes.length ?? 0;
    for (let i = 0; i < object.length; i++) {
      const damaged = Buffer.from(object);
      damaged[i] = (damaged[i] ?? 0) ^ (1 << (i % 8));
      const err = await anyRefusal(decrypt(damaged, KEY, damaged.length));
      if (i >= headerLength) {
        const chunk = Math.floor((i - headerLength) / (CHUNK + 16));
        expect(err.message).toMatch(`backup object is corrupted or was tampered with at chunk ${chunk}`);
      } else {
        expect(err.message).toMatch(
          /not a territory backup|unsupported backup format|at the header|wrong key|unknown key/,
        );
      }
    }
  }, 120_000);

  it('refuses truncation at every length, including at chunk boundaries', async () => {
    const object = await encrypt(randomBytes(3 * CHUNK));
    const h = parseHeader(object)?.bytes.length ?? 0;
    const cuts = new Set<number>();
    for (let cut = 0; cut <= h + 20; cut++) cuts.add(cut);
    for (let n = 1; n <= 3; n++) for (let d = -20; d <= 20; d++) cuts.add(h + n * (CHUNK + 16) + d);
    for (let cut = 0; cut < object.length; cut += 13) cuts.add(cut);
    for (const cut of cuts) if (cut < object.length) await refusal(decrypt(object.subarray(0, cut)));
  }, 120_000);

  it('refuses reordered and duplicated chunks', async () => {
    const object = await encrypt(randomBytes(3 * CHUNK + 10));
    const h = parseHeader(object)?.bytes.length ?? 0;
    const c = (n: number) => object.subarray(h + n * (CHUNK + 16), h + (n + 1) * (CHUNK + 16));
    const swapped = Buffer.concat([object.subarray(0, h), c(1), c(0), object.subarray(h + 2 * (CHUNK + 16))]);
    expect((await refusal(decrypt(swapped))).message).toMatch(/at chunk 0/);
    const duplicated = Buffer.concat([
      object.subarray(0, h),
      c(0),
      c(0),
      object.subarray(h + 2 * (CHUNK + 16)),
    ]);
    expect((await refusal(decrypt(duplicated))).message).toMatch(/at chunk 1/);
  });

  it('refuses extra bytes appended after the last chunk', async () => {
    const object = await encrypt(randomBytes(CHUNK + 3));
    await refusal(decrypt(Buffer.concat([object, Buffer.from([0])])));
  });

  it('says "wrong key" when the data key differs, before producing any plaintext', async () => {
    const object = await encrypt(randomBytes(5000));
    const err = await refusal(decrypt(object, OTHER_KEY));
    expect(err.code).toBe('wrong-key');
    expect(err.message).toMatch(/^wrong key: key version "k1-20261128"/);
  });

  it('says what is wrong with something that is not a backup', async () => {
    expect((await refusal(decrypt(Buffer.from('PGDMP custom dump')))).code).toBe('not-a-backup');
    expect((await refusal(decrypt(Buffer.alloc(0)))).code).toBe('not-a-backup');
    const v3 = await encrypt(Buffer.from('x'));
    v3[8] = 3;
    expect((await refusal(decrypt(v3))).message).toMatch(/unsupported backup format version 3/);
  });

  it('refuses format version 1 (objects not bound to a territory and time), saying to take a new backup', async () => {
    const v1 = await encrypt(Buffer.from('x'));
    v1[8] = 1;
    const err = await refusal(decrypt(v1));
    expect(err.code).toBe('unsupported-version');
    expect(err.message).toMatch(/version 1 .*not bound to its territory and time.*take a new backup/);
  });
});

describe('TERRBK01 binds each object to its territory and the time it was taken', () => {
  it('carries both in the authenticated header', async () => {
    const object = await encrypt(Buffer.from('dump'));
    expect(parseHeader(object)).toMatchObject({
      version: 2,
      keyId: KEY_ID,
      territory: 'rennes-metropole',
      takenAt: BINDING.takenAt,
    });
    expect((await decrypt(object)).toString()).toBe('dump');
  });

  it('refuses an object of the same keyring stored as another time (an old backup copied over a newer name)', async () => {
    const object = await encrypt(randomBytes(3000));
    const newer = { ...BINDING, takenAt: new Date('2026-12-05T02:00:00.007Z') };
    const err = await refusal(decrypt(object, KEY, 333, newer));
    expect(err.code).toBe('misplaced');
    expect(err.message).toContain('taken at 2026-11-28T02:00:00.042Z');
    expect(err.message).toContain('stored as the backup of 2026-12-05T02:00:00.007Z');
    expect(err.message).toMatch(/copied or renamed/);
  });

  it("refuses another territory's object even under the same key (copied into this folder)", async () => {
    const object = await encrypt(randomBytes(3000));
    const err = await refusal(decrypt(object, KEY, 333, { ...BINDING, territory: 'saint-malo' }));
    expect(err.code).toBe('misplaced');
    expect(err.message).toContain('a backup of territory "rennes-metropole"');
    expect(err.message).toContain('stored as a backup of territory "saint-malo"');
  });

  it('produces no plaintext at all before the binding is checked', async () => {
    const object = await encrypt(randomBytes(5 * CHUNK));
    const out: Buffer[] = [];
    const stream = new DecryptStream({
      resolveKey: () => KEY,
      expect: { ...BINDING, territory: 'saint-malo' },
    });
    stream.on('data', (d: Buffer) => out.push(d));
    await refusal(pipeline(Readable.from(split(object, 100)), stream));
    expect(Buffer.concat(out).length).toBe(0);
  });

  it('cannot have its binding rewritten without the key (the header MAC covers it)', async () => {
    const object = await encrypt(randomBytes(3000));
    const at = object.indexOf(Buffer.from('rennes-metropole'));
    expect(at).toBeGreaterThan(0);
    const forged = Buffer.from(object);
    Buffer.from('saint-malo-agglo').copy(forged, at); // same length, another valid name
    const err = await refusal(decrypt(forged, KEY, 333, { ...BINDING, territory: 'saint-malo-agglo' }));
    expect(err.code).toBe('wrong-key');
  });
});
