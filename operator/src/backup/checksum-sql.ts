// The SQL that counts and checksums every table's rows, run the same way on the database a backup
// dumps (in the snapshot pg_dump dumps) and on the throwaway server a restore drill restores into.
// Pure: it builds SQL text and parses psql's unaligned answers; running it is table-checksums.ts.
//
// Checksum of a table: sum(hashtextextended(<row as text>, 0)) over its rows, as numeric.
// - hashtextextended is PostgreSQL's own 64-bit hash (hash_bytes_extended), the one hash
//   partitioning relies on, so it is stable across versions; built in (no pgcrypto), and about
//   three times faster than md5 here (1 million rows of 6 columns: about 1 s, md5 3.4 s).
// - A sum is independent of row order (a restore need not keep the physical order) and, unlike an
//   XOR, a duplicated row changes it. sum(bigint) is numeric in PostgreSQL: it cannot overflow.
// - It is not a cryptographic hash, and need not be: tampering is the AEAD's to detect (the dump
//   and the manifest are both authenticated); this catches what a restore loses, duplicates or
//   alters. Two changes cancelling out exactly have a chance of about 2^-64.
// - The row's text is built from its columns **sorted by name**, so a restore that orders columns
//   differently (pg_dump recreates inheritance children with inherited columns first) still
//   matches; the text forms of values are pinned by the session settings below (time zone, date,
//   float and bytea output), and the hash is over the bytes (COLLATE "C", whatever the database's).
//   It assumes the same server encoding (the drill initdb's with the source's) and byte order
//   (hash_bytes differs on big-endian machines; both ends are amd64 or arm64).

/** Names the checksum definition in the manifest: a drill only compares like with like. */
export const CHECKSUM_ALGORITHM = 'sum-hashtextextended-name-sorted-row-text/1';

/** A table as the catalog query lists it. */
export interface TableRef {
  schema: string;
  name: string;
  /** Column names (dropped columns excluded), in any order: the query sorts them. */
  columns: string[];
}

/**
 * An SQL identifier, always double-quoted, inner quotes doubled: safe for any name PostgreSQL
 * accepts (`a"b; drop table x` becomes `"a""b; drop table x"`). psql does not interpolate
 * variables or read backslash commands inside a quoted identifier, so it is safe through psql too.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0'))
    throw new Error('an SQL identifier cannot be empty or hold NUL');
  return `"${name.replaceAll('"', '""')}"`;
}

/** `schema.name`, quoted only where needed: for people reading logs, not for SQL. */
export function displayName(t: { schema: string; name: string }): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : quoteIdent(s));
  return `${part(t.schema)}.${part(t.name)}`;
}

/** Code-unit order, the same in every process: both ends of a drill must build the same row text. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Settings that make values print the same on both ends, and keep a long read alive. Run inside the
 * transaction (SET LOCAL). row_security = off makes a table whose policies would hide rows fail
 * loudly instead of being summed short (the backup role has BYPASSRLS, so it never does; pg_dump
 * does the same). transaction_timeout exists from PostgreSQL 17 only, hence the guarded set_config.
 */
export const SESSION_SETTINGS = [
  'SET LOCAL search_path = pg_catalog;',
  'SET LOCAL row_security = off;',
  "SET LOCAL DateStyle = 'ISO, YMD';",
  'SET LOCAL IntervalStyle = postgres;',
  "SET LOCAL TimeZone = 'UTC';",
  'SET LOCAL extra_float_digits = 1;',
  'SET LOCAL bytea_output = hex;',
  "SET LOCAL lc_monetary = 'C';",
  'SET LOCAL statement_timeout = 0;',
  'SET LOCAL lock_timeout = 0;',
  'SET LOCAL idle_in_transaction_session_timeout = 0;',
  "SELECT pg_catalog.set_config('transaction_timeout', '0', true) WHERE pg_catalog.current_setting('server_version_num')::int >= 170000;",
].join('\n');

