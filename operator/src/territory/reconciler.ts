// The Territory reconciler: read the world (caches first), compute the desired state with the pure
// builders, apply the difference part by part, and write one honest status. Level-based and
// idempotent: running it twice in a row makes no write the second time.

import { type AuthorityFound, lookupAuthority } from '../api/geography.ts';
import { schedulePeriodDays } from '../api/patterns.ts';
import {
  API_VERSION,
  type Condition,
  KIND,
  parseTerritory,
  type RestoreSpec,
  restoreRequestId,
  type Territory,
} from '../api/territory.ts';
import { LOGICAL_BACKUP_CRONJOB } from '../builders/backup.ts';
import type { BuildContext, DatabasePoolPlacement, Owned } from '../builders/context.ts';
import { LABELS, MANAGED_BY, namespaceOf } from '../builders/context.ts';
import { CLUSTER_NAME, databaseEndpoint, OWNER_SECRET, serverNameOf } from '../builders/database.ts';
import { buildDatabaseAccessJob, databaseAccessJobName } from '../builders/database-access.ts';
import { poolCaSecretName } from '../builders/database-names.ts';
import { databaseSizing, liveStorageOf } from '../builders/database-sizing.ts';
import { buildDesiredState } from '../builders/index.ts';
import { KEYRING_SECRET } from '../builders/keys.ts';
import { apiServerCidrs, backupEgressCidrs } from '../builders/network.ts';
import {
  BARMAN_CLOUD_PLUGIN_RELEASE,
  OBJECT_STORE_API_VERSION,
  OBJECT_STORE_KIND,
  OBJECT_STORE_NAME,
  physicalBackupsOn,
  physicalBackupsWanted,
} from '../builders/object-store.ts';
import { chooseProfile } from '../builders/profile.ts';
import { buildRestoreJob, restoreJobName } from '../builders/restore.ts';
import { RESTORE_DRILL_COMPONENT, RESTORE_DRILL_CRONJOB } from '../builders/restore-drill.ts';
import { certificatesOnly, DATABASE_API_VERSION, tenantObjectName } from '../builders/shared-database.ts';
import { evaluateDestination, evaluateSovereignty } from '../builders/sovereignty.ts';
import { type CustomerKek, parseKek } from '../keys/keyring.ts';
import { ensureFinalizer } from '../runtime/finalizers.ts';
import type { KubeObject, Logger, ReconcileResult } from '../runtime/types.ts';
import { API_SERVER_SLICES, apiServerFacts, withoutApiServerEgress } from './api-server.ts';
import { AuthoritySecrets } from './authority-secrets.ts';
import { nodeRegions } from './cache-shape.ts';
import {
  buildConditions,
  PART_ORDER,
  type PartOutcome,
  type RequiredPart,
  setCondition,
} from './conditions.ts';
import { readDatabasePods } from './database-pods.ts';
import { FINALIZER, finalizeTerritory } from './finalizer.ts';
import {
  type BackupKindHealth,
  backupOutcome,
  barmanCloudPluginMissing,
  type DrillJob,
  databaseOutcome,
  logicalBackupHealth,
  physicalBackupHealth,
  type RestoreTestHealth,
  restoreDrillHealth,
  withoutBackupEgress,
  withUnschedulablePods,
} from './health.ts';
import { cacheKey, OWNED_KINDS, territoryOf } from './owned-kinds.ts';
import {
  decidePointInTime,
  type PointInTimeDecision,
  pointInTimeClusterOf,
  recoverySourceServer,
  recoveryWindowOf,
} from './point-in-time.ts';
import { planPoolCredentials } from './pool-credentials.ts';
import type { TerritoryPorts } from './ports.ts';
import { readyTransitionEvent } from './ready-transition.ts';
import { describeRefusal, ObjectRefusedError, type Refusal, refusalOf, refusedOutcome } from './refusals.ts';
import { reservedNamespaceOwner } from './reserved-namespaces.ts';
import {
  decideRestore,
  type RestoreJob,
  type RestoreStatus,
  restoreEvent,
  terminationWanted,
} from './restore.ts';
import { readRestoreTermination } from './restore-pods.ts';
import { planCredentials, planKeyring, type SecretWrite } from './secrets.ts';
import { databaseAccessOutcome, sharedDatabaseOutcome } from './shared-database-health.ts';
import { decideTier, type PoolFacts, poolPlacement, type TierDecision } from './tier.ts';
import { cachedTierFacts, confirmTierFacts, noDataStoreCached } from './tier-facts.ts';

