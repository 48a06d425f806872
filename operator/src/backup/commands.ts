// The backup commands: backup, verify, restore, list, prune (and the helpers `drill` uses, in
// drill.ts). They wire the adapters (pg_dump/pg_restore/psql, S3) to the pure parts (keyring,
// TERRBK01 format, naming, manifest) with streams, so memory stays flat whatever the database size.
// Also the programmatic API that `territoryctl export` reuses (listBackups, resolveBackupKey,
// verifyBackup, decryptBackupTo).
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { type Keyring, parseKek, parseKeyring, unwrapKey } from '../keys/keyring.ts';
import { BEGIN_CHECKSUMS, EXPORT_SNAPSHOT } from './checksum-sql.ts';
import type { BackupConfig } from './config.ts';
import {
  type BackupBinding,
  BackupFormatError,
  DecryptStream,
  EncryptStream,
  FORMAT_VERSION,
  MAGIC,
} from './format.ts';
import {
  type BackupManifest,
  MAX_MANIFEST_BYTES,
  newManifest,
  openManifest,
  sealManifest,
} from './manifest.ts';
import {
  backupKeyOfManifest,
  backupObjectKey,
  backupTime,
  INCOMPLETE_DIR,
  incompleteObjectKey,
  isAbandoned,
  manifestKeyOf,
  selectExpired,
  territoryFolder,
} from './naming.ts';
import {
  pgChildEnv,
  type RunningTool,
  startPgDump,
  startPgRestore,
  writePassfile,
} from './postgres-tools.ts';
import { PsqlSession } from './psql-session.ts';
import {
  abortMultipartUpload,
  copyWithMetadata,
  deleteObject,
  getObjectStream,
  headObject,
  listMultipartUploads,
  listObjects,
  readCondition,
  startUpload,
} from './s3-store.ts';
import { ByteMeter, ExitGate, Sha256Gate } from './streams.ts';
import { computeChecksums, type DatabaseChecksums } from './table-checksums.ts';

/** The subset of a pino logger the commands use. Never given secrets. */
export interface BackupLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface Deps {
  s3: S3Client;
  log: BackupLog;
  now?: () => Date;
  randomBytes?: (size: number) => Uint8Array;
  /**
   * Where the libpq connection settings (PGHOST, PGPORT, PGUSER, …) are read from; default: this
   * process's environment. Only those settings reach pg_dump/pg_restore (see pgChildEnv), with a
   * passfile made from `cfg.pg.passwordFile`; a PGPASSWORD here is never passed on.
   */
  pgEnv?: NodeJS.ProcessEnv;
  /** How often progress lines are logged. */
  progressEveryMs?: number;
  /** Tuning for tests: multipart copy threshold and part sizes. */
  s3Tuning?: { uploadPartSize?: number; copyMultipartThreshold?: number; copyPartSize?: number };
}

/** S3 user metadata written on every finished backup (x-amz-meta-*). */
export const META = {
  keyId: 'territory-key-id',
  format: 'territory-format',
  plaintextBytes: 'territory-plaintext-bytes',
  ciphertextSha256: 'territory-ciphertext-sha256',
  takenAt: 'territory-taken-at',
  territory: 'territory-name',
} as const;

const MIB = 1024 * 1024;

export type KeyResolver = (keyId: string) => Uint8Array;

// ---------------------------------------------------------------------------------------------
// Keys

export interface LoadedKeys {
  keyring: Keyring;
  kek?: Buffer;
  resolveKey: KeyResolver;
}

/**
 * Read the mounted keyring (and customer key). Unwraps the current key once up front, so a
 * wrong or missing customer key stops the command before any data moves.
 */
export async function loadKeys(keyringFile: string, kekFile?: string): Promise<LoadedKeys> {
  const parsed = parseKeyring(await readFile(keyringFile, 'utf8').catch(fileError(keyringFile, 'keyring')));
  if (!parsed.ok) throw new Error(`${keyringFile}: ${parsed.error}`);
  let kek: Buffer | undefined;
  if (kekFile) {
    const k = parseKek(await readFile(kekFile).catch(fileError(kekFile, 'customer key')));
    if (!k.ok) throw new Error(`${kekFile}: ${k.error}`);
    kek = k.value;
  }
  const keyring = parsed.value;
  unwrapKey(keyring, keyring.current, kek);
  return { keyring, ...(kek ? { kek } : {}), resolveKey: (id) => unwrapKey(keyring, id, kek) };
}

