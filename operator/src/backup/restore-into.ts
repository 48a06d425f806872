// `territory-backup restore-into`: a declarative restore's command (spec.restore, run in the restore
// Job). It restores one encrypted logical backup into the territory's own database, and proves it did:
//
// 1. pick the backup (the latest, a named one, or the latest taken at or before a time), in this
//    territory's folder or, for disaster recovery, another territory's (RESTORE_SOURCE_TERRITORY);
// 2. verify it whole (every chunk authenticated, its sha256 and its manifest) before touching the
//    database: a corrupted object or a wrong key restores nothing;
// 3. look in the database: one that already holds tables, views or sequences is refused (exit 7)
//    unless --replace-existing-data was given. Checked in the database itself, not guessed from a
//    status: nothing existing is overwritten by accident;
// 4. pg_restore in ONE transaction (with --clean --if-exists only when replacing): a failure part-way
//    leaves the database as it was, and nobody ever sees a half-restored database;
// 5. compare every table's row count and checksum with the backup's manifest, as the read-only backup
//    role (PG_CHECK_USER), which sees every row as the backup did (row-level security included).
//
// A request (RESTORE_REQUEST) is served once: once committed, the restore records it in the database
// (a comment on the database, which pg_dump does not carry into backups), and a later run of the same
// request finds it there and changes nothing (result 'already-restored', exit 0). What protects the
// data is the database itself, not a status or a Job that GitOps or a cluster restore may have lost.
//
// Exit codes, beside 0 (restored, and matched or, for a backup without a manifest, not compared),
// 1 (anything else that stopped it) and 2 (bad configuration): the drill's where the meaning is the
// same (4 the data differs, 5 the backup does not restore, 6 no backup), and 7 the database is not
// empty. Only 4 leaves the database changed: the restore committed, then the check found a difference.
//
// Its last log line ('restore result') and, when TERMINATION_MESSAGE_PATH is set, the container's
// termination message (what the operator reads into status.restore) say what happened. The message
// holds counts and the backup's name only: never a table name, a row or pg_restore's words (an error
// may quote a row), which stay in the Job's log.
import { writeFileSync } from 'node:fs';
import { BEGIN_CHECKSUMS, displayName } from './checksum-sql.ts';
import {
  type Deps,
  feedRestore,
  type LoadedKeys,
  listBackups,
  RestoreFeedError,
  readManifest,
  type VerifiedBackup,
  verifyBackup,
  withPgCredentials,
} from './commands.ts';
import { type BackupConfig, ConfigError } from './config.ts';
import { DRILL_EXIT } from './drill.ts';
import { BackupFormatError } from './format.ts';
import type { BackupManifest } from './manifest.ts';
import { territoryFolder } from './naming.ts';
import { startPgRestore } from './postgres-tools.ts';
import { PsqlSession } from './psql-session.ts';
import { type BackupChoice, describeChoice, selectBackup } from './selection.ts';
import {
  compareChecksums,
  computeChecksums,
  type DatabaseChecksums,
  type Mismatch,
} from './table-checksums.ts';

/** Exit codes of `territory-backup restore-into`, beside 0, 1 and 2. */
export const RESTORE_EXIT = {
  /** Restored (committed), but the data differs from what the backup recorded. */
  mismatch: DRILL_EXIT.mismatch,
  /** The backup does not restore: it fails verification, or pg_restore refuses it (rolled back). */
  unrestorable: DRILL_EXIT.unrestorable,
  /** No backup fits the request (none at all, no such name, none at or before that time). */
  noBackup: DRILL_EXIT.noBackup,
  /** The database already holds tables and --replace-existing-data was not given: nothing was changed. */
  notEmpty: 7,
} as const;

export type RestoreOutcome =
  | 'restored'
  | 'already-restored'
  | 'not-compared'
  | 'mismatch'
  | 'refused'
  | 'no-backup'
  | 'unrestorable'
  | 'error';

export class RestoreIntoError extends Error {
  override name = 'RestoreIntoError';
  readonly exitCode: number;
  readonly outcome: RestoreOutcome;
  /** The backup it was about, once known: set on the way out. */
  key?: string;
  takenAt?: string;
  constructor(exitCode: number, outcome: RestoreOutcome, message: string) {
    super(message);
    this.exitCode = exitCode;
    this.outcome = outcome;
  }
}

export interface RestoreIntoResult {
  result: 'restored' | 'not-compared' | 'mismatch' | 'already-restored';
  key: string;
  takenAt: string;
  keyId: string;
  /** The territory whose backup it is. */
  source: string;
  database: string;
  replaced: boolean;
  /** Tables and rows found in the database after the restore (those of the backup). */
  tables: number;
  rows: number;
  mismatches: Mismatch[];
  /** Tables the database held that the backup does not (only when replacing): left as they were. */
  untouched: string[];
  seconds: number;
}

