// Installing the cluster-wide objects the operator needs on a development cluster (`npm start`'s local
// default and tests): ours CRD from crds/, generated from the schema, CloudNativePG's from its pinned
// release when the Go toolchain can fetch it, and the two tenant ClusterRoles the operator binds in each
// Territory namespace. Production installs them with the Helm chart instead.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { type OperatorConfig, parseOperatorConfig } from '../config/operator-config.ts';
import { tenantClusterRoles } from '../rbac/operator-rbac.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/types.ts';

const CRD_DIR = resolve(import.meta.dirname, '..', '..', '..', 'crds');

export function territoryCrds(): KubeObject[] {
  return readdirSync(CRD_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(CRD_DIR, f), 'utf8')).map((d) => d.toJS() as KubeObject),
    )
    .filter((o) => o?.kind === 'CustomResourceDefinition');
}

async function applyAndWait(client: KubeClient, crds: KubeObject[], timeoutMs = 60_000): Promise<void> {
  for (const crd of crds) {
    await client.patch(
      { apiVersion: crd.apiVersion, kind: crd.kind, name: crd.metadata.name ?? '' },
      crd,
      'apply',
      { fieldManager: 'territory-install', force: true },
    );
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const live = await client.get({
        apiVersion: crd.apiVersion,
        kind: crd.kind,
        name: crd.metadata.name ?? '',
      });
      const conditions = (live?.status as { conditions?: { type: string; status: string }[] } | undefined)
        ?.conditions;
      if (conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${crd.metadata.name} not Established after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The tenant ClusterRoles, as the chart ships them (same rules, generated from builders/rbac.ts). */
export async function installTenantClusterRoles(
  client: KubeClient,
  roles: OperatorConfig['tenantRoles'] = parseOperatorConfig({}).tenantRoles,
): Promise<void> {
  for (const role of tenantClusterRoles(roles)) {
    await client.patch(
      { apiVersion: role.apiVersion, kind: role.kind, name: role.metadata.name },
      role,
      'apply',
      {
        fieldManager: 'territory-install',
        force: true,
      },
    );
  }
}

export async function installCustomResourceDefinitions(
  client: KubeClient,
  opts: {
    cnpg: 'if-available' | 'required' | 'no';
    log?: (line: string) => void;
    tenantRoles?: OperatorConfig['tenantRoles'];
  },
): Promise<string[]> {
  const installed: string[] = [];
  await applyAndWait(client, territoryCrds());
  installed.push('the Territory CRD');
  await installTenantClusterRoles(client, opts.tenantRoles);
  installed.push('the tenant ClusterRoles');
  if (opts.cnpg !== 'no') {
    try {
      // Development tooling: fetches the pinned CloudNativePG release through the Go module proxy.
      const { cnpgCrds, CNPG_VERSION } = await import('../../../test/cnpg/crds.ts');
      await applyAndWait(client, (await cnpgCrds()) as KubeObject[]);
      installed.push(`CloudNativePG ${CNPG_VERSION} CRDs and its Barman Cloud plugin's ObjectStore CRD`);
    } catch (err) {
      if (opts.cnpg === 'required') throw err;
      opts.log?.(`CloudNativePG CRDs not installed (${(err as Error).message}); Territories will say so.`);
    }
  }
  return installed;
}
