// PostgreSQL through CloudNativePG: one Cluster per Territory, in its namespace and its regions, with
// an owner role and database named for the territory and one login role per GDPR purpose, so adding
// a purpose later adds a role without touching the others ("start small, grow"). That is the Dedicated
// tier; a Territory whose database is in a pool (Shared) gets the same roles there (shared-database.ts),
// and what both tiers share is here: the credentials, the host its Pods connect to, the endpoint.
import { RFC3339 } from '../api/patterns.ts';
import type { BuildContext, DatabaseBootstrap, Owned } from './context.ts';
import { namespaceOf, ownedMeta, regionAffinity } from './context.ts';
import {
  BACKUP_ROLE,
  backupRole,
  databaseName,
  ownerRole,
  poolClusterName,
  purposeRole,
} from './database-names.ts';
import { databaseSizing } from './database-sizing.ts';
import { clusterPlugins, recoveryPluginConfiguration } from './object-store.ts';

export { BACKUP_ROLE, backupRole, databaseName, ownerRole, purposeRole } from './database-names.ts';

export const CLUSTER_NAME = 'db';
export const OWNER_SECRET = 'db-owner';
/** CloudNativePG's CA for the cluster's server certificates (created by CNPG as `<cluster>-ca`). */
export const CA_SECRET = `${CLUSTER_NAME}-ca`;
export const RW_SERVICE = `${CLUSTER_NAME}-rw`;

/**
 * The recovery a Cluster was created from, recorded on it as JSON: a Cluster's bootstrap acts once, at
 * creation, so the operator reads here (not from the spec it may have lost) how the live Cluster was
 * made, and keeps building it the same way.
 */
export const BOOTSTRAP_ANNOTATION = 'sovereign.dev/bootstrap';
/** The external cluster a recovery reads from: the physical backups, through the Barman Cloud plugin. */
export const RECOVERY_SOURCE = 'origin';

const REQUEST_ID = /^[0-9a-f]{1,16}$/;
const SERVER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The annotation's value, or undefined for anything that is not one we wrote: never throws. */
export function parseDatabaseBootstrap(text: string | undefined): DatabaseBootstrap | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { request, targetTime, sourceServer } = value as Record<string, unknown>;
  if (typeof request !== 'string' || !REQUEST_ID.test(request)) return undefined;
  if (typeof targetTime !== 'string' || !RFC3339.test(targetTime) || Number.isNaN(Date.parse(targetTime)))
    return undefined;
  if (typeof sourceServer !== 'string' || !SERVER_NAME.test(sourceServer)) return undefined;
  return { request, targetTime, sourceServer };
}

/**
 * The server name the Cluster archives WAL and takes base backups under (its folder in
 * <pathPrefix>/<territory>/physical/): the Cluster's name, CloudNativePG's default, unless it was
 * recovered to a point in time. A recovered Cluster must never archive into the folder it recovers from:
 * the plugin refuses a WAL archive that is not empty, and the old timeline must stay readable for the
 * next recovery. So each recovery archives under db-<request>.
 */
export function serverNameOf(ctx: BuildContext): string {
  return serverNameFor(ctx.databaseBootstrap);
}

/** The server name of a Cluster made by `bootstrap` (its annotation), or by initdb when undefined. */
export function serverNameFor(bootstrap: DatabaseBootstrap | undefined): string {
  return bootstrap ? `${CLUSTER_NAME}-${bootstrap.request}` : CLUSTER_NAME;
}

export function purposeSecret(purpose: string): string {
  return `db-purpose-${purpose}`;
}

export const BACKUP_SECRET = 'db-backup';

/**
 * The roles whose passwords the operator generates (owner, one per purpose, the read-only backup role),
 * each with its basic-auth Secret in the Territory's namespace: the same Secret names in both tiers, so an
 * application does not change between them. The usernames are the tier's (database-names.ts).
 */
export function credentialRoles(ctx: BuildContext): { secret: string; username: string }[] {
  return [
    { secret: OWNER_SECRET, username: ownerRole(ctx) },
    ...ctx.territory.spec.controller.purposes.map((p) => ({
      secret: purposeSecret(p.name),
      username: purposeRole(ctx, p.name),
    })),
    { secret: BACKUP_SECRET, username: backupRole(ctx) },
  ];
}

/**
 * The host the Territory's Pods reach the database at, and that its certificate names: its own cluster's
 * read-write Service in its namespace (the short name, as it always was), or its pool's, across namespaces.
 */
export function databaseHost(ctx: BuildContext): string {
  const pool = ctx.databasePool;
  return pool ? `${poolClusterName(pool)}-rw.${pool.namespace}.svc` : RW_SERVICE;
}

