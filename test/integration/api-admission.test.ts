// The Territory CRD on a real kube-apiserver: the committed crds/ file installs and becomes
// Established, the examples are accepted and stored with the same defaults zod applies, every
// invalid manifest of test-fixtures.ts is rejected with an error naming the field, and the
// transition rules (immutability, no shrinking) hold on update.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  loadYaml,
  PatchStrategy,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILE, CRD_NAME } from '../../operator/src/api/crd.ts';
import { cronScheduleArb } from '../../operator/src/api/territory.arbitraries.test-helpers.ts';
import {
  GROUP,
  PLURAL,
  parseTerritory,
  TerritoryStatusSchema,
  VERSION,
} from '../../operator/src/api/territory.ts';
import {
  ACCEPTED_SCHEDULES,
  INVALID_CASES,
  invalidTerritory,
  type JsonObject,
  mergePatch,
  minimalTerritory,
  readExamples,
} from '../../operator/src/api/test-fixtures.ts';
import { isGone, testKubeConfig, uniqueName, waitFor } from '../support/kube.ts';

const kubeconfig = testKubeConfig();
const extensions = kubeconfig.makeApiClient(ApiextensionsV1Api);
const customObjects = kubeconfig.makeApiClient(CustomObjectsApi);
const objects = KubernetesObjectApi.makeApiClient(kubeconfig);
const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const territory = { group: GROUP, version: VERSION, plural: PLURAL };
const crdYaml = readFileSync(`${repositoryRoot}${CRD_FILE}`, 'utf8');

/** Territories this file created, deleted at the end (the CRD stays: other files share it). */
const created = new Set<string>();

async function create(body: JsonObject): Promise<JsonObject> {
  // Strict, as kubectl does by default: unknown fields are errors, not silently pruned.
  const stored = (await customObjects.createClusterCustomObject({
    ...territory,
    body,
    fieldValidation: 'Strict',
  })) as JsonObject;
  created.add(nameOf(stored));
  return stored;
}

async function read(name: string): Promise<JsonObject> {
  return (await customObjects.getClusterCustomObject({ ...territory, name })) as JsonObject;
}

/** Read-modify-write with a JSON merge patch applied to the stored object (PUT, so CEL sees oldSelf). */
async function update(name: string, patch: JsonObject): Promise<JsonObject> {
  const body = mergePatch(await read(name), patch);
  return (await customObjects.replaceClusterCustomObject({
    ...territory,
    name,
    body,
    fieldValidation: 'Strict',
  })) as JsonObject;
}

function nameOf(object: JsonObject): string {
  const name = (object.metadata as JsonObject | undefined)?.name;
  if (typeof name !== 'string') throw new Error('object without metadata.name');
  return name;
}

function withName(manifest: JsonObject, name: string): JsonObject {
  return mergePatch(manifest, { metadata: { name } }) as JsonObject;
}

/** The API server's message for a rejected request: Status.message, which lists every cause. */
async function rejection(request: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await request;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body: unknown = typeof error.body === 'string' ? safeJson(error.body) : error.body;
    const message =
      typeof body === 'object' && body !== null && 'message' in body
        ? String(body.message)
        : String(error.body);
    return { code: error.code, message };
  }
  throw new Error('the API server accepted a request it should have rejected');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

beforeAll(async () => {
  // Install exactly the committed file (crd.test.ts proves it matches the schema). loadYaml, not a
  // plain YAML parse: client-node serialises through its typed models, which silently DROP raw keys
  // such as `enum`, `default` and `x-kubernetes-validations` (they are `_enum`, `_default`,
  // `xKubernetesValidations` in the models), leaving a CRD without its enums, defaults and rules.
  const crd = loadYaml<V1CustomResourceDefinition>(crdYaml);
  await objects
    .patch(crd, undefined, undefined, 'territory-api-test', true, PatchStrategy.ServerSideApply)
    .catch((error: unknown) => {
      throw new Error(
        `the API server refused ${CRD_FILE}: ${error instanceof ApiException ? error.body : error}`,
      );
    });
  await waitFor(
    async () =>
      (await extensions.readCustomResourceDefinition({ name: CRD_NAME })).status?.conditions?.some(
        (condition) => condition.type === 'Established' && condition.status === 'True',
      ),
    { what: `CRD ${CRD_NAME} to be Established`, timeoutMs: 60_000 },
  );
});

afterAll(async () => {
  for (const name of created) {
    await customObjects.deleteClusterCustomObject({ ...territory, name }).catch(() => undefined);
  }
  for (const name of created) {
    await waitFor(() => isGone(() => read(name)), { what: `territory ${name} to be deleted` });
  }
});

