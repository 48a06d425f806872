// A Territory's database in a DatabasePool (the Shared tier): CloudNativePG objects in the POOL's namespace,
// beside the pool's Cluster (CloudNativePG only reconciles a Database or DatabaseRole in its Cluster's
// namespace), one set per Territory:
//   - a Database `<territory>`: the database t_<key>, owned by the Territory's owner role;
//   - DatabaseRoles: a NOLOGIN group role named like the database (`<territory>`), and one login role per
//     credential (owner, one per purpose, the read-only backup role: `<territory>.<its Secret>`), each a
//     member of the group, with the pool's per-tenant connection limit;
//   - a Secret per login role (`<territory>.<its Secret>`, planned in territory/pool-credentials.ts): the
//     passwordSecret CloudNativePG reads, holding a SCRAM verifier of the password in the Territory's own
//     Secret, never the password itself.
// Plus, in the Territory's namespace, `db-ca`: the pool's server CA, so that its Pods verify the pool.
//
// Why the group: the pool's pg_hba lets a role connect only to the database named after a role it is a
// member of (`hostssl samerole`, pool.ts), and each Territory's roles are members of its group only, so a
// role reaches its own Territory's database and no other, whatever a tenant grants inside its database.
//
// Ownership: a namespaced object may have a cluster-scoped owner, so these objects carry the Territory's
// owner reference like its other objects: garbage collection removes them with a Territory deleted without
// the operator, and a Territory deleted with deletionPolicy Retain releases them (BuildContext.orphan). What
// happens to the data is the reclaim policies' to say, from deletionPolicy: Delete drops the database and
// the roles with their objects, Retain keeps them even if the objects are deleted. Their labels (the
// Territory's, and sovereign.dev/pool) are how the operator finds and prunes them: an owner reference does
// not survive orphaning, a label does. Pure.
import type { BuildContext, Owned } from './context.ts';
import { LABELS, ownedMeta } from './context.ts';
import { CA_SECRET, credentialRoles, databaseName, ownerRole, purposeRole } from './database.ts';
import { backupRole, poolClusterName } from './database-names.ts';
import { ROTATED_AT } from './keys.ts';

export const DATABASE_API_VERSION = 'postgresql.cnpg.io/v1';

function poolOf(ctx: BuildContext) {
  const pool = ctx.databasePool;
  if (!pool) throw new Error(`Territory ${ctx.territory.metadata.name} has no database in a pool`);
  return pool;
}

/** Metadata of an object the Territory owns in its pool's namespace. */
export function poolObjectMeta(
  ctx: BuildContext,
  name: string,
  component: string,
  opts: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
) {
  const pool = poolOf(ctx);
  const meta = ownedMeta(ctx, name, component, {
    ...opts,
    labels: { [LABELS.pool]: pool.name, ...opts.labels },
  });
  return { ...meta, namespace: pool.namespace };
}

/** The reclaim policy of the Territory's Database and roles: deletionPolicy Delete drops them, Retain keeps them. */
export function reclaimPolicy(ctx: BuildContext): 'delete' | 'retain' {
  return ctx.territory.spec.deletionPolicy === 'Delete' ? 'delete' : 'retain';
}

/** The name of the Territory's Database object and group DatabaseRole in its pool's namespace. */
export const tenantObjectName = (ctx: BuildContext) => ctx.territory.metadata.name;

/**
 * The pool-side name of a login role's DatabaseRole and its password Secret: the Territory's name and the
 * Secret the role's password lives in, in the Territory's namespace (db-owner, db-purpose-<name>, db-backup).
 * A Territory's name holds no dot, so no two Territories' objects share a name.
 */
export const poolCredentialName = (ctx: BuildContext, secret: string) =>
  `${ctx.territory.metadata.name}.${secret}`;

/** The login roles in a pool: the Territory's credentials, with the names of their pool-side objects. */
export function poolLoginRoles(ctx: BuildContext): { role: string; secret: string; copy: string }[] {
  return credentialRoles(ctx).map(({ secret, username }) => ({
    role: username,
    secret,
    copy: poolCredentialName(ctx, secret),
  }));
}

/** The Territory's database in its pool. */
export function buildTenantDatabase(ctx: BuildContext): Owned {
  const pool = poolOf(ctx);
  return {
    apiVersion: DATABASE_API_VERSION,
    kind: 'Database',
    metadata: poolObjectMeta(ctx, tenantObjectName(ctx), 'database'),
    spec: {
      cluster: { name: poolClusterName(pool) },
      name: databaseName(ctx),
      owner: ownerRole(ctx),
      ensure: 'present',
      databaseReclaimPolicy: reclaimPolicy(ctx),
      // The hard bound on what one tenant takes of the pool's connections, whatever its roles do.
      connectionLimit: pool.spec.limits.connectionsPerTenant,
    },
  };
}

/**
 * The Territory's roles in its pool: the group first (every other role is a member), then the purposes,
 * then the owner (a member of each purpose, as in a cluster of its own: what a purpose's role creates, the
 * owner, whom restores run as, must be able to drop and recreate), then the backup role. CloudNativePG retries
 * a role whose group does not exist yet; the order only spares it the retries.
 */
