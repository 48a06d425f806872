// Property tests of the pure builders: for ANY Territory the schema accepts, every object built is one
// the API server would accept as far as names and metadata go (DNS names, label keys and values,
// annotation sizes), is plain JSON, and building is deterministic. A builder that copies free text or a
// long name into a label would make the whole reconcile fail at apply time for that authority.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lookupAuthority } from '../api/geography.ts';
import { validTerritoryArb } from '../api/territory.arbitraries.test-helpers.ts';
import { parseTerritory } from '../api/territory.ts';
import type { BuildContext, Owned } from './context.ts';
import { context } from './fixtures.test-helpers.ts';
import { buildDesiredState } from './index.ts';
import { buildCredentialSecret, buildKeyringSecret } from './keys.ts';

const RUNS = 200;
/** Generating unicode-heavy Territories takes a few ms each: 200 runs need more than vitest's 5 s. */
const TIMEOUT_MS = 60_000;

// Kubernetes' own validation rules (apimachinery validation.go), restated.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const ANNOTATIONS_MAX_BYTES = 256 * 1024;
/** CronJob names leave 11 characters for the Job suffix the controller appends. */
const CRONJOB_NAME_MAX = 52;

function problemsOfQualifiedKey(key: string): string[] {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const problems: string[] = [];
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    problems.push(`key prefix ${prefix}`);
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) problems.push(`key name ${name}`);
  return problems;
}

function problemsOfLabels(labels: Record<string, string> | undefined, where: string): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    for (const problem of problemsOfQualifiedKey(key)) problems.push(`${where} label ${problem}`);
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      problems.push(`${where} label ${key}=${JSON.stringify(value)?.slice(0, 80)} (length ${value.length})`);
    }
  }
  return problems;
}

/** What the API server would refuse in this object's names and metadata (empty when none). */
function metadataProblems(o: Owned): string[] {
  const where = `${o.kind}/${o.metadata?.name}`;
  const meta = o.metadata ?? {};
  const problems: string[] = [];
  const name = meta.name ?? '';
  if (o.kind === 'Namespace') {
    if (name.length > 63 || !DNS_LABEL.test(name)) problems.push(`${where}: namespace name`);
  } else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) problems.push(`${where}: name`);
  if (o.kind === 'CronJob' && name.length > CRONJOB_NAME_MAX)
    problems.push(`${where}: CronJob name too long`);
  if (
    o.kind !== 'Namespace' &&
    (!meta.namespace || meta.namespace.length > 63 || !DNS_LABEL.test(meta.namespace))
  )
    problems.push(`${where}: namespace ${meta.namespace}`);
  problems.push(...problemsOfLabels(meta.labels, where));
  const annotations = meta.annotations ?? {};
  for (const key of Object.keys(annotations)) {
    for (const problem of problemsOfQualifiedKey(key)) problems.push(`${where} annotation ${problem}`);
  }
  const annotationBytes = Object.entries(annotations).reduce(
    (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v),
    0,
  );
  if (annotationBytes > ANNOTATIONS_MAX_BYTES)
    problems.push(`${where}: annotations of ${annotationBytes} bytes`);
  // Pod templates (CronJob) carry labels of their own.
  const template = (
    o.spec as { jobTemplate?: { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } } }
  )?.jobTemplate?.spec?.template?.metadata;
  problems.push(...problemsOfLabels(template?.labels, `${where} pod template`));
  return problems;
}

/** JSON.stringify silently turns NaN/Infinity into null and drops functions: neither may be built. */
function nonJsonValues(value: unknown, where: string): string[] {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [`${where} = ${value}`];
  if (typeof value === 'function' || typeof value === 'bigint' || typeof value === 'symbol') return [where];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => nonJsonValues(item, `${where}.${key}`));
}

// Loading the operator configuration reads the provider table from disk: once, not per run.
const BASE_CONTEXT = context();

/**
 * Empty strings the API server drops on the way in (omitempty): the live object can then never hold
 * what the builder asked for, so every reconcile would re-apply it (writes forever in steady state).
 */
function emptyStrings(value: unknown, where: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  // List items are kept as they are (the core API group is spelled ''): only fields are dropped.
  if (Array.isArray(value)) return value.flatMap((item, i) => emptyStrings(item, `${where}[${i}]`));
  return Object.entries(value).flatMap(([key, item]) =>
    item === '' ? [`${where}.${key}`] : emptyStrings(item, `${where}.${key}`),
  );
}

