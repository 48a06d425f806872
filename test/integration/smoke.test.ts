// Proves the integration control plane is made of real parts: a kube-apiserver of the pinned
// version, serving CRDs and watches from etcd, with a kube-controller-manager that finishes
// namespace deletion and garbage-collects dependents. Nothing here is mocked.
import {
  ApiextensionsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  type V1CustomResourceDefinition,
  VersionApi,
} from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { isGone, openWatch, testKubeConfig, uniqueName, waitFor } from '../support/kube.ts';

const kubeconfig = testKubeConfig();
const core = kubeconfig.makeApiClient(CoreV1Api);

describe('the integration control plane', () => {
  it('is a kube-apiserver of the version pinned in the toolchain go.mod', async () => {
    const version = await kubeconfig.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(inject('pinnedKubernetesVersion'));
  });

  it('establishes a CRD, validates against its schema, and streams its objects through a watch', async () => {
    const group = `${uniqueName('smoke')}.territory.test`;
    const crdName = `gadgets.${group}`;
    const crd: V1CustomResourceDefinition = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: crdName },
      spec: {
        group,
        scope: 'Cluster',
        names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } },
                },
              },
            },
          },
        ],
      },
    };
    const extensions = kubeconfig.makeApiClient(ApiextensionsV1Api);
    const objects = KubernetesObjectApi.makeApiClient(kubeconfig);
    await extensions.createCustomResourceDefinition({ body: crd });
    try {
      await waitFor(
        async () =>
          (await extensions.readCustomResourceDefinition({ name: crdName })).status?.conditions?.some(
            (condition) => condition.type === 'Established' && condition.status === 'True',
          ),
        { what: `CRD ${crdName} to be Established`, timeoutMs: 30_000 },
      );

      const seen: Array<{ phase: string; name: string | undefined }> = [];
      const watch = await openWatch(kubeconfig, `/apis/${group}/v1/gadgets`, (phase, object) => {
        seen.push({ phase, name: object.metadata?.name });
      });
      try {
        const gadget = {
          apiVersion: `${group}/v1`,
          kind: 'Gadget',
          metadata: { name: 'one' },
          spec: { size: 3 },
        };
        await objects.create(gadget);
        await waitFor(() => seen.some((event) => event.phase === 'ADDED' && event.name === 'one'), {
          what: () =>
            `the watch to deliver ADDED for gadget one (watch ended: ${String(watch.ended() ?? 'no')})`,
        });

        // The server enforces the CRD's schema: only a real apiextensions server does this.
        await expect(
          objects.create({ ...gadget, metadata: { name: 'too-small' }, spec: { size: 0 } }),
        ).rejects.toMatchObject({ code: 422 });

        await objects.delete(gadget);
        await waitFor(() => seen.some((event) => event.phase === 'DELETED' && event.name === 'one'), {
          what: () =>
            `the watch to deliver DELETED for gadget one (watch ended: ${String(watch.ended() ?? 'no')})`,
        });
        expect(seen.filter((event) => event.name === 'one').map((event) => event.phase)).toEqual([
          'ADDED',
          'DELETED',
        ]);
      } finally {
        watch.stop();
      }
    } finally {
      await extensions.deleteCustomResourceDefinition({ name: crdName });
    }
  });

  it('finishes deleting a namespace that has content (kube-controller-manager namespace controller)', async () => {
    const namespace = uniqueName('smoke-ns');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'content' }, data: { k: 'v' } },
    });

    await core.deleteNamespace({ name: namespace });
    // The API server only marks it Terminating; the namespace controller must empty it and
    // remove the `kubernetes` finalizer before it disappears.
    const marked = await core.readNamespace({ name: namespace }).catch(() => undefined);
    if (marked) expect(marked.status?.phase).toBe('Terminating');
    await waitFor(() => isGone(() => core.readNamespace({ name: namespace })), {
      what: `namespace ${namespace} to be deleted by the namespace controller`,
      timeoutMs: 60_000,
    });
  });

  it('garbage-collects a dependent once its owner is deleted, and only the dependent', async () => {
    const namespace = uniqueName('smoke-gc');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    try {
      const owner = await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: 'owner' } },
      });
      await core.createNamespacedConfigMap({
        namespace,
        body: {
          metadata: {
            name: 'dependent',
            ownerReferences: [
              { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' },
            ],
          },
        },
      });
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'bystander' } } });

      await core.deleteNamespacedConfigMap({ namespace, name: 'owner', propagationPolicy: 'Background' });
      await waitFor(() => isGone(() => core.readNamespacedConfigMap({ namespace, name: 'dependent' })), {
        what: `the garbage collector to delete ConfigMap ${namespace}/dependent`,
        timeoutMs: 60_000,
      });
      const bystander = await core.readNamespacedConfigMap({ namespace, name: 'bystander' });
      expect(bystander.metadata?.name).toBe('bystander');
    } finally {
      await core.deleteNamespace({ name: namespace });
    }
  });
});
