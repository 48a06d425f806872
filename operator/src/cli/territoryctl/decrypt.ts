// `territoryctl decrypt FILE`: OFFLINE, turns an encrypted backup of an export bundle (TERRBK01,
// `*.pgdump.enc`) into the plain pg_dump file it protects, with the bundle's keyring and, when the
// keyring is wrapped, the authority's own key. No cluster and no object storage involved: this is
// how an authority that left with an encrypted bundle reads it anywhere.
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import { type BackupBinding, BackupFormatError, DecryptStream } from '../../backup/format.ts';
import { backupTime } from '../../backup/naming.ts';
import { ByteMeter } from '../../backup/streams.ts';
import { type Keyring, parseKek, parseKeyring, unwrapKey } from '../../keys/keyring.ts';
import { CliError, EXIT } from './errors.ts';
import { formatBytes, progress } from './progress.ts';

/** pg_dump's custom format starts with these bytes: a cheap check that the right thing came out. */
export const PG_DUMP_MAGIC = Buffer.from('PGDMP', 'ascii');

export interface KeySource {
  keyring: Keyring;
  kek?: Buffer;
}

export async function readKeyringFile(path: string): Promise<Keyring> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read the keyring ${path}: ${e.code ?? e.message}`, { exitCode: EXIT.usage });
  });
  const parsed = parseKeyring(text);
  if (!parsed.ok) throw new CliError(`${path}: ${parsed.error}`);
  return parsed.value;
}

export async function readKekFile(path: string): Promise<Buffer> {
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read the customer key ${path}: ${e.code ?? e.message}`, {
      exitCode: EXIT.usage,
    });
  });
  const parsed = parseKek(bytes);
  if (!parsed.ok) throw new CliError(`${path}: ${parsed.error}`);
  return parsed.value;
}

/** The key resolver of a keyring, failing early (before any byte) when the customer key is missing or wrong. */
export function resolverFor(keys: KeySource): (keyId: string) => Uint8Array {
  const resolve = (id: string) => unwrapKey(keys.keyring, id, keys.kek);
  try {
    resolve(keys.keyring.current);
  } catch (err) {
    throw new CliError((err as Error).message, {
      hint:
        keys.keyring.wrapping.algorithm === 'none'
          ? 'use the keyring.json exported with this backup'
          : `pass the authority's own key with --kek-file (fingerprint ${keys.keyring.wrapping.kekFingerprint})`,
    });
  }
  return resolve;
}

/**
 * Decrypts `source` into `target` through a temporary file renamed at the end, so a wrong key or a
 * corrupted object never leaves a half-written dump behind under the final name.
 */
export async function decryptFile(
  source: string,
  target: string,
  resolveKey: (keyId: string) => Uint8Array,
  opts: { label?: string; quiet?: boolean; expect?: BackupBinding } = {},
): Promise<{ plaintextBytes: number; keyId: string; binding?: BackupBinding }> {
  const total = (await stat(source)).size;
  const temp = `${target}.partial`;
  const meter = new ByteMeter();
  const report = opts.quiet ? undefined : progress(opts.label ?? `decrypting ${source}`, total);
  const cipher = new ByteMeter({ everyMs: 200, onProgress: (bytes) => report?.update(bytes) });
  const decrypt = new DecryptStream({ resolveKey, ...(opts.expect ? { expect: opts.expect } : {}) });
  try {
    await pipeline(
      createReadStream(source),
      cipher,
      decrypt,
      meter,
      createWriteStream(temp, { mode: 0o600 }),
    );
  } catch (err) {
    await rm(temp, { force: true });
    if (err instanceof BackupFormatError) {
      throw new CliError(`${source}: ${err.message}`, {
        hint:
          err.code === 'misplaced'
            ? 'ask for another backup; this object is not the one its name says'
            : 'check the file against SHA256SUMS; if it matches, the keyring or key does not belong to it',
      });
    }
    if (err instanceof CliError) throw err;
    throw new CliError(`${source}: ${(err as Error).message}`);
  }
  report?.done(cipher.bytes);
  await rename(temp, target);
  const header = decrypt.header;
  return {
    plaintextBytes: meter.bytes,
    keyId: header?.keyId ?? '',
    ...(header ? { binding: { territory: header.territory, takenAt: header.takenAt } } : {}),
  };
}

export async function startsWithPgDumpMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(PG_DUMP_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(PG_DUMP_MAGIC);
  } finally {
    await handle.close();
  }
}

export function decryptCommand(): Command {
  return new Command('decrypt')
    .description('decrypt an encrypted backup of an export bundle into a plain pg_dump file (offline)')
    .argument('<file>', 'the encrypted backup, e.g. database/20261101T020000.000Z.pgdump.enc')
    .requiredOption('--keyring <file>', 'keyring.json of the bundle (keys/keyring.json)')
    .option('--kek-file <file>', "the authority's own 32-byte key, when the keyring is wrapped by it")
    .option('--out <file>', 'where to write the pg_dump file (default: FILE without .enc)')
    .action(async (file: string, o: { keyring: string; kekFile?: string; out?: string }) => {
      if (!existsSync(file)) throw new CliError(`no file ${file}`, { exitCode: EXIT.usage });
      const target = o.out ?? (file.endsWith('.enc') ? file.slice(0, -'.enc'.length) : `${file}.pgdump`);
      if (existsSync(target)) {
        throw new CliError(`${target} already exists`, {
          hint: 'remove it or pass --out',
          exitCode: EXIT.usage,
        });
      }
      const keyring = await readKeyringFile(o.keyring);
      const kek = o.kekFile ? await readKekFile(o.kekFile) : undefined;
      const resolveKey = resolverFor({ keyring, ...(kek ? { kek } : {}) });
      const result = await decryptFile(file, target, resolveKey);
      // Offline, only the file's name says which backup it should be: when it carries a time, the
      // authenticated header must carry the same (the territory is shown for the reader to judge).
      const named = backupTime(file);
      if (named && result.binding && named.getTime() !== result.binding.takenAt.getTime()) {
        await rm(target, { force: true });
        throw new CliError(
          `${file}: its authenticated header says it was taken at ${result.binding.takenAt.toISOString()}, not at ${named.toISOString()} as its name says: it was renamed`,
          { hint: 'use the file exported under its own name' },
        );
      }
      if (!(await startsWithPgDumpMagic(target))) {
        process.stderr.write(`warning: ${target} does not look like a pg_dump custom-format file\n`);
      }
      process.stdout.write(
        `${target}: ${formatBytes(result.plaintextBytes)} decrypted with key ${result.keyId}` +
          (result.binding
            ? ` (backup of territory ${result.binding.territory} taken at ${result.binding.takenAt.toISOString()})`
            : '') +
          '\n' +
          `restore it with: pg_restore --no-owner --no-privileges --dbname=<database> ${target}\n`,
      );
    });
}