/** What the database holds that a restore would replace: relations outside the system schemas. */
const EXISTING_QUERY = `
WITH rel AS (
  SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
    -- Objects of an extension come with it (CREATE EXTENSION), not with the data.
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT pg_catalog.json_build_object(
  'relations', (SELECT count(*) FROM rel),
  'sample', (SELECT coalesce(pg_catalog.json_agg(name ORDER BY name), '[]') FROM (SELECT name FROM rel ORDER BY name LIMIT 5) s),
  'largeObjects', (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata));`;

/** The request this database last served, as restore-into recorded it (COMMENT ON DATABASE). */
const MARKER_QUERY = `SELECT coalesce(pg_catalog.shobj_description(d.oid, 'pg_database'), '')
  FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database();`;
const MARKER_PREFIX = 'territory-restore';

export interface RestoreMarker {
  request: string;
  backup: string;
  source: string;
  at: string;
}

/** The comment restore-into leaves on a database it restored (every field is [A-Za-z0-9.:-] only). */
export function formatMarker(m: RestoreMarker): string {
  return `${MARKER_PREFIX} request=${m.request} backup=${m.backup} source=${m.source} at=${m.at}`;
}

export function parseMarker(comment: string): RestoreMarker | undefined {
  const m = /^territory-restore request=(\S+) backup=(\S+) source=(\S+) at=(\S+)$/.exec(comment.trim());
  return m ? { request: m[1] ?? '', backup: m[2] ?? '', source: m[3] ?? '', at: m[4] ?? '' } : undefined;
}