describe('the served Territory CRD', () => {
  it('is the committed file, field for field (nothing dropped on the way)', async () => {
    // Read through the untyped client so the comparison sees the raw JSON the server stores.
    const servedJson = (await customObjects.getClusterCustomObject({
      group: 'apiextensions.k8s.io',
      version: 'v1',
      plural: 'customresourcedefinitions',
      name: CRD_NAME,
    })) as JsonObject;
    const committed = parse(crdYaml) as { spec: { versions: JsonObject[] } };
    expect((servedJson.spec as { versions: JsonObject[] }).versions[0]).toEqual(committed.spec.versions[0]);
  });

  it('describes every spec field in the schema the API server serves', async () => {
    const served = await extensions.readCustomResourceDefinition({ name: CRD_NAME });
    const schema = served.spec.versions[0]?.schema?.openAPIV3Schema;
    const spec = schema?.properties?.spec;
    if (!spec) throw new Error('the served CRD has no spec schema');
    const missing: string[] = [];
    let fields = 0;
    const walk = (node: typeof spec, path: string) => {
      for (const [name, child] of Object.entries(node.properties ?? {})) {
        fields++;
        if (!child.description) missing.push(`${path}.${name}`);
        walk(child, `${path}.${name}`);
      }
      if (node.items && !Array.isArray(node.items)) walk(node.items, `${path}[]`);
    };
    walk(spec, 'spec');
    expect(fields).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });

  it('has the printer columns, and kubectl shows them', async () => {
    const served = await extensions.readCustomResourceDefinition({ name: CRD_NAME });
    const version = served.spec.versions[0];
    expect(version?.additionalPrinterColumns?.map((column) => [column.name, column.jsonPath])).toEqual([
      ['Authority', '.spec.authority.kind'],
      ['Code', '.spec.authority.code'],
      ['Name', '.status.authority.officialName'],
      ['Level', '.spec.hosting.level'],
      ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
      ['Reason', '.status.conditions[?(@.type=="Ready")].reason'],
      ['Last-Backup', '.status.backup.logical.lastSuccessful'],
      ['Backup', '.status.backup.logical.state'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
    expect(served.spec.scope).toBe('Cluster');
    expect(served.spec.names.shortNames).toEqual(['terr']);

    const name = uniqueName('columns');
    await create(minimalTerritory(name));
    const { stdout } = await promisify(execFile)(inject('kubectlPath'), [
      '--kubeconfig',
      inject('kubeconfigPath'),
      'get',
      'terr',
      name,
    ]);
    const [header, row] = stdout.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual([
      'NAME',
      'AUTHORITY',
      'CODE',
      'NAME',
      'LEVEL',
      'READY',
      'REASON',
      'AGE',
    ]);
    // The Name column is empty until the operator writes status.authority.
    expect(row?.split(/\s+/).slice(0, 4)).toEqual([name, 'commune', '35238', 'standard']);
    // The encrypted backups' state and age, with -o wide.
    const wide = await promisify(execFile)(inject('kubectlPath'), [
      '--kubeconfig',
      inject('kubeconfigPath'),
      'get',
      'terr',
      name,
      '-o',
      'wide',
    ]);
    expect(wide.stdout.split('\n')[0]?.split(/\s+/)).toEqual([
      'NAME',
      'AUTHORITY',
      'CODE',
      'NAME',
      'LEVEL',
      'READY',
      'REASON',
      'LAST-BACKUP',
      'BACKUP',
      'AGE',
    ]);
  });
});

describe('selectable fields', () => {
  it('lists Territories by authority kind with a field selector (one operator shard per kind or level)', async () => {
    const commune = uniqueName('select-commune');
    const region = uniqueName('select-region');
    await create(minimalTerritory(commune));
    await create(
      mergePatch(minimalTerritory(region), {
        spec: { authority: { kind: 'region', code: '53' } },
      }) as JsonObject,
    );
    const list = (await customObjects.listClusterCustomObject({
      ...territory,
      fieldSelector: 'spec.authority.kind=region',
    })) as { items: JsonObject[] };
    const names = list.items.map(nameOf);
    expect(names).toContain(region);
    expect(names).not.toContain(commune);
  });
});

describe('admission of valid Territories', () => {
  const examples = readExamples();

  it('finds the examples', () => {
    expect(examples.map((example) => example.file)).toEqual([
      'commune-acigne.yaml',
      'departement-ille-et-vilaine.yaml',
      'epci-rennes-metropole.yaml',
      'region-bretagne.yaml',
    ]);
  });

  it.each(examples)(
    'accepts $file and stores the spec zod computes, defaults included',
    async ({ file, manifest }) => {
      const name = uniqueName(file.replace(/\.yaml$/, ''));
      const stored = await create(withName(manifest, name));
      const parsed = parseTerritory(withName(manifest, name));
      if (!parsed.ok) throw new Error(`${file}: ${parsed.errors.join('; ')}`);
      expect(stored.spec).toEqual(parsed.territory.spec);
      expect((await read(name)).spec).toEqual(parsed.territory.spec);
    },
  );

  it('stores a minimal Territory with every default zod applies', async () => {
    const name = uniqueName('minimal');
    const stored = await create(minimalTerritory(name));
    const parsed = parseTerritory(minimalTerritory(name));
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    expect(stored.spec).toEqual(parsed.territory.spec);
    expect(stored.spec).toMatchObject({ deletionPolicy: 'Retain' });
    // No instances or volume size: the operator sizes the database from the quota profile.
    expect((stored.spec as JsonObject).database).toEqual({ postgresVersion: '17', storage: {} });
  });

  it('accepts a status the operator writes, and zod reads it back', async () => {
    const name = uniqueName('status');
    const stored = await create(minimalTerritory(name));
    const status = {
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          observedGeneration: 1,
          lastTransitionTime: '2026-05-01T10:00:00Z',
          reason: 'AllPartsReady',
          message: 'namespace, keys, database and backups are ready',
        },
      ],
      authority: {
        officialName: 'Rennes',
        departement: '35',
        region: '53',
        population: 230890,
        siren: '213502388',
      },
      namespace: name,
      keys: { current: 'v1', versions: [{ id: 'v1', createdAt: '2026-05-01T10:00:00Z' }] },
      sovereignty: { provider: 'outscale', regions: ['cloudgouv-eu-west-1'], level: 'secnumcloud' },
    };
    const written = (await customObjects.replaceClusterCustomObjectStatus({
      ...territory,
      name,
      body: { ...stored, status },
    })) as JsonObject;
    expect(TerritoryStatusSchema.parse(written.status)).toEqual(status);
    const { stdout } = await promisify(execFile)(inject('kubectlPath'), [
      '--kubeconfig',
      inject('kubeconfigPath'),
      'get',
      'territories',
      name,
      '--no-headers',
    ]);
    expect(stdout.trim().split(/\s+/).slice(0, 7)).toEqual([
      name,
      'commune',
      '35238',
      'Rennes',
      'standard',
      'True',
      'AllPartsReady',
    ]);
  });
});

describe(`admission rejects the ${INVALID_CASES.length} invalid manifests`, () => {
  it('has at least 30 of them', () => {
    expect(INVALID_CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(INVALID_CASES)('$name: the error names $field', async (testCase) => {
    const { code, message } = await rejection(create(invalidTerritory(testCase, uniqueName(testCase.name))));
    expect([400, 422], message).toContain(code);
    expect(message).toContain(testCase.field);
  });
});

describe('physical backups, which the storage provider can read', () => {
  const withPhysical = (physical: unknown, hosting?: JsonObject) =>
    mergePatch(minimalTerritory(uniqueName('physical')), {
      spec: { backup: { physical } as JsonObject, ...(hosting ? { hosting } : {}) },
    }) as JsonObject;

  it('are off by default, and stored as asked below SecNumCloud', async () => {
    const off = await create(minimalTerritory(uniqueName('physical-default')));
    expect((off.spec as { backup: JsonObject }).backup.physical).toEqual({ enabled: false });
    const on = await create(withPhysical({ enabled: true, encryption: 'ProviderManaged' }));
    expect((on.spec as { backup: JsonObject }).backup.physical).toEqual({
      enabled: true,
      encryption: 'ProviderManaged',
    });
  });

  it('are refused with hosting level secnumcloud, the message saying why and what to do', async () => {
    const { code, message } = await rejection(
      create(withPhysical({ enabled: true, encryption: 'ProviderManaged' }, { level: 'secnumcloud' })),
    );
    expect(code).toBe(422);
    expect(message).toContain(
      'spec.backup.physical.enabled must be false when spec.hosting.level is secnumcloud',
    );
    expect(message).toContain('the provider could read the whole database');
    expect(message).toContain('Remove spec.backup.physical');
  });

  it('refuse the boolean of earlier versions, naming the field (the type check runs before any rule)', async () => {
    const { code, message } = await rejection(create(withPhysical(true)));
    expect(code).toBe(422);
    expect(message).toMatch(/spec\.backup\.physical.*must be of type object/);
  });
});

describe('transition rules on update', () => {
  let name: string;

  beforeAll(async () => {
    name = uniqueName('transitions');
    await create(minimalTerritory(name));
  });

  it('rejects a change of authority code', async () => {
    const { code, message } = await rejection(update(name, { spec: { authority: { code: '35001' } } }));
    expect(code).toBe(422);
    expect(message).toContain('spec.authority.code is immutable');
  });

  it('rejects a change of authority kind', async () => {
    const { message } = await rejection(
      update(name, { spec: { authority: { kind: 'epci', code: '243500139' } } }),
    );
    expect(message).toContain('spec.authority.kind is immutable');
  });

  it('rejects shrinking the storage, accepts growing it', async () => {
    // The minimal Territory names no size (its profile's applies): any first size is accepted, the
    // operator keeping a larger live volume.
    const first = await update(name, { spec: { database: { storage: { size: '10Gi' } } } });
    expect(first.spec).toMatchObject({ database: { storage: { size: '10Gi' } } });
    const shrink = await rejection(update(name, { spec: { database: { storage: { size: '5Gi' } } } }));
    expect(shrink.message).toContain('spec.database.storage.size cannot shrink');
    const grown = await update(name, { spec: { database: { storage: { size: '20Gi' } } } });
    expect(grown.spec).toMatchObject({ database: { storage: { size: '20Gi' } } });
    const sameSizeOtherUnit = await rejection(
      update(name, { spec: { database: { storage: { size: '20G' } } } }),
    );
    expect(sameSizeOtherUnit.message).toContain('spec.database.storage.size cannot shrink');
  });

  it('keeps the namespace: setting spec.namespace to metadata.name is fine, any other value is not', async () => {
    const moved = await rejection(update(name, { spec: { namespace: 'elsewhere' } }));
    expect(moved.message).toContain('spec.namespace is immutable');
    await update(name, { spec: { namespace: name } });
    const changed = await rejection(update(name, { spec: { namespace: 'elsewhere' } }));
    expect(changed.message).toContain('spec.namespace is immutable');
  });

  it('still accepts ordinary changes', async () => {
    const updated = await update(name, {
      spec: { backup: { retentionDays: 60 }, hosting: { level: 'secnumcloud' } },
    });
    expect(updated.spec).toMatchObject({ backup: { retentionDays: 60 }, hosting: { level: 'secnumcloud' } });
  });
});

describe('backup schedules: a Territory admits what a Kubernetes CronJob admits', () => {
  /** Dry-run creations: nothing is stored, each answer is the API server's own validation. */
  async function territoryAdmits(schedule: string): Promise<{ admitted: boolean; message: string }> {
    const body = mergePatch(minimalTerritory(uniqueName('schedule')), {
      spec: { backup: { schedule, retentionDays: 366 } },
    });
    try {
      await customObjects.createClusterCustomObject({
        ...territory,
        body,
        dryRun: 'All',
        fieldValidation: 'Strict',
      });
      return { admitted: true, message: '' };
    } catch (error) {
      const { code, message } = await rejection(Promise.reject(error));
      expect([400, 422], message).toContain(code);
      return { admitted: false, message };
    }
  }

  async function cronJobAdmits(schedule: string): Promise<boolean> {
    const cronJob = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: uniqueName('schedule'), namespace: 'default' },
      spec: {
        schedule,
        jobTemplate: {
          spec: {
            template: {
              spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'registry.example/c:1' }] },
            },
          },
        },
      },
    };
    try {
      await objects.create(cronJob, undefined, 'All');
      return true;
    } catch (error) {
      const { code, message } = await rejection(Promise.reject(error));
      expect(code, message).toBe(422);
      return false;
    }
  }

  /** `@every <duration>` is the one form a CronJob takes and a Territory does not (docs/operations.md). */
  const deliberatelyRefused = (schedule: string) => schedule.startsWith('@every ');

  it.each(ACCEPTED_SCHEDULES)('admits %j, as a CronJob does', async (schedule) => {
    expect(await cronJobAdmits(schedule)).toBe(true);
    const territoryVerdict = await territoryAdmits(schedule);
    expect(territoryVerdict.message).toBe('');
    expect(territoryVerdict.admitted).toBe(true);
  });

  it('admits a drawn schedule exactly when a CronJob does, and zod agrees with the API server', async () => {
    let admitted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(cronScheduleArb, async (schedule) => {
        const cronJob = await cronJobAdmits(schedule);
        const verdict = await territoryAdmits(schedule);
        const parsed = parseTerritory(
          mergePatch(minimalTerritory('schedule'), { spec: { backup: { schedule, retentionDays: 366 } } }),
        );
        expect(parsed.ok, `zod on ${JSON.stringify(schedule)}: ${parsed.ok ? '' : parsed.errors}`).toBe(
          verdict.admitted,
        );
        if (deliberatelyRefused(schedule)) {
          expect(verdict.admitted).toBe(false);
          return;
        }
        expect(verdict.admitted, `${JSON.stringify(schedule)}: CronJob ${cronJob}; ${verdict.message}`).toBe(
          cronJob,
        );
        if (verdict.admitted) admitted += 1;
        else {
          refused += 1;
          expect(verdict.message).toContain('spec.backup.schedule');
        }
      }),
      { numRuns: 200 },
    );
    // Both sides of the bound are exercised, or the property proves nothing.
    expect(admitted).toBeGreaterThanOrEqual(20);
    expect(refused).toBeGreaterThanOrEqual(40);
  });
});
