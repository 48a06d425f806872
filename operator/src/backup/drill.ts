// The restore drill (SecNumCloud asks for regular restore tests): takes a backup (the latest, or a
// named one), verifies and decrypts it, restores it into a throwaway PostgreSQL server it starts
// itself, and compares every table's row count and checksum with the manifest the backup recorded
// in the snapshot it dumped. It never connects to the territory's database: the only server it talks
// to is its own, on a Unix socket in its own folder, removed at the end whatever happens.
//
// Steps, each timed: download (read and authenticate the whole object, and its manifest), server
// (initdb and start), restore (stream the object again, decrypted, into pg_restore), check.
//
// Outcomes: `passed` (every table matches), `mismatch` (exit 4: restored, but the data differs),
// `not-compared` (a backup without a manifest: it restores, which is all that can be shown),
// `unrestorable` (exit 5: the object or its manifest fails verification, or pg_restore refuses it),
// `no-backup` (exit 6: there is nothing to restore yet), and anything else that stops the drill from
// running (exit 1).
import { tmpdir } from 'node:os';
import { BEGIN_CHECKSUMS, createRoleStatement, displayName, ROLES_QUERY } from './checksum-sql.ts';
import {
  type Deps,
  feedRestore,
  type LoadedKeys,
  NoBackupError,
  RestoreFeedError,
  rate,
  readManifest,
  resolveBackupKey,
  type VerifiedBackup,
  verifyBackup,
} from './commands.ts';
import { type BackupConfig, ConfigError } from './config.ts';
import { BackupFormatError } from './format.ts';
import type { BackupManifest } from './manifest.ts';
import { startPgRestore } from './postgres-tools.ts';
import { PsqlSession } from './psql-session.ts';
import {
  compareChecksums,
  computeChecksums,
  type DatabaseChecksums,
  type Mismatch,
} from './table-checksums.ts';
import { startThrowawayPostgres, type ThrowawayPostgres } from './throwaway-postgres.ts';

/** Exit codes of `territory-backup drill`, beside 0 (passed or not compared), 1 and 2. */
export const DRILL_EXIT = {
  /** Restored, but the data differs from what the backup recorded. */
  mismatch: 4,
  /** The backup does not restore: it fails verification, or pg_restore refuses it. */
  unrestorable: 5,
  /**
   * The territory has no backup yet: nothing to drill. Distinct, so that the operator can tell a new
   * Territory's first drill (scheduled before its first backup) from a backup that does not restore.
   */
  noBackup: 6,
} as const;

/** Mismatches listed in the result line; every one is also on its own `table checked` line. */
const MAX_LISTED_MISMATCHES = 100;
const RESTORED_DATABASE = 'restored';

export type DrillStep = 'download' | 'server' | 'restore' | 'check';

export class DrillError extends Error {
  override name = 'DrillError';
  readonly exitCode: number;
  readonly step: DrillStep;
  constructor(exitCode: number, step: DrillStep, message: string) {
    super(message);
    this.exitCode = exitCode;
    this.step = step;
  }
}

export interface DrillResult {
  result: 'passed' | 'mismatch' | 'not-compared';
  key: string;
  keyId: string;
  takenAt: string;
  manifestKey?: string;
  plaintextBytes: number;
  ciphertextBytes: number;
  /** Source server the backup was taken from (from the manifest). */
  source?: { versionNum: number; encoding: string };
  seconds: Record<DrillStep | 'total', number>;
  /** Tables compared with the manifest (0 without one). */
  tablesChecked: number;
  /** Tables and rows found in the restored database. */
  tablesRestored: number;
  rowsRestored: number;
  mismatches: Mismatch[];
}

const seconds = (ms: number) => Math.round(ms) / 1000;

