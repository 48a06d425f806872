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

function encrypt(plain: Buffer, chunkSize = CHUNK, key = KEY): Promise<Buffer> {
  return collect(
    Readable.from(split(plain, 777)),
    new EncryptStream({ keyId: KEY_ID, dataKey: key, randomBytes, chunkSize }),
  );
}

function decrypt(object: Buffer, key = KEY, pieceSize = 333): Promise<Buffer> {
  return collect(
    Readable.from(split(object, pieceSize)),
    new DecryptStream({
      resolveKey: (id) => {
        if (id !== KEY_ID) throw new Error(`unknown key ${id}`);
        return key;
      },
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
      expect(object.length).toBe(encryptedSize(size, KEY_ID, CHUNK));
      expect((await decrypt(object)).equals(plain)).toBe(true);
    },
  );

  it('round-trips several MiB with the default 64 KiB chunks, streaming', async () => {
    const plain = randomBytes(6 * 1024 * 1024 + 12345);
    const object = await collect(
      Readable.from(split(plain, 100_000)),
      new EncryptStream({ keyId: KEY_ID, dataKey: KEY, randomBytes }),
    );
    expect(object.length).toBe(encryptedSize(plain.length, KEY_ID));
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
    const v2 = await encrypt(Buffer.from('x'));
    v2[8] = 2;
    expect((await refusal(decrypt(v2))).message).toMatch(/unsupported backup format version 2/);
  });
});