function fileError(path: string, what: string): (e: NodeJS.ErrnoException) => never {
  return (e) => {
    throw new Error(`cannot read the ${what} file ${path}: ${e.code ?? e.message}`);
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL credentials

/**
 * Runs `fn` with the environment of pg_dump/pg_restore: the connection settings, and a passfile
 * made from the mounted password file, written for this run only (0600, in `cfg.runtimeDir`, a
 * memory-backed folder in the CronJob) and removed afterwards, whatever happens.
 */
async function withPgEnv<T>(
  cfg: BackupConfig,
  deps: Deps,
  fn: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  return withPgCredentials(cfg, deps, { passwordFile: cfg.pg.passwordFile }, fn);
}

/**
 * withPgEnv for another role of the same database: `user` replaces PGUSER, and the passfile is made
 * from `passwordFile` (a restore writes as the owner and checks what it wrote as the backup role).
 */
export async function withPgCredentials<T>(
  cfg: Pick<BackupConfig, 'runtimeDir'>,
  deps: Pick<Deps, 'pgEnv'>,
  credentials: { user?: string | undefined; passwordFile?: string | undefined },
  fn: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  const source = credentials.user
    ? { ...(deps.pgEnv ?? process.env), PGUSER: credentials.user }
    : (deps.pgEnv ?? process.env);
  const passwordFile = credentials.passwordFile;
  if (!passwordFile) return fn(pgChildEnv(source));
  const password = (
    await readFile(passwordFile, 'utf8').catch(fileError(passwordFile, 'database password'))
  ).replace(/\r?\n$/, '');
  const dir = cfg.runtimeDir ?? (await mkdtemp(join(tmpdir(), 'territory-backup-')));
  try {
    const passfile = await writePassfile(dir, password);
    try {
      return await fn(pgChildEnv(source, passfile.path));
    } finally {
      await passfile.dispose();
    }
  } finally {
    if (!cfg.runtimeDir) await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Backup

export interface BackupResult {
  key: string;
  keyId: string;
  plaintextBytes: number;
  ciphertextBytes: number;
  ciphertextSha256: string;
  seconds: number;
  /** The manifest stored beside it; absent when the table checksums failed (a warning says why). */
  manifestKey?: string;
  /** Tables the manifest describes. */
  tables?: number;
}

export function rate(bytes: number, ms: number): number {
  return Math.round((bytes / MIB / Math.max(ms / 1000, 0.001)) * 10) / 10;
}

const NO_MANIFEST =
  'this backup gets no manifest: its drill will only show that it restores, not that the data matches';

/**
 * The session whose snapshot pg_dump dumps, and in which the table checksums are computed: a second
 * connection, as the same role, with the same libpq settings. Undefined (after a warning) when it
 * cannot be opened: a backup matters more than its drill, so the dump goes on, in a snapshot of its
 * own, without a manifest. A connection that fails for want of credentials fails pg_dump anyway.
 */
async function openSnapshotSession(
  cfg: BackupConfig,
  deps: Deps,
  pgEnv: Record<string, string>,
): Promise<{ session: PsqlSession; snapshot: string } | undefined> {
  const session = new PsqlSession({
    ...(cfg.pg.binDir ? { binDir: cfg.pg.binDir } : {}),
    ...(cfg.pg.database ? { database: cfg.pg.database } : {}),
    env: pgEnv,
  });
  try {
    await session.query(BEGIN_CHECKSUMS);
    const snapshot = (await session.query(EXPORT_SNAPSHOT)).trim();
    return { session, snapshot };
  } catch (e) {
    session.kill();
    deps.log.warn({ error: (e as Error).message }, `could not open the snapshot session; ${NO_MANIFEST}`);
    return undefined;
  }
}

/** A small object in one request (lib-storage sends a body below one part as a single PutObject). */
async function putSmallObject(deps: Deps, bucket: string, key: string, body: Buffer): Promise<void> {
  await startUpload(deps.s3, bucket, key, Readable.from([body])).done();
}

/**
 * pg_dump → encrypt with the keyring's current key → streaming multipart upload to a temporary
 * key → (pg_dump exited 0, upload complete) → manifest stored → server-side copy to the final name
 * with metadata → delete the temporary object. A failure anywhere leaves no object at a final name.
 *
 * The manifest's checksums are computed in the very snapshot pg_dump dumps: a session opens a
 * REPEATABLE READ READ ONLY transaction and exports its snapshot, pg_dump imports it
 * (`--snapshot`), and the session then reads every table while pg_dump streams.
 */
export function runBackup(cfg: BackupConfig, keys: LoadedKeys, deps: Deps): Promise<BackupResult> {
  return withPgEnv(cfg, deps, (pgEnv) => backupWith(cfg, keys, deps, pgEnv));
}

async function backupWith(
  cfg: BackupConfig,
  keys: LoadedKeys,
  deps: Deps,
  pgEnv: Record<string, string>,
): Promise<BackupResult> {
  const now = deps.now ?? (() => new Date());
  const random = deps.randomBytes ?? cryptoRandomBytes;
  const everyMs = deps.progressEveryMs ?? 5000;
  const startedAt = now();
  const started = Date.now();
  const keyId = keys.keyring.current;
  const dataKey = keys.resolveKey(keyId);
  const finalKey = backupObjectKey(cfg.prefix, cfg.territory, startedAt);
  const manifestKey = manifestKeyOf(finalKey);
  const tempKey = incompleteObjectKey(
    cfg.prefix,
    cfg.territory,
    startedAt,
    Buffer.from(random(6)).toString('hex'),
  );
  deps.log.info({ territory: cfg.territory, bucket: cfg.bucket, key: finalKey, keyId }, 'backup started');

  const snap = await openSnapshotSession(cfg, deps, pgEnv);
  let dump: ReturnType<typeof startPgDump>;
  try {
    dump = startPgDump({
      ...(cfg.pg.binDir ? { binDir: cfg.pg.binDir } : {}),
      ...(cfg.pg.database ? { database: cfg.pg.database } : {}),
      ...(cfg.pg.compress ? { compress: cfg.pg.compress } : {}),
      ...(snap ? { snapshot: snap.snapshot } : {}),
      env: pgEnv,
    });
  } catch (e) {
    snap?.session.kill();
    throw e;
  }
  // pg_dump imports the snapshot right after connecting, long before it writes its first byte. Only
  // then may the session's transaction end (and a failing checksum ends it: psql stops at an error),
  // so the checksums start at the first byte, or when a dump too small to fill a buffer has ended.
  let dumpStarted!: () => void;
  const dumping = new Promise<void>((resolve, reject) => {
    dumpStarted = resolve;
    dump.finished.then(resolve, reject);
  });
  // Without a session nothing waits on it; pg_dump's failure is reported by the pipeline below.
  dumping.catch(() => {});
  let abandoned = false;
  const checksums: Promise<DatabaseChecksums | undefined> = snap
    ? dumping
        .then(
          async () => {
            const c = await computeChecksums(snap.session, {
              everyMs,
              onProgress: (p) => deps.log.info({ phase: 'checksums', ...p }, 'progress'),
            });
            await snap.session.query('COMMIT;');
            await snap.session.close();
            return c;
          },
          () => {
            // pg_dump failed before writing anything: the backup fails, with pg_dump's error.
            snap.session.kill();
            return undefined;
          },
        )
        .catch((e: Error) => {
          snap.session.kill();
          if (!abandoned) deps.log.warn({ error: e.message }, `table checksums failed; ${NO_MANIFEST}`);
          return undefined;
        })
    : Promise.resolve(undefined);

  const plain = new ByteMeter({
    everyMs,
    onFirstBytes: () => dumpStarted(),
    onProgress: (bytes) =>
      deps.log.info(
        {
          phase: 'backup',
          plaintextBytes: bytes,
          uploadedBytes: cipher.bytes,
          mbPerSec: rate(bytes, Date.now() - started),
        },
        'progress',
      ),
  });
  // The header binds the object to this territory and to the time its final name carries.
  const binding = { territory: cfg.territory, takenAt: startedAt };
  const encrypt = new EncryptStream({ keyId, dataKey, randomBytes: random, binding });
  const cipher = new ByteMeter({ sha256: true });
  const body = new PassThrough();
  const upload = startUpload(deps.s3, cfg.bucket, tempKey, body, {
    ...(deps.s3Tuning?.uploadPartSize ? { partSize: deps.s3Tuning.uploadPartSize } : {}),
  });

  try {
    await Promise.all([
      pipeline(dump.stdout, new ExitGate(dump.finished), plain, encrypt, cipher, body),
      upload.done(),
      dump.finished,
    ]);
  } catch (e) {
    abandoned = true;
    snap?.session.kill();
    dump.kill();
    body.destroy();
    await upload.abort().catch(() => {});
    await deleteObject(deps.s3, cfg.bucket, tempKey).catch(() => {});
    throw new Error(
      `backup failed after ${plain.bytes} bytes of dump, nothing was stored: ${(e as Error).message}`,
    );
  }

  const ciphertextSha256 = cipher.digest();
  const described = await checksums;
  let manifest: Buffer | undefined;
  if (described) {
    manifest = await sealManifest(newManifest(described, { ciphertextSha256, plaintextBytes: plain.bytes }), {
      keyId,
      dataKey,
      binding,
      randomBytes: random,
    });
  }
  let manifestStored = false;
  try {
    const temp = await headObject(deps.s3, cfg.bucket, tempKey);
    if (temp?.size !== cipher.bytes) {
      throw new Error(
        `the store holds ${temp?.size ?? 'no'} bytes for the upload, ${cipher.bytes} were sent`,
      );
    }
    if (await headObject(deps.s3, cfg.bucket, finalKey)) throw new Error(`${finalKey} already exists`);
    // Before the dump reaches its final name, so that a finished backup has its manifest from the start.
    if (manifest) {
      try {
        await putSmallObject(deps, cfg.bucket, manifestKey, manifest);
        manifestStored = true;
      } catch (e) {
        deps.log.warn(
          { key: manifestKey, error: (e as Error).message },
          `could not store the manifest; ${NO_MANIFEST}`,
        );
      }
    }
    try {
      await copyWithMetadata(
        deps.s3,
        cfg.bucket,
        tempKey,
        finalKey,
        cipher.bytes,
        {
          [META.keyId]: keyId,
          [META.format]: `${MAGIC.toString('ascii')}/${FORMAT_VERSION}`,
          [META.plaintextBytes]: String(plain.bytes),
          [META.ciphertextSha256]: ciphertextSha256,
          [META.takenAt]: startedAt.toISOString(),
          [META.territory]: cfg.territory,
        },
        {
          ...(deps.s3Tuning?.copyMultipartThreshold
            ? { multipartThreshold: deps.s3Tuning.copyMultipartThreshold }
            : {}),
          ...(deps.s3Tuning?.copyPartSize ? { partSize: deps.s3Tuning.copyPartSize } : {}),
        },
      );
    } catch (e) {
      // A manifest without its dump is an orphan (prune removes those too, a day later).
      if (manifestStored) await deleteObject(deps.s3, cfg.bucket, manifestKey).catch(() => {});
      throw e;
    }
  } finally {
    await deleteObject(deps.s3, cfg.bucket, tempKey).catch((e: Error) =>
      deps.log.warn(
        { key: tempKey, error: e.message },
        'could not delete the temporary upload; prune removes it later',
      ),
    );
  }

  const ms = Date.now() - started;
  const result: BackupResult = {
    key: finalKey,
    keyId,
    plaintextBytes: plain.bytes,
    ciphertextBytes: cipher.bytes,
    ciphertextSha256,
    seconds: ms / 1000,
    ...(manifestStored && described ? { manifestKey, tables: described.tables.length } : {}),
  };
  deps.log.info({ ...result, mbPerSec: rate(plain.bytes, ms) }, 'backup complete');
  return result;
}

// ---------------------------------------------------------------------------------------------
// Listing

export interface BackupListing {
  key: string;
  takenAt: Date;
  size: number;
  keyId?: string;
  plaintextBytes?: number;
  ciphertextSha256?: string;
}

/** Finished backups of one territory, oldest first, with their metadata. */
export async function listBackups(
  s3: S3Client,
  bucket: string,
  prefix: string,
  territory: string,
): Promise<BackupListing[]> {
  const objects = await listObjects(s3, bucket, territoryFolder(prefix, territory), { delimiter: '/' });
  const backups = objects.flatMap((o) => {
    const takenAt = backupTime(o.key);
    return takenAt ? [{ key: o.key, takenAt, size: o.size }] : [];
  });
  backups.sort((a, b) => a.takenAt.getTime() - b.takenAt.getTime());
  const out: BackupListing[] = [];
  // Metadata needs one HEAD per object; a few at a time, so hourly backups don't flood the store.
  for (let i = 0; i < backups.length; i += 8) {
    const batch = backups.slice(i, i + 8);
    const heads = await Promise.all(batch.map((b) => headObject(s3, bucket, b.key)));
    batch.forEach((b, j) => {
      const meta = heads[j]?.metadata ?? {};
      const plaintext = meta[META.plaintextBytes];
      out.push({
        ...b,
        ...(meta[META.keyId] ? { keyId: meta[META.keyId] } : {}),
        ...(plaintext && /^\d+$/.test(plaintext) ? { plaintextBytes: Number(plaintext) } : {}),
        ...(meta[META.ciphertextSha256] ? { ciphertextSha256: meta[META.ciphertextSha256] } : {}),
      });
    });
  }
  return out;
}

/** "latest", a full key, or a bare object name under the territory's folder. */
/** `latest` was asked for, and the territory's folder holds no backup at all. */
export class NoBackupError extends Error {
  override name = 'NoBackupError';
}

export async function resolveBackupKey(
  s3: S3Client,
  bucket: string,
  prefix: string,
  territory: string,
  object: string,
): Promise<string> {
  if (object === 'latest') {
    const all = await listBackups(s3, bucket, prefix, territory);
    const latest = all.at(-1);
    if (!latest)
      throw new NoBackupError(
        `no backup of ${territory} in s3://${bucket}/${territoryFolder(prefix, territory)}`,
      );
    return latest.key;
  }
  const folder = territoryFolder(prefix, territory);
  const key = object.includes('/') ? object : `${folder}${object}`;
  if (!key.startsWith(folder) || key.slice(folder.length).includes('/') || !backupTime(key)) {
    throw new Error(
      `s3://${bucket}/${key} is not one of ${territory}'s backups (s3://${bucket}/${folder}<YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc)`,
    );
  }
  if (!(await headObject(s3, bucket, key))) throw new Error(`no backup object s3://${bucket}/${key}`);
  return key;
}

/** What the object at `key` must be: a backup of `territory` taken at the time its name carries. */
export function expectedBinding(bucket: string, key: string, territory: string): BackupBinding {
  const takenAt = backupTime(key);
  if (!takenAt) {
    throw new Error(
      `s3://${bucket}/${key} is not the name of a backup (<folder>/<YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc)`,
    );
  }
  return { territory, takenAt };
}

// ---------------------------------------------------------------------------------------------
// Verify, decrypt, restore

export interface VerifiedBackup {
  key: string;
  /** The version that was verified: every later read is conditional on it (If-Match). */
  etag: string;
  keyId: string;
  /** Whose backup it is and when it was taken, from its authenticated header (matching its name). */
  territory: string;
  takenAt: Date;
  plaintextBytes: number;
  ciphertextBytes: number;
  ciphertextSha256: string;
}

const discard = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

/**
 * Read the whole object and authenticate every chunk, keeping nothing (memory-flat). Proves the
 * object is complete, unaltered, opened by this keyring, and the backup of `expected.territory`
 * taken at the time its name carries, before anything consumes it. The read is conditional on the
 * ETag its HEAD answered; a store that gives none is refused.
 */
export async function verifyBackup(
  s3: S3Client,
  bucket: string,
  key: string,
  resolveKey: KeyResolver,
  expected: { territory: string },
  opts: { onProgress?: (ciphertextBytes: number) => void; progressEveryMs?: number } = {},
): Promise<VerifiedBackup> {
  const binding = expectedBinding(bucket, key, expected.territory);
  const head = await headObject(s3, bucket, key);
  if (!head) throw new Error(`no backup object s3://${bucket}/${key}`);
  const source = await getObjectStream(s3, bucket, key, readCondition(bucket, key, head));
  const cipher = new ByteMeter({
    sha256: true,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    everyMs: opts.progressEveryMs ?? 5000,
  });
  const decrypt = new DecryptStream({ resolveKey, expect: binding });
  await pipeline(source, cipher, decrypt, discard());
  const sha256 = cipher.digest();
  const expectedSha256 = head.metadata[META.ciphertextSha256];
  if (expectedSha256 !== undefined && expectedSha256 !== sha256) {
    throw new BackupFormatError(
      'corrupted',
      `backup object is corrupted or was tampered with: its sha256 is ${sha256}, its metadata says ${expectedSha256}`,
    );
  }
  const keyId = decrypt.header?.keyId ?? '';
  const metaKeyId = head.metadata[META.keyId];
  if (metaKeyId !== undefined && metaKeyId !== keyId) {
    throw new BackupFormatError(
      'corrupted',
      `backup object header names key ${keyId} but its metadata says ${metaKeyId}`,
    );
  }
  return {
    key,
    etag: head.etag,
    keyId,
    territory: binding.territory,
    takenAt: binding.takenAt,
    plaintextBytes: decrypt.plaintextBytes,
    ciphertextBytes: cipher.bytes,
    ciphertextSha256: sha256,
  };
}

/**
 * The manifest of a verified backup (its table checksums), or undefined when it has none (a backup
 * taken before manifests existed, or whose checksums failed). Read conditionally like the dump,
 * authenticated with the same keys, bound to the same territory and time, and refused unless it
 * describes this very dump (the sha256 it records is the verified one): every failure is a
 * BackupFormatError.
 */
export async function readManifest(
  s3: S3Client,
  bucket: string,
  verified: VerifiedBackup,
  resolveKey: KeyResolver,
): Promise<{ key: string; manifest: BackupManifest } | undefined> {
  const key = manifestKeyOf(verified.key);
  const head = await headObject(s3, bucket, key);
  if (!head) return undefined;
  if (head.size > MAX_MANIFEST_BYTES) {
    throw new BackupFormatError(
      'corrupted',
      `the backup manifest s3://${bucket}/${key} is too large (${head.size} bytes)`,
    );
  }
  const source = await getObjectStream(s3, bucket, key, readCondition(bucket, key, head));
  const object = Buffer.concat((await source.toArray()) as Buffer[]);
  let manifest: BackupManifest;
  try {
    manifest = await openManifest(object, {
      resolveKey,
      expect: { territory: verified.territory, takenAt: verified.takenAt },
    });
  } catch (e) {
    if (e instanceof BackupFormatError) {
      throw new BackupFormatError(e.code, `backup manifest s3://${bucket}/${key}: ${e.message}`);
    }
    throw e;
  }
  if (manifest.dump.ciphertextSha256 !== verified.ciphertextSha256) {
    throw new BackupFormatError(
      'misplaced',
      `backup manifest s3://${bucket}/${key} describes another dump (sha256 ${manifest.dump.ciphertextSha256}), ` +
        `not this one (${verified.ciphertextSha256}); it was copied or replaced in the bucket`,
    );
  }
  return { key, manifest };
}

/**
 * Stream the decrypted dump of a verified backup into `destination`. The read is conditional on the
 * verified ETag, its bytes must hash to the verified sha256 (checked before the last chunk is
 * released, so a restore fed by it never completes otherwise), and the header must carry the same
 * binding: the bytes decrypted here are the very object that was verified.
 */
export async function decryptBackupTo(
  s3: S3Client,
  bucket: string,
  verified: VerifiedBackup,
  resolveKey: KeyResolver,
  destination: NodeJS.WritableStream,
  opts: { onProgress?: (plaintextBytes: number) => void; progressEveryMs?: number } = {},
): Promise<{ plaintextBytes: number }> {
  const source = await getObjectStream(
    s3,
    bucket,
    verified.key,
    readCondition(bucket, verified.key, verified),
  );
  const gate = new Sha256Gate(verified.ciphertextSha256, `s3://${bucket}/${verified.key}`);
  const decrypt = new DecryptStream({
    resolveKey,
    expect: { territory: verified.territory, takenAt: verified.takenAt },
  });
  const plain = new ByteMeter({
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    everyMs: opts.progressEveryMs ?? 5000,
  });
  await pipeline(source, gate, decrypt, plain, destination);
  return { plaintextBytes: plain.bytes };
}

/** Which side of a decrypt-into-pg_restore failed, and its own error. */
export class RestoreFeedError extends Error {
  readonly side: 'pg_restore' | 'stream';
  readonly reason: Error;
  constructor(side: 'pg_restore' | 'stream', reason: Error) {
    super(reason.message);
    this.side = side;
    this.reason = reason;
  }
}

/** The codes of a write into a process that exited: the writer's error says nothing of why. */
function isBrokenPipe(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}

/**
 * Streams a verified backup, decrypted, into a running pg_restore, logging progress with `fields`.
 * On failure pg_restore is killed and a RestoreFeedError names the side to believe: when pg_restore
 * failed, the stream feeding it fails with a broken pipe, and pg_restore's own error explains more;
 * when the stream failed first (the object changed, a 412), its error does.
 */
export async function feedRestore(
  deps: Deps,
  bucket: string,
  verified: VerifiedBackup,
  resolveKey: KeyResolver,
  restore: RunningTool & { stdin: NodeJS.WritableStream },
  progress: { fields: Record<string, unknown>; startedAt: () => number },
): Promise<void> {
  const [streamed, exited] = await Promise.allSettled([
    decryptBackupTo(deps.s3, bucket, verified, resolveKey, restore.stdin, {
      progressEveryMs: deps.progressEveryMs ?? 5000,
      onProgress: (bytes) =>
        deps.log.info(
          {
            ...progress.fields,
            plaintextBytes: bytes,
            of: verified.plaintextBytes,
            mbPerSec: rate(bytes, Date.now() - progress.startedAt()),
          },
          'progress',
        ),
    }),
    restore.finished,
  ]);
  if (streamed.status === 'fulfilled' && exited.status === 'fulfilled') return;
  restore.kill();
  if (exited.status === 'rejected' && (streamed.status === 'fulfilled' || isBrokenPipe(streamed.reason))) {
    throw new RestoreFeedError('pg_restore', exited.reason as Error);
  }
  throw new RestoreFeedError('stream', (streamed as PromiseRejectedResult).reason as Error);
}

export interface RestoreResult extends VerifiedBackup {
  database: string;
  seconds: number;
}

/**
 * Download and verify the whole object first; only then stream it again, decrypted, into
 * pg_restore (one transaction). A corrupted or tampered object, or a wrong key, restores
 * nothing: pg_restore is not even started.
 */
export async function runRestore(
  cfg: BackupConfig,
  keys: LoadedKeys,
  deps: Deps,
  opts: { object: string; database?: string },
): Promise<RestoreResult> {
  const database = opts.database ?? cfg.pg.database;
  if (!database) throw new Error('restore needs a target database: set PGDATABASE or pass --dbname');
  const key = await resolveBackupKey(deps.s3, cfg.bucket, cfg.prefix, cfg.territory, opts.object);
  const started = Date.now();
  deps.log.info({ key, database }, 'verifying backup before restoring');
  const verified = await verifyBackup(deps.s3, cfg.bucket, key, keys.resolveKey, {
    territory: cfg.territory,
  });
  deps.log.info(
    {
      key,
      keyId: verified.keyId,
      plaintextBytes: verified.plaintextBytes,
      mbPerSec: rate(verified.ciphertextBytes, Date.now() - started),
    },
    'backup verified; restoring',
  );

  const restoreStarted = Date.now();
  await withPgEnv(cfg, deps, async (pgEnv) => {
    const restore = startPgRestore({
      ...(cfg.pg.binDir ? { binDir: cfg.pg.binDir } : {}),
      database,
      env: pgEnv,
    });
    try {
      await feedRestore(deps, cfg.bucket, verified, keys.resolveKey, restore, {
        fields: { phase: 'restore' },
        startedAt: () => restoreStarted,
      });
    } catch (e) {
      const reason = e instanceof RestoreFeedError ? e.reason : (e as Error);
      throw new Error(`restore of ${key} failed (the transaction was rolled back): ${reason.message}`);
    }
  });
  const ms = Date.now() - started;
  const result: RestoreResult = { ...verified, database, seconds: ms / 1000 };
  deps.log.info(
    {
      key,
      keyId: verified.keyId,
      database,
      plaintextBytes: verified.plaintextBytes,
      seconds: result.seconds,
      mbPerSec: rate(verified.plaintextBytes, Date.now() - restoreStarted),
    },
    'restore complete',
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// Prune

export interface PruneResult {
  deleted: string[];
  kept: number;
  leftoversRemoved: string[];
}

/**
 * Delete backups past retention (always keeping the newest `keepAtLeast`), then leftovers of
 * runs that died mid-upload. Without a retention setting nothing is deleted.
 */
export async function runPrune(cfg: BackupConfig, deps: Deps): Promise<PruneResult> {
  const now = (deps.now ?? (() => new Date()))();
  if (cfg.retentionDays === undefined) {
    deps.log.info({}, 'no retention configured (RETENTION_DAYS); nothing pruned');
    return { deleted: [], kept: -1, leftoversRemoved: [] };
  }
  const folder = territoryFolder(cfg.prefix, cfg.territory);
  const objects = await listObjects(deps.s3, cfg.bucket, folder, { delimiter: '/' });
  const backups = objects.flatMap((o) => {
    const takenAt = backupTime(o.key);
    return takenAt ? [{ key: o.key, takenAt }] : [];
  });
  const manifests = new Map(
    objects.flatMap((o) => (backupKeyOfManifest(o.key) ? [[o.key, o.lastModified] as const] : [])),
  );
  const expired = selectExpired(backups, {
    now,
    retentionDays: cfg.retentionDays,
    keepAtLeast: cfg.keepAtLeast,
  });
  for (const b of expired) {
    await deleteObject(deps.s3, cfg.bucket, b.key);
    // Its manifest goes with it (the dump first: a manifest left alone is an orphan, removed below).
    const manifest = manifestKeyOf(b.key);
    if (manifests.delete(manifest)) await deleteObject(deps.s3, cfg.bucket, manifest);
    deps.log.info(
      { key: b.key, takenAt: b.takenAt.toISOString(), retentionDays: cfg.retentionDays },
      'expired backup deleted',
    );
  }

  const leftoversRemoved: string[] = [];
  try {
    // Manifests whose dump is gone (a run that died between storing the manifest and copying the
    // dump, or a dump deleted by hand), once no live run can still be about to copy it.
    const kept = new Set(backups.map((b) => b.key));
    for (const [key, lastModified] of manifests) {
      const of = backupKeyOfManifest(key);
      if (of === undefined || kept.has(of) || !isAbandoned(lastModified, now)) continue;
      await deleteObject(deps.s3, cfg.bucket, key);
      leftoversRemoved.push(key);
    }
    for (const o of await listObjects(deps.s3, cfg.bucket, `${folder}${INCOMPLETE_DIR}/`)) {
      if (!isAbandoned(o.lastModified, now)) continue;
      await deleteObject(deps.s3, cfg.bucket, o.key);
      leftoversRemoved.push(o.key);
    }
    for (const u of await listMultipartUploads(deps.s3, cfg.bucket, folder)) {
      if (!isAbandoned(u.initiated, now)) continue;
      await abortMultipartUpload(deps.s3, cfg.bucket, u.key, u.uploadId);
      leftoversRemoved.push(`${u.key} (multipart upload)`);
    }
  } catch (e) {
    // Leftovers only cost space; failing to list them must not fail the run.
    deps.log.warn({ error: (e as Error).message }, 'could not clean up abandoned uploads');
  }
  if (leftoversRemoved.length > 0) deps.log.info({ leftoversRemoved }, 'abandoned uploads removed');
  const result = {
    deleted: expired.map((b) => b.key),
    kept: backups.length - expired.length,
    leftoversRemoved,
  };
  deps.log.info({ deleted: result.deleted.length, kept: result.kept }, 'prune complete');
  return result;
}