export function buildTenantRoles(ctx: BuildContext): Owned[] {
  const pool = poolOf(ctx);
  const t = ctx.territory;
  const group = databaseName(ctx);
  const limit = pool.spec.limits.connectionsPerTenant;
  const secrets = new Map(poolLoginRoles(ctx).map((r) => [r.role, r.copy]));
  const role = (objectName: string, spec: Record<string, unknown>): Owned => ({
    apiVersion: DATABASE_API_VERSION,
    kind: 'DatabaseRole',
    metadata: poolObjectMeta(ctx, objectName, 'database'),
    spec: {
      cluster: { name: poolClusterName(pool) },
      ...spec,
      databaseRoleReclaimPolicy: reclaimPolicy(ctx),
    },
  });
  const login = (name: string, spec: Record<string, unknown>) => {
    const copy = secrets.get(name);
    if (!copy) throw new Error(`no credential for role ${name}`);
    return role(copy, {
      name,
      login: true,
      inherit: true,
      connectionLimit: limit,
      passwordSecret: { name: copy },
      ...spec,
    });
  };
  const purposes = t.spec.controller.purposes.map((p) => ({
    name: purposeRole(ctx, p.name),
    purpose: p.name,
  }));
  return [
    role(tenantObjectName(ctx), {
      name: group,
      login: false,
      // Never a password: nobody logs in as the group; it only says which database its members may reach.
      disablePassword: true,
      comment: `territory-operator: Territory ${t.metadata.name} (its roles may connect to database ${group} only)`,
    }),
    ...purposes.map((p) => login(p.name, { inRoles: [group], comment: `GDPR purpose: ${p.purpose}` })),
    login(ownerRole(ctx), {
      inRoles: [group, ...purposes.map((p) => p.name)],
      comment: `territory-operator: owner of database ${group}`,
    }),
    // pg_read_all_data reads every table of every database the role can connect to; in a pool that is its
    // own Territory's database only: pg_hba lets it into the database of its group alone (`samerole`), and
    // the Territory's database-access Job (database-access.ts) revokes CONNECT on its database from PUBLIC,
    // so two independent locks keep it out of the others. Grants of its own instead would have to follow every table each purpose role
    // creates (default privileges are per creating role): a table missed would make pg_dump fail, and
    // backups with it. BYPASSRLS: pg_dump refuses a table whose row-level security would hide rows.
    login(backupRole(ctx), {
      inRoles: [group, 'pg_read_all_data'],
      bypassrls: true,
      comment: 'territory-operator: logical backups (read-only)',
    }),
  ];
}

/**
 * The pool-side Secret of one login role, for its DatabaseRole's passwordSecret: the role's name and a SCRAM
 * verifier of its password (keys/scram.ts), tagged with when the Territory's own Secret was last rotated, so
 * that the copy is known to be current (territory/pool-credentials.ts). Labelled for CloudNativePG to apply a
 * change at once.
 */
export function buildPoolCredentialSecret(
  ctx: BuildContext,
  name: string,
  credentials: { username: string; verifier: string; rotatedAt: string },
): Owned {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: poolObjectMeta(ctx, name, 'database', {
      labels: { 'cnpg.io/reload': 'true' },
      annotations: { [ROTATED_AT]: credentials.rotatedAt },
    }),
    type: 'kubernetes.io/basic-auth',
    stringData: { username: credentials.username, password: credentials.verifier },
  };
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;

/**
 * The certificates of a PEM bundle, and nothing else. The pool's CA Secret holds the CA's private key too
 * (`ca.key`), which signs the pool's client certificates as well, streaming_replica's included: a tenant
 * holding it could replicate every tenant's data. Only certificates ever reach a Territory's namespace.
 */
export function certificatesOnly(pem: string): string {
  const blocks = pem.match(CERTIFICATE) ?? [];
  return blocks.map((block) => `${block.replace(/\r\n/g, '\n')}\n`).join('');
}

/**
 * The Territory's `db-ca` Secret when its database is in a pool: the pool's server CA, under the name and key
 * a cluster of its own gives its Pods (CloudNativePG's `db-ca`), so backups, restores and applications verify
 * the server the same way in both tiers. Undefined until the pool's CA has been read.
 */
export function buildPoolCaSecret(ctx: BuildContext): Owned | undefined {
  const pem = ctx.databasePool?.serverCa;
  const certificates = pem === undefined ? '' : certificatesOnly(pem);
  if (certificates === '') return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMeta(ctx, CA_SECRET, 'database', { labels: { [LABELS.pool]: poolOf(ctx).name } }),
    type: 'Opaque',
    data: { 'ca.crt': Buffer.from(certificates).toString('base64') },
  };
}

/** Everything of the Territory's database that is built (not planned): its roles, then its database. */
export function buildSharedDatabase(ctx: BuildContext): Owned[] {
  return [...buildTenantRoles(ctx), buildTenantDatabase(ctx)];
}
