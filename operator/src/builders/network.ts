// Network isolation of a Territory: deny everything in and out, then open only what the stack needs:
// DNS, traffic inside the namespace, the CloudNativePG operator reaching its instances, instances
// reaching the API server, and HTTPS to the backup destination when its CIDRs are known.
import type { BuildContext, Owned } from './context.ts';
import { ownedMeta } from './context.ts';

const NS_NAME_LABEL = 'kubernetes.io/metadata.name';

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
      podSelector: { matchExpressions: [{ key: 'cnpg.io/cluster', operator: 'Exists' }] },
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
        podSelector: { matchExpressions: [{ key: 'cnpg.io/cluster', operator: 'Exists' }] },
        policyTypes: ['Egress'],
        egress: [{ to: apiServer.map((cidr) => ({ ipBlock: { cidr } })) }],
      }),
    );
  }
  const cidrs = backupEgressCidrs(ctx);
  if (cidrs.length > 0) {
    policies.push(
      policy(ctx, 'allow-backup-destination', {
        policyTypes: ['Egress'],
        egress: [
          { to: cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: 'TCP', port: 443 }] },
        ],
      }),
    );
  }
  return policies;
}
