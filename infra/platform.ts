// Installs the Territory operator on each French-hosted cluster of a stack (the repository's Helm chart,
// rendered by the Pulumi Kubernetes provider) and declares Territories as code on the cluster that hosts
// them. Everything is validated by parseStackConfig before any resource is registered, so `pulumi preview`
// fails on a wrong Territory or configuration.
import { fileURLToPath } from 'node:url';
import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { API_VERSION, KIND, type TerritorySpecInput } from '../operator/src/api/territory.ts';
import {
  type Cluster,
  operatorConfigOf,
  parseStackConfig,
  type StackConfig,
  type StackConfigInput,
  type TerritoryDeclaration,
} from './stack-config.ts';

/** The chart in this repository (a local path: nothing is pulled from a chart registry). */
export const CHART_PATH = fileURLToPath(new URL('../charts/territory-operator', import.meta.url));

export interface OperatorInstall {
  cluster: Cluster;
  provider: k8s.Provider;
  namespace: k8s.core.v1.Namespace;
  chart: k8s.helm.v4.Chart;
}

export interface Platform {
  installs: Map<string, OperatorInstall>;
  territories: Map<string, k8s.apiextensions.CustomResource>;
}

/** Kubeconfigs that are secrets (contents) rather than paths, by cluster name. */
export type Kubeconfigs = Record<string, pulumi.Input<string> | undefined>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects; `over` wins; arrays are replaced, not concatenated. */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>) {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? mergeValues(b, v) : v;
  }
  return out;
}

/** The chart values for one cluster: its extra values, under the attestation and image computed here. */
export function chartValuesFor(cluster: Cluster): Record<string, unknown> {
  const computed: Record<string, unknown> = { config: operatorConfigOf(cluster) };
  if (cluster.image) computed.image = { ...cluster.image };
  return mergeValues(cluster.chartValues, computed);
}

export function installOperator(
  cluster: Cluster,
  kubeconfig: pulumi.Input<string> | undefined,
): OperatorInstall {
  const provider = new k8s.Provider(`${cluster.name}-k8s`, {
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
    ...(cluster.context ? { context: cluster.context } : {}),
    // Server-side apply, as the operator itself does: fields owned by others are never overwritten.
    enableServerSideApply: true,
  });
  const opts = { provider };
  const namespace = new k8s.core.v1.Namespace(
    `${cluster.name}-operator-namespace`,
    {
      metadata: {
        name: cluster.namespace,
        // The operator's pods meet the restricted Pod Security level; enforce it on their namespace.
        labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    },
    opts,
  );
  const chart = new k8s.helm.v4.Chart(
    `${cluster.name}-territory-operator`,
    {
      chart: CHART_PATH,
      name: 'territory-operator',
      namespace: namespace.metadata.name,
      values: chartValuesFor(cluster),
      skipAwait: cluster.skipAwait,
    },
    { ...opts, dependsOn: [namespace] },
  );
  return { cluster, provider, namespace, chart };
}

/** A Territory, typed with the operator's own input type: `territory('acigne', { authority: … }, 'bretagne')`. */
export function territory(
  name: string,
  spec: TerritorySpecInput,
  cluster: string,
  labels: Record<string, string> = {},
): TerritoryDeclaration {
  return { name, spec, cluster, labels };
}

/**
 * The Territory object as declared (the operator and the CRD apply the defaults), on its cluster's provider,
 * after the chart (so after the CRD exists).
 */
export function declareTerritory(
  decl: { name: string; labels: Record<string, string>; spec: TerritorySpecInput },
  install: OperatorInstall,
): k8s.apiextensions.CustomResource {
  return new k8s.apiextensions.CustomResource(
    `${install.cluster.name}-territory-${decl.name}`,
    {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: decl.name, labels: decl.labels },
      spec: decl.spec,
    },
    { provider: install.provider, dependsOn: [install.chart] },
  );
}

/** The whole stack: validated first, then one operator per cluster and each Territory on its cluster. */
export function deployPlatform(input: StackConfigInput, kubeconfigs: Kubeconfigs = {}): Platform {
  const stack: StackConfig = parseStackConfig(input);
  const installs = new Map<string, OperatorInstall>();
  for (const cluster of stack.clusters) {
    installs.set(cluster.name, installOperator(cluster, kubeconfigs[cluster.name] ?? cluster.kubeconfigPath));
  }
  const territories = new Map<string, k8s.apiextensions.CustomResource>();
  for (const t of stack.territories) {
    const install = installs.get(t.cluster);
    // parseStackConfig has checked every Territory names a declared cluster.
    if (install) territories.set(t.name, declareTerritory(t, install));
  }
  return { installs, territories };
}
