// What `npm run bench:watch-scope` puts in the cluster before it watches (issue 15): N Territory
// namespaces holding the Secrets the operator creates (keyring + one credential per database role, from
// the operator's own planners, labelled as the operator labels them), the Secrets the authority and
// CloudNativePG put beside them (unlabelled), a few namespaces the operator does not manage, and the
// operator's identity: a ServiceAccount and a ClusterRole reading Secrets, bound cluster-wide (today)
// or by one RoleBinding per managed namespace (least privilege). Pure, apart from randomness.
import { randomBytes } from 'node:crypto';
import { parseTerritory } from '../../operator/src/api/territory.ts';
import { LABELS, MANAGED_BY, type Owned } from '../../operator/src/builders/context.ts';
import type { OperatorConfig } from '../../operator/src/config/operator-config.ts';
import type { Authority } from './dataset.ts';
import { territoryManifest } from './dataset.ts';
import { floorObjects } from './floor-objects.ts';

/** Where the operator's identity lives, as the chart installs it. */
export const OPERATOR_NAMESPACE = 'territory-system';
export const OPERATOR_ACCOUNT = 'territory-operator';
/** The ClusterRole holding Secret reads; bound cluster-wide or per namespace. */
export const SECRET_READER_ROLE = 'territory-operator-secret-reader';
/** Field manager of the bench's own writes (neither the operator's nor a tenant's). */
export const WRITER = 'territory-bench-writer';

/**
 * The unlabelled Secrets of a Territory namespace, approximate sizes of their data: the authority's
 * backup credentials, then what CloudNativePG creates for a cluster (CA, server and replication
 * certificates, the application user), then the tenant's own. The operator watches them by metadata.
 */
const TENANT_SECRETS: { name: string; type: string; keys: Record<string, number> }[] = [
  { name: 'backup-credentials', type: 'Opaque', keys: { ACCESS_KEY_ID: 20, ACCESS_SECRET_KEY: 40 } },
  { name: 'db-ca', type: 'Opaque', keys: { 'ca.crt': 700, 'ca.key': 230 } },
  { name: 'db-server', type: 'kubernetes.io/tls', keys: { 'tls.crt': 900, 'tls.key': 230 } },
  { name: 'db-replication', type: 'kubernetes.io/tls', keys: { 'tls.crt': 750, 'tls.key': 230 } },
  {
    name: 'db-app',
    type: 'kubernetes.io/basic-auth',
    keys: { username: 3, password: 64, host: 10, port: 4, dbname: 3, uri: 120, jdbc_uri: 140, pgpass: 90 },
  },
  { name: 'webapp-config', type: 'Opaque', keys: { 'settings.json': 1500 } },
];

/** The operator's objects in one Territory namespace: the namespace and its labelled Secrets. */
export function operatorObjects(authority: Authority, config: OperatorConfig, now: Date): Owned[] {
  const parsed = parseTerritory(territoryManifest(authority, 'watch-scope'));
  if (!parsed.ok) throw new Error(`${authority.code}: ${parsed.errors.join('; ')}`);
  // The floor's objects are the planners' output, relabelled for the floor: labelled back as the
  // operator's, into the Territory's own namespace (prefix ''), and only the namespace and Secrets.
  return floorObjects(parsed.territory, config, now, '')
    .filter((o) => o.kind === 'Namespace' || o.kind === 'Secret')
    .map((o) => ({
      ...o,
      metadata: { ...o.metadata, labels: { ...o.metadata?.labels, [LABELS.managedBy]: MANAGED_BY } },
    }));
}

/** `count` unlabelled Secrets in `namespace` (the list above, cycled with a suffix past its end). */
export function tenantSecrets(namespace: string, count: number): Owned[] {
  return Array.from({ length: count }, (_, i) => {
    const shape = TENANT_SECRETS[i % TENANT_SECRETS.length] as (typeof TENANT_SECRETS)[number];
    const round = Math.floor(i / TENANT_SECRETS.length);
    const data = Object.fromEntries(
      Object.entries(shape.keys).map(([k, size]) => [k, randomBytes(size).toString('base64')]),
    );
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: round === 0 ? shape.name : `${shape.name}-${round}`, namespace },
      type: shape.type,
      data,
    } as Owned;
  });
}

/** A namespace the operator does not manage (another team's), with its own Secrets. */
export function otherNamespace(name: string, secrets: number): Owned[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as Owned,
    ...tenantSecrets(name, secrets),
  ];
}

/** Least privilege: the reader ClusterRole bound in one managed namespace. */
export function readerBinding(namespace: string): Owned {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: SECRET_READER_ROLE, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: SECRET_READER_ROLE },
    subjects: [{ kind: 'ServiceAccount', name: OPERATOR_ACCOUNT, namespace: OPERATOR_NAMESPACE }],
  };
}

/** The operator's identity and its Secret reads: bound cluster-wide when `clusterWide`. */
export function identityObjects(clusterWide: boolean): Owned[] {
  const roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: SECRET_READER_ROLE };
  const subjects = [{ kind: 'ServiceAccount', name: OPERATOR_ACCOUNT, namespace: OPERATOR_NAMESPACE }];
  const objects: Owned[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: OPERATOR_ACCOUNT, namespace: OPERATOR_NAMESPACE },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: SECRET_READER_ROLE },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] }],
    },
  ];
  if (clusterWide) {
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: SECRET_READER_ROLE },
      roleRef,
      subjects,
    });
  }
  return objects;
}
