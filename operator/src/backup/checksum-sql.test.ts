import { describe, expect, it } from 'vitest';
import {
  CATALOG_QUERY,
  createRoleStatement,
  displayName,
  parseCatalog,
  parseCountAndChecksum,
  quoteIdent,
  tableChecksumQuery,
} from './checksum-sql.ts';

describe('the checksum SQL', () => {
  it('quotes every identifier, doubling inner quotes, so a hostile name stays one identifier', () => {
    expect(quoteIdent('communes')).toBe('"communes"');
    expect(quoteIdent('a"b; drop table x')).toBe('"a""b; drop table x"');
    expect(quoteIdent('Été 2026')).toBe('"Été 2026"');
    expect(() => quoteIdent('')).toThrow(/empty/);
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });

  it('checksums a table named a"b; drop table x in a schema with quotes and a column with a semicolon', () => {
    const sql = tableChecksumQuery({
      schema: 'sch"ema',
      name: 'a"b; drop table x',
      columns: ['id', 'x"); drop table y; --'],
    });
    expect(sql).toBe(
      'SELECT count(*), coalesce(sum(hashtextextended((ROW(r."id", r."x""); drop table y; --")::text COLLATE "C"), 0)), 0) ' +
        'FROM ONLY "sch""ema"."a""b; drop table x" AS r;',
    );
    // Outside the quoted identifiers, the statement is the fixed text: one statement, one terminator.
    const outside = sql.replace(/"(?:[^"]|"")*"/g, '""');
    expect(outside).toBe(
      'SELECT count(*), coalesce(sum(hashtextextended((ROW(r."", r."")::text COLLATE ""), 0)), 0) FROM ONLY "".""' +
        ' AS r;',
    );
    // No psql variable (`:name`, as opposed to a `::` cast) or backslash command outside quotes.
    expect(outside.replaceAll('::', '')).not.toMatch(/:[A-Za-z_]|\\/);
  });

  it('builds the row text from the columns sorted by name, whatever their order in the table', () => {
    const a = tableChecksumQuery({ schema: 'public', name: 't', columns: ['b', 'a', 'C', 'é'] });
    const b = tableChecksumQuery({ schema: 'public', name: 't', columns: ['é', 'C', 'a', 'b'] });
    expect(a).toBe(b);
    expect(a).toContain('ROW(r."C", r."a", r."b", r."é")');
  });

  it('handles a table without columns (ROW() is a valid empty row)', () => {
    expect(tableChecksumQuery({ schema: 'public', name: 'vide', columns: [] })).toContain('ROW()');
  });

  it('lists tables with schema-qualified catalogs only, and no psql variable', () => {
    expect(CATALOG_QUERY.replaceAll('::', '')).not.toMatch(/:[A-Za-z_]/);
    expect(CATALOG_QUERY).toContain("c.relkind = 'r'");
    expect(CATALOG_QUERY).toContain("deptype = 'e'");
  });

  it('parses count|sum answers, with sums beyond 64 bits kept as text', () => {
    expect(parseCountAndChecksum('3|-7424900159650098134140\n')).toEqual({
      rows: 3,
      checksum: '-7424900159650098134140',
    });
    expect(parseCountAndChecksum('0|0')).toEqual({ rows: 0, checksum: '0' });
    expect(() => parseCountAndChecksum('ERROR')).toThrow(/unexpected answer/);
  });

  it('parses the catalog, and refuses anything else', () => {
    const catalog = {
      versionNum: 170002,
      encoding: 'UTF8',
      roles: ['purpose_x'],
      largeObjects: 0,
      tables: [{ schema: 'public', name: 'a"b', columns: ['id'] }],
    };
    expect(parseCatalog(JSON.stringify(catalog))).toEqual(catalog);
    expect(() => parseCatalog('{"tables": 1}')).toThrow(/expected shape/);
    expect(() => parseCatalog('not json')).toThrow(/catalog query/);
  });

  it('creates a role a policy names with its name quoted', () => {
    expect(createRoleStatement('purpose"; drop role x')).toBe(
      'CREATE ROLE "purpose""; drop role x" NOLOGIN;',
    );
  });

  it('shows names as people read them, quoting only where needed', () => {
    expect(displayName({ schema: 'public', name: 'communes' })).toBe('public.communes');
    expect(displayName({ schema: 'cantine', name: 'a"b; drop table x' })).toBe(
      'cantine."a""b; drop table x"',
    );
    expect(displayName({ schema: 'Public', name: 'x.y' })).toBe('"Public"."x.y"');
  });
});
