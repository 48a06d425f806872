// Reading Territories from YAML files (one or many documents per file, `-` for stdin), with errors
// that name the file, the document and the field, so a reviewer knows which line to fix.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { type DatabasePool, POOL_KIND, parseDatabasePool } from '../../api/pool.ts';
import { KIND, parseTerritory, type Territory } from '../../api/territory.ts';
import { CliError, EXIT } from './errors.ts';

export interface TerritoryFromFile {
  /** `file` or `file (document n)` when the file holds several documents. */
  source: string;
  territory: Territory;
}

export interface ReadResult {
  territories: TerritoryFromFile[];
  /** The DatabasePools declared beside them (render places the Territories that share one in it). */
  pools: DatabasePool[];
  /** One line per problem: `source: path: problem`. Empty when every Territory is valid. */
  errors: string[];
  /** Documents that are not Territories (Secrets next to them, for instance): skipped, and said so. */
  skipped: string[];
}

function readText(path: string, stdin: () => string): string {
  if (path === '-') return stdin();
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      {
        exitCode: EXIT.usage,
      },
    );
  }
}

/** Parses every document of every file; pure apart from reading the files. */
export function readTerritoryFiles(
  paths: string[],
  stdin: () => string = () => readFileSync(0, 'utf8'),
): ReadResult {
  const result: ReadResult = { territories: [], pools: [], errors: [], skipped: [] };
  for (const path of paths) {
    const documents = parseAllDocuments(readText(path, stdin));
    if (!Array.isArray(documents)) continue; // an empty stream
    const many = documents.length > 1;
    documents.forEach((doc, index) => {
      const shown = path === '-' ? 'stdin' : path;
      const source = many ? `${shown} (document ${index + 1})` : shown;
      if (doc.errors.length > 0) {
        for (const e of doc.errors) result.errors.push(`${source}: invalid YAML: ${e.message}`);
        return;
      }
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) return; // an empty document between separators
      const kind = (value as { kind?: unknown }).kind;
      const name = (value as { metadata?: { name?: unknown } }).metadata?.name;
      if (kind === POOL_KIND) {
        const pool = parseDatabasePool(value);
        const label = typeof name === 'string' ? `${source}, DatabasePool ${name}` : source;
        if (pool.ok) result.pools.push(pool.pool);
        else for (const e of pool.errors) result.errors.push(`${label}: ${e}`);
        return;
      }
      if (kind !== KIND) {
        result.skipped.push(`${source}: ${typeof kind === 'string' ? kind : 'a document without kind'}`);
        return;
      }
      const parsed = parseTerritory(value);
      const label = typeof name === 'string' ? `${source}, Territory ${name}` : source;
      if (parsed.ok) result.territories.push({ source, territory: parsed.territory });
      else for (const e of parsed.errors) result.errors.push(`${label}: ${e}`);
    });
  }
  return result;
}

/**
 * The Territories of files, and the DatabasePools beside them, or a CliError listing every problem (nothing
 * is half-done).
 */
export function requireManifests(
  paths: string[],
  stdin?: () => string,
): { territories: TerritoryFromFile[]; pools: DatabasePool[] } {
  const read = readTerritoryFiles(paths, stdin);
  if (read.errors.length > 0) {
    throw new CliError(`invalid Territory:\n  ${read.errors.join('\n  ')}`, {
      hint: 'fix the fields named above (the same rules are enforced by the API server)',
    });
  }
  if (read.territories.length === 0) {
    throw new CliError(`no Territory in ${paths.join(', ')}`, {
      hint: 'give a YAML file holding at least one object with kind: Territory',
      exitCode: EXIT.usage,
    });
  }
  return { territories: read.territories, pools: read.pools };
}

/** The Territories of files, or a CliError listing every problem (nothing is half-done). */
export function requireTerritories(paths: string[], stdin?: () => string): TerritoryFromFile[] {
  return requireManifests(paths, stdin).territories;
}
