// The shared pieces of a local cluster with a node (npm start and the e2e suite): the operator
// configuration is one the operator accepts, and the examples sized with it are valid Territories
// that its sovereignty gate lets through on the node, and that the node can run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseTerritory } from '../../operator/src/api/territory.ts';
import { evaluateDestination, evaluateSovereignty } from '../../operator/src/builders/sovereignty.ts';
import { parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import {
  authoritySecretManifests,
  backupHostOf,
  imageRepository,
  localNodeOperatorConfig,
  NODE_DATABASE_RESOURCES,
  NODE_DATABASE_STORAGE,
  NODE_MAX_INSTANCES,
  sizeForLocalNode,
  type TerritoryManifest,
  UNROUTABLE_BACKUP_CIDR,
} from './local-stack.ts';

const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', 'examples');
const examples = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ file: f, t: parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as TerritoryManifest }));
const node = { region: 'cloudgouv-eu-west-1', postgresMajor: 17 };

describe('localNodeOperatorConfig', () => {
  const hosts = examples.map(({ t }) => backupHostOf(t));

  it('is a configuration the operator accepts, attesting the node and requiring its evidence', () => {
    const config = parseOperatorConfig(
      localNodeOperatorConfig({
        region: node.region,
        postgresImage: 'localhost/territory/postgresql',
        operatorImage: 'localhost/territory/territory-operator:0.1.0-abc',
        unreachableBackupHosts: [...hosts, hosts[0] ?? ''],
      }),
    );
    expect(config.cluster).toEqual({
      provider: 'outscale',
      regions: [node.region],
      qualification: 'secnumcloud',
      nodeEvidence: 'required',
    });
    expect(config.postgresImage).toBe('localhost/territory/postgresql');
    expect(config.operatorImage).toBe('localhost/territory/territory-operator:0.1.0-abc');
    // Each example's backup host once, pointed at a range the node never routes.
    expect(config.backupEgress).toEqual(
      [...new Set(hosts)].map((host) => ({ host, cidrs: [UNROUTABLE_BACKUP_CIDR] })),
    );
  });

  it('takes more backupEgress and providers entries after its own (for the e2e suite)', () => {
    const raw = localNodeOperatorConfig({
      region: node.region,
      postgresImage: 'pg',
      unreachableBackupHosts: ['oos.cloudgouv-eu-west-1.outscale.com'],
      backupEgress: [{ host: 's3.test.svc', cidrs: ['10.0.0.0/24'] }],
      providers: [
        {
          name: 'test-s3',
          regions: [],
          objectStorage: [{ host: 's3.test.svc', region: node.region, secnumcloud: true }],
        },
      ],
    });
    expect(raw).not.toHaveProperty('operatorImage');
    const config = parseOperatorConfig(raw);
    expect(config.backupEgress.map((e) => e.host)).toEqual([
      'oos.cloudgouv-eu-west-1.outscale.com',
      's3.test.svc',
    ]);
    expect(config.providers.map((p) => p.name)).toContain('test-s3');
    expect(config.providers.map((p) => p.name)).toContain('outscale');
  });
});

describe('sizeForLocalNode', () => {
  it.each(examples)('$file becomes a valid Territory the node can run', ({ t }) => {
    const before = JSON.stringify(t);
    const sized = sizeForLocalNode(t, node);
    expect(JSON.stringify(t)).toBe(before);
    const parsed = parseTerritory(sized);
    expect(parsed.ok ? [] : parsed.errors).toEqual([]);
    if (!parsed.ok) return;
    const db = parsed.territory.spec.database;
    // Everything explicit: the operator would size the database from the example's profile otherwise.
    expect(db.instances).toBe(Math.min(t.spec.database?.instances ?? NODE_MAX_INSTANCES, NODE_MAX_INSTANCES));
    expect(db.postgresVersion).toBe('17');
    expect(db.resources).toEqual(NODE_DATABASE_RESOURCES);
    expect(db.storage.storageClass).toBeUndefined();
    expect(db.storage.size).toBe(t.spec.database?.storage?.size ?? NODE_DATABASE_STORAGE);
    expect(parsed.territory.spec.hosting.regions).toEqual([node.region]);
    expect(parsed.territory.metadata.name).toBe(t.metadata.name);
  });

  it.each(examples)('$file passes the sovereignty gate of the node configuration', ({ t }) => {
    const config = parseOperatorConfig(
      localNodeOperatorConfig({ region: node.region, postgresImage: 'pg', unreachableBackupHosts: [] }),
    );
    const parsed = parseTerritory(sizeForLocalNode(t, node));
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const { hosting, backup } = parsed.territory.spec;
    const verdict = evaluateSovereignty(
      { level: hosting.level, regions: hosting.regions ?? [] },
      config.cluster,
      config.providers,
      [{ name: 'territory-node', region: node.region }],
    );
    expect(verdict).toMatchObject({ compliant: true });
    expect(evaluateDestination(backup.destination.endpoint, hosting.level, config.providers)).toMatchObject({
      sovereign: true,
    });
  });

  it('caps the instances at what the caller allows', () => {
    const rennes = examples.find(({ file }) => file.includes('rennes'))?.t;
    expect(rennes?.spec.database?.instances).toBe(3);
    expect(sizeForLocalNode(rennes as TerritoryManifest, node, 1).spec.database?.instances).toBe(1);
  });
});

describe('authoritySecretManifests', () => {
  const values = { accessKeyId: 'id', secretAccessKey: 'secret', customerKey: new Uint8Array(32).fill(7) };
  const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

  it("gives the backup credentials under the keys the Territory names, in the authority's namespace", () => {
    const cd35 = examples.find(({ file }) => file.includes('departement'))?.t as TerritoryManifest;
    expect(authoritySecretManifests(cd35, values)).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'scaleway-s3', namespace: 'cd35' },
        type: 'Opaque',
        data: { 'access-key': b64('id'), 'secret-key': b64('secret') },
      },
    ]);
    const acigne = examples.find(({ file }) => file.includes('acigne'))?.t as TerritoryManifest;
    expect(authoritySecretManifests(acigne, values)[0]?.data).toEqual({
      ACCESS_KEY_ID: b64('id'),
      ACCESS_SECRET_KEY: b64('secret'),
    });
  });

  it('adds the customer key when the Territory names one', () => {
    const rennes = examples.find(({ file }) => file.includes('rennes'))?.t as TerritoryManifest;
    const secrets = authoritySecretManifests(rennes, values);
    expect(secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual([
      'rennes-metropole/oos-credentials',
      'rennes-metropole/rennes-kek',
    ]);
    expect(Buffer.from(secrets[1]?.data.kek ?? '', 'base64')).toHaveLength(32);
  });
});

describe('imageRepository', () => {
  it('drops the tag, not a registry port', () => {
    expect(imageRepository('localhost/territory/postgresql:17.12')).toBe('localhost/territory/postgresql');
    expect(imageRepository('registry:5000/territory/operator')).toBe('registry:5000/territory/operator');
    expect(imageRepository('registry:5000/territory/operator:1.0')).toBe('registry:5000/territory/operator');
  });
});
