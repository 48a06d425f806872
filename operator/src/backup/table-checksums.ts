// Row counts and checksums of every table of a database (and of its large objects), computed through
// an SQL session that is already inside the snapshot to describe (see checksum-sql.ts for what is
// listed and how rows are summed). The same code runs where a backup is taken and where a drill
// restores it, and the two results are compared by compareChecksums.
import {
  CATALOG_QUERY,
  CHECKSUM_ALGORITHM,
  displayName,
  LARGE_OBJECTS_QUERY,
  parseCatalog,
  parseCountAndChecksum,
  tableChecksumQuery,
} from './checksum-sql.ts';

export interface SqlRunner {
  query(sql: string): Promise<string>;
}

export interface TableChecksum {
  schema: string;
  name: string;
  rows: number;
  /** Decimal text: a sum of 64-bit hashes outgrows a JavaScript number. */
  checksum: string;
}

export interface DatabaseChecksums {
  algorithm: string;
  /** The server the checksums were computed on. */
  server: { versionNum: number; encoding: string };
  /** Roles that row-level-security policies name: a restore elsewhere must create them first. */
  roles: string[];
  tables: TableChecksum[];
  largeObjects: { count: number; checksum: string };
}

export interface ChecksumProgress {
  tablesDone: number;
  tables: number;
  rows: number;
}

export async function computeChecksums(
  sql: SqlRunner,
  opts: { onProgress?: (p: ChecksumProgress) => void; everyMs?: number } = {},
): Promise<DatabaseChecksums> {
  const catalog = parseCatalog(await sql.query(CATALOG_QUERY));
  const tables: TableChecksum[] = [];
  let rows = 0;
  let lastReport = Date.now();
  for (const t of catalog.tables) {
    let counted: { rows: number; checksum: string };
    try {
      counted = parseCountAndChecksum(await sql.query(tableChecksumQuery(t)));
    } catch (e) {
      throw new Error(`checksum of table ${displayName(t)} failed: ${(e as Error).message}`);
    }
    tables.push({ schema: t.schema, name: t.name, ...counted });
    rows += counted.rows;
    if (opts.onProgress && Date.now() - lastReport >= (opts.everyMs ?? 5000)) {
      lastReport = Date.now();
      opts.onProgress({ tablesDone: tables.length, tables: catalog.tables.length, rows });
    }
  }
  const largeObjects =
    catalog.largeObjects > 0
      ? parseCountAndChecksum(await sql.query(LARGE_OBJECTS_QUERY))
      : { rows: 0, checksum: '0' };
  return {
    algorithm: CHECKSUM_ALGORITHM,
    server: { versionNum: catalog.versionNum, encoding: catalog.encoding },
    roles: catalog.roles,
    tables,
    largeObjects: { count: largeObjects.rows, checksum: largeObjects.checksum },
  };
}

export interface CountAndChecksum {
  rows: number;
  checksum: string;
}

/** One table whose restored rows differ from the backup's; `got` absent: missing after the restore. */
export interface Mismatch {
  table: string;
  expected?: CountAndChecksum;
  got?: CountAndChecksum;
}

/** The name large objects are reported under, among tables. */
export const LARGE_OBJECTS = '(large objects)';

/**
 * Table by table: the restored database must hold exactly the tables the backup recorded, each with
 * the same row count and checksum, and the same large objects.
 */
export function compareChecksums(expected: DatabaseChecksums, got: DatabaseChecksums): Mismatch[] {
  if (expected.algorithm !== got.algorithm) {
    throw new Error(`checksums were computed as ${expected.algorithm}, this tool computes ${got.algorithm}`);
  }
  const key = (t: { schema: string; name: string }) => `${t.schema}\0${t.name}`;
  const restored = new Map(got.tables.map((t) => [key(t), t]));
  const mismatches: Mismatch[] = [];
  for (const e of expected.tables) {
    const g = restored.get(key(e));
    restored.delete(key(e));
    const table = displayName(e);
    if (!g) mismatches.push({ table, expected: { rows: e.rows, checksum: e.checksum } });
    else if (g.rows !== e.rows || g.checksum !== e.checksum) {
      mismatches.push({
        table,
        expected: { rows: e.rows, checksum: e.checksum },
        got: { rows: g.rows, checksum: g.checksum },
      });
    }
  }
  for (const g of restored.values()) {
    mismatches.push({ table: displayName(g), got: { rows: g.rows, checksum: g.checksum } });
  }
  const lo = (c: { count: number; checksum: string }) => ({ rows: c.count, checksum: c.checksum });
  if (
    expected.largeObjects.count !== got.largeObjects.count ||
    expected.largeObjects.checksum !== got.largeObjects.checksum
  ) {
    mismatches.push({ table: LARGE_OBJECTS, expected: lo(expected.largeObjects), got: lo(got.largeObjects) });
  }
  return mismatches;
}
