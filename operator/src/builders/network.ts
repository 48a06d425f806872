// Network isolation of a Territory: deny everything in and out, then open only what the stack needs:
// DNS, traffic inside the namespace, the CloudNativePG operator reaching its instances, instances
// reaching the API server, and HTTPS to the backup destination when its CIDRs are known.
//
// The wider openings select Pods by labels a tenant cannot put on its own Pods: CloudNativePG's
// `cnpg.io/` keys and the platform's `sovereign.dev/` keys are reserved by the chart's admission policy
// (a tenant's Pod, Deployment, Job… carrying one is refused), so an application Pod cannot dress up as
// a database instance to reach the API server or the object store.
import type { BuildContext, Owned } from './context.ts';
import { LABELS, ownedMeta } from './context.ts';
import { CLUSTER_NAME } from './database.ts';

const NS_NAME_LABEL = 'kubernetes.io/metadata.name';

/** The database's Pods: its instances and CloudNativePG's initdb/join Job Pods (which also read the API). */
const DATABASE_PODS = { matchLabels: { 'cnpg.io/cluster': CLUSTER_NAME } };

/** The logical-backup CronJob's Pods (labels set in backup.ts). */
export function backupPodLabels(ctx: BuildContext): Record<string, string> {
  return { [LABELS.territory]: ctx.territory.metadata.name, [LABELS.component]: 'backup' };
}

/**
 * Ports the API server listens on, as published in the `kubernetes` Service's EndpointSlices; when
 * nothing is published, the two ports API servers use in practice.
 */
export function apiServerPorts(ctx: BuildContext): number[] {
  return ctx.apiServerPorts?.length ? ctx.apiServerPorts : [443, 6443];
}

function policy(ctx: BuildContext, name: string, spec: Record<string, unknown>): Owned {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: ownedMeta(ctx, name, 'network'),
    spec: { podSelector: {}, ...spec },
  };
}

function backupHost(ctx: BuildContext): string | undefined {
  try {
    return new URL(ctx.territory.spec.backup.destination.endpoint).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The port backups connect to: the endpoint's own, else HTTPS's. */
function backupPort(ctx: BuildContext): number {
  try {
    return Number(new URL(ctx.territory.spec.backup.destination.endpoint).port || 443);
  } catch {
    return 443;
  }
}

/**
 * Where CloudNativePG's instance managers reach the API server: the configured CIDRs, else the
 * addresses the cluster itself publishes for the `kubernetes` Service. Policies are enforced after
 * the Service's DNAT, so these are the API server's real addresses, not the ClusterIP.
 */
export function apiServerCidrs(ctx: BuildContext): string[] {
  if (ctx.config.apiServerCidrs.length > 0) return ctx.config.apiServerCidrs;
  return (ctx.apiServerAddresses ?? []).map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`));
}

/** The configured CIDRs of the backup destination's host: where backup Pods may open HTTPS. */
export function backupEgressCidrs(ctx: BuildContext): string[] {
  const host = backupHost(ctx);
  return ctx.config.backupEgress.filter((e) => e.host.toLowerCase() === host).flatMap((e) => e.cidrs);
}

export function buildNetworkPolicies(ctx: BuildContext): Owned[] {
  const policies: Owned[] = [
    policy(ctx, 'default-deny', { policyTypes: ['Ingress', 'Egress'] }),
    policy(ctx, 'allow-dns', {
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: 'kube-system' } } }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    }),
    policy(ctx, 'allow-same-namespace', {
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
    }),
    policy(ctx, 'allow-cnpg-operator', {
      podSelector: DATABASE_PODS,
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: ctx.config.cnpgNamespace } } }],
          ports: [
            { protocol: 'TCP', port: 8000 },
            { protocol: 'TCP', port: 5432 },
          ],
        },
      ],
    }),
  ];
  const apiServer = apiServerCidrs(ctx);
  if (apiServer.length > 0) {
    policies.push(
      policy(ctx, 'allow-api-server', {
        podSelector: DATABASE_PODS,
        policyTypes: ['Egress'],
        egress: [
          {
            to: apiServer.map((cidr) => ({ ipBlock: { cidr } })),
            ports: apiServerPorts(ctx).map((port) => ({ protocol: 'TCP', port })),
          },
        ],
      }),
    );
  }
  const cidrs = backupEgressCidrs(ctx);
  if (cidrs.length > 0) {
    const egress = [
      {
        to: cidrs.map((cidr) => ({ ipBlock: { cidr } })),
        ports: [{ protocol: 'TCP', port: backupPort(ctx) }],
      },
    ];
    // Logical backups run in the CronJob's Pods; physical backups and the WAL archive in the instances.
    // Application Pods get no way out to the object store.
    policies.push(
      policy(ctx, 'allow-backup-destination', {
        podSelector: { matchLabels: backupPodLabels(ctx) },
        policyTypes: ['Egress'],
        egress,
      }),
      policy(ctx, 'allow-database-backup-destination', {
        podSelector: DATABASE_PODS,
        policyTypes: ['Egress'],
        egress,
      }),
    );
  }
  return policies;
}