/** A build context as the reconciler makes it: official facts from the geography, a sovereignty verdict. */
const contextArb = fc
  .record({
    manifest: validTerritoryArb(),
    backupAllowed: fc.boolean(),
    barmanCloudPlugin: fc.boolean(),
    orphan: fc.boolean(),
    allowedRegions: fc.uniqueArray(fc.constantFrom('cloudgouv-eu-west-1', 'fr-par', 'GRA7'), {
      maxLength: 3,
    }),
    // A Cluster recovered to a point in time (its annotation, its own WAL folder), or not.
    databaseBootstrap: fc.option(
      fc.record({
        request: fc.stringMatching(/^[0-9a-f]{10}$/),
        targetTime: fc.constantFrom('2026-11-01T03:00:00Z', '2026-11-01T04:00:00.123456+01:00'),
        sourceServer: fc.oneof(fc.constant('db'), fc.stringMatching(/^db-[0-9a-f]{10}$/)),
      }),
      { nil: undefined },
    ),
  })
  .map(
    ({
      manifest,
      backupAllowed,
      barmanCloudPlugin,
      orphan,
      allowedRegions,
      databaseBootstrap,
    }): BuildContext => {
      const parsed = parseTerritory(manifest);
      if (!parsed.ok) throw new Error(`generator produced an invalid Territory: ${parsed.errors.join('; ')}`);
      const t = parsed.territory;
      const facts = lookupAuthority(
        t.spec.authority.kind,
        t.spec.authority.code,
        t.spec.authority.displayName,
      );
      if (!facts.found) throw new Error(`generator produced an unknown authority: ${facts.message}`);
      return {
        ...BASE_CONTEXT,
        territory: t,
        authority: facts,
        backupAllowed,
        barmanCloudPlugin,
        orphan,
        allowedRegions,
        ...(databaseBootstrap ? { databaseBootstrap } : {}),
      };
    },
  );

function everyObject(ctx: BuildContext): Owned[] {
  const state = buildDesiredState(ctx);
  return [
    state.namespace,
    ...state.tenancy,
    ...state.database,
    ...state.backup,
    // The Secrets the reconciler fills in: their metadata comes from the same builders.
    buildKeyringSecret(ctx, '{}'),
    ...['db-owner', ...ctx.territory.spec.controller.purposes.map((p) => `db-purpose-${p.name}`)].map(
      (name) =>
        buildCredentialSecret(ctx, name, { username: 'u', password: 'p', rotatedAt: '2026-01-01T00:00:00Z' }),
    ),
  ];
}

describe('buildDesiredState on generated Territories (property)', () => {
  it('builds only objects whose names, labels and annotations the API server accepts', {
    timeout: TIMEOUT_MS,
  }, () => {
    fc.assert(
      fc.property(contextArb, (ctx) => {
        const problems = everyObject(ctx).flatMap(metadataProblems);
        expect(problems, `Territory ${ctx.territory.metadata.name}`).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('builds plain JSON (no NaN, Infinity, functions, no empty string the API server would drop), deterministically', {
    timeout: TIMEOUT_MS,
  }, () => {
    fc.assert(
      fc.property(contextArb, (ctx) => {
        const objects = everyObject(ctx);
        expect(objects.flatMap((o, i) => nonJsonValues(o, `[${i}] ${o.kind}`))).toEqual([]);
        // Secrets' stringData is stored as data (an empty value stays): the rest must not hold ''.
        const applied = objects.filter((o) => o.kind !== 'Secret');
        expect(applied.flatMap((o) => emptyStrings(o, `${o.kind}/${o.metadata?.name}`))).toEqual([]);
        expect(everyObject(ctx)).toEqual(objects);
      }),
      { numRuns: RUNS },
    );
  });

  it('puts every namespaced object in the Territory namespace, and gives one owner or none', {
    timeout: TIMEOUT_MS,
  }, () => {
    fc.assert(
      fc.property(contextArb, (ctx) => {
        const namespace = ctx.territory.spec.namespace ?? ctx.territory.metadata.name;
        for (const o of everyObject(ctx)) {
          if (o.kind === 'Namespace') expect(o.metadata?.name).toBe(namespace);
          else expect(o.metadata?.namespace).toBe(namespace);
          const owners = o.metadata?.ownerReferences ?? [];
          expect(owners.length).toBe(ctx.orphan ? 0 : 1);
          for (const owner of owners) expect(owner.uid).toBe(ctx.territory.metadata.uid);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('never builds a data-bearing backup object when backups are not allowed', {
    timeout: TIMEOUT_MS,
  }, () => {
    fc.assert(
      fc.property(contextArb, (ctx) => {
        const state = buildDesiredState({ ...ctx, backupAllowed: false });
        expect(state.backup).toEqual([]);
        const cluster = state.database.find((o) => o.kind === 'Cluster')?.spec as
          | { backup?: unknown }
          | undefined;
        expect(cluster?.backup).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });
});
