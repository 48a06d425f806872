// The encrypted backup object format, "TERRBK01": streaming, memory-flat, chunked AEAD.
//
// It follows the STREAM construction used by age (Hoang, Reyhanitabar, Rogaway, Vizár 2015):
// the plaintext is cut into fixed-size chunks, each sealed with AES-256-GCM under a nonce made
// of the chunk counter and a "last chunk" flag. Reordering or dropping chunks changes a nonce,
// truncating the object turns a non-final chunk into the last one, and both make
// authentication fail. Memory stays at about one chunk whatever the object size.
//
// Layout (all integers big-endian):
//   0      8  magic "TERRBK01"
//   8      1  format version (2)
//   9      1  suite (1 = HKDF-SHA256 + AES-256-GCM STREAM)
//   10     4  plaintext chunk size in bytes
//   14     1  key id length L (1..64)
//   15     L  key id (ASCII): which keyring version encrypted this object
//   15+L   1  territory name length N (1..63)
//   16+L   N  territory name (a DNS label): whose backup this is
//   16+L+N 8  taken at: milliseconds since the Unix epoch, the time its object name carries
//   24+L+N 32 salt (random)
//   56+L+N 32 header MAC: HMAC-SHA256(macKey, every byte before it)
//   88+L+N    chunks: ciphertext (chunkSize bytes, or fewer for the last) + 16-byte GCM tag
//
// Keys: HKDF-SHA256(dataKey, salt, "territory-backup/v2") gives 64 bytes: an AES key for the
// chunks and an HMAC key for the header. Each object thus has its own key, so the data key
// never encrypts two objects directly and the counter nonce never repeats under one key
// (the 256-bit random salt plays the part of a random nonce prefix, with more margin). The
// header MAC is a key commitment: a wrong key is recognised as such before any chunk is
// touched, and GCM's lack of key commitment cannot be exploited. Every chunk also takes the
// whole header as associated data, binding key id, chunk size and salt to each chunk.
//
// Binding (version 2): the header names the territory and the time of the backup, under the MAC.
// An object's name in the bucket is not authenticated, so without this someone with write access
// to the bucket could copy an old backup over a newer name (a rollback: erased rows come back on
// restore) or another territory's backup into this one's folder, and it would decrypt fine. A reader
// passes what the object's name says (DecryptOptions.expect); a mismatch is refused before any
// plaintext comes out. Version 1 objects carried no binding and are refused rather than read: a
// reader accepting them would accept any old v1 object copied anywhere, forever.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const MAGIC = Buffer.from('TERRBK01', 'ascii');
export const FORMAT_VERSION = 2;
const SUITE_HKDF_AES256GCM_STREAM = 1;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
// Bounds a decryptor accepts, so a forged header cannot make it buffer gigabytes.
const MIN_CHUNK_SIZE = 1024;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const TAG_BYTES = 16;
const SALT_BYTES = 32;
const MAC_BYTES = 32;
const FIXED_HEADER_BYTES = 15;
const MAX_KEY_ID_BYTES = 64;
const MAX_TERRITORY_BYTES = 63;
const TAKEN_AT_BYTES = 8;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HKDF_INFO = Buffer.from('territory-backup/v2', 'ascii');

export type BackupFormatErrorCode =
  | 'not-a-backup'
  | 'unsupported-version'
  | 'wrong-key'
  | 'corrupted'
  /** Authentic, but not the backup its name says it is (copied or renamed in the bucket). */
  | 'misplaced';

