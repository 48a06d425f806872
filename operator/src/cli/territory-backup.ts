#!/usr/bin/env node
// territory-backup: client-side encrypted logical backups of one territory's database.
// Runs in the operator image inside the backup CronJob (and by hand for restores):
//
//   territory-backup backup               pg_dump → encrypt (current key) → S3, with a manifest of
//                                         table checksums taken in the same snapshot; then prune
//   territory-backup restore --object latest|<name> [--dbname db]
//   territory-backup verify  --object latest|<name>    (a restore test that restores nothing)
//   territory-backup drill [--object latest|<name>]    (restores into a throwaway server it starts,
//                                         and compares every table with the manifest)
//   territory-backup restore-into [--object <name> | --before <time>] [--replace-existing-data]
//                                         (a declarative restore's Job: verifies, refuses a database that
//                                         holds data unless told to replace it, restores in one
//                                         transaction, compares every table with the manifest)
//   territory-backup database-access     (a database in a pool, once, as its owner: only the Territory's
//                                         roles may connect to it; needs no store and no keys)
//   territory-backup list [--json]
//   territory-backup prune
//
// Configured by its environment only, as the CronJob sets it (libpq PGHOST/PGPORT/PGUSER/PGDATABASE/
// PGSSLMODE/PGSSLROOTCERT, PG_PASSWORD_FILE, S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_PREFIX, S3_CA_FILE,
// S3_ACCESS_KEY_ID_FILE/S3_SECRET_ACCESS_KEY_FILE, TERRITORY_NAME, KEYRING_FILE, KEK_FILE,
// RETENTION_DAYS, TERRITORY_RUNTIME_DIR, PG_BINDIR). There is deliberately no flag for any of it: an
// argument added to the CronJob must not be able to send backups to another endpoint, bucket or folder,
// or make them use other keys. Credentials are files, never variables. Logs are JSON lines; secrets
// never appear. Exit codes: 0 ok, 1 failed, 2 bad configuration, 3 backup stored but pruning failed,
// 4 drill: restored but the data does not match the manifest, 5 drill: the backup does not restore
// (it fails verification, or pg_restore refuses it), 6 drill: there is no backup to restore yet.
// restore-into uses 4, 5 and 6 with the same meanings (6: no backup fits the request), and 7: the
// database already holds data and --replace-existing-data was not given (nothing was changed).
// RESTORE_SOURCE_TERRITORY (restore-into only) reads another territory's backups in the same bucket.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { pino } from 'pino';
import {
  type Deps,
  listBackups,
  loadKeys,
  resolveBackupKey,
  runBackup,
  runPrune,
  runRestore,
  verifyBackup,
} from '../backup/commands.ts';
import { type BackupConfig, ConfigError, loadConfig } from '../backup/config.ts';
import { loadDatabaseAccessConfig, runDatabaseAccess } from '../backup/database-access.ts';
import { DRILL_EXIT, DrillError, runDrill } from '../backup/drill.ts';
import { RestoreIntoError, runRestoreInto, terminationOf, writeTermination } from '../backup/restore-into.ts';
import { createS3Client } from '../backup/s3-store.ts';
import { BACKUP_NAME, type BackupChoice } from '../backup/selection.ts';

const log = pino({ name: 'territory-backup', base: { pid: process.pid } });

function resourceSummary(): { maxRssMiB: number; cpuUserSeconds: number; cpuSystemSeconds: number } {
  const u = process.resourceUsage();
  return {
    maxRssMiB: Math.round((u.maxRSS / 1024) * 10) / 10,
    cpuUserSeconds: u.userCPUTime / 1e6,
    cpuSystemSeconds: u.systemCPUTime / 1e6,
  };
}

