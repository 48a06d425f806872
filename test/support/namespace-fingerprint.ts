// What a namespace holds, as resourceVersions: any write by anyone to the namespace or to one of its
// objects of these kinds changes the fingerprint. The collision tests (integration and chaos) use it to
// prove that the operator left a namespace it was refused untouched.
import { type KubeHttp, type KubeItem, objectPath } from '../chaos/lib/kube-http.ts';

/** The namespaced kinds an operator could write into a Territory's namespace. */
export const NAMESPACE_CONTENT_KINDS = [
  ['v1', 'ConfigMap'],
  ['v1', 'Secret'],
  ['v1', 'ResourceQuota'],
  ['v1', 'LimitRange'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['batch/v1', 'CronJob'],
] as const;

/** `Kind name` -> resourceVersion, for the namespace itself and everything in it. */
export async function namespaceFingerprint(kube: KubeHttp, ns: string): Promise<Map<string, string>> {
  const prints = new Map<string, string>();
  const namespace = await kube.get(objectPath({ apiVersion: 'v1', kind: 'Namespace', name: ns }));
  const meta = (namespace.body as KubeItem).metadata;
  prints.set(`Namespace ${ns}`, `${meta.resourceVersion}${meta.deletionTimestamp ? ' deleting' : ''}`);
  for (const [apiVersion, kind] of NAMESPACE_CONTENT_KINDS) {
    const { items } = await kube.list(objectPath({ apiVersion, kind, namespace: ns }));
    for (const item of items)
      prints.set(`${kind} ${item.metadata.name}`, item.metadata.resourceVersion ?? '');
  }
  return prints;
}
