// The names a Territory's database goes by in PostgreSQL, in both tiers. The backups, the restores and the
// applications reach the database through these names (PGDATABASE, PGUSER, the credential Secrets'
// usernames), so every builder asks here, with the build context, and gets its tier's names.
//
// Dedicated: the Territory has the cluster to itself, so the names are short and fixed (`<territory>`,
// `<territory>_owner`, `purpose_<name>`, territory_backup), as they always were: live databases keep them.
//
// Shared: every tenant of a pool shares one catalog of roles and databases, so each name carries the
// Territory's, and no name of one Territory can be a name of another:
//   database and group role  t_<key>
//   owner                    t_<key>__owner
//   purpose role             t_<key>__p_<purpose>
//   backup role              t_<key>__backup
// where <key> is the Territory's name with `-` as `_` (a name PostgreSQL takes unquoted). A key never
// contains `__` and never ends with `_`, so a name cuts back into its key and its kind at its first `__`:
// two Territories' names differ. The group role must be named exactly like the database: the pool's pg_hba
// lets a role connect only to the database named after a role it is a member of (`samerole`).
//
// PostgreSQL cuts identifiers at 63 bytes, silently. A key longer than 40 characters, or one holding `__`
// (a Territory named with `--`), is its first 27 characters and 12 hex digits of a hash of the whole name;
// a purpose name that does not fit is cut the same way, with 8 hex digits of its own hash. Pure.
import { createHash } from 'node:crypto';
import type { BuildContext } from './context.ts';

/**
 * The role the logical backups dump as in a Territory's own cluster: read-only (pg_read_all_data, PostgreSQL
 * 14+), with BYPASSRLS because pg_dump refuses to dump a table whose row-level security would hide rows. It
 * owns nothing and is a member of no role that writes, so a leaked backup password reads the data but cannot
 * change or drop it. A fixed name: each Territory has its own Cluster, and neither the owner role
 * (`<database>_owner`) nor a purpose role (`purpose_<name>`) can take it.
 */
export const BACKUP_ROLE = 'territory_backup';

/** PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes; every name here is ASCII. */
export const IDENTIFIER_MAX = 63;

const SHARED_PREFIX = 't_';
const SEPARATOR = '__';
const KEY_MAX = 40;
const KEY_HASH = 12;
const PURPOSE_HASH = 8;

const underscored = (name: string) => name.replace(/-/g, '_');
const hashOf = (text: string, length: number) =>
  createHash('sha256').update(text).digest('hex').slice(0, length);

/** A readable head of a name cut to `length`, with no `__` and no `_` at its end, for a hashed name. */
function head(name: string, length: number): string {
  return name.replace(/_+/g, '_').slice(0, length).replace(/_+$/, '');
}

/** The Territory's part of every shared name: see the module's comment. */
export function tenantKey(territoryName: string): string {
  const key = underscored(territoryName);
  if (key.length <= KEY_MAX && !key.includes(SEPARATOR)) return key;
  return `${head(key, KEY_MAX - KEY_HASH - 1)}_${hashOf(territoryName, KEY_HASH)}`;
}

/** The names of a Territory's database and roles in a pool. */
export function sharedNames(territoryName: string) {
  const base = `${SHARED_PREFIX}${tenantKey(territoryName)}`;
  return {
    /** The database, and the NOLOGIN group role every login role of the Territory is a member of. */
    database: base,
    owner: `${base}${SEPARATOR}owner`,
    backup: `${base}${SEPARATOR}backup`,
    purpose(purpose: string): string {
      const prefix = `${base}${SEPARATOR}p_`;
      const room = IDENTIFIER_MAX - prefix.length;
      const name = underscored(purpose);
      return name.length <= room
        ? `${prefix}${name}`
        : `${prefix}${head(name, room - PURPOSE_HASH - 1)}_${hashOf(purpose, PURPOSE_HASH)}`;
    },
  };
}

/** The database's name: in a Territory's own cluster, the territory name with dashes turned into underscores. */
export function databaseName(ctx: BuildContext): string {
  if (ctx.databasePool) return sharedNames(ctx.territory.metadata.name).database;
  return underscored(ctx.territory.metadata.name).slice(0, IDENTIFIER_MAX);
}

/** The role that owns the database, whom restores run as. */
export function ownerRole(ctx: BuildContext): string {
  if (ctx.databasePool) return sharedNames(ctx.territory.metadata.name).owner;
  return `${databaseName(ctx)}_owner`.slice(0, IDENTIFIER_MAX);
}

/** The login role of one GDPR purpose. */
export function purposeRole(ctx: BuildContext, purpose: string): string {
  if (ctx.databasePool) return sharedNames(ctx.territory.metadata.name).purpose(purpose);
  return `purpose_${underscored(purpose)}`;
}

/** The read-only role logical backups dump as and restores check with. */
export function backupRole(ctx: BuildContext): string {
  if (ctx.databasePool) return sharedNames(ctx.territory.metadata.name).backup;
  return BACKUP_ROLE;
}

/** A pool's Cluster is named after the pool: its Services are `<pool>-rw`, `<pool>-r` and `<pool>-ro`. */
export function poolClusterName(pool: { name: string }): string {
  return pool.name;
}

/** CloudNativePG's CA Secret of a pool's cluster (`<cluster>-ca`, in the pool's namespace): ca.crt and ca.key. */
export function poolCaSecretName(pool: { name: string }): string {
  return `${poolClusterName(pool)}-ca`;
}
