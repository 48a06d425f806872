import { describe, expect, it } from 'vitest';
import { CompactObjectStore } from './object-store.ts';
import type { KubeObject } from './types.ts';

function secret(i: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'db-owner',
      namespace: `commune-${String(i).padStart(5, '0')}`,
      uid: `5d1e0b6a-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(1000 + i),
      labels: { 'app.kubernetes.io/managed-by': 'territory-operator', 'sovereign.dev/territory': `c-${i}` },
      annotations: { 'sovereign.dev/rotated-at': '2026-11-28T10:00:00Z' },
    },
    type: 'kubernetes.io/basic-auth',
    data: { username: Buffer.from('owner').toString('base64'), password: 'cGFzc3dvcmQtw6l0w6kh' },
  };
}

describe('CompactObjectStore', () => {
  it('gives back exactly what was stored, non-ASCII included, as a fresh copy each time', () => {
    const store = new CompactObjectStore();
    const a = {
      ...secret(1),
      metadata: { ...secret(1).metadata, annotations: { note: 'Saint-Étienne – 42' } },
    };
    store.set('k', a);
    expect(store.get('k')).toEqual(a);
    const copy = store.get('k') as KubeObject;
    copy.metadata.name = 'changed';
    expect(store.get('k')?.metadata.name).toBe('db-owner');
    expect(store.resourceVersion('k')).toBe('1001');
  });

  it('holds objects of one kind in a fraction of their JSON size', () => {
    const store = new CompactObjectStore();
    let json = 0;
    for (let i = 0; i < 200; i++) {
      store.set(`k${i}`, secret(i));
      json += JSON.stringify(secret(i)).length;
    }
    for (let i = 0; i < 200; i++) expect(store.get(`k${i}`)).toEqual(secret(i));
    const stored = [...store.keys()].reduce((n, k) => n + (store.encodedSize(k) ?? 0), 0);
    expect(stored).toBeLessThan(json / 3);
  });

  it('tells whether it holds the same content, whatever the resourceVersion', () => {
    const store = new CompactObjectStore();
    store.set('k', secret(1));
    const sameButVersion = { ...secret(1), metadata: { ...secret(1).metadata, resourceVersion: '9999' } };
    expect(store.holds('k', store.encode(sameButVersion))).toBe(true);
    const changed = { ...secret(1), data: { username: 'b3RoZXI=' } };
    expect(store.holds('k', store.encode(changed))).toBe(false);
    store.put('k', store.encode(sameButVersion));
    expect(store.get('k')).toEqual(sameButVersion);
  });

  it('forgets deleted keys', () => {
    const store = new CompactObjectStore();
    store.set('k', secret(1));
    expect(store.delete('k')).toBe(true);
    expect(store.get('k')).toBeUndefined();
    expect(store.size).toBe(0);
  });
});
