#!/usr/bin/env node
// territory-backup: client-side encrypted logical backups of one territory's database.
// Runs in the operator image inside the backup CronJob (and by hand for restores):
//
//   territory-backup backup               pg_dump → encrypt (current key) → S3, then prune
//   territory-backup restore --object latest|<key> [--dbname db]
//   territory-backup verify  --object latest|<key>     (a restore test that restores nothing)
//   territory-backup list [--json]
//   territory-backup prune
//
// Configured by environment (libpq PG*, S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_PREFIX,
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, S3_CA_FILE, TERRITORY_NAME, KEYRING_FILE, KEK_FILE,
// RETENTION_DAYS) with flags taking precedence. Logs are JSON lines; secrets never appear.
// Exit codes: 0 ok, 1 failed, 2 bad configuration, 3 backup stored but pruning failed.
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
import { type BackupConfig, ConfigError, type ConfigFlags, loadConfig } from '../backup/config.ts';
import { createS3Client } from '../backup/s3-store.ts';

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

function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`S3_CA_FILE ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

function setup(flags: ConfigFlags): { cfg: BackupConfig; deps: Deps } {
  const cfg = loadConfig(process.env, flags);
  const s3 = createS3Client({
    endpoint: cfg.endpoint,
    region: cfg.region,
    bucket: cfg.bucket,
    ...(cfg.credentials ? { credentials: cfg.credentials } : {}),
    ...(cfg.caFile ? { ca: readCaFile(cfg.caFile) } : {}),
  });
  return { cfg, deps: { s3, log } };
}

const program = new Command()
  .name('territory-backup')
  .description('Client-side encrypted logical backups of a territory database')
  .option('--territory <name>', 'territory name (env TERRITORY_NAME)')
  .option('--endpoint <url>', 'S3 endpoint (env S3_ENDPOINT)')
  .option('--region <region>', 'S3 region (env S3_REGION, default us-east-1)')
  .option('--bucket <bucket>', 'S3 bucket (env S3_BUCKET)')
  .option('--prefix <prefix>', 'key prefix inside the bucket (env S3_PREFIX)')
  .option('--ca-file <path>', "PEM bundle the endpoint's certificate chains to (env S3_CA_FILE)")
  .option('--keyring-file <path>', 'mounted keyring.json (env KEYRING_FILE)')
  .option('--kek-file <path>', 'mounted customer key, when the keyring is wrapped (env KEK_FILE)')
  .option('--retention-days <days>', 'delete backups older than this (env RETENTION_DAYS; unset: keep all)')
  .option('--keep-at-least <n>', 'newest backups always kept (env KEEP_AT_LEAST, default 1)')
  .option('--pg-bindir <dir>', 'folder with pg_dump/pg_restore (env PG_BINDIR; default PATH)')
  .option('--dbname <db>', 'database (env PGDATABASE)')
  .option('--compress <spec>', 'pg_dump --compress value, e.g. 6 or zstd:3 (env PG_DUMP_COMPRESS)')
  .showHelpAfterError();

program
  .command('backup')
  .description('dump, encrypt with the current key, upload, then prune past retention')
  .action(async () => {
    const { cfg, deps } = setup(program.opts<ConfigFlags>());
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
  .requiredOption('--object <key>', '"latest", an object name, or a full key')
  .action(async (o: { object: string }) => {
    const { cfg, deps } = setup(program.opts<ConfigFlags>());
    const keys = await loadKeys(cfg.keyringFile, cfg.kekFile);
    await runRestore(cfg, keys, deps, { object: o.object });
  });

program
  .command('verify')
  .description('download and authenticate a backup completely without restoring it')
  .requiredOption('--object <key>', '"latest", an object name, or a full key')
  .action(async (o: { object: string }) => {
    const { cfg, deps } = setup(program.opts<ConfigFlags>());
    const keys = await loadKeys(cfg.keyringFile, cfg.kekFile);
    const key = await resolveBackupKey(deps.s3, cfg.bucket, cfg.prefix, cfg.territory, o.object);
    const v = await verifyBackup(deps.s3, cfg.bucket, key, keys.resolveKey);
    log.info({ ...v }, 'backup verified');
  });

program
  .command('list')
  .description('the backups of this territory, oldest first')
  .option('--json', 'one JSON object per line')
  .action(async (o: { json?: boolean }) => {
    const { cfg, deps } = setup(program.opts<ConfigFlags>());
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
    const { cfg, deps } = setup(program.opts<ConfigFlags>());
    await runPrune(cfg, deps);
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