export function databaseEndpoint(ctx: BuildContext): string {
  const pool = ctx.databasePool;
  return pool ? `${databaseHost(ctx)}:5432` : `${RW_SERVICE}.${namespaceOf(ctx.territory)}.svc:5432`;
}

export function buildDatabaseCluster(ctx: BuildContext): Owned {
  const t = ctx.territory;
  const recovery = ctx.databaseBootstrap;
  const db = t.spec.database;
  const sizing = databaseSizing(ctx);
  const purposes = t.spec.controller.purposes;
  const spec: Record<string, unknown> = {
    instances: sizing.instances,
    imageName: `${ctx.config.postgresImage}:${db.postgresVersion}`,
    enableSuperuserAccess: false,
    storage: {
      size: sizing.storage,
      ...(db.storage.storageClass ? { storageClass: db.storage.storageClass } : {}),
    },
    // Always explicit: left out, the instances got the namespace's LimitRange defaults, a région's as a
    // village's.
    resources: sizing.resources,
    affinity: {
      nodeAffinity: regionAffinity(ctx),
      enablePodAntiAffinity: true,
      topologyKey: 'topology.kubernetes.io/zone',
    },
    bootstrap: recovery
      ? {
          // The database, owner and its password as initdb made them: the recovered data holds the same
          // database and role, and CloudNativePG sets the owner's password from the Secret.
          recovery: {
            source: RECOVERY_SOURCE,
            database: databaseName(ctx),
            owner: ownerRole(ctx),
            secret: { name: OWNER_SECRET },
            recoveryTarget: { targetTime: recovery.targetTime },
          },
        }
      : {
          initdb: {
            database: databaseName(ctx),
            owner: ownerRole(ctx),
            secret: { name: OWNER_SECRET },
            dataChecksums: true,
          },
        },
    postgresql: {
      // TLS only, modern protocol, SCRAM passwords: no clear-text connection to an authority's data.
      // Memory parameters (shared_buffers and friends) follow the instance's memory limit: a PostgreSQL
      // tuned for more memory than its limit is OOM-killed under load (database-sizing.ts).
      parameters: {
        ssl_min_protocol_version: 'TLSv1.3',
        password_encryption: 'scram-sha-256',
        ...sizing.parameters,
      },
      // CloudNativePG appends `host all all all <method>` after these rules, and `host` matches
      // plain-text connections too: only an explicit reject of every non-TLS connection, first,
      // makes TLS mandatory (a plain-text psql with the right password got in without it).
      pg_hba: ['hostnossl all all all reject', 'hostssl all all all scram-sha-256'],
    },
    managed: {
      roles: [
        {
          name: ownerRole(ctx),
          ensure: 'present',
          login: true,
          passwordSecret: { name: OWNER_SECRET },
          // What a purpose's role creates is that role's own: the owner, whom restores run as, must
          // drop and recreate it. Member of each purpose role, it holds their objects' privileges; the
          // purpose roles stay strangers to each other. (Backups no longer need this: they run as
          // the read-only backup role below.)
          inRoles: purposes.map((p) => purposeRole(ctx, p.name)),
        },
        ...purposes.map((p) => ({
          name: purposeRole(ctx, p.name),
          ensure: 'present',
          login: true,
          inherit: true,
          comment: `GDPR purpose: ${p.name}`,
          passwordSecret: { name: purposeSecret(p.name) },
        })),
        {
          name: BACKUP_ROLE,
          ensure: 'present',
          login: true,
          inherit: true,
          bypassrls: true,
          inRoles: ['pg_read_all_data'],
          comment: 'territory-operator: logical backups (read-only)',
          passwordSecret: { name: BACKUP_SECRET },
        },
      ],
    },
  };
  // Physical backups: the Barman Cloud plugin archives WAL into the Territory's ObjectStore (object-store.ts).
  // The default server name stays unsaid: writing serverName: db would change every live Cluster's spec.
  const plugins = clusterPlugins(ctx, recovery ? serverNameOf(ctx) : undefined);
  if (plugins) spec.plugins = plugins;
  if (recovery) {
    spec.externalClusters = [
      { name: RECOVERY_SOURCE, plugin: recoveryPluginConfiguration(recovery.sourceServer) },
    ];
  }
  const annotations = recovery
    ? {
        [BOOTSTRAP_ANNOTATION]: JSON.stringify({
          request: recovery.request,
          targetTime: recovery.targetTime,
          sourceServer: recovery.sourceServer,
        }),
      }
    : undefined;
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: ownedMeta(ctx, CLUSTER_NAME, 'database', annotations ? { annotations } : {}),
    spec,
  };
}
