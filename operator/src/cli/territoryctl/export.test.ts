import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../runtime/types.ts';
import { type BundleFacts, bundleReadme } from './bundle-readme.ts';
import { portable } from './export.ts';

describe('portable manifests', () => {
  it('drops what only the old cluster knows, and never carries Secret values', () => {
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'db-owner',
        namespace: 'acigne',
        uid: 'u',
        resourceVersion: '12',
        creationTimestamp: '2026-11-01T00:00:00Z',
        managedFields: [{ manager: 'territory-operator' }],
        ownerReferences: [
          { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name: 'acigne', uid: 'u' },
        ],
        finalizers: ['x'],
        labels: { a: 'b' },
      },
      type: 'kubernetes.io/basic-auth',
      data: { username: 'YQ==', password: 'c2VjcmV0' },
      status: {},
    };
    expect(portable(secret)).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'db-owner',
        namespace: 'acigne',
        labels: { a: 'b' },
        annotations: { 'sovereign.dev/exported-without-values': 'password,username' },
      },
      type: 'kubernetes.io/basic-auth',
    });
    const ns: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'acigne', uid: 'u' },
      status: { phase: 'Active' },
    };
    expect(portable(ns)).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'acigne' } });
  });
});

describe('bundle README', () => {
  const facts: BundleFacts = {
    territory: 'acigne',
    officialName: 'Acigné',
    authority: 'commune 35001',
    namespace: 'acigne',
    database: 'acigne',
    postgresVersion: '17',
    mode: 'decrypted',
    backup: {
      source: 's3://b/acigne/20261101T020000.000Z.pgdump.enc',
      takenAt: '2026-11-01T02:00:00.000Z',
      keyId: 'k1-20261101',
    },
    dumpFile: 'database/acigne.pgdump',
    roles: ['acigne_owner', 'purpose_cantine'],
    createdAt: '2026-11-28T12:00:00.000Z',
  };

  it('says in French and in English how to check and restore a decrypted dump', () => {
    const text = bundleReadme(facts);
    const [fr, en] = text.split('\n---\n');
    expect(fr).toContain('# Export de réversibilité — Acigné (commune 35001)');
    expect(en).toContain('# Reversibility export — Acigné (commune 35001)');
    for (const part of [fr, en]) {
      expect(part).toContain('sha256sum -c SHA256SUMS');
      expect(part).toContain(
        'pg_restore --host=<host> --username=<user> --dbname=acigne --no-owner --no-privileges --single-transaction --exit-on-error database/acigne.pgdump',
      );
      expect(part).not.toContain('territoryctl decrypt');
    }
  });

  it('for an encrypted bundle, says how to decrypt, and asks for the authority key only when wrapped', () => {
    const encrypted = {
      ...facts,
      mode: 'encrypted' as const,
      dumpFile: 'database/20261101T020000.000Z.pgdump.enc',
    };
    const wrapped = bundleReadme({
      ...encrypted,
      keyring: {
        file: 'keys/keyring.json',
        wrapped: true,
        kekFingerprint: 'sha256:0011223344556677',
        kekSecret: 'acigne/kek',
      },
    });
    expect(wrapped).toContain(
      'territoryctl decrypt database/20261101T020000.000Z.pgdump.enc --keyring keys/keyring.json --kek-file kek --out database/20261101T020000.000Z.pgdump',
    );
    expect(wrapped).toContain('sha256:0011223344556677');
    expect(wrapped).toContain(
      '--dbname=acigne --no-owner --no-privileges --single-transaction --exit-on-error database/20261101T020000.000Z.pgdump\n',
    );
    const unwrapped = bundleReadme({ ...encrypted, keyring: { file: 'keys/keyring.json', wrapped: false } });
    expect(unwrapped).not.toContain('--kek-file');
    expect(unwrapped).toContain('whoever holds this folder can read the data');
    expect(unwrapped).toContain('quiconque détient ce dossier peut lire les données');
  });
});