export class BackupFormatError extends Error {
  override name = 'BackupFormatError';
  readonly code: BackupFormatErrorCode;
  constructor(code: BackupFormatErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** What a backup object is: whose, and when it was taken. Authenticated by the header MAC. */
export interface BackupBinding {
  territory: string;
  takenAt: Date;
}

export interface BackupHeader extends BackupBinding {
  version: number;
  chunkSize: number;
  keyId: string;
  salt: Buffer;
  /** The header bytes exactly as stored (used as associated data for every chunk). */
  bytes: Buffer;
}

function deriveKeys(dataKey: Uint8Array, salt: Uint8Array): { aeadKey: KeyObject; macKey: Buffer } {
  if (dataKey.length !== 32) throw new Error(`a backup data key must be 32 bytes, got ${dataKey.length}`);
  const okm = Buffer.from(hkdfSync('sha256', dataKey, salt, HKDF_INFO, 64));
  // A KeyObject is imported once; passing raw bytes would re-import the key for every chunk.
  return { aeadKey: createSecretKey(okm.subarray(0, 32)), macKey: okm.subarray(32, 64) };
}

function nonce(counter: number, last: boolean): Buffer {
  // 11-byte counter (the low 6 bytes used: 2^48 chunks is far beyond any dump) + 1-byte flag.
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

export function encodeHeader(opts: {
  keyId: string;
  chunkSize: number;
  binding: BackupBinding;
  salt: Uint8Array;
  macKey: Uint8Array;
}): Buffer {
  const id = Buffer.from(opts.keyId, 'ascii');
  if (id.length < 1 || id.length > MAX_KEY_ID_BYTES || !/^[\x21-\x7e]+$/.test(opts.keyId)) {
    throw new Error(`key id must be 1-${MAX_KEY_ID_BYTES} printable ASCII characters`);
  }
  if (opts.chunkSize < MIN_CHUNK_SIZE || opts.chunkSize > MAX_CHUNK_SIZE) {
    throw new Error(`chunk size must be between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} bytes`);
  }
  if (opts.salt.length !== SALT_BYTES) throw new Error(`salt must be ${SALT_BYTES} bytes`);
  const { territory, takenAt } = opts.binding;
  if (!DNS_LABEL.test(territory)) throw new Error(`territory name "${territory}" is not a DNS label`);
  const ms = takenAt.getTime();
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error('the time a backup was taken must be after 1970');
  const fixed = Buffer.alloc(FIXED_HEADER_BYTES);
  MAGIC.copy(fixed, 0);
  fixed[8] = FORMAT_VERSION;
  fixed[9] = SUITE_HKDF_AES256GCM_STREAM;
  fixed.writeUInt32BE(opts.chunkSize, 10);
  fixed[14] = id.length;
  const name = Buffer.from(territory, 'ascii');
  const time = Buffer.alloc(TAKEN_AT_BYTES);
  time.writeBigUInt64BE(BigInt(ms));
  const unsigned = Buffer.concat([fixed, id, Buffer.from([name.length]), name, time, opts.salt]);
  const mac = createHmac('sha256', opts.macKey).update(unsigned).digest();
  return Buffer.concat([unsigned, mac]);
}

/**
 * Parse the header at the start of `buf`. Returns undefined when more bytes are needed.
 * Checks structure only; the MAC is checked once the key is known (see openHeader).
 */
export function parseHeader(buf: Buffer): BackupHeader | undefined {
  const probe = Math.min(buf.length, MAGIC.length);
  if (!buf.subarray(0, probe).equals(MAGIC.subarray(0, probe))) {
    throw new BackupFormatError(
      'not-a-backup',
      'not a territory backup object (its first bytes are not "TERRBK01")',
    );
  }
  if (buf.length < FIXED_HEADER_BYTES) return undefined;
  const version = buf[8] ?? 0;
  if (version === 1) {
    throw new BackupFormatError(
      'unsupported-version',
      'backup format version 1 is no longer read: such an object is not bound to its territory and time, so a copy of it ' +
        'cannot be told from the original; take a new backup (the backup command writes version 2)',
    );
  }
  if (version !== FORMAT_VERSION || buf[9] !== SUITE_HKDF_AES256GCM_STREAM) {
    throw new BackupFormatError(
      'unsupported-version',
      `unsupported backup format version ${version} (suite ${buf[9]}); this tool reads version ${FORMAT_VERSION}`,
    );
  }
  const damaged = () =>
    new BackupFormatError('corrupted', 'backup object is corrupted or was tampered with at the header');
  const chunkSize = buf.readUInt32BE(10);
  const idLength = buf[14] ?? 0;
  if (
    chunkSize < MIN_CHUNK_SIZE ||
    chunkSize > MAX_CHUNK_SIZE ||
    idLength < 1 ||
    idLength > MAX_KEY_ID_BYTES
  ) {
    throw damaged();
  }
  const nameAt = FIXED_HEADER_BYTES + idLength;
  if (buf.length < nameAt + 1) return undefined;
  const nameLength = buf[nameAt] ?? 0;
  if (nameLength < 1 || nameLength > MAX_TERRITORY_BYTES) throw damaged();
  const timeAt = nameAt + 1 + nameLength;
  const saltStart = timeAt + TAKEN_AT_BYTES;
  const total = saltStart + SALT_BYTES + MAC_BYTES;
  if (buf.length < total) return undefined;
  const keyId = buf.subarray(FIXED_HEADER_BYTES, nameAt).toString('latin1');
  const territory = buf.subarray(nameAt + 1, timeAt).toString('latin1');
  const ms = buf.readBigUInt64BE(timeAt);
  if (!/^[\x21-\x7e]+$/.test(keyId) || !DNS_LABEL.test(territory) || ms > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw damaged();
  }
  return {
    version,
    chunkSize,
    keyId,
    territory,
    takenAt: new Date(Number(ms)),
    salt: Buffer.from(buf.subarray(saltStart, saltStart + SALT_BYTES)),
    bytes: Buffer.from(buf.subarray(0, total)),
  };
}

/**
 * Refuse an authentic object that is not the backup its name says it is. Called once the header MAC
 * verified, so what the header says is what the backup command wrote.
 */
export function checkBinding(header: BackupBinding, expected: BackupBinding): void {
  const sameTerritory = header.territory === expected.territory;
  const sameTime = header.takenAt.getTime() === expected.takenAt.getTime();
  if (sameTerritory && sameTime) return;
  const is = `a backup of territory "${header.territory}" taken at ${header.takenAt.toISOString()}`;
  const storedAs = sameTerritory
    ? `the backup of ${expected.takenAt.toISOString()}`
    : `a backup of territory "${expected.territory}"${sameTime ? '' : ` of ${expected.takenAt.toISOString()}`}`;
  throw new BackupFormatError(
    'misplaced',
    `backup object refused: it is ${is}, but it is stored as ${storedAs}; it was copied or renamed in the bucket ` +
      '(a rollback, or another territory’s backup), so it is not restored',
  );
}

/** Check the header MAC with a data key; returns the chunk key, or throws "wrong key". */
function openHeader(header: BackupHeader, dataKey: Uint8Array, expect: BackupBinding | undefined): KeyObject {
  const { aeadKey, macKey } = deriveKeys(dataKey, header.salt);
  const unsigned = header.bytes.subarray(0, header.bytes.length - MAC_BYTES);
  const stored = header.bytes.subarray(header.bytes.length - MAC_BYTES);
  const expected = createHmac('sha256', macKey).update(unsigned).digest();
  if (!timingSafeEqual(stored, expected)) {
    // Unauthenticated, but the likeliest explanation when it differs: say so.
    const elsewhere =
      expect && header.territory !== expect.territory
        ? `; its header names territory "${header.territory}", not "${expect.territory}": another territory’s backup copied here?`
        : '';
    throw new BackupFormatError(
      'wrong-key',
      `wrong key: key version "${header.keyId}" from this keyring does not open this object (a different keyring or customer key was used, or the header was altered)${elsewhere}`,
    );
  }
  return aeadKey;
}

/** A FIFO of buffers that hands out exact-size slices without re-copying everything each time. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }
  peekAll(): Buffer {
    if (this.parts.length > 1) this.parts = [Buffer.concat(this.parts, this.length)];
    return this.parts[0] ?? Buffer.alloc(0);
  }
  take(n: number): Buffer {
    const first = this.parts[0];
    if (first !== undefined && first.length >= n) {
      // Common case: the bytes are in one piece, hand out a view instead of copying.
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      this.length -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.parts[0];
      if (head === undefined) throw new Error('ByteQueue underflow');
      const used = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, used);
      filled += used;
      if (used === head.length) this.parts.shift();
      else this.parts[0] = head.subarray(used);
    }
    this.length -= n;
    return out;
  }
}

export interface EncryptOptions {
  keyId: string;
  dataKey: Uint8Array;
  /** Whose backup this is and when it was taken (the time its object name carries). */
  binding: BackupBinding;
  randomBytes: (size: number) => Uint8Array;
  chunkSize?: number;
}

/** Transform: plaintext in, TERRBK01 object out. Counts plaintext bytes in `plaintextBytes`. */
export class EncryptStream extends Transform {
  plaintextBytes = 0;
  private readonly header: Buffer;
  private readonly aeadKey: KeyObject;
  private readonly chunkSize: number;
  private readonly queue = new ByteQueue();
  private counter = 0;
  private headerSent = false;

  constructor(opts: EncryptOptions) {
    super();
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const salt = Buffer.from(opts.randomBytes(SALT_BYTES));
    const { aeadKey, macKey } = deriveKeys(opts.dataKey, salt);
    this.aeadKey = aeadKey;
    this.header = encodeHeader({
      keyId: opts.keyId,
      chunkSize: this.chunkSize,
      binding: opts.binding,
      salt,
      macKey,
    });
  }

  private seal(plain: Buffer, last: boolean): void {
    if (!this.headerSent) {
      this.push(this.header);
      this.headerSent = true;
    }
    const cipher = createCipheriv('aes-256-gcm', this.aeadKey, nonce(this.counter, last));
    cipher.setAAD(this.header);
    this.push(cipher.update(plain));
    cipher.final();
    this.push(cipher.getAuthTag());
    this.counter += 1;
  }

  override _transform(data: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.plaintextBytes += data.length;
    this.queue.push(data);
    // Keep at least one byte back: only flush() knows which chunk is the last one.
    while (this.queue.length > this.chunkSize) this.seal(this.queue.take(this.chunkSize), false);
    done();
  }

  override _flush(done: TransformCallback): void {
    // Always ends with a final chunk, even an empty one, so an object cut right after its
    // header or after a full chunk is detected as truncated.
    this.seal(this.queue.take(this.queue.length), true);
    done();
  }
}

export interface DecryptOptions {
  /** Returns the raw data key for a key id (e.g. keyring unwrapKey); may throw. */
  resolveKey: (keyId: string) => Uint8Array;
  /**
   * What the object must be (from its name in the bucket): checked against the authenticated header
   * before any plaintext is released. Every reader of the object store passes it; only a file whose
   * name says nothing (an offline decrypt) goes without, and then shows the header's binding.
   */
  expect?: BackupBinding;
}

/**
 * Transform: TERRBK01 object in, plaintext out. A chunk's plaintext is released only after its
 * tag verified, but earlier chunks have already gone downstream when a later one fails: to be
 * sure nothing of a bad object is used, verify the whole object first (see verifyStream).
 */
export class DecryptStream extends Transform {
  plaintextBytes = 0;
  header: BackupHeader | undefined;
  private aeadKey: KeyObject | undefined;
  private readonly queue = new ByteQueue();
  private counter = 0;
  private readonly resolveKey: (keyId: string) => Uint8Array;
  private readonly expect: BackupBinding | undefined;

  constructor(opts: DecryptOptions) {
    super();
    this.resolveKey = opts.resolveKey;
    this.expect = opts.expect;
  }

  private open(sealed: Buffer, last: boolean): void {
    const header = this.header as BackupHeader;
    const key = this.aeadKey as KeyObject;
    const body = sealed.subarray(0, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce(this.counter, last));
      decipher.setAAD(header.bytes);
      decipher.setAuthTag(tag);
      plain = decipher.update(body);
      // final() checks the tag; GCM has no buffered bytes, so it returns nothing more.
      decipher.final();
    } catch {
      throw new BackupFormatError(
        'corrupted',
        `backup object is corrupted or was tampered with at chunk ${this.counter}${last ? ' (it may be truncated)' : ''}`,
      );
    }
    this.counter += 1;
    this.plaintextBytes += plain.length;
    if (plain.length > 0) this.push(plain);
  }

  private drain(): void {
    if (this.header === undefined) {
      const header = parseHeader(this.queue.peekAll());
      if (header === undefined) return;
      this.queue.take(header.bytes.length);
      this.aeadKey = openHeader(header, this.resolveKey(header.keyId), this.expect);
      if (this.expect) checkBinding(header, this.expect);
      this.header = header;
    }
    const sealedChunk = this.header.chunkSize + TAG_BYTES;
    while (this.queue.length > sealedChunk) this.open(this.queue.take(sealedChunk), false);
  }

  override _transform(data: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.queue.push(data);
      this.drain();
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.drain();
      if (this.header === undefined) {
        throw new BackupFormatError(
          this.queue.length === 0 ? 'not-a-backup' : 'corrupted',
          this.queue.length === 0
            ? 'not a territory backup object (it is empty)'
            : 'backup object is corrupted or was tampered with at the header (it is truncated)',
        );
      }
      if (this.queue.length < TAG_BYTES) {
        throw new BackupFormatError(
          'corrupted',
          `backup object is corrupted or was tampered with at chunk ${this.counter} (it is truncated)`,
        );
      }
      this.open(this.queue.take(this.queue.length), true);
      done();
    } catch (e) {
      done(e as Error);
    }
  }
}

/** Size of the encrypted object for a given plaintext size (for tests and progress estimates). */
export function encryptedSize(
  plaintextBytes: number,
  names: { keyId: string; territory: string },
  chunkSize = DEFAULT_CHUNK_SIZE,
): number {
  const chunks = Math.max(1, Math.ceil(plaintextBytes / chunkSize));
  return (
    FIXED_HEADER_BYTES +
    Buffer.byteLength(names.keyId, 'ascii') +
    1 +
    Buffer.byteLength(names.territory, 'ascii') +
    TAKEN_AT_BYTES +
    SALT_BYTES +
    MAC_BYTES +
    plaintextBytes +
    chunks * TAG_BYTES
  );
}