class ExitError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** A mounted file (a Secret's key) that the configuration names; its content is never echoed. */
function readMounted(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${what} ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

function setup(): { cfg: BackupConfig; deps: Deps } {
  const cfg = loadConfig(process.env);
  const credential = (path: string, what: string) => {
    const value = readMounted(path, what).trim();
    if (value === '') throw new ConfigError(`${what} ${path} is empty`);
    return value;
  };
  const s3 = createS3Client({
    endpoint: cfg.endpoint,
    region: cfg.region,
    bucket: cfg.bucket,
    // Given explicitly, so the SDK never looks for credentials of its own (environment, node metadata).
    credentials: {
      accessKeyId: credential(cfg.credentialFiles.accessKeyId, 'S3_ACCESS_KEY_ID_FILE'),
      secretAccessKey: credential(cfg.credentialFiles.secretAccessKey, 'S3_SECRET_ACCESS_KEY_FILE'),
    },
    ...(cfg.caFile ? { ca: readMounted(cfg.caFile, 'S3_CA_FILE') } : {}),
  });
  return { cfg, deps: { s3, log } };
}

const program = new Command()
  .name('territory-backup')
  .description(
    'Client-side encrypted logical backups of a territory database. Configured by the environment its CronJob sets; no option changes where backups go or which keys they use.',
  )
  .showHelpAfterError();

program
  .command('backup')
  .description('dump, encrypt with the current key, upload, then prune past retention')
  .action(async () => {
    const { cfg, deps } = setup();
    const keys = await loadKeys(cfg.keyringFile, cfg.kekFile);
    await runBackup(cfg, keys, deps);
    try {
      await runPrune(cfg, deps);
    } catch (e) {
      throw new ExitError(3, `backup stored, but pruning failed: ${(e as Error).message}`);
    }
  });

program
  .command('restore')
  .description(
    'verify the whole object, then restore it into the database (pg_restore --clean, one transaction)',
  )
  .requiredOption('--object <key>', '"latest", an object name, or its full key in this territory\'s folder')
  .option('--dbname <db>', 'database to restore into (default: PGDATABASE)')
  .action(async (o: { object: string; dbname?: string }) => {
    const { cfg, deps } = setup();
    const keys = await loadKeys(cfg.keyringFile, cfg.kekFile);
    await runRestore(cfg, keys, deps, { object: o.object, ...(o.dbname ? { database: o.dbname } : {}) });
  });

program
  .command('verify')
  .description('download and authenticate a backup completely without restoring it')
  .requiredOption('--object <key>', '"latest", an object name, or its full key in this territory\'s folder')
  .action(async (o: { object: string }) => {
    const { cfg, deps } = setup();
    const keys = await loadKeys(cfg.keyringFile, cfg.kekFile);
    const key = await resolveBackupKey(deps.s3, cfg.bucket, cfg.prefix, cfg.territory, o.object);
    const v = await verifyBackup(deps.s3, cfg.bucket, key, keys.resolveKey, { territory: cfg.territory });
    log.info({ ...v }, 'backup verified');
  });

program
  .command('drill')
  .description(
    'restore a backup into a throwaway PostgreSQL server started here, and compare every table with its manifest',
  )
  .option('--object <key>', '"latest", an object name, or its full key in this territory\'s folder', 'latest')
  .action(async (o: { object: string }) => {
    const { cfg, deps } = setup();
    const keys = await loadKeys(cfg.keyringFile, cfg.kekFile);
    let result: Awaited<ReturnType<typeof runDrill>>;
    try {
      result = await runDrill(cfg, keys, deps, { object: o.object });
    } catch (e) {
      if (e instanceof DrillError) throw new ExitError(e.exitCode, e.message);
      throw e;
    }
    if (result.result === 'mismatch') {
      const tables = result.mismatches.map((m) => m.table);
      throw new ExitError(
        DRILL_EXIT.mismatch,
        `the restored data does not match the backup's manifest in ${tables.length} table(s): ${tables.slice(0, 10).join(', ')}${tables.length > 10 ? ', …' : ''}`,
      );
    }
  });

program
  .command('restore-into')
  .description(
    'restore a backup into the database (PGDATABASE) in one transaction, refusing one that holds data unless told to replace it, then compare every table with its manifest',
  )
  .option(
    '--object <name>',
    'the backup to restore, by its name (<YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc); default: the latest',
  )
  .option('--before <time>', 'restore the latest backup taken at or before this RFC 3339 time')
  .option(
    '--replace-existing-data',
    'restore even if the database holds tables: what the backup holds replaces them',
  )
  .action(async (o: { object?: string; before?: string; replaceExistingData?: boolean }) => {
    const choice = restoreChoice(o);
    const { cfg, deps } = setup();
    const keys = await loadKeys(cfg.keyringFile, cfg.kekFile);
    const terminationPath = process.env.TERMINATION_MESSAGE_PATH;
    try {
      const result = await runRestoreInto(cfg, keys, deps, {
        choice,
        replaceExistingData: o.replaceExistingData === true,
      });
      writeTermination(terminationPath, terminationOf(result));
      if (result.result === 'mismatch') {
        throw new ExitError(
          4,
          `restored (committed), but ${result.mismatches.length} table(s) do not match the backup's manifest: ${result.mismatches
            .slice(0, 10)
            .map((m) => m.table)
            .join(', ')}${result.mismatches.length > 10 ? ', …' : ''}`,
        );
      }
    } catch (e) {
      if (e instanceof ExitError) throw e;
      writeTermination(terminationPath, terminationOf(e as Error));
      if (e instanceof RestoreIntoError) throw new ExitError(e.exitCode, e.message);
      throw e;
    }
  });

/** --object and --before, checked: one of them at most, each well formed. */
function restoreChoice(o: { object?: string; before?: string }): BackupChoice {
  if (o.object !== undefined && o.before !== undefined) {
    throw new ConfigError('give --object or --before, not both');
  }
  if (o.object !== undefined) {
    const name = o.object.slice(o.object.lastIndexOf('/') + 1);
    if (!BACKUP_NAME.test(name)) {
      throw new ConfigError(`--object ${o.object} is not a backup name (<YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc)`);
    }
    return { object: name };
  }
  if (o.before !== undefined) {
    const at = Date.parse(o.before);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(o.before) || Number.isNaN(at)) {
      throw new ConfigError(`--before ${o.before} is not an RFC 3339 time (e.g. 2026-11-01T03:00:00Z)`);
    }
    return { before: new Date(at) };
  }
  return { latest: true };
}

program
  .command('list')
  .description('the backups of this territory, oldest first')
  .option('--json', 'one JSON object per line')
  .action(async (o: { json?: boolean }) => {
    const { cfg, deps } = setup();
    const backups = await listBackups(deps.s3, cfg.bucket, cfg.prefix, cfg.territory);
    for (const b of backups) {
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...b, takenAt: b.takenAt.toISOString() })}\n`);
      } else {
        const mib = (b.size / 1024 / 1024).toFixed(1).padStart(10);
        process.stdout.write(
          `${b.takenAt.toISOString()}  ${mib} MiB  ${(b.keyId ?? '?').padEnd(14)}  ${b.key}\n`,
        );
      }
    }
  });

program
  .command('prune')
  .description('delete backups past retention and leftovers of interrupted uploads')
  .action(async () => {
    const { cfg, deps } = setup();
    await runPrune(cfg, deps);
  });

program
  .command('database-access')
  .description(
    "a database in a pool, once, as its owner: only the Territory's own roles may connect to it (no S3, no keys)",
  )
  .action(async () => {
    await runDatabaseAccess(loadDatabaseAccessConfig(process.env), { log });
  });

try {
  await program.parseAsync(process.argv);
  log.info({ command: program.args[0], ...resourceSummary() }, 'done');
} catch (e) {
  const err = e as Error;
  const code = err instanceof ExitError ? err.code : err instanceof ConfigError ? 2 : 1;
  log.error({ command: program.args[0], error: err.message, ...resourceSummary() }, 'failed');
  process.exitCode = code;
}