export async function runDrill(
  cfg: BackupConfig,
  keys: LoadedKeys,
  deps: Deps,
  opts: { object: string },
): Promise<DrillResult> {
  const binDir = cfg.pg.binDir;
  if (!binDir) {
    throw new ConfigError(
      'the drill needs PG_BINDIR: the folder holding initdb, postgres, pg_restore and psql of one PostgreSQL version',
    );
  }
  const everyMs = deps.progressEveryMs ?? 5000;
  const started = Date.now();
  const timings: Record<DrillStep, number> = { download: 0, server: 0, restore: 0, check: 0 };
  let step: DrillStep = 'download';
  let stepStarted = Date.now();
  const next = (s: DrillStep) => {
    timings[step] = Date.now() - stepStarted;
    step = s;
    stepStarted = Date.now();
  };
  const elapsed = () => ({
    ...Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, seconds(v)])),
    [step]: seconds(Date.now() - stepStarted),
    total: seconds(Date.now() - started),
  });
  let key: string | undefined;
  let verified: VerifiedBackup | undefined;
  let server: ThrowawayPostgres | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    deps.log.warn({ signal, step }, 'drill interrupted; stopping and removing its server');
    void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  try {
    try {
      key = await resolveBackupKey(deps.s3, cfg.bucket, cfg.prefix, cfg.territory, opts.object);
    } catch (e) {
      if (e instanceof NoBackupError) throw new DrillError(DRILL_EXIT.noBackup, step, e.message);
      throw e;
    }
    deps.log.info({ key, step }, 'drill started: downloading and verifying the backup');

    // 1. The whole object authenticated before anything restores it; then its manifest.
    let found: { key: string; manifest: BackupManifest } | undefined;
    try {
      verified = await verifyBackup(
        deps.s3,
        cfg.bucket,
        key,
        keys.resolveKey,
        { territory: cfg.territory },
        {
          progressEveryMs: everyMs,
          onProgress: (bytes) =>
            deps.log.info(
              {
                phase: 'drill',
                step,
                ciphertextBytes: bytes,
                mbPerSec: rate(bytes, Date.now() - stepStarted),
              },
              'progress',
            ),
        },
      );
      found = await readManifest(deps.s3, cfg.bucket, verified, keys.resolveKey);
    } catch (e) {
      if (e instanceof BackupFormatError) throw new DrillError(DRILL_EXIT.unrestorable, step, e.message);
      throw e;
    }
    const manifest = found?.manifest;
    deps.log.info(
      {
        key,
        keyId: verified.keyId,
        takenAt: verified.takenAt.toISOString(),
        plaintextBytes: verified.plaintextBytes,
        manifestKey: found?.key ?? null,
        tables: manifest?.checksums.tables.length ?? null,
      },
      manifest
        ? 'backup verified; starting the drill server'
        : 'backup verified; it has no manifest, so the drill can only show that it restores',
    );

    // 2. The throwaway server, with the source's encoding and the roles its policies name.
    next('server');
    server = await startThrowawayPostgres({
      binDir,
      parentDir: cfg.runtimeDir ?? tmpdir(),
      encoding: manifest?.checksums.server.encoding ?? 'UTF8',
    });
    const admin = new PsqlSession({ binDir, env: server.env('postgres') });
    try {
      const existing = new Set(JSON.parse(await admin.query(ROLES_QUERY)) as string[]);
      for (const role of manifest?.checksums.roles ?? []) {
        if (!existing.has(role)) await admin.query(createRoleStatement(role));
      }
      await admin.query(`CREATE DATABASE ${RESTORED_DATABASE} TEMPLATE template0;`);
      await admin.close();
    } finally {
      admin.kill();
    }

    // 3. The verified object again, decrypted, into pg_restore: the same bytes (If-Match, sha256).
    next('restore');
    deps.log.info({ key, step }, 'restoring into the drill server');
    await restoreInto(server, binDir, cfg, keys, deps, verified, () => stepStarted, manifest !== undefined);

    // 4. The same checksums, on what was restored.
    next('check');
    const session = new PsqlSession({ binDir, env: server.env(RESTORED_DATABASE) });
    let restored: DatabaseChecksums;
    try {
      await session.query(BEGIN_CHECKSUMS);
      restored = await computeChecksums(session, {
        everyMs,
        onProgress: (p) => deps.log.info({ phase: 'drill', step, ...p }, 'progress'),
      });
      await session.query('COMMIT;');
      await session.close();
    } finally {
      session.kill();
    }
    const mismatches = manifest ? compareChecksums(manifest.checksums, restored) : [];
    const wrong = new Set(mismatches.map((m) => m.table));
    for (const t of restored.tables) {
      const table = displayName(t);
      deps.log.info(
        { table, rows: t.rows, ...(manifest ? { match: !wrong.has(table) } : {}) },
        'table checked',
      );
    }
    for (const m of mismatches) {
      // Tables the backup recorded that the restore did not bring back.
      if (!m.got) deps.log.info({ table: m.table, expected: m.expected, match: false }, 'table checked');
    }
    timings.check = Date.now() - stepStarted;
    const result: DrillResult = {
      result: !manifest ? 'not-compared' : mismatches.length > 0 ? 'mismatch' : 'passed',
      key,
      keyId: verified.keyId,
      takenAt: verified.takenAt.toISOString(),
      ...(found ? { manifestKey: found.key } : {}),
      plaintextBytes: verified.plaintextBytes,
      ciphertextBytes: verified.ciphertextBytes,
      ...(manifest ? { source: manifest.checksums.server } : {}),
      seconds: {
        download: seconds(timings.download),
        server: seconds(timings.server),
        restore: seconds(timings.restore),
        check: seconds(timings.check),
        total: seconds(Date.now() - started),
      },
      tablesChecked: manifest ? manifest.checksums.tables.length : 0,
      tablesRestored: restored.tables.length,
      rowsRestored: restored.tables.reduce((n, t) => n + t.rows, 0),
      mismatches,
    };
    deps.log.info(
      {
        ...result,
        mismatches: mismatches.slice(0, MAX_LISTED_MISMATCHES),
        ...(mismatches.length > MAX_LISTED_MISMATCHES
          ? { mismatchesNotListed: mismatches.length - MAX_LISTED_MISMATCHES }
          : {}),
      },
      'drill result',
    );
    return result;
  } catch (e) {
    const error = e instanceof DrillError ? e : undefined;
    deps.log.info(
      {
        result: !error ? 'error' : error.exitCode === DRILL_EXIT.noBackup ? 'no-backup' : 'unrestorable',
        key: key ?? null,
        keyId: verified?.keyId ?? null,
        takenAt: verified?.takenAt.toISOString() ?? null,
        step,
        seconds: elapsed(),
        error: (e as Error).message,
      },
      'drill result',
    );
    throw e;
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    await server?.stop();
  }
}

