import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../runtime/types.ts';
import { nodeForCache, slimForCache } from './cache-shape.ts';

const quota: KubeObject = {
  apiVersion: 'v1',
  kind: 'ResourceQuota',
  metadata: {
    name: 'territory-quota',
    namespace: 'commune-35001',
    resourceVersion: '42',
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}', keep: 'yes' },
    managedFields: [
      {
        manager: 'territory-operator',
        operation: 'Apply',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': {} },
      },
      {
        manager: 'territory-operator',
        operation: 'Update',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': {} },
      },
      { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', fieldsV1: {} },
    ],
  },
  spec: { hard: { 'requests.storage': '10Gi' } },
  status: { used: { 'requests.storage': '0' } },
};

describe('slimForCache', () => {
  it('keeps only our Apply entries and drops an unread status and kubectl’s last-applied copy', () => {
    const slim = slimForCache('territory-operator', false)(quota);
    expect(slim.metadata.managedFields).toEqual([quota.metadata.managedFields?.[0]]);
    expect(slim.metadata.annotations).toEqual({ keep: 'yes' });
    expect(slim.status).toBeUndefined();
    expect(slim.spec).toEqual(quota.spec);
    // The input is left as it was.
    expect(quota.metadata.managedFields).toHaveLength(3);
  });

  it('keeps the status of kinds whose health is judged from it', () => {
    expect(slimForCache('territory-operator', true)(quota).status).toEqual(quota.status);
  });

  it('leaves no empty managedFields or annotations behind', () => {
    const slim = slimForCache('other', false)({ ...quota, metadata: { ...quota.metadata, annotations: {} } });
    expect(slim.metadata).not.toHaveProperty('managedFields');
    expect(slim.metadata).not.toHaveProperty('annotations');
  });
});

describe('nodeForCache', () => {
  it('keeps a Node’s name and labels only', () => {
    const node = nodeForCache({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'n1',
        uid: 'u',
        resourceVersion: '7',
        labels: { 'topology.kubernetes.io/region': 'fr-par' },
      },
      spec: { podCIDR: '10.0.0.0/24' },
      status: { images: [{ names: ['x'], sizeBytes: 1 }] },
    });
    expect(node).toEqual({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'n1',
        uid: 'u',
        resourceVersion: '7',
        labels: { 'topology.kubernetes.io/region': 'fr-par' },
      },
    });
  });
});
