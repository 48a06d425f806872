// The e2e cluster's object storage: a real S3 server (versitygw) outside the cluster, on the host
// end of the node's link, serving HTTPS with a certificate from its own private CA, as an
// on-premises object store of a regional cooperative would. Pods find it by a cluster DNS name (a
// headless Service without selector whose EndpointSlice points at the host), so backups cross the
// Territory's enforced NetworkPolicies exactly as they would towards a provider's endpoint; the
// host reaches it at its address directly (territoryctl export's --s3-endpoint).
import { createS3Client, listObjects, type ObjectInfo } from '../../operator/src/backup/s3-store.ts';
import { ExtendedKeyUsage, newCertificateAuthority } from '../controlplane/certs.ts';
import { applyManifests, type Kubectl } from '../node/kubectl.ts';
import { NODE_NETWORK } from '../node/network.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';

export const OBJECT_STORE_NAMESPACE = 'objectstore';
const SERVICE = 's3';
/** The name Pods use, and the host the operator's provider table declares. */
export const OBJECT_STORE_HOST = `${SERVICE}.${OBJECT_STORE_NAMESPACE}.svc.cluster.local`;
/** Backup egress is opened to port 443 only (builders/network.ts), so the server listens there. */
const PORT = 443;
export const OBJECT_STORE_BUCKET = 'territory-e2e-backups';
/** A French region of the provider table, as the S3 region the server signs for. */
export const OBJECT_STORE_REGION = 'cloudgouv-eu-west-1';

/** What tests need to use the store (inject()-able: plain data). */
export interface ObjectStoreAccess {
  /** As Pods reach it: https://<cluster DNS name>. */
  endpoint: string;
  /** As the host reaches it: https://<host address>. */
  hostEndpoint: string;
  bucket: string;
  region: string;
  caPem: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Where the server keeps objects: <dataDir>/<bucket>/<key>. */
  dataDir: string;
}

/** The address the store listens on: the host end of the node's link, which Pods can route to. */
export const objectStoreCidr = () => `${NODE_NETWORK.hostAddress}/32`;

export async function startObjectStore(k: Kubectl): Promise<{ access: ObjectStoreAccess; server: S3Server }> {
  const store = await startObjectStoreServer();
  await registerObjectStore(k);
  return store;
}

/** The S3 server alone, on the host end of the node's link: it outlives any cluster that uses it. */
export async function startObjectStoreServer(): Promise<{ access: ObjectStoreAccess; server: S3Server }> {
  const { ca, issue } = await newCertificateAuthority('territory-e2e-objectstore-ca', new Date());
  const serving = await issue([{ CN: [OBJECT_STORE_HOST] }], ExtendedKeyUsage.serverAuth, [
    { type: 'dns', value: OBJECT_STORE_HOST },
    { type: 'ip', value: NODE_NETWORK.hostAddress },
  ]);
  const server = await startS3Server({
    buckets: [OBJECT_STORE_BUCKET],
    region: OBJECT_STORE_REGION,
    listen: `${NODE_NETWORK.hostAddress}:${PORT}`,
    tls: { ...serving, caPem: ca.certPem },
  });
  return {
    server,
    access: {
      endpoint: `https://${OBJECT_STORE_HOST}`,
      hostEndpoint: server.endpoint.replace(`:${PORT}`, ''),
      bucket: OBJECT_STORE_BUCKET,
      region: OBJECT_STORE_REGION,
      caPem: ca.certPem,
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      dataDir: server.dataDir,
    },
  };
}

/**
 * Makes the store reachable from a cluster's Pods by its DNS name: a headless Service without selector
 * whose EndpointSlice is the host's address. Done again on a second cluster (disaster recovery).
 */
export async function registerObjectStore(k: Kubectl): Promise<void> {
  await applyManifests(k, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OBJECT_STORE_NAMESPACE } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: SERVICE, namespace: OBJECT_STORE_NAMESPACE },
      spec: { clusterIP: 'None', ports: [{ name: 'https', port: PORT, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${SERVICE}-host`,
        namespace: OBJECT_STORE_NAMESPACE,
        labels: { 'kubernetes.io/service-name': SERVICE },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [NODE_NETWORK.hostAddress], conditions: { ready: true } }],
      ports: [{ name: 'https', port: PORT, protocol: 'TCP' }],
    },
  ]);
}

/** The provider-table entry and egress a platform team would configure for such a store. */
export function objectStoreOperatorConfig(): {
  providers: Record<string, unknown>[];
  backupEgress: { host: string; cidrs: string[] }[];
} {
  return {
    providers: [
      {
        name: 'territory-e2e-objectstore',
        displayName: 'the e2e cluster’s own object storage (private CA)',
        regions: [{ name: OBJECT_STORE_REGION, french: true, secnumcloud: true }],
        objectStorage: [{ host: OBJECT_STORE_HOST, region: OBJECT_STORE_REGION, secnumcloud: true }],
      },
    ],
    backupEgress: [{ host: OBJECT_STORE_HOST, cidrs: [objectStoreCidr()] }],
  };
}

/** The objects under a prefix, as the host sees the store (what a person auditing the bucket sees). */
export async function listStoreObjects(store: ObjectStoreAccess, prefix: string): Promise<ObjectInfo[]> {
  const s3 = createS3Client({
    endpoint: store.hostEndpoint,
    region: store.region,
    bucket: store.bucket,
    credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey },
    ca: store.caPem,
  });
  try {
    return await listObjects(s3, store.bucket, prefix);
  } finally {
    s3.destroy();
  }
}
