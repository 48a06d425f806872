import { describe, expect, it } from 'vitest';
import { isSatisfied, parseQuantity } from './satisfies.ts';
import type { KubeObject, ManagedFieldsEntry } from './types.ts';

const FM = 'territory-operator';

function applyEntry(fieldsV1: unknown, manager = FM, subresource?: string): ManagedFieldsEntry {
  return {
    manager,
    operation: 'Apply',
    apiVersion: 'v1',
    fieldsType: 'FieldsV1',
    fieldsV1,
    ...(subresource ? { subresource } : {}),
  };
}

const desiredCm: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'cfg', namespace: 'ns', labels: { 'app.kubernetes.io/name': 'x' } },
  data: { a: '1', b: '2' },
};

/** What the API server stores after applying desiredCm with FM. */
function liveCm(overrides: Partial<KubeObject> = {}, fields?: unknown): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'cfg',
      namespace: 'ns',
      uid: 'u1',
      resourceVersion: '42',
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { 'app.kubernetes.io/name': 'x' },
      managedFields: [
        applyEntry(
          fields ?? {
            'f:data': { '.': {}, 'f:a': {}, 'f:b': {} },
            'f:metadata': { 'f:labels': { '.': {}, 'f:app.kubernetes.io/name': {} } },
          },
        ),
      ],
    },
    data: { a: '1', b: '2' },
    ...overrides,
  };
}

describe('isSatisfied', () => {
  it('is true when live holds every desired value and we own exactly the desired fields', () => {
    expect(isSatisfied(desiredCm, liveCm(), { fieldManager: FM })).toBe(true);
  });

  it('ignores server-added fields and fields owned by other managers', () => {
    const live = liveCm({ data: { a: '1', b: '2', extra: 'kubectl' } });
    live.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
    live.metadata.managedFields?.push(applyEntry({ 'f:data': { 'f:extra': {} } }, 'kubectl'));
    expect(isSatisfied(desiredCm, live, { fieldManager: FM })).toBe(true);
  });

  it('is false when a value drifted', () => {
    expect(isSatisfied(desiredCm, liveCm({ data: { a: '1', b: 'changed' } }), { fieldManager: FM })).toBe(
      false,
    );
  });

  it('is false when the object is absent or being deleted', () => {
    expect(isSatisfied(desiredCm, undefined, { fieldManager: FM })).toBe(false);
    const deleting = liveCm();
    deleting.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(isSatisfied(desiredCm, deleting, { fieldManager: FM })).toBe(false);
  });

  it('is false when we own nothing yet (object created by someone else), even if values match', () => {
    const live = liveCm();
    live.metadata.managedFields = [applyEntry({ 'f:data': { 'f:a': {}, 'f:b': {} } }, 'someone-else')];
    expect(isSatisfied(desiredCm, live, { fieldManager: FM })).toBe(false);
  });

  it('is false when a field we own was dropped from desired (SSA must prune it)', () => {
    const desired: KubeObject = { ...desiredCm, data: { a: '1' } };
    expect(isSatisfied(desired, liveCm(), { fieldManager: FM })).toBe(false);
  });

  it('is false when a desired field is owned by another manager only (ownership must be re-taken)', () => {
    const fields = {
      'f:data': { 'f:a': {} },
      'f:metadata': { 'f:labels': { 'f:app.kubernetes.io/name': {} } },
    };
    expect(isSatisfied(desiredCm, liveCm({}, fields), { fieldManager: FM })).toBe(false);
  });

  it('compares quantities by value', () => {
    const desired: KubeObject = {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'q', namespace: 'ns' },
      spec: { hard: { 'requests.storage': '1024Mi', 'limits.cpu': '0.5' } },
    };
    const live: KubeObject = {
      ...desired,
      metadata: {
        ...desired.metadata,
        managedFields: [
          applyEntry({ 'f:spec': { 'f:hard': { 'f:requests.storage': {}, 'f:limits.cpu': {} } } }),
        ],
      },
      spec: { hard: { 'requests.storage': '1Gi', 'limits.cpu': '500m' } },
    };
    expect(isSatisfied(desired, live, { fieldManager: FM })).toBe(true);
    live.spec = { hard: { 'requests.storage': '2Gi', 'limits.cpu': '500m' } };
    expect(isSatisfied(desired, live, { fieldManager: FM })).toBe(false);
  });

  it('treats associative lists by item: extra items of others are fine, a dropped item of ours is not', () => {
    const desired: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'ns' },
      spec: { ports: [{ name: 'pg', port: 5432 }] },
    };
    const live: KubeObject = {
      ...desired,
      metadata: {
        ...desired.metadata,
        managedFields: [
          applyEntry({
            'f:spec': {
              'f:ports': { 'k:{"port":5432,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {} } },
            },
          }),
          applyEntry({ 'f:spec': { 'f:ports': { 'k:{"port":9187,"protocol":"TCP"}': {} } } }, 'other'),
        ],
      },
      spec: {
        ports: [
          { name: 'metrics', port: 9187, protocol: 'TCP', targetPort: 9187 },
          { name: 'pg', port: 5432, protocol: 'TCP', targetPort: 5432 },
        ],
        type: 'ClusterIP',
      },
    };
    expect(isSatisfied(desired, live, { fieldManager: FM })).toBe(true);
    // We used to own two ports and now want one: must re-apply so the other one is pruned.
    const ours = live.metadata.managedFields?.[0];
    if (ours) ours.fieldsV1 = { 'f:spec': { 'f:ports': { 'k:{"port":5432}': {}, 'k:{"port":1}': {} } } };
    expect(isSatisfied(desired, live, { fieldManager: FM })).toBe(false);
  });

  it('treats atomic lists as a whole value', () => {
    const desired: KubeObject = {
      apiVersion: 'x/v1',
      kind: 'K',
      metadata: { name: 'k' },
      spec: { args: ['a', 'b'] },
    };
    const live: KubeObject = {
      ...desired,
      metadata: { name: 'k', managedFields: [applyEntry({ 'f:spec': { 'f:args': {} } })] },
      spec: { args: ['a', 'b'] },
    };
    expect(isSatisfied(desired, live, { fieldManager: FM })).toBe(true);
    live.spec = { args: ['b', 'a'] };
    expect(isSatisfied(desired, live, { fieldManager: FM })).toBe(false);
    live.spec = { args: ['a', 'b', 'c'] };
    expect(isSatisfied(desired, live, { fieldManager: FM })).toBe(false);
  });

  it('status subresource: compares only status and the status ownership entry', () => {
    const desired: KubeObject = {
      apiVersion: 'sovereign.dev/v1alpha1',
      kind: 'Territory',
      metadata: { name: 't' },
      status: { observedGeneration: 3, conditions: [{ type: 'Ready', status: 'True' }] },
    };
    const live: KubeObject = {
      ...desired,
      metadata: {
        name: 't',
        generation: 3,
        managedFields: [
          applyEntry({ 'f:spec': { 'f:x': {} } }),
          applyEntry(
            { 'f:status': { 'f:observedGeneration': {}, 'f:conditions': { 'k:{"type":"Ready"}': {} } } },
            FM,
            'status',
          ),
        ],
      },
      spec: { x: 1 },
      status: {
        observedGeneration: 3,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
      },
    };
    expect(isSatisfied(desired, live, { fieldManager: FM, subresource: 'status' })).toBe(true);
    live.status = { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] };
    expect(isSatisfied(desired, live, { fieldManager: FM, subresource: 'status' })).toBe(false);
  });
});

