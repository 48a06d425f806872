// Where the API server is, found by the operator itself: the EndpointSlices of the `kubernetes`
// Service in `default` list the addresses every Pod reaches behind its ClusterIP. CloudNativePG's
// instance managers talk to the API server, so a Territory's default-deny must let them out to
// exactly these addresses; a platform team sets `apiServerCidrs` only to override what is published.

import type { KubeObject } from '../runtime/types.ts';
import type { PartOutcome } from './conditions.ts';

export const API_SERVER_SLICES = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  namespace: 'default',
  labelSelector: 'kubernetes.io/service-name=kubernetes',
} as const;

interface EndpointSlice {
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[];
  ports?: { port?: number; protocol?: string }[];
}

/** Ready addresses of the API server, sorted and unique (stable desired state). */
export function apiServerAddresses(slices: KubeObject[]): string[] {
  const addresses = new Set<string>();
  for (const slice of slices as unknown as EndpointSlice[]) {
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      for (const address of endpoint.addresses ?? []) addresses.add(address);
    }
  }
  return [...addresses].sort();
}

/** The TCP ports the API server's addresses listen on (the `https` port, 6443 or 443 in practice), sorted. */
export function apiServerPorts(slices: KubeObject[]): number[] {
  const ports = new Set<number>();
  for (const slice of slices as unknown as EndpointSlice[]) {
    for (const p of slice.ports ?? []) {
      if (typeof p.port === 'number' && (p.protocol ?? 'TCP') === 'TCP') ports.add(p.port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** Both facts, as the build context takes them. */
export function apiServerFacts(slices: KubeObject[]): {
  apiServerAddresses: string[];
  apiServerPorts: number[];
} {
  return { apiServerAddresses: apiServerAddresses(slices), apiServerPorts: apiServerPorts(slices) };
}

/**
 * A database that is not ready while no egress to the API server is allowed is most likely stuck
 * on exactly that: say so in its condition rather than leave the platform team guessing.
 */
export function withoutApiServerEgress(outcome: PartOutcome, cidrs: string[]): PartOutcome {
  if (outcome.status === 'True' || cidrs.length > 0) return outcome;
  return {
    ...outcome,
    message:
      `${outcome.message}; no NetworkPolicy lets the database Pods reach the API server: the cluster publishes ` +
      'no endpoint for the `kubernetes` Service and the operator configuration sets no apiServerCidrs',
  };
}
