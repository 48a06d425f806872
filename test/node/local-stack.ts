// What a local cluster with one real node (test/node) needs of the product, as plain data: the
// operator configuration a platform team would write for it, the example Territories sized for its
// one small node, and the Secrets the authority itself would provide. Pure (no I/O), so both
// `npm start` (operator/src/cli/start.ts, through local-node.ts) and the e2e suite (test/e2e) use it.

/**
 * A documentation range (RFC 5737, TEST-NET-2), never routed from the node: the examples' backup
 * endpoints are real providers' hosts outside the machine, so their backups are scheduled (and
 * their NetworkPolicies written) but cannot reach them.
 */
export const UNROUTABLE_BACKUP_CIDR = '198.51.100.0/24';

/** The node has 2 CPUs and little memory to spare: no example may ask more of it than that. */
export const NODE_MAX_INSTANCES = 2;

/**
 * Each PostgreSQL instance's resources on the node: the namespace's LimitRange defaults, what every
 * instance got before the operator sized databases from the quota profile. Said explicitly now, or the
 * examples would ask for their profile's (a région's three instances of 8Gi), which one small node
 * cannot schedule.
 */
export const NODE_DATABASE_RESOURCES = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { cpu: '500m', memory: '512Mi' },
} as const;

/** The volume of an example that names none: what every one got before the profile's (up to 500Gi). */
export const NODE_DATABASE_STORAGE = '10Gi';

export interface BackupEgress {
  host: string;
  cidrs: string[];
}

export interface LocalNodeConfigOptions {
  /** The node's topology.kubernetes.io/region: the one region the configuration attests. */
  region: string;
  /** Repository of the PostgreSQL image imported into the node (the operator adds `:<major>`). */
  postgresImage: string;
  /** The operator image imported into the node, for the logical-backup CronJobs. */
  operatorImage?: string;
  /** Backup hosts outside the machine: each gets UNROUTABLE_BACKUP_CIDR (see backupHostOf). */
  unreachableBackupHosts?: string[];
  /** More backupEgress entries (e.g. an S3 server inside the cluster), after the unreachable ones. */
  backupEgress?: BackupEgress[];
  /** More provider entries: each replaces the shipped provider of its name or adds one. */
  providers?: Record<string, unknown>[];
  resyncSeconds?: number;
}

/**
 * The operator configuration for a local cluster with a node: Outscale's SecNumCloud offer attested
 * for the node's region, and node evidence required, so the sovereignty gate checks the node's
 * region label exactly as on a provider's cluster. The API server's addresses are not given: the
 * operator finds them itself, as on any cluster.
 */
export function localNodeOperatorConfig(options: LocalNodeConfigOptions): Record<string, unknown> {
  const unreachable = [...new Set(options.unreachableBackupHosts ?? [])].map(
    (host): BackupEgress => ({ host, cidrs: [UNROUTABLE_BACKUP_CIDR] }),
  );
  return {
    cluster: {
      provider: 'outscale',
      regions: [options.region],
      qualification: 'secnumcloud',
      nodeEvidence: 'required',
    },
    ...(options.providers?.length ? { providers: options.providers } : {}),
    backupEgress: [...unreachable, ...(options.backupEgress ?? [])],
    postgresImage: options.postgresImage,
    ...(options.operatorImage ? { operatorImage: options.operatorImage } : {}),
    resyncSeconds: options.resyncSeconds ?? 30,
  };
}

/** `localhost/territory/postgresql:17.12` → `localhost/territory/postgresql` (a port is not a tag). */
export function imageRepository(ref: string): string {
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? ref.slice(0, at) : ref;
}

/** The parts of a Territory manifest the functions below read. */
export interface TerritoryManifest {
  metadata: { name: string };
  spec: {
    namespace?: string;
    hosting?: { level?: string; regions?: string[] };
    database?: { instances?: number; postgresVersion?: string; storage?: { size?: string } };
    encryption?: unknown;
    backup: {
      destination: {
        endpoint: string;
        credentialsSecret: { name: string; accessKeyIdKey?: string; secretAccessKeyKey?: string };
      };
    };
  };
}

/** The host of a Territory's backup endpoint. */
export function backupHostOf(t: TerritoryManifest): string {
  return new URL(t.spec.backup.destination.endpoint).hostname;
}

export interface LocalNode {
  region: string;
  /** The PostgreSQL major the node has an image for. */
  postgresMajor: number | string;
}

/**
 * A Territory placed in the node's region and sized for it, explicitly (the operator would otherwise
 * size its database from its quota profile): at most NODE_MAX_INSTANCES instances (NODE_MAX_INSTANCES
 * when the example names none) of the PostgreSQL major the node has an image for, the LimitRange's
 * small resources instead of the example's (Rennes Métropole's asks for three instances of one CPU
 * each, which only a bigger cluster can schedule), a 10Gi volume when the example names none, and the
 * node's default StorageClass (a provider's class, such as OVHcloud's, does not exist here).
 */
export function sizeForLocalNode<T extends TerritoryManifest>(
  t: T,
  node: LocalNode,
  maxInstances: number = NODE_MAX_INSTANCES,
): T {
  const {
    resources: _resources,
    storage,
    ...database
  } = (t.spec.database ?? {}) as Record<string, unknown> & { storage?: Record<string, unknown> };
  const { storageClass: _storageClass, ...storageOnNode } = storage ?? {};
  return {
    ...t,
    spec: {
      ...t.spec,
      hosting: { ...t.spec.hosting, regions: [node.region] },
      database: {
        ...database,
        storage: { ...storageOnNode, size: storageOnNode.size ?? NODE_DATABASE_STORAGE },
        postgresVersion: String(node.postgresMajor),
        instances: Math.min(t.spec.database?.instances ?? NODE_MAX_INSTANCES, maxInstances),
        resources: NODE_DATABASE_RESOURCES,
      },
    },
  };
}

export interface SecretManifest {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string };
  type: 'Opaque';
  data: Record<string, string>;
}

/**
 * The Secrets an authority provides in its namespace once the operator made it: its backup
 * credentials (here placeholders: no backup leaves a local node) and, when the Territory names one,
 * its own key (32 random bytes, given by the caller).
 */
export function authoritySecretManifests(
  t: TerritoryManifest,
  values: { accessKeyId: string; secretAccessKey: string; customerKey: Uint8Array },
): SecretManifest[] {
  const namespace = t.spec.namespace ?? t.metadata.name;
  const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64');
  const creds = t.spec.backup.destination.credentialsSecret;
  const customerKey = (
    t.spec.encryption as { customerKey?: { secretName: string; key?: string } } | undefined
  )?.customerKey;
  const secret = (name: string, data: Record<string, string>): SecretManifest => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'Opaque',
    data,
  });
  return [
    secret(creds.name, {
      [creds.accessKeyIdKey ?? 'ACCESS_KEY_ID']: b64(values.accessKeyId),
      [creds.secretAccessKeyKey ?? 'ACCESS_SECRET_KEY']: b64(values.secretAccessKey),
    }),
    ...(customerKey
      ? [secret(customerKey.secretName, { [customerKey.key ?? 'kek']: b64(values.customerKey) })]
      : []),
  ];
}