type Status = Record<string, unknown> & {
  conditions?: Condition[];
  restore?: RestoreStatus;
  keys?: { versions?: { id: string }[] };
  backup?: Record<string, unknown> & { lastRestoreTest?: { time?: string; result?: string } };
};

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class TerritoryReconciler {
  private readonly ports: TerritoryPorts;
  private readonly authoritySecrets: AuthoritySecrets;

  constructor(ports: TerritoryPorts) {
    this.ports = ports;
    this.authoritySecrets = new AuthoritySecrets(ports.kube, () =>
      ports.cache('v1', 'Secret', { metadataOnly: true }),
    );
  }

  async reconcile(name: string, object: KubeObject | undefined, logger: Logger): Promise<ReconcileResult> {
    if (!object) return; // gone: garbage collection (or our finalizer, earlier) took care of the rest
    const log = logger.child({ territory: name });
    const parsed = parseTerritory(object);
    if (!parsed.ok) {
      await this.writeInvalid(object, parsed.errors);
      return;
    }
    const t = parsed.territory;
    if (t.metadata.deletionTimestamp) {
      return finalizeTerritory(this.ports, t, object, log);
    }
    await ensureFinalizer(this.ports.applier, { apiVersion: API_VERSION, kind: KIND }, object, FINALIZER);
    return this.reconcileLive(t, object, log);
  }

  private async reconcileLive(t: Territory, object: KubeObject, log: Logger): Promise<ReconcileResult> {
    const { ports } = this;
    const now = ports.now();
    const parts: PartOutcome[] = [];
    const status: Status = { namespace: namespaceOf(t), ...issuedKeys(object), ...restoreRecord(object) };
    // Objects the API server refused: each is named in its part's condition; once status says so, the
    // reconcile fails so that the controller retries with backoff (a quota or a policy can be lifted).
    const refusals: Refusal[] = [];
    const done = async (result?: ReconcileResult) => {
      await this.writeStatus(object, t, parts, status);
      if (refusals.length > 0) throw new RefusedObjectsError(refusals);
      return result;
    };

    // 1. Who is the data controller? Unknown authorities get nothing.
    const authority = lookupAuthority(
      t.spec.authority.kind,
      t.spec.authority.code,
      t.spec.authority.displayName,
    );
    if (!authority.found) {
      parts.push({
        type: 'AuthorityVerified',
        status: 'False',
        reason: authority.reason,
        message: authority.message,
      });
      parts.push(...blocked('AuthorityVerified', 'the authority is not verified'));
      return done();
    }
    parts.push({
      type: 'AuthorityVerified',
      status: 'True',
      reason: 'OfficialCode',
      message: `${authority.officialName} (${t.spec.authority.kind} ${t.spec.authority.code})${authority.note ? `; ${authority.note}` : ''}`,
    });
    status.authority = authorityStatus(authority);

    // 2. Sovereignty gate, fail closed.
    const nodes = nodeRegions(ports.cache('v1', 'Node')?.list() ?? []);
    const verdict = evaluateSovereignty(
      { level: t.spec.hosting.level, regions: t.spec.hosting.regions ?? [] },
      ports.config.cluster,
      ports.config.providers,
      nodes,
    );
    parts.push(
      verdict.compliant
        ? {
            type: 'SovereigntyCompliant',
            status: 'True',
            reason: 'HostingVerified',
            message: verdict.message,
          }
        : { type: 'SovereigntyCompliant', status: 'False', reason: verdict.reason, message: verdict.message },
    );
    if (verdict.compliant) {
      status.sovereignty = {
        provider: verdict.provider,
        regions: verdict.allowedRegions,
        level: verdict.level,
      };
    }

    const ctx: BuildContext = {
      territory: t,
      authority,
      config: ports.config,
      allowedRegions: verdict.compliant ? verdict.allowedRegions : [],
      backupAllowed: false,
      barmanCloudPlugin: false,
      ...apiServerFacts(ports.cache(API_SERVER_SLICES.apiVersion, API_SERVER_SLICES.kind)?.list() ?? []),
    };
    // Which tier holds the database (tier.ts), decided before the namespace is built: its labels are what
    // lets the Territory's Pods into a pool. Nothing data-bearing is decided for a non-compliant Territory.
    const cnpg = await ports.kube.serves('postgresql.cnpg.io/v1', 'Cluster');
    const tier = verdict.compliant && cnpg ? await this.decideTier(ctx) : undefined;
    if (tier?.tier === 'Shared') ctx.databasePool = poolPlacement(tier.pool);
    // Volumes never shrink: the live Cluster's size is kept when the Territory now asks for less, by the
    // Cluster and by the quota (built next) alike.
    const liveStorage = liveStorageOf(
      this.cached('postgresql.cnpg.io/v1', 'Cluster', namespaceOf(t), CLUSTER_NAME),
    );
    if (liveStorage) ctx.liveDatabaseStorage = liveStorage;

    // 3. Namespace and tenancy guardrails (no data: created even before the gate opens).
    const ns = await this.unlessRefused(refusals, () => this.reconcileNamespace(ctx, log));
    const nsOutcome = 'refused' in ns ? refusedOutcome('NamespaceReady', ns.refused) : ns;
    if (nsOutcome.reason === 'ReservedNamespace') delete status.namespace; // never this Territory's
    parts.push(nsOutcome);
    if (nsOutcome.status !== 'True') {
      parts.push(...blocked('NamespaceReady', 'the namespace is not ready'));
      return done();
    }
    if (!verdict.compliant) {
      await this.pruneKinds(ctx, ['CronJob', 'ScheduledBackup'], new Set());
      parts.push(...blocked('NamespaceReady', `nothing data-bearing is created: ${verdict.message}`));
      return done();
    }

    // 4. Keys: created once, rotated by adding versions, never regenerated.
    const planned = await this.unlessRefused(refusals, () => this.reconcileKeys(ctx, object, now, log));
    const keys = 'refused' in planned ? failKeysWith(refusedOutcome('KeysReady', planned.refused)) : planned;
    parts.push(keys.outcome);
    if (keys.status) status.keys = keys.status;
    else if ('issued' in keys && keys.issued) status.keys = keys.issued;
    if (keys.outcome.status !== 'True') {
      parts.push(...blocked('KeysReady', 'the keys are not ready'));
      return done();
    }

    // 5. Database credentials (generated, rotated on schedule, never logged).
    const credentials = planCredentials({
      ctx,
      live: (secret) => this.cached('v1', 'Secret', namespaceOf(t), secret),
      now,
      rotationDays: ports.config.credentialRotationDays,
      randomBytes: ports.randomBytes,
    });
    const credentialsWritten = await this.unlessRefused(refusals, () =>
      this.executeWrites(credentials.writes),
    );
    const credentialsRefused = credentialsWritten ? credentialsWritten.refused : undefined;
    if (!credentialsRefused && credentials.rotated.length > 0) {
      ports.events.record(object, {
        type: 'Normal',
        reason: 'CredentialsRotated',
        message: `new passwords for ${credentials.rotated.join(', ')}`,
      });
    }

    // 6. Backup destination: French (and SecNumCloud when required), with its credentials present.
    const backupGate = await this.backupGate(ctx);
    ctx.backupAllowed = backupGate === undefined;

    // 7. Database through CloudNativePG, if installed; physical backups through its Barman Cloud plugin,
    // if installed too (asked only when they are wanted: a Cluster naming a plugin CloudNativePG does
    // not know is never reconciled, so without it the database comes up without them).
    ctx.barmanCloudPlugin =
      cnpg &&
      physicalBackupsWanted(ctx) &&
      (await ports.kube.serves(OBJECT_STORE_API_VERSION, OBJECT_STORE_KIND));
    // A point-in-time recovery (spec.restore from PointInTime) decides whether the database Cluster is
    // kept, deleted or created recovered (point-in-time.ts); any Cluster is built the way it was made.
    const liveCluster = cnpg
      ? this.cached('postgresql.cnpg.io/v1', 'Cluster', namespaceOf(t), CLUSTER_NAME)
      : undefined;
    // A database in a pool has no physical backups of its own to recover from (reported at step 9).
    const pointInTime =
      cnpg && t.spec.restore?.from === 'PointInTime' && !ctx.databasePool
        ? this.decidePointInTime(ctx, object, liveCluster, now)
        : undefined;
    // A database in a pool: its Pods verify the pool's certificate with the pool's CA, copied into db-ca.
    if (ctx.databasePool) ctx.databasePool = await this.withPoolServerCa(ctx.databasePool);
    const bootstrap = pointInTime ? pointInTime.bootstrap : pointInTimeClusterOf(liveCluster)?.bootstrap;
    if (bootstrap) ctx.databaseBootstrap = bootstrap;
    const desired = buildDesiredState(ctx);
    // While a recovery replaces the database, its Cluster is deleted, or not created until it can be
    // created recovered: never applied as an empty database in between.
    const holdCluster =
      pointInTime !== undefined &&
      (pointInTime.action === 'delete-cluster' ||
        (pointInTime.action === 'none' &&
          (!liveCluster || liveCluster.metadata.deletionTimestamp !== undefined)));
    const databaseObjects = holdCluster
      ? desired.database.filter((o) => o.kind !== 'Cluster')
      : desired.database;
    let cluster: KubeObject | undefined;
    let databaseReady = false;
    if (!cnpg) {
      parts.push({
        type: 'DatabaseReady',
        status: 'False',
        reason: 'CloudNativePGNotInstalled',
        message:
          'CloudNativePG’s CRDs are not installed on this cluster: install CloudNativePG, the database will follow',
      });
    } else if (credentialsRefused) {
      // The database's credentials were refused: the Cluster would wait for Secrets that cannot exist.
      parts.push(refusedOutcome('DatabaseReady', credentialsRefused));
    } else if (!tier?.tier) {
      // The spec asks for a tier or a pool that cannot be had now: no database at all, rather than the
      // other tier behind the authority's back (tier.ts).
      parts.push({
        type: 'DatabaseReady',
        status: 'False',
        reason: tier?.reason ?? 'TierUndecided',
        message: tier?.message ?? 'the database tier is not decided',
        progressing: tier?.reason === 'PoolNotReady',
      });
    } else if (tier.tier === 'Shared') {
      const reached = await this.reconcileSharedDatabase(
        ctx,
        tier.pool,
        desired.database,
        credentials.writes,
        refusals,
      );
      const outcome = withTierNote(reached, tier);
      databaseReady = outcome.status === 'True';
      parts.push(outcome);
      status.database = {
        tier: 'Shared',
        pool: tier.pool.name,
        endpoint: databaseEndpoint(ctx),
        credentialsSecret: OWNER_SECRET,
      };
    } else {
      const refused = await this.unlessRefused(refusals, async () => {
        if (pointInTime?.action === 'delete-cluster' && liveCluster) {
          await this.deleteClusterForRecovery(liveCluster, log);
        }
        for (const o of databaseObjects) await this.apply(o);
        // An ObjectStore goes once the Cluster no longer archives into it (just applied without it).
        await this.pruneKinds(ctx, [OBJECT_STORE_KIND], new Set(desired.database.map(ownedKey)));
      });
      if (refused) {
        parts.push(refusedOutcome('DatabaseReady', refused.refused));
      } else {
        cluster = this.cached('postgresql.cnpg.io/v1', 'Cluster', namespaceOf(t), CLUSTER_NAME);
        let outcome = databaseOutcome(cluster, databaseSizing(ctx).instances);
        // Only a database that exists and is not healthy pays for a read of its Pods (no Pod cache).
        if (cluster && outcome.status !== 'True') {
          const pods = await readDatabasePods(ports.kube, namespaceOf(t), log);
          outcome = withUnschedulablePods(outcome, pods, ctx.allowedRegions);
        }
        const judged = withTierNote(withoutApiServerEgress(outcome, apiServerCidrs(ctx)), tier);
        databaseReady = judged.status === 'True';
        parts.push(judged);
        const phase = (cluster?.status as { phase?: string } | undefined)?.phase;
        status.database = {
          tier: 'Dedicated',
          endpoint: databaseEndpoint(ctx),
          credentialsSecret: OWNER_SECRET,
          ...(phase ? { phase } : {}),
        };
      }
    }

    // 8. Backups: applied toward a sovereign destination, removed otherwise. While the tier is undecided
    // they are left as they are: built for no database, they would point at one that is not the Territory's.
    const tierUndecided = tier?.tier === null;
    const backupObjects = tierUndecided
      ? []
      : desired.backup.filter((o) => cnpg || !o.apiVersion?.startsWith('postgresql.cnpg.io/'));
    const backupApplied = await this.unlessRefused(refusals, async () => {
      for (const o of backupObjects) await this.apply(o);
    });
    if (!tierUndecided) {
      await this.pruneKinds(ctx, ['CronJob', 'ScheduledBackup'], new Set(backupObjects.map(ownedKey)));
    }
    if (tierUndecided) {
      parts.push(...blocked('DatabaseReady', `the database's tier is not decided: ${tier.message}`));
    } else if (backupGate) {
      parts.push(backupGate);
    } else if (backupApplied) {
      parts.push(refusedOutcome('BackupReady', backupApplied.refused));
    } else {
      const cronJob = this.cached('batch/v1', 'CronJob', namespaceOf(t), LOGICAL_BACKUP_CRONJOB);
      const periodDays = schedulePeriodDays(t.spec.backup.schedule);
      const logical = logicalBackupHealth(cronJob, { periodDays, now, namespace: namespaceOf(t) });
      const physical = physicalBackupsOn(ctx)
        ? physicalBackupHealth(
            cluster,
            this.cached(OBJECT_STORE_API_VERSION, OBJECT_STORE_KIND, namespaceOf(t), OBJECT_STORE_NAME),
            { periodDays, now, serverName: serverNameOf(ctx) },
          )
        : undefined;
      const drill = t.spec.backup.restoreDrill.enabled
        ? restoreDrillHealth(
            this.cached('batch/v1', 'CronJob', namespaceOf(t), RESTORE_DRILL_CRONJOB),
            this.drillJobs(t),
            {
              periodDays: schedulePeriodDays(t.spec.backup.restoreDrill.schedule),
              now,
              namespace: namespaceOf(t),
              lastBackupSuccess: (cronJob?.status as { lastSuccessfulTime?: string } | undefined)
                ?.lastSuccessfulTime,
            },
          )
        : undefined;
      const destinationHost = new URL(t.spec.backup.destination.endpoint).hostname;
      const outcome =
        cnpg && physicalBackupsWanted(ctx) && !ctx.barmanCloudPlugin
          ? barmanCloudPluginMissing({
              cnpgNamespace: ports.config.cnpgNamespace,
              release: BARMAN_CLOUD_PLUGIN_RELEASE,
              logical,
            })
          : backupOutcome({ cronJob, logical, physical, drill });
      parts.push(withoutBackupEgress(outcome, destinationHost, backupEgressCidrs(ctx)));
      const shown = ({ state, lastSuccessful, lastFailed }: BackupKindHealth) => ({
        state,
        ...(lastSuccessful ? { lastSuccessful } : {}),
        ...(lastFailed ? { lastFailed } : {}),
      });
      status.backup = {
        destinationHost,
        logical: { ...shown(logical), encryption: 'Authority' },
        ...(physical
          ? { physical: { ...shown(physical), encryption: t.spec.backup.physical.encryption } }
          : {}),
        ...(drill ? { lastRestoreTest: restoreTestStatus(drill) } : {}),
      };
      if (drill) this.recordDrillResult(object, drill);
    }

    // 9. A declarative restore (spec.restore): its Job once the database is ready and backups may be read.
    // The backup and drill CronJobs are not suspended meanwhile: the restore is one transaction, so a
    // backup taken during it dumps the data as it was before (or waits on its locks), never a database
    // half restored; and the drill restores into a server of its own, never this database.
    if (ctx.databasePool && t.spec.restore?.from === 'PointInTime') {
      parts.push({
        type: 'Restored',
        status: 'False',
        reason: 'PointInTimeUnavailableInSharedTier',
        message: `the database is in pool ${ctx.databasePool.name}, whose physical backups are the platform's: restore from a logical backup (spec.restore.from: LogicalBackup), or give the Territory a cluster of its own first`,
      });
    } else if (pointInTime) {
      status.restore = pointInTime.status;
      parts.push(pointInTime.outcome);
      const event = restoreEvent((object.status as Status | undefined)?.restore, pointInTime.status);
      if (event) ports.events.record(object, event);
    } else {
      await this.reconcileRestore(ctx, object, status, parts, refusals, {
        databaseReady,
        backupGate: backupGate?.message,
        log,
      });
    }

    // Come back when a key or a credential is due, even if nothing else happens.
    const dueAt = Math.min(
      keys.status ? Date.parse(keys.status.nextRotation) : Number.POSITIVE_INFINITY,
      Date.parse(credentials.nextRotation),
    );
    const requeueAfterMs = Number.isFinite(dueAt)
      ? Math.max(1_000, dueAt - now.getTime() + 1_000)
      : undefined;
    // Timers beyond ~24 days overflow Node's setTimeout; periodic resync covers the rest.
    return done(
      requeueAfterMs !== undefined && requeueAfterMs < 2 ** 31 - 1 ? { requeueAfterMs } : undefined,
    );
  }

  private async reconcileRestore(
    ctx: BuildContext,
    object: KubeObject,
    status: Status,
    parts: PartOutcome[],
    refusals: Refusal[],
    facts: { databaseReady: boolean; backupGate: string | undefined; log: Logger },
  ): Promise<void> {
    const t = ctx.territory;
    const ns = namespaceOf(t);
    const spec = t.spec.restore;
    const previous = (object.status as Status | undefined)?.restore;
    const request = spec ? restoreRequestId(spec) : undefined;
    const job = request
      ? (this.cached('batch/v1', 'Job', ns, restoreJobName(request)) as RestoreJob | undefined)
      : undefined;
    const termination = terminationWanted(spec, previous, job)
      ? await readRestoreTermination(this.ports.kube, ns, restoreJobName(request ?? ''), facts.log)
      : undefined;
    const decision = decideRestore({
      territory: t.metadata.name,
      namespace: ns,
      spec,
      previous,
      job,
      termination,
      prerequisites: !facts.databaseReady
        ? { met: false, why: 'the database is not ready yet (DatabaseReady)' }
        : facts.backupGate
          ? { met: false, why: `backups cannot be read: ${facts.backupGate}` }
          : { met: true },
    });
    let outcome = decision.outcome;
    if (decision.create && spec && request) {
      const created = await this.unlessRefused(refusals, () =>
        this.createRestoreJob(ctx, spec, request, facts.log),
      );
      if (created) outcome = refusedOutcome('Restored', created.refused);
    }
    if (decision.status) status.restore = decision.status;
    if (outcome) parts.push(outcome);
    const event = restoreEvent(previous, decision.status);
    if (event) this.ports.events.record(object, event);
  }

  /**
   * The tier of the Territory's database (tier.ts), from the caches; when they hold no data store of the
   * Territory's at all (one is about to be created), from the API server itself (tier-facts.ts: up to three
   * GETs), so that a cache lagging behind a creation never gives the Territory a database in each tier.
   */
  private async decideTier(ctx: BuildContext): Promise<TierDecision> {
    const t = ctx.territory;
    let facts = cachedTierFacts(this.ports, {
      territory: t,
      departement: ctx.authority.departement,
      profile: chooseProfile(t, ctx.authority.population),
    });
    if (noDataStoreCached(facts)) facts = await confirmTierFacts(this.ports, facts);
    return decideTier(facts);
  }

  /** The pool's server CA (certificates of `<pool>-ca`, read once per change of that Secret), if issued yet. */
  private async withPoolServerCa(pool: DatabasePoolPlacement): Promise<DatabasePoolPlacement> {
    const serverCa = await this.authoritySecrets.judge(
      'pool-ca',
      pool.namespace,
      poolCaSecretName(pool),
      (secret) => {
        const pem = (secret?.data as Record<string, string> | undefined)?.['ca.crt'];
        return pem === undefined ? undefined : certificatesOnly(Buffer.from(pem, 'base64').toString('utf8'));
      },
    );
    return serverCa ? { ...pool, serverCa } : pool;
  }

  /**
   * The Territory's database in its pool: the password copies of its roles (SCRAM verifiers of the
   * Territory's own Secrets as just written), its db-ca, DatabaseRoles and Database; then how CloudNativePG
   * says they are.
   */
  private async reconcileSharedDatabase(
    ctx: BuildContext,
    pool: PoolFacts,
    objects: Owned[],
    credentialWrites: SecretWrite[],
    refusals: Refusal[],
  ): Promise<PartOutcome> {
    const ns = namespaceOf(ctx.territory);
    const placement = ctx.databasePool as DatabasePoolPlacement;
    const written = new Map(credentialWrites.map((w) => [w.object.metadata?.name, w.object as KubeObject]));
    const plan = planPoolCredentials({
      ctx,
      source: (name) => written.get(name) ?? this.cached('v1', 'Secret', ns, name),
      live: (name) => this.cached('v1', 'Secret', placement.namespace, name),
      randomBytes: this.ports.randomBytes,
    });
    const refused = await this.unlessRefused(refusals, async () => {
      await this.executeWrites(plan.writes);
      for (const o of objects) await this.apply(o);
    });
    if (refused) return refusedOutcome('DatabaseReady', refused.refused);
    const inPool = (kind: string, name: string) =>
      this.cached(DATABASE_API_VERSION, kind, placement.namespace, name);
    const outcome = sharedDatabaseOutcome({
      pool: pool.name,
      poolReady: pool.ready,
      database: inPool('Database', tenantObjectName(ctx)),
      roles: objects
        .filter((o) => o.kind === 'DatabaseRole')
        .map((o) => ({
          name: (o.spec as { name: string }).name,
          object: inPool('DatabaseRole', o.metadata?.name ?? ''),
        })),
      waitingFor: plan.waiting,
    });
    if (outcome.status !== 'True') return outcome;
    if (!placement.serverCa) {
      return {
        type: 'DatabaseReady',
        status: 'False',
        reason: 'PoolCANotIssued',
        message: `pool ${pool.name} has not issued its server CA yet (${placement.namespace}/${poolCaSecretName(placement)}): the Territory's Pods could not verify it`,
        progressing: true,
      };
    }
    // The database exists, with PostgreSQL's default privileges (every role may connect): its owner takes
    // them away, once per Database object, in a Job of the Territory's.
    const uid = inPool('Database', tenantObjectName(ctx))?.metadata.uid ?? '';
    const jobName = databaseAccessJobName(uid);
    const job = this.cached('batch/v1', 'Job', ns, jobName);
    if (!job) {
      const created = await this.unlessRefused(refusals, () =>
        this.createOnce(buildDatabaseAccessJob(ctx, uid) as KubeObject),
      );
      if (created) return refusedOutcome('DatabaseReady', created.refused);
    }
    return databaseAccessOutcome(job, jobName);
  }

  /** POST, never apply: a Job is made once; one that exists already (409) is that one. */
  private async createOnce(object: KubeObject): Promise<void> {
    try {
      await this.naming(object, () => this.ports.kube.create(object));
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 409) throw error;
    }
  }

  /** A point-in-time recovery request, decided on what the cache holds (point-in-time.ts). */
  private decidePointInTime(
    ctx: BuildContext,
    object: KubeObject,
    liveCluster: KubeObject | undefined,
    now: Date,
  ): PointInTimeDecision {
    const t = ctx.territory;
    const spec = t.spec.restore as RestoreSpec;
    const previous = (object.status as Status | undefined)?.restore;
    const cluster = pointInTimeClusterOf(liveCluster);
    const objectStore = this.cached(
      OBJECT_STORE_API_VERSION,
      OBJECT_STORE_KIND,
      namespaceOf(t),
      OBJECT_STORE_NAME,
    );
    return decidePointInTime({
      territory: t.metadata.name,
      namespace: namespaceOf(t),
      spec,
      previous,
      cluster,
      physicalOn: physicalBackupsOn(ctx),
      recoveryWindow: recoveryWindowOf(
        objectStore as { status?: unknown } | undefined,
        recoverySourceServer({ spec, previous, cluster }),
      ),
      now,
    });
  }

  /**
   * Deletes the database Cluster a confirmed point-in-time recovery replaces: in the foreground, so the
   * Cluster stays (deleting) until its Pods and volumes are gone and a recovered one cannot meet them;
   * and only this very Cluster (its uid), never one created since.
   */
  private async deleteClusterForRecovery(cluster: KubeObject, log: Logger): Promise<void> {
    if (cluster.metadata.deletionTimestamp) return;
    const ref = {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      namespace: cluster.metadata.namespace as string,
      name: CLUSTER_NAME,
    };
    await this.ports.applier.deleteIfExists(ref, {
      propagationPolicy: 'Foreground',
      ...(cluster.metadata.uid ? { preconditionUid: cluster.metadata.uid } : {}),
    });
    log.info({ cluster: CLUSTER_NAME }, 'database Cluster deleted: a point-in-time recovery replaces it');
  }

  /** POST, never apply: the request's Job is made once; one that exists already (409) is that one. */
  private async createRestoreJob(
    ctx: BuildContext,
    spec: RestoreSpec,
    request: string,
    log: Logger,
  ): Promise<void> {
    const job = buildRestoreJob(ctx, spec, request) as KubeObject;
    await this.createOnce(job);
    log.info({ job: job.metadata.name, request }, 'restore Job created (or found)');
  }

  /** The drill Jobs of this Territory (its own and those run by hand from its CronJob). */
  private drillJobs(t: Territory): DrillJob[] {
    return (this.ports.cache('batch/v1', 'Job')?.listInNamespace(namespaceOf(t)) ?? []).filter(
      (j) =>
        territoryOf(j) === t.metadata.name &&
        j.metadata.labels?.[LABELS.component] === RESTORE_DRILL_COMPONENT,
    ) as DrillJob[];
  }

  /**
   * An Event when a drill has ended since the status last said so: Warning when it failed, Normal when
   * it passed. Only then: a reconcile that finds the same last drill says nothing.
   */
  private recordDrillResult(object: KubeObject, drill: RestoreTestHealth): void {
    if (!drill.time || !drill.result) return;
    const before = (object.status as Status | undefined)?.backup?.lastRestoreTest;
    if (before?.time === drill.time && before?.result === drill.result) return;
    const failed = drill.result === 'Failed';
    this.ports.events.record(object, {
      type: failed ? 'Warning' : 'Normal',
      reason: failed ? 'RestoreDrillFailed' : 'RestoreDrillPassed',
      message: `restore drill${drill.job ? ` ${drill.job}` : ''}: ${drill.detail}`,
    });
  }

  private cached(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): KubeObject | undefined {
    return this.ports.cache(apiVersion, kind)?.get(cacheKey(namespace, name));
  }

  private liveOf(o: Owned): KubeObject | null {
    return (
      this.cached(o.apiVersion ?? '', o.kind ?? '', o.metadata?.namespace, o.metadata?.name ?? '') ?? null
    );
  }

  /** SSA with force: these objects are ours, a field someone else changed is drift to repair. */
  private async apply(o: Owned): Promise<void> {
    const cache = this.ports.cache(o.apiVersion ?? '', o.kind ?? '');
    await this.naming(o as KubeObject, () =>
      this.ports.applier.apply(o as KubeObject, {
        force: true,
        ...(cache?.hasSynced() ? { live: this.liveOf(o) } : {}),
      }),
    );
  }

  /** Runs one write of `object`; a refusal by the API server comes out as an ObjectRefusedError naming it. */
  private async naming<R>(object: KubeObject, write: () => Promise<R>): Promise<R> {
    try {
      return await write();
    } catch (error) {
      const refusal = refusalOf(error, object);
      throw refusal ? new ObjectRefusedError(refusal) : error;
    }
  }

  /** Runs a part's writes; a refused object is recorded and returned, any other error propagates. */
  private async unlessRefused<R>(
    refusals: Refusal[],
    run: () => Promise<R>,
  ): Promise<R | { refused: Refusal }> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof ObjectRefusedError)) throw error;
      refusals.push(error.refusal);
      return { refused: error.refusal };
    }
  }

  private async reconcileNamespace(ctx: BuildContext, log: Logger): Promise<PartOutcome> {
    const t = ctx.territory;
    const name = namespaceOf(t);
    const reserved = reservedNamespace(name, this.ports.config);
    if (reserved) return reserved;
    const desired = buildDesiredState(ctx);
    // A synced cache that lacks the namespace is trusted: the create below settles any doubt (409).
    const namespaces = this.ports.cache('v1', 'Namespace');
    const live = namespaces?.hasSynced()
      ? namespaces.get(name)
      : await this.ports.kube.get({ apiVersion: 'v1', kind: 'Namespace', name });
    const owner = live ? territoryOf(live) : undefined;
    if (live && owner !== t.metadata.name) return namespaceConflict(name, owner);
    if (live?.metadata.deletionTimestamp) {
      return {
        type: 'NamespaceReady',
        status: 'False',
        reason: 'NamespaceTerminating',
        message: `namespace ${name} is being deleted; it will be recreated once gone`,
        progressing: true,
      };
    }
    if (!live) {
      log.info({ namespace: name }, 'creating namespace');
      // Created with POST, not applied: an apply also "succeeds" for a second Territory racing for the
      // same new namespace, and both would then believe they own it. Only one create can succeed.
      try {
        await this.naming(desired.namespace as KubeObject, () =>
          this.ports.kube.create(desired.namespace as KubeObject),
        );
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 409) throw error;
        const winner = await this.ports.kube.get({ apiVersion: 'v1', kind: 'Namespace', name });
        const holder = winner ? territoryOf(winner) : undefined;
        if (holder !== t.metadata.name) return namespaceConflict(name, holder);
      }
    }
    await this.apply(desired.namespace);
    for (const o of desired.tenancy) await this.apply(o);
    await this.pruneKinds(
      ctx,
      ['ResourceQuota', 'LimitRange', 'NetworkPolicy', 'Role', 'RoleBinding'],
      new Set(desired.tenancy.map(ownedKey)),
    );
    const policies = desired.tenancy.filter((o) => o.kind === 'NetworkPolicy').length;
    const quota = desired.tenancy.find((o) => o.kind === 'ResourceQuota');
    const profile = quota?.metadata?.annotations?.['sovereign.dev/quota-profile'];
    return {
      type: 'NamespaceReady',
      status: 'True',
      reason: 'Isolated',
      message: `namespace ${name}: restricted pod security, quota profile ${profile}, ${policies} network policies, namespace roles`,
    };
  }

  /** Deletes objects of these kinds that carry this Territory's label but are no longer desired. */
  private async pruneKinds(ctx: BuildContext, kinds: string[], keep: Set<string>): Promise<void> {
    const ns = namespaceOf(ctx.territory);
    for (const owned of OWNED_KINDS.filter((k) => kinds.includes(k.kind) && k.prune)) {
      const cache = this.ports.cache(owned.apiVersion, owned.kind);
      // The namespace's objects only: scanning the whole cache made every reconcile O(all Territories).
      for (const live of cache?.listInNamespace(ns) ?? []) {
        if (territoryOf(live) !== ctx.territory.metadata.name) continue;
        if (keep.has(`${owned.kind}/${live.metadata.name}`)) continue;
        await this.ports.applier.deleteIfExists({
          apiVersion: owned.apiVersion,
          kind: owned.kind,
          name: live.metadata.name ?? '',
          namespace: ns,
        });
      }
    }
  }

  private async reconcileKeys(ctx: BuildContext, object: KubeObject, now: Date, log: Logger) {
    const t = ctx.territory;
    const ns = namespaceOf(t);
    let kek: CustomerKek | undefined;
    const ck = t.spec.encryption.customerKey;
    if (ck) {
      const read = await this.authoritySecrets.judge(`kek:${ck.key}`, ns, ck.secretName, (secret) => {
        const b64 = (secret?.data as Record<string, string> | undefined)?.[ck.key];
        return b64 === undefined ? undefined : parseKek(Buffer.from(b64, 'base64'));
      });
      if (!read) {
        return failKeys(
          'CustomerKeyMissing',
          `the authority’s key is expected in Secret ${ns}/${ck.secretName}, key "${ck.key}" (32 random bytes); create it to continue`,
        );
      }
      if (!read.ok)
        return failKeys('CustomerKeyInvalid', `Secret ${ck.secretName}, key "${ck.key}": ${read.error}`);
      kek = { secretName: ck.secretName, key: ck.key, material: read.value };
    }
    const backups = this.cached('batch/v1', 'CronJob', ns, LOGICAL_BACKUP_CRONJOB);
    // A keyring restored from escrow before the Territory (disaster recovery: docs/disaster-recovery.md)
    // does not carry our labels yet, so the cache of owned Secrets lacks it: it is asked for directly
    // before concluding there is none, then adopted (labelled) as it is, never replaced by a new one.
    const cachedKeyring = this.cached('v1', 'Secret', ns, KEYRING_SECRET);
    const live =
      cachedKeyring ??
      (await this.ports.kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name: KEYRING_SECRET }));
    if (live && !cachedKeyring) {
      log.info({ secret: KEYRING_SECRET }, 'adopting a keyring Secret created before the Territory');
    }
    // With no keyring, the key versions already issued decide between "lost" and "the first one". The
    // Territory handed to this reconcile comes from a watch that is not ordered with the Secrets' watch: it
    // can predate the status write that recorded them. Before creating a keyring, they are read from the
    // Territory as the API server holds it now (one read, only while there is no keyring).
    let issued = keysOf(object);
    if (!live && !issued?.versions?.length) {
      issued = keysOf(
        await this.ports.kube.get({ apiVersion: API_VERSION, kind: KIND, name: t.metadata.name }),
      );
    }
    const plan = planKeyring({
      ctx,
      live,
      issued: issued?.versions?.map((v) => v.id) ?? [],
      lastBackupSucceededAt: (backups?.status as { lastSuccessfulTime?: string } | undefined)
        ?.lastSuccessfulTime,
      kek,
      now,
      randomBytes: this.ports.randomBytes,
    });
    if (plan.write) await this.executeWrites([plan.write]);
    for (const id of plan.created) {
      log.info({ keyId: id }, 'data key version created');
      this.ports.events.record(object, {
        type: 'Normal',
        reason: 'KeyCreated',
        message: `data key version ${id} created`,
      });
    }
    if (plan.dropped.length > 0) {
      this.ports.events.record(object, {
        type: 'Normal',
        reason: 'KeysExpired',
        message: `key versions ${plan.dropped.join(', ')} erased: every backup they protected is past retention`,
      });
    }
    // A lost keyring keeps in status the issued key ids read above, for the next reconcile's guard.
    return { ...plan, issued };
  }

  private async executeWrites(writes: SecretWrite[]): Promise<void> {
    for (const w of writes) {
      const object = w.object as KubeObject;
      await this.naming(object, () =>
        w.op === 'create' ? this.ports.kube.create(object) : this.ports.kube.replace(object),
      );
    }
  }

  /** Undefined when backups may proceed; otherwise the BackupReady outcome that says why not. */
  private async backupGate(ctx: BuildContext): Promise<PartOutcome | undefined> {
    const t = ctx.territory;
    const dest = evaluateDestination(
      t.spec.backup.destination.endpoint,
      t.spec.hosting.level,
      this.ports.config.providers,
    );
    if (!dest.sovereign)
      return { type: 'BackupReady', status: 'False', reason: dest.reason, message: dest.message };
    const ref = t.spec.backup.destination.credentialsSecret;
    const ns = namespaceOf(t);
    const wanted = [ref.accessKeyIdKey, ref.secretAccessKeyKey];
    const { exists, missing } = await this.authoritySecrets.judge(
      `s3:${wanted.join(',')}`,
      ns,
      ref.name,
      (secret) => {
        const data = (secret?.data ?? {}) as Record<string, string>;
        return { exists: secret !== undefined, missing: wanted.filter((k) => !data[k]) };
      },
    );
    if (!exists || missing.length > 0) {
      return {
        type: 'BackupReady',
        status: 'False',
        reason: 'BackupCredentialsMissing',
        message: exists
          ? `Secret ${ns}/${ref.name} lacks key(s) ${missing.join(', ')}`
          : `create Secret ${ns}/${ref.name} with keys ${ref.accessKeyIdKey} and ${ref.secretAccessKeyKey} for ${dest.host}`,
      };
    }
    const ca = t.spec.backup.destination.endpointCA;
    if (ca) {
      const pem = await this.authoritySecrets.judge(`s3-ca:${ca.key}`, ns, ca.name, (secret) => {
        const value = ((secret?.data ?? {}) as Record<string, string>)[ca.key];
        return (
          value !== undefined && Buffer.from(value, 'base64').toString('utf8').includes('BEGIN CERTIFICATE')
        );
      });
      if (!pem) {
        return {
          type: 'BackupReady',
          status: 'False',
          reason: 'BackupEndpointCAMissing',
          message: `create Secret ${ns}/${ca.name} with key ${ca.key} holding the PEM CA bundle that signs ${dest.host}'s certificate`,
        };
      }
    }
    return undefined;
  }

  private async writeStatus(
    object: KubeObject,
    t: Territory,
    parts: PartOutcome[],
    status: Status,
  ): Promise<void> {
    const previous = (object.status as Status | undefined) ?? {};
    const now = rfc3339(this.ports.now());
    const conditions = buildConditions(previous.conditions ?? [], parts, now, t.metadata.generation);
    const body = { ...status, observedGeneration: t.metadata.generation, conditions };
    // Unchanged conditions keep their times, so an idle reconcile sends nothing (the applier compares).
    await this.ports.applier.applyStatus(
      {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: t.metadata.name },
        status: body,
      },
      { live: object },
    );
    this.recordTransition(object, previous.conditions ?? [], conditions);
  }

  private recordTransition(object: KubeObject, before: Condition[], after: Condition[]): void {
    const event = readyTransitionEvent(before, after);
    if (event) this.ports.events.record(object, event);
  }

  private async writeInvalid(object: KubeObject, errors: string[]): Promise<void> {
    const previous = ((object.status as Status | undefined)?.conditions ?? []) as Condition[];
    const now = rfc3339(this.ports.now());
    const gen = object.metadata.generation;
    const message = `the spec is invalid: ${errors.slice(0, 10).join('; ')}`;
    let conditions = setCondition(
      previous,
      { type: 'Ready', status: 'False', reason: 'InvalidSpec', message },
      now,
      gen,
    );
    conditions = setCondition(
      conditions,
      { type: 'Reconciling', status: 'False', reason: 'InvalidSpec', message: 'waiting for a valid spec' },
      now,
      gen,
    );
    conditions = setCondition(
      conditions,
      { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message },
      now,
      gen,
    );
    await this.ports.applier.applyStatus(
      {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: object.metadata.name },
        status: { ...issuedKeys(object), ...restoreRecord(object), observedGeneration: gen, conditions },
      },
      { live: object },
    );
    this.recordTransition(object, previous, conditions);
  }
}

