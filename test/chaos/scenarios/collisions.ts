// Territories whose namespace collides with one that exists: refused (NamespaceReady=False,
// NamespaceConflict) WITHOUT touching the existing namespace or anything in it, not even when the
// refused Territory is then deleted with deletionPolicy Delete. And two Territories racing for the
// same new namespace: exactly one wins, everything in the namespace belongs to the winner.
import { randomBytes } from 'node:crypto';
import { API_VERSION, KIND } from '../../../operator/src/api/territory.ts';
import { LEAVE_PHYSICAL_BACKUPS_ANNOTATION } from '../../../operator/src/territory/physical-erasure.ts';
import { namespaceFingerprint } from '../../support/namespace-fingerprint.ts';
import { type ChaosContext, sleep } from '../lib/context.ts';
import { listOwned, type TerritoryItem } from '../lib/invariants.ts';
import { type KubeItem, objectPath } from '../lib/kube-http.ts';
import { waitFor } from '../lib/wait.ts';

type Cond = { type: string; status: string; reason: string };

function manifest(name: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, labels: { 'chaos.sovereign.dev/collision': 'true' } },
    spec: {
      authority: { kind: 'commune', code: '35238' },
      controller: {
        contactEmail: 'rgpd@rennes.example.fr',
        dpo: { email: 'dpo@rennes.example.fr' },
        purposes: [
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['residents'], retentionDays: 30 },
        ],
      },
      hosting: { level: 'standard' },
      backup: {
        destination: {
          endpoint: 'https://oos.eu-west-2.outscale.com',
          bucket: 'rennes-backups',
          credentialsSecret: { name: 'backup-s3' },
        },
      },
      ...extra,
    },
  };
}

function diff(before: Map<string, string>, after: Map<string, string>, ignore: RegExp): string[] {
  const changes: string[] = [];
  for (const [k, v] of before)
    if (after.get(k) !== v && !ignore.test(k)) changes.push(`${k} ${after.has(k) ? 'changed' : 'deleted'}`);
  for (const k of after.keys()) if (!before.has(k) && !ignore.test(k)) changes.push(`${k} added`);
  return changes;
}

async function conditionOf(ctx: ChaosContext, name: string, type: string): Promise<Cond | undefined> {
  const t = await ctx.kube.get(objectPath({ apiVersion: API_VERSION, kind: KIND, name }));
  if (t.status !== 200) return undefined;
  const item = t.body as TerritoryItem;
  if (item.status?.observedGeneration !== item.metadata.generation) return undefined;
  return item.status?.conditions?.find((c) => c.type === type);
}

async function deleteTerritory(ctx: ChaosContext, name: string): Promise<void> {
  await ctx.kube.request('DELETE', objectPath({ apiVersion: API_VERSION, kind: KIND, name }));
  await waitFor(
    async () =>
      (await ctx.kube.get(objectPath({ apiVersion: API_VERSION, kind: KIND, name }))).status === 404,
    {
      what: `Territory ${name} to be deleted (finalizer released)`,
      timeoutMs: 60_000,
    },
  );
}