/** Opens the read-only snapshot every checksum is computed in, with the settings above. */
export const BEGIN_CHECKSUMS = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n${SESSION_SETTINGS}`;

/** The snapshot's id, for `pg_dump --snapshot`. */
export const EXPORT_SNAPSHOT = 'SELECT pg_catalog.pg_export_snapshot();';

/**
 * One JSON document: server version and encoding, the roles row-level-security policies name (a
 * restore without them fails), the number of large objects, and every table with its columns.
 *
 * Tables are ordinary tables and leaf partitions (relkind 'r'), logged or unlogged (pg_dump dumps
 * both from a primary), in every schema but the system ones. Not listed: partitioned parents
 * (they hold no rows; each partition is listed instead, so a row that lands in another partition
 * shows), views and materialized views (a restore refreshes those from the tables, it does not
 * copy them), foreign tables (pg_dump dumps no data of theirs), sequences (not transactional: they
 * are read outside any snapshot, by pg_dump too), other sessions' temporary tables, and tables that
 * belong to an extension (CREATE EXTENSION recreates them).
 */
export const CATALOG_QUERY = `SELECT json_build_object(
  'versionNum', current_setting('server_version_num')::int,
  'encoding', (SELECT pg_encoding_to_char(d.encoding) FROM pg_catalog.pg_database d WHERE d.datname = current_database()),
  'roles', (SELECT coalesce(json_agg(DISTINCT r.rolname ORDER BY r.rolname), '[]'::json)
            FROM pg_catalog.pg_policy p CROSS JOIN LATERAL unnest(p.polroles) AS pr(roleid)
            JOIN pg_catalog.pg_roles r ON r.oid = pr.roleid),
  'largeObjects', (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata),
  'tables', (SELECT coalesce(json_agg(json_build_object(
                'schema', n.nspname,
                'name', c.relname,
                'columns', (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]'::json)
                            FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
              ORDER BY n.nspname, c.relname), '[]'::json)
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND c.relpersistence IN ('p', 'u')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
               AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e
                               WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                 AND e.objid = c.oid AND e.deptype = 'e'))
);`;

/**
 * Row count and checksum of one table: `<count>|<sum>` in psql's unaligned output. ONLY: an
 * inheritance parent counts its own rows, its children are listed on their own.
 */
export function tableChecksumQuery(table: TableRef): string {
  const columns = [...table.columns].sort(byCodeUnits).map((c) => `r.${quoteIdent(c)}`);
  const row = `(ROW(${columns.join(', ')})::text COLLATE "C")`;
  return (
    `SELECT count(*), coalesce(sum(hashtextextended(${row}, 0)), 0) ` +
    `FROM ONLY ${quoteIdent(table.schema)}.${quoteIdent(table.name)} AS r;`
  );
}

/**
 * Count and checksum of the large objects: each one's oid and the md5 of its content. lo_get reads
 * a whole object into memory, and refuses one above 1 GB (the backup then has no manifest). Before
 * PostgreSQL 19 the backup role reads them only when granted each one, as pg_dump needs too.
 */
export const LARGE_OBJECTS_QUERY =
  "SELECT count(*), coalesce(sum(hashtextextended(m.oid::text || ':' || md5(lo_get(m.oid)), 0)), 0) " +
  'FROM pg_catalog.pg_largeobject_metadata AS m;';

/** Parses `<count>|<sum>` (psql -A -t). */
export function parseCountAndChecksum(text: string): { rows: number; checksum: string } {
  const m = /^(\d+)\|(-?\d+)$/.exec(text.trim());
  if (!m) throw new Error(`unexpected answer to a checksum query: ${JSON.stringify(text.slice(0, 200))}`);
  const rows = Number(m[1]);
  if (!Number.isSafeInteger(rows)) throw new Error(`row count ${m[1]} is too large`);
  return { rows, checksum: m[2] ?? '0' };
}

export interface Catalog {
  versionNum: number;
  encoding: string;
  roles: string[];
  largeObjects: number;
  tables: TableRef[];
}

/** Parses and checks the catalog query's JSON. */
export function parseCatalog(text: string): Catalog {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`unexpected answer to the catalog query: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const v = value as Partial<Catalog> | null;
  const strings = (a: unknown): a is string[] => Array.isArray(a) && a.every((s) => typeof s === 'string');
  if (
    typeof v?.versionNum !== 'number' ||
    typeof v.encoding !== 'string' ||
    !strings(v.roles) ||
    typeof v.largeObjects !== 'number' ||
    !Array.isArray(v.tables) ||
    !v.tables.every((t) => typeof t?.schema === 'string' && typeof t.name === 'string' && strings(t.columns))
  ) {
    throw new Error('unexpected answer to the catalog query: not the expected shape');
  }
  return v as Catalog;
}

/** The roles that exist: a drill creates the others a policy names before restoring. */
export const ROLES_QUERY = "SELECT coalesce(json_agg(rolname), '[]'::json) FROM pg_catalog.pg_roles;";

/** A role a row-level-security policy names, created without login in the throwaway server. */
export function createRoleStatement(role: string): string {
  return `CREATE ROLE ${quoteIdent(role)} NOLOGIN;`;
}