/**
 * The key versions issued so far, carried into every status write (early returns and invalid specs
 * included): the keyring-lost guard reads them, so a status written without them would let the next
 * reconcile replace a vanished keyring silently.
 */
function restoreRecord(object: KubeObject): Pick<Status, 'restore'> {
  // The last restore is a record of what was done to the data: every status write keeps it, until a
  // new request replaces it.
  const restore = (object.status as Status | undefined)?.restore;
  return restore ? { restore } : {};
}

function issuedKeys(object: KubeObject): Pick<Status, 'keys'> {
  const keys = keysOf(object);
  return keys ? { keys } : {};
}

function keysOf(object: KubeObject | undefined): Status['keys'] {
  return (object?.status as Status | undefined)?.keys;
}

function namespaceConflict(name: string, owner: string | undefined): PartOutcome {
  return {
    type: 'NamespaceReady',
    status: 'False',
    reason: 'NamespaceConflict',
    message: owner
      ? `namespace ${name} belongs to Territory ${owner}`
      : `namespace ${name} already exists and was not created for this Territory; it is left untouched (set spec.namespace ` +
        `to another name, or hand it over by labelling it ${LABELS.territory}=<this Territory's name> and ` +
        `${LABELS.managedBy}=${MANAGED_BY}, as when re-creating a Territory after a disaster)`,
  };
}