interface Existing {
  relations: number;
  sample: string[];
  largeObjects: number;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

export async function runRestoreInto(
  cfg: BackupConfig,
  keys: LoadedKeys,
  deps: Deps,
  opts: { choice: BackupChoice; replaceExistingData: boolean },
): Promise<RestoreIntoResult> {
  const database = cfg.pg.database;
  if (!database) throw new ConfigError('restore-into needs the target database: set PGDATABASE');
  const source = cfg.sourceTerritory ?? cfg.territory;
  const started = Date.now();
  const check = { user: cfg.pg.checkUser, passwordFile: cfg.pg.checkPasswordFile ?? cfg.pg.passwordFile };
  let key: string | undefined;
  let verified: VerifiedBackup | undefined;
  try {
    // 0. A request the database records as served is not served again.
    if (cfg.restoreRequest) {
      const served = await withPgCredentials(cfg, deps, check, (env) => readMarker(cfg, env, database));
      if (served?.request === cfg.restoreRequest) {
        const result: RestoreIntoResult = {
          result: 'already-restored',
          key: served.backup,
          takenAt: '',
          keyId: '',
          source: served.source,
          database,
          replaced: false,
          tables: 0,
          rows: 0,
          mismatches: [],
          untouched: [],
          seconds: seconds(Date.now() - started),
        };
        deps.log.info(
          {
            ...result,
            servedAt: served.at,
            note: `database ${database} records that this request was served at ${served.at}; nothing was changed`,
          },
          'restore result',
        );
        return result;
      }
    }

    // 1. Which backup.
    const folder = territoryFolder(cfg.prefix, source);
    const backups = await listBackups(deps.s3, cfg.bucket, cfg.prefix, source);
    key = selectBackup(backups, opts.choice);
    if (!key) {
      throw new RestoreIntoError(
        RESTORE_EXIT.noBackup,
        'no-backup',
        `no backup to restore: ${describeChoice(opts.choice)} is not in s3://${cfg.bucket}/${folder} ` +
          `(${backups.length} backup(s) there${backups.length > 0 ? `, from ${backups[0]?.takenAt.toISOString()} to ${backups.at(-1)?.takenAt.toISOString()}` : ''})`,
      );
    }
    deps.log.info({ key, source, database, phase: 'verify' }, 'restore started: verifying the backup');

    // 2. The whole object, and its manifest, before the database is touched.
    let manifest: BackupManifest | undefined;
    try {
      verified = await verifyBackup(
        deps.s3,
        cfg.bucket,
        key,
        keys.resolveKey,
        { territory: source },
        {
          progressEveryMs: deps.progressEveryMs ?? 5000,
          onProgress: (bytes) => deps.log.info({ phase: 'verify', ciphertextBytes: bytes }, 'progress'),
        },
      );
      manifest = (await readManifest(deps.s3, cfg.bucket, verified, keys.resolveKey))?.manifest;
    } catch (e) {
      if (e instanceof BackupFormatError) {
        throw new RestoreIntoError(RESTORE_EXIT.unrestorable, 'unrestorable', e.message);
      }
      throw e;
    }
    deps.log.info(
      {
        key,
        keyId: verified.keyId,
        takenAt: verified.takenAt.toISOString(),
        plaintextBytes: verified.plaintextBytes,
        tables: manifest?.checksums.tables.length ?? null,
        phase: 'verify',
      },
      manifest
        ? 'backup verified; looking at the database'
        : 'backup verified; it has no manifest, so the restore can only show that it restores',
    );

    // 3. What the database holds already.
    const existing = await withPgCredentials(cfg, deps, check, (env) => readExisting(cfg, env, database));
    const holds = existing.relations + existing.largeObjects;
    if (holds > 0 && !opts.replaceExistingData) {
      throw new RestoreIntoError(
        RESTORE_EXIT.notEmpty,
        'refused',
        `database ${database} already holds ${describeExisting(existing)}: restoring would replace them, so ` +
          'nothing was changed. Confirm the replacement to restore over them (--replace-existing-data)',
      );
    }
    deps.log.info(
      { database, relations: existing.relations, largeObjects: existing.largeObjects, phase: 'restore' },
      holds > 0 ? 'replacing the existing data, as confirmed' : 'the database is empty; restoring',
    );

    // 4. One transaction.
    const restoreStarted = Date.now();
    await withPgCredentials(cfg, deps, { passwordFile: cfg.pg.passwordFile }, async (env) => {
      const restore = startPgRestore({
        ...(cfg.pg.binDir ? { binDir: cfg.pg.binDir } : {}),
        database,
        env,
        clean: holds > 0,
        singleTransaction: true,
      });
      try {
        await feedRestore(deps, cfg.bucket, verified as VerifiedBackup, keys.resolveKey, restore, {
          fields: { phase: 'restore' },
          startedAt: () => restoreStarted,
        });
      } catch (e) {
        if (!(e instanceof RestoreFeedError)) throw e;
        const reason = e.reason;
        if (
          e.side === 'pg_restore' ||
          reason instanceof BackupFormatError ||
          /changed between verification and use/.test(reason.message)
        ) {
          throw new RestoreIntoError(
            RESTORE_EXIT.unrestorable,
            'unrestorable',
            `the backup does not restore (the transaction was rolled back, nothing was changed): ${reason.message}`,
          );
        }
        throw new Error(
          `the restore stopped (the transaction was rolled back, nothing was changed): ${reason.message}`,
        );
      }
    });

    // The database now says which request it served (the owner may comment on its database). Failing to
    // say so costs only the replay guard, never the restore that committed: warned, not thrown.
    if (cfg.restoreRequest) {
      const marker = formatMarker({
        request: cfg.restoreRequest,
        backup: key.slice(key.lastIndexOf('/') + 1),
        source,
        at: new Date().toISOString(),
      });
      try {
        await withPgCredentials(cfg, deps, { passwordFile: cfg.pg.passwordFile }, (env) =>
          writeMarker(cfg, env, database, marker),
        );
      } catch (e) {
        deps.log.warn(
          { phase: 'restore', error: (e as Error).message },
          'restored, but the database could not record the request: a lost status would let it run again',
        );
      }
    }

    // 5. Every table, as the backup saw it.
    deps.log.info({ phase: 'check' }, 'restored; comparing every table with the backup');
    const restored = await withPgCredentials(cfg, deps, check, (env) =>
      checksumsOf(cfg, deps, env, database),
    );
    const differences = manifest ? compareChecksums(manifest.checksums, restored) : [];
    // A table the backup does not hold can only be one the database held before (when replacing):
    // pg_restore --clean drops what the backup creates, nothing else.
    const untouched = differences.filter((m) => m.expected === undefined).map((m) => m.table);
    const mismatches = differences.filter((m) => m.expected !== undefined);
    const wrong = new Set(mismatches.map((m) => m.table));
    const extra = new Set(untouched);
    for (const t of restored.tables) {
      const table = displayName(t);
      if (extra.has(table)) continue;
      deps.log.info(
        { table, rows: t.rows, ...(manifest ? { match: !wrong.has(table) } : {}) },
        'table checked',
      );
    }
    if (untouched.length > 0) {
      deps.log.warn({ untouched }, 'tables the backup does not hold were left as they were');
    }
    const inBackup = restored.tables.filter((t) => !extra.has(displayName(t)));
    const result: RestoreIntoResult = {
      result: !manifest ? 'not-compared' : mismatches.length > 0 ? 'mismatch' : 'restored',
      key,
      takenAt: verified.takenAt.toISOString(),
      keyId: verified.keyId,
      source,
      database,
      replaced: holds > 0,
      tables: inBackup.length,
      rows: inBackup.reduce((n, t) => n + t.rows, 0),
      mismatches,
      untouched,
      seconds: seconds(Date.now() - started),
    };
    deps.log.info({ ...result, mismatches: mismatches.slice(0, 100) }, 'restore result');
    return result;
  } catch (e) {
    const error = e instanceof RestoreIntoError ? e : undefined;
    if (error && key) error.key = key;
    if (error && verified) error.takenAt = verified.takenAt.toISOString();
    deps.log.info(
      {
        result: error?.outcome ?? 'error',
        key: key ?? null,
        takenAt: verified?.takenAt.toISOString() ?? null,
        source,
        database,
        seconds: seconds(Date.now() - started),
        error: (e as Error).message,
      },
      'restore result',
    );
    throw e;
  }
}

function describeExisting(e: Existing): string {
  const parts: string[] = [];
  if (e.relations > 0) {
    const more = e.relations > e.sample.length ? ', …' : '';
    parts.push(`${e.relations} table(s), view(s) or sequence(s) (${e.sample.join(', ')}${more})`);
  }
  if (e.largeObjects > 0) parts.push(`${e.largeObjects} large object(s)`);
  return parts.join(' and ');
}

async function readExisting(
  cfg: BackupConfig,
  env: Record<string, string>,
  database: string,
): Promise<Existing> {
  return withSession(cfg, env, database, async (s) => JSON.parse(await s.query(EXISTING_QUERY)) as Existing);
}

async function withSession<T>(
  cfg: BackupConfig,
  env: Record<string, string>,
  database: string,
  use: (session: PsqlSession) => Promise<T>,
): Promise<T> {
  const session = new PsqlSession({ ...(cfg.pg.binDir ? { binDir: cfg.pg.binDir } : {}), database, env });
  try {
    const answer = await use(session);
    await session.close();
    return answer;
  } finally {
    session.kill();
  }
}

async function readMarker(
  cfg: BackupConfig,
  env: Record<string, string>,
  database: string,
): Promise<RestoreMarker | undefined> {
  return parseMarker(await withSession(cfg, env, database, (s) => s.query(MARKER_QUERY)));
}

async function writeMarker(
  cfg: BackupConfig,
  env: Record<string, string>,
  database: string,
  marker: string,
): Promise<void> {
  // Only [A-Za-z0-9.:=_ -]: safe inside a literal; format() quotes the database's name.
  if (!/^[A-Za-z0-9.:=_ -]+$/.test(marker)) throw new Error('refusing to write an unexpected marker');
  await withSession(cfg, env, database, (s) =>
    s.query(
      `DO $marker$ BEGIN EXECUTE pg_catalog.format('COMMENT ON DATABASE %I IS %L', pg_catalog.current_database(), '${marker}'); END $marker$;`,
    ),
  );
}

async function checksumsOf(
  cfg: BackupConfig,
  deps: Deps,
  env: Record<string, string>,
  database: string,
): Promise<DatabaseChecksums> {
  return withSession(cfg, env, database, async (session) => {
    await session.query(BEGIN_CHECKSUMS);
    const sums = await computeChecksums(session, {
      everyMs: deps.progressEveryMs ?? 5000,
      onProgress: (p) => deps.log.info({ phase: 'check', ...p }, 'progress'),
    });
    await session.query('COMMIT;');
    return sums;
  });
}

/** What the restore Job's container leaves for the operator (status.restore): counts and names only. */
export interface RestoreTermination {
  result: RestoreOutcome;
  /** The backup's object name (not its full key). */
  backup?: string;
  takenAt?: string;
  source?: string;
  tables?: number;
  rows?: number;
  mismatches?: number;
  untouched?: number;
  replaced?: boolean;
}

export function terminationOf(outcome: RestoreIntoResult | RestoreIntoError | Error): RestoreTermination {
  if (outcome instanceof RestoreIntoError) {
    return {
      result: outcome.outcome,
      ...(outcome.key ? { backup: outcome.key.slice(outcome.key.lastIndexOf('/') + 1) } : {}),
      ...(outcome.takenAt ? { takenAt: outcome.takenAt } : {}),
    };
  }
  if (outcome instanceof Error) return { result: 'error' };
  if (outcome.result === 'already-restored') {
    return { result: outcome.result, backup: outcome.key, source: outcome.source };
  }
  return {
    result: outcome.result,
    backup: outcome.key.slice(outcome.key.lastIndexOf('/') + 1),
    takenAt: outcome.takenAt,
    source: outcome.source,
    tables: outcome.tables,
    rows: outcome.rows,
    mismatches: outcome.mismatches.length,
    untouched: outcome.untouched.length,
    replaced: outcome.replaced,
  };
}

/** Writes the termination message (Kubernetes keeps at most 4096 bytes of it); never fails the command. */
export function writeTermination(path: string | undefined, message: RestoreTermination): void {
  if (!path) return;
  try {
    writeFileSync(path, JSON.stringify(message).slice(0, 4096));
  } catch {
    // The log says it all already; a missing termination file only costs the status its details.
  }
}