/** pg_restore into the drill server; a refusal by pg_restore (or of the bytes) is `unrestorable`. */
async function restoreInto(
  server: ThrowawayPostgres,
  binDir: string,
  cfg: BackupConfig,
  keys: LoadedKeys,
  deps: Deps,
  verified: VerifiedBackup,
  stepStarted: () => number,
  hasManifest: boolean,
): Promise<void> {
  // No owners, no GRANTs (their roles do not exist here), no --clean (the database is empty), and not
  // one transaction: nothing to roll back to, and one lock per table would exhaust the lock table.
  const restore = startPgRestore({
    binDir,
    database: RESTORED_DATABASE,
    env: server.env(RESTORED_DATABASE),
    clean: false,
    privileges: false,
    singleTransaction: false,
  });
  try {
    await feedRestore(deps, cfg.bucket, verified, keys.resolveKey, restore, {
      fields: { phase: 'drill', step: 'restore' },
      startedAt: stepStarted,
    });
  } catch (e) {
    if (!(e instanceof RestoreFeedError)) throw e;
    if (e.side === 'pg_restore') {
      const message = e.reason.message;
      // The roles row-level-security policies name come from the manifest; a backup without one cannot
      // say which roles to create (a policy TO a role then fails), but it may well restore where they exist.
      const hint =
        !hasManifest && /role ".*" does not exist/.test(message)
          ? '. This backup has no manifest, which would list the roles its policies name: a backup taken now has one'
          : '';
      throw new DrillError(
        DRILL_EXIT.unrestorable,
        'restore',
        `the backup does not restore: ${message}${hint}`,
      );
    }
    const reason = e.reason;
    if (reason instanceof BackupFormatError || /changed between verification and use/.test(reason.message)) {
      throw new DrillError(DRILL_EXIT.unrestorable, 'restore', reason.message);
    }
    throw reason;
  }
}