function failKeys(reason: string, message: string) {
  return failKeysWith({ type: 'KeysReady', status: 'False', reason, message });
}

function failKeysWith(outcome: PartOutcome) {
  return { outcome, created: [] as string[], dropped: [] as string[], status: undefined };
}

/**
 * A namespace a Territory may never claim (reserved-namespaces.ts): claiming one would put the authority's
 * admins in charge of the platform.
 */
function reservedNamespace(name: string, config: TerritoryPorts['config']): PartOutcome | undefined {
  const owner = reservedNamespaceOwner(name, config);
  if (!owner) return undefined;
  return {
    type: 'NamespaceReady',
    status: 'False',
    reason: 'ReservedNamespace',
    message:
      `namespace ${name} is ${owner}: a Territory cannot claim it, and nothing was created. ` +
      'Recreate the Territory with another spec.namespace (it cannot be changed in place).',
  };
}

/** The reconcile's error once status names the refused objects: the controller retries with backoff. */
class RefusedObjectsError extends Error {
  constructor(refusals: Refusal[]) {
    super(refusals.map(describeRefusal).join('; '));
    this.name = 'RefusedObjectsError';
  }
}

/** The parts after `after` in PART_ORDER, reported as waiting on it rather than left out. */
function blocked(after: RequiredPart, message: string): PartOutcome[] {
  return PART_ORDER.slice(PART_ORDER.indexOf(after) + 1).map((type) => ({
    type,
    status: 'False' as const,
    reason: 'Blocked',
    message,
    progressing: true,
  }));
}