export async function collisions(
  ctx: ChaosContext,
): Promise<{ failures: string[] } & Record<string, unknown>> {
  const failures: string[] = [];
  const cases: { name: string; refused: boolean; untouched: boolean; detail: string }[] = [];
  // The default ServiceAccount and root CA ConfigMap are the controller-manager's, not ours.
  const controllerManaged = /^(ConfigMap kube-root-ca\.crt)$/;

  // 1. A namespace that exists and is nobody's Territory (an application of the platform team).
  for (const policy of ['Retain', 'Delete']) {
    const ns = `legacy-app-${policy.toLowerCase()}-${randomBytes(3).toString('hex')}`;
    await ctx.kube.request('POST', objectPath({ apiVersion: 'v1', kind: 'Namespace' }), {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { team: 'platform' } },
    });
    await ctx.kube.request('POST', objectPath({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns }), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'precious' },
      data: { payroll: 'do not touch' },
    });
    await sleep(1_000);
    const before = await namespaceFingerprint(ctx.kube, ns);
    // The Territory is named like the namespace (no spec.namespace): the commonest collision.
    const created = await ctx.kube.request(
      'POST',
      objectPath({ apiVersion: API_VERSION, kind: KIND }),
      manifest(ns, { deletionPolicy: policy }),
    );
    if (created.status !== 201)
      failures.push(
        `collision ${ns}: Territory not created: ${created.status} ${created.text.slice(0, 200)}`,
      );
    const condition = await waitFor(() => conditionOf(ctx, ns, 'NamespaceReady'), {
      what: `${ns} NamespaceReady`,
      timeoutMs: 60_000,
    }).catch(() => undefined);
    const refused = condition?.status === 'False' && condition.reason === 'NamespaceConflict';
    await deleteTerritory(ctx, ns).catch((error: Error) => failures.push(error.message));
    await sleep(3_000);
    const after = await namespaceFingerprint(ctx.kube, ns).catch(() => new Map<string, string>());
    const changes = diff(before, after, controllerManaged);
    cases.push({
      name: `Territory named like an existing namespace, then deleted (${policy})`,
      refused,
      untouched: changes.length === 0,
      detail: changes.join(', '),
    });
  }

  // 2. A Territory pointing spec.namespace at another Territory's namespace (Retain and Delete).
  const victims = [...ctx.world.territories.keys()].slice(0, 2);
  for (const [i, victim] of victims.entries()) {
    const policy = i === 0 ? 'Retain' : 'Delete';
    const before = await namespaceFingerprint(ctx.kube, victim);
    const name = `squatter-${i}-${randomBytes(3).toString('hex')}`;
    await ctx.kube.request(
      'POST',
      objectPath({ apiVersion: API_VERSION, kind: KIND }),
      manifest(name, { namespace: victim, deletionPolicy: policy }),
    );
    const condition = await waitFor(() => conditionOf(ctx, name, 'NamespaceReady'), {
      what: `${name} NamespaceReady`,
      timeoutMs: 60_000,
    }).catch(() => undefined);
    const refused = condition?.status === 'False' && condition.reason === 'NamespaceConflict';
    await deleteTerritory(ctx, name).catch((error: Error) => failures.push(error.message));
    await sleep(3_000);
    const after = await namespaceFingerprint(ctx.kube, victim).catch(() => new Map<string, string>());
    // The victim's own operator may legitimately rewrite its objects (resync): compare owners instead.
    const stolen = (await listOwned(ctx.kube)).filter(
      (o) =>
        (o.metadata.namespace === victim || o.metadata.name === victim) &&
        o.metadata.labels?.['sovereign.dev/territory'] !== victim,
    );
    const gone = diff(before, after, controllerManaged).filter((c) => c.endsWith('deleted'));
    cases.push({
      name: `Territory claiming another Territory's namespace, then deleted (${policy})`,
      refused,
      untouched: stolen.length === 0 && gone.length === 0,
      detail: [
        ...stolen.map(
          (o) =>
            `${o.kind} ${o.metadata.name} now labelled ${o.metadata.labels?.['sovereign.dev/territory']}`,
        ),
        ...gone,
      ].join(', '),
    });
  }

  // 3. Races: two Territories created at the same instant for the same new namespace.
  let races = 0;
  for (let r = 0; r < ctx.options.collisionRaces; r++) {
    const ns = `contested-${r}-${randomBytes(3).toString('hex')}`;
    const names = [`${ns}-p`, `${ns}-q`];
    await Promise.all(
      names.map((name) =>
        ctx.kube.request(
          'POST',
          objectPath({ apiVersion: API_VERSION, kind: KIND }),
          manifest(name, { namespace: ns }),
        ),
      ),
    );
    const conditions = await Promise.all(
      names.map((name) =>
        waitFor(() => conditionOf(ctx, name, 'NamespaceReady'), {
          what: `${name} NamespaceReady`,
          timeoutMs: 60_000,
        }).catch(() => undefined),
      ),
    );
    await sleep(3_000); // let any late write of the loser land
    const winners = names.filter((_, i) => conditions[i]?.status === 'True');
    const losers = names.filter((_, i) => conditions[i]?.reason === 'NamespaceConflict');
    const owned = (await listOwned(ctx.kube)).filter(
      (o) => o.metadata.namespace === ns || (o.kind === 'Namespace' && o.metadata.name === ns),
    );
    const winner = winners[0];
    const foreign = owned.filter((o) => o.metadata.labels?.['sovereign.dev/territory'] !== winner);
    const uids = new Set<string>();
    for (const name of names) {
      const t = await ctx.kube.get(objectPath({ apiVersion: API_VERSION, kind: KIND, name }));
      if (t.status === 200 && name === winner) uids.add((t.body as KubeItem).metadata.uid);
    }
    const wrongOwner = owned.filter(
      (o) => !(o.metadata.ownerReferences ?? []).every((ref) => uids.has(ref.uid)),
    );
    const loserStatus = losers[0]
      ? (
          (await ctx.kube.get(objectPath({ apiVersion: API_VERSION, kind: KIND, name: losers[0] })))
            .body as TerritoryItem
        ).status
      : undefined;
    const ok =
      winners.length === 1 &&
      losers.length === 1 &&
      foreign.length === 0 &&
      wrongOwner.length === 0 &&
      !loserStatus?.keys;
    races++;
    cases.push({
      name: `race ${r + 1}: two Territories for one new namespace`,
      refused: winners.length === 1 && losers.length === 1,
      untouched: foreign.length === 0 && wrongOwner.length === 0 && !loserStatus?.keys,
      detail: ok
        ? `winner ${winner}`
        : `winners ${JSON.stringify(winners)}, losers ${JSON.stringify(losers)}, objects of another: ${foreign.map((o) => `${o.kind}/${o.metadata.name}(${o.metadata.labels?.['sovereign.dev/territory']})`).join(',')}, wrong owners: ${wrongOwner.map((o) => `${o.kind}/${o.metadata.name}`).join(',')}, loser keys in status: ${Boolean(loserStatus?.keys)}`,
    });
    // Clean up: loser first (it owns nothing), then the winner and its namespace.
    for (const name of [...losers, ...winners]) {
      await ctx.kube.request(
        'PATCH',
        objectPath({ apiVersion: API_VERSION, kind: KIND, name }),
        {
          // The bucket is fictional: nothing to erase there (see territory/physical-erasure.ts).
          metadata: {
            annotations: { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: 'chaos collisions: no such bucket' },
          },
          spec: { deletionPolicy: 'Delete' },
        },
        'application/merge-patch+json',
      );
      await deleteTerritory(ctx, name).catch((error: Error) => failures.push(error.message));
    }
  }

  for (const c of cases) {
    ctx.log(
      `collisions: ${c.name}: ${c.refused ? 'refused' : 'NOT refused'}, ${c.untouched ? 'existing untouched' : `TOUCHED: ${c.detail}`}`,
    );
    if (!c.refused) failures.push(`${c.name}: not refused (${c.detail})`);
    if (!c.untouched) failures.push(`${c.name}: existing namespace touched: ${c.detail}`);
  }
  return {
    cases: cases.length,
    refused: cases.filter((c) => c.refused && c.untouched).length,
    races,
    details: cases,
    failures,
  };
}