describe('parseQuantity', () => {
  it.each([
    ['1Gi', 2 ** 30],
    ['1024Mi', 2 ** 30],
    ['500m', 0.5],
    ['0.5', 0.5],
    ['2', 2],
    ['1e3', 1000],
    ['1k', 1000],
    ['20Gi', 20 * 2 ** 30],
  ])('%s = %d', (s, v) => {
    expect(parseQuantity(s)).toBeCloseTo(v, 9);
  });

  it.each(['abc', '1GB', 'Gi', '', 'v17', '1.2.3'])('%s is not a quantity', (s) => {
    expect(parseQuantity(s)).toBeUndefined();
  });
});

describe('isSatisfied with atomic structs', () => {
  it('counts the inner fields of an atomic struct as the one leaf the API server records', () => {
    // managedFields exactly as kube-apiserver 1.36 records an applied RoleBinding: roleRef (an atomic
    // struct) and subjects (an atomic list) are single leaves.
    const desired: KubeObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'territory-reader', namespace: 'ns', labels: { team: 'a' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'territory-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'auditors' }],
    };
    const live: KubeObject = {
      ...desired,
      metadata: {
        ...desired.metadata,
        uid: 'u1',
        managedFields: [
          applyEntry({
            'f:metadata': { 'f:labels': { 'f:team': {} } },
            'f:roleRef': {},
            'f:subjects': {},
          }),
        ],
      },
    };
    expect(isSatisfied(desired, live, { fieldManager: FM })).toBe(true);
    // A changed value inside the atomic struct is still seen.
    const renamed = { ...desired, roleRef: { ...(desired.roleRef as object), name: 'territory-admin' } };
    expect(isSatisfied(renamed, live, { fieldManager: FM })).toBe(false);
    // So is a field added outside it.
    const relabelled = { ...desired, metadata: { ...desired.metadata, labels: { team: 'a', extra: 'x' } } };
    expect(isSatisfied(relabelled, live, { fieldManager: FM })).toBe(false);
  });
});