/** status.backup.lastRestoreTest: what the last drill said, and the state it leaves the drills in. */
function restoreTestStatus(d: RestoreTestHealth) {
  return {
    state: d.state,
    ...(d.result ? { result: d.result } : {}),
    ...(d.time ? { time: d.time } : {}),
    ...(d.durationSeconds !== undefined ? { durationSeconds: d.durationSeconds } : {}),
    ...(d.failure && d.result === 'Failed' ? { failure: d.failure } : {}),
    ...(d.job ? { job: d.job } : {}),
    ...(d.lastSuccessful ? { lastPassed: d.lastSuccessful } : {}),
  };
}

/** DatabaseReady, telling also that the spec asks for another tier than the one the database stays in. */
function withTierNote(outcome: PartOutcome, tier: TierDecision | undefined): PartOutcome {
  if (tier?.reason !== 'MoveNotSupported') return outcome;
  return { ...outcome, message: `${outcome.message}; ${tier.message}` };
}

function ownedKey(o: Owned): string {
  return `${o.kind}/${o.metadata?.name}`;
}

function authorityStatus(a: AuthorityFound) {
  return {
    officialName: a.officialName,
    ...(a.departement ? { departement: a.departement } : {}),
    ...(a.region ? { region: a.region } : {}),
    ...(a.population !== undefined ? { population: a.population } : {}),
    ...(a.siren ? { siren: a.siren } : {}),
  };
}
