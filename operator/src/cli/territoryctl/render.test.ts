import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseTerritory, type Territory } from '../../api/territory.ts';
import { EXAMPLES_DIR, readExamples } from '../../api/test-fixtures.ts';
import { BACKUP_REGION_SECRET } from '../../builders/object-store.ts';
import { parseOperatorConfig } from '../../config/operator-config.ts';
import { CliError } from './errors.ts';
import { requireManifests, requireTerritories } from './files.ts';
import { formatRender, PLACEHOLDER, type RenderOptions, renderTerritory } from './render.ts';

const config = parseOperatorConfig({});
const options: RenderOptions = { config, secrets: true };

function example(file: string): Territory {
  const [first] = requireTerritories([`${EXAMPLES_DIR}${file}`]);
  if (!first) throw new Error(`no Territory in ${file}`);
  return first.territory;
}

function withSpec(t: Territory, patch: (spec: Record<string, unknown>) => void): Territory {
  const raw = structuredClone(t) as unknown as { spec: Record<string, unknown> };
  patch(raw.spec);
  const parsed = parseTerritory(raw);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.territory;
}

const kindsOf = (yaml: string) =>
  parseAllDocuments(yaml).map((d) => (d.toJS() as { kind: string; metadata: { name: string } }).kind);

describe('render of each example', () => {
  const examples = readExamples().map((e) => e.file);

  it('covers every example', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
  });

  for (const file of examples) {
    describe(file, () => {
      const t = example(file);
      const yaml = formatRender([renderTerritory(t, options)], 'yaml');

      it('is deterministic: the same input gives the same bytes', () => {
        expect(formatRender([renderTerritory(example(file), options)], 'yaml')).toBe(yaml);
        expect(formatRender([renderTerritory(t, options)], 'json')).toBe(
          formatRender([renderTerritory(example(file), options)], 'json'),
        );
      });

      it('holds every kind the operator owns, in apply order', () => {
        const kinds = kindsOf(yaml);
        expect(kinds[0]).toBe('Namespace');
        for (const kind of ['ResourceQuota', 'LimitRange', 'NetworkPolicy', 'Secret', 'Cluster', 'CronJob']) {
          expect(kinds, `${file} lacks a ${kind}`).toContain(kind);
        }
        const { adminGroups, readerGroups } = t.spec.access;
        const bindings = (adminGroups.length > 0 ? 1 : 0) + (readerGroups.length > 0 ? 1 : 0);
        expect(kinds.filter((k) => k === 'RoleBinding')).toHaveLength(bindings);
        if (t.spec.backup.physical.enabled) expect(kinds).toContain('ScheduledBackup');
        // Tenancy before keys, keys and credentials before the database, backups last.
        if (bindings > 0) expect(kinds.lastIndexOf('RoleBinding')).toBeLessThan(kinds.indexOf('Secret'));
        expect(kinds.lastIndexOf('Secret')).toBeLessThan(kinds.indexOf('Cluster'));
        expect(kinds.indexOf('Cluster')).toBeLessThan(kinds.indexOf('CronJob'));
        // One credential Secret per purpose, plus the owner's, the backup role's and the keyring (and,
        // with physical backups, the bucket's region for CloudNativePG).
        expect(kinds.filter((k) => k === 'Secret')).toHaveLength(
          t.spec.controller.purposes.length + 3 + (t.spec.backup.physical.enabled ? 1 : 0),
        );
      });

      it('puts namespaced objects in the Territory namespace, with no owner reference (no uid offline)', () => {
        const ns = t.spec.namespace ?? t.metadata.name;
        for (const doc of parseAllDocuments(yaml)) {
          const o = doc.toJS() as {
            kind: string;
            metadata: { namespace?: string; ownerReferences?: unknown };
          };
          if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe(ns);
          expect(o.metadata.ownerReferences).toBeUndefined();
        }
      });

      it('shows Secrets with placeholders only', () => {
        for (const doc of parseAllDocuments(yaml)) {
          const o = doc.toJS() as {
            kind: string;
            metadata: { name: string };
            stringData?: Record<string, string>;
          };
          // The bucket's region, for CloudNativePG (which reads it from a Secret only): nothing secret.
          if (o.kind !== 'Secret' || o.metadata.name === BACKUP_REGION_SECRET) continue;
          const values = Object.entries(o.stringData ?? {})
            .filter(([key]) => key !== 'username')
            .map(([, v]) => v);
          expect(values.length).toBeGreaterThan(0);
          for (const v of values) expect(v).toBe(PLACEHOLDER);
        }
      });

      it('says in a header that sovereignty is evaluated at run time', () => {
        expect(yaml.split('\n')[1]).toMatch(/^# Territory /);
        expect(yaml).toContain('# Sovereignty is evaluated by the operator at run time');
      });

      it('renders JSON as a List of the same objects', () => {
        const list = JSON.parse(formatRender([renderTerritory(t, options)], 'json')) as {
          kind: string;
          items: unknown[];
        };
        expect(list.kind).toBe('List');
        expect(list.items).toEqual(parseAllDocuments(yaml).map((d) => d.toJS()));
      });
    });
  }
});

describe('render decisions', () => {
  const rennes = example('epci-rennes-metropole.yaml');

  it('pins workloads to spec.hosting.regions, or --allowed-regions when given', () => {
    const affinity = (r: ReturnType<typeof renderTerritory>) => {
      const cluster = r.objects.find((o) => o.object.kind === 'Cluster')?.object as {
        spec: { affinity: { nodeAffinity: unknown } };
      };
      return JSON.stringify(cluster.spec.affinity.nodeAffinity);
    };
    expect(affinity(renderTerritory(rennes, options))).toContain('"values":["cloudgouv-eu-west-1"]');
    const other = renderTerritory(rennes, { ...options, allowedRegions: ['eu-west-2'] });
    expect(affinity(other)).toContain('"values":["eu-west-2"]');
    // eu-west-2 is French but not SecNumCloud: the reviewer is told the operator would refuse it.
    expect(other.header.join('\n')).toMatch(/region eu-west-2 is not a French SecNumCloud region/);
  });

  it('leaves out backup objects, and says why, when the endpoint is not French', () => {
    const t = withSpec(rennes, (spec) => {
      (spec.backup as { destination: { endpoint: string } }).destination.endpoint =
        'https://s3.nl-ams.scw.cloud';
    });
    const r = renderTerritory(t, options);
    const kinds = r.objects.map((o) => o.object.kind);
    expect(kinds).not.toContain('CronJob');
    expect(kinds).not.toContain('ScheduledBackup');
    const cluster = r.objects.find((o) => o.object.kind === 'Cluster')?.object as {
      spec: Record<string, unknown>;
    };
    expect(cluster.spec.backup).toBeUndefined();
    expect(formatRender([r], 'yaml')).toMatch(
      /# No backup objects: backup endpoint s3\.nl-ams\.scw\.cloud is not a French/,
    );
  });

  it('renders physical backups only when the spec turns them on, saying the provider can read them', () => {
    const acigne = example('commune-acigne.yaml');
    const kinds = (t: Territory) => renderTerritory(t, options).objects.map((o) => o.object.kind);
    expect(kinds(acigne)).not.toContain('ScheduledBackup');
    const on = withSpec(acigne, (spec) => {
      (spec.backup as Record<string, unknown>).physical = { enabled: true, encryption: 'ProviderManaged' };
    });
    const r = renderTerritory(on, options);
    expect(kinds(on)).toContain('ScheduledBackup');
    expect(r.objects.map((o) => o.object.metadata?.name)).toContain(BACKUP_REGION_SECRET);
    // Through the Barman Cloud plugin: an ObjectStore the Cluster archives WAL into.
    const store = r.objects.find((o) => o.object.kind === 'ObjectStore')?.object as {
      spec: { configuration: { destinationPath: string } };
    };
    expect(store.spec.configuration.destinationPath).toBe(
      `s3://${acigne.spec.backup.destination.bucket}/${acigne.metadata.name}/physical`,
    );
    const cluster = r.objects.find((o) => o.object.kind === 'Cluster')?.object as {
      spec: { backup?: unknown; plugins: { name: string }[] };
    };
    expect(cluster.spec.backup).toBeUndefined();
    expect(cluster.spec.plugins.map((p) => p.name)).toEqual(['barman-cloud.cloudnative-pg.io']);
  });

  it('renders nothing data-bearing when the attestation in --config fails the gate', () => {
    const attested = parseOperatorConfig({
      cluster: { provider: 'scaleway', regions: ['fr-par'], qualification: 'standard' },
    });
    const r = renderTerritory(rennes, { config: attested, secrets: true });
    expect(r.objects.map((o) => o.object.kind)).not.toContain('Cluster');
    expect(r.objects.map((o) => o.object.kind)).not.toContain('Secret');
    expect(r.header.join('\n')).toMatch(/Nothing data-bearing is rendered: .*SecNumCloud/);
  });

  it('uses the attested regions when --config attests a compliant provider', () => {
    const attested = parseOperatorConfig({
      cluster: { provider: 'outscale', regions: ['cloudgouv-eu-west-1'], qualification: 'secnumcloud' },
    });
    const r = renderTerritory(rennes, { config: attested, secrets: false });
    const secrets = r.objects.filter((o) => o.object.kind === 'Secret').map((o) => o.object.metadata?.name);
    expect(secrets.filter((name) => name !== BACKUP_REGION_SECRET)).toEqual([]);
    expect(r.header.join('\n')).toContain('the attestation in --config (provider outscale');
  });

  it('refuses an unknown authority code, saying so', () => {
    const t = withSpec(example('commune-acigne.yaml'), (spec) => {
      (spec.authority as { code: string }).code = '35999';
    });
    expect(() => renderTerritory(t, options)).toThrow(CliError);
    expect(() => renderTerritory(t, options)).toThrow(/unknown authority: no commune with code 35999/);
  });

  it('reports every invalid field of a file with its path, and renders nothing', () => {
    const bad = parse(
      'apiVersion: sovereign.dev/v1alpha1\nkind: Territory\nmetadata: { name: x }\nspec:\n  authority: { kind: commune, code: "35001" }\n',
    );
    const text = `${JSON.stringify(bad)}\n---\nkind: ConfigMap\n`;
    expect(() => requireTerritories(['-'], () => text)).toThrow(
      /stdin \(document 1\), Territory x: spec\.controller: is required/,
    );
    expect(() => requireTerritories(['-'], () => text)).toThrow(/spec\.backup: is required/);
  });
});

describe('render with the DatabasePools beside the Territories', () => {
  const pools = requireManifests([
    `${EXAMPLES_DIR}commune-acigne.yaml`,
    `${EXAMPLES_DIR}pools/ille-et-vilaine.yaml`,
  ]).pools;
  const acigne = example('commune-acigne.yaml');

  it('places a small authority in the pool that serves its département, with no cluster of its own', () => {
    expect(pools.map((p) => p.metadata.name)).toEqual(['pool-35']);
    // The example pool is SecNumCloud in cloudgouv-eu-west-1: an Acigné asking for that region lands in it.
    const t = withSpec(acigne, (spec) => {
      spec.hosting = { level: 'standard', regions: ['cloudgouv-eu-west-1'] };
    });
    const rendered = renderTerritory(t, { ...options, pools });
    const kinds = rendered.objects.map((o) => o.object.kind);
    expect(kinds).not.toContain('Cluster');
    expect(kinds).toContain('Database');
    const database = rendered.objects.find((o) => o.object.kind === 'Database')?.object;
    expect(database?.metadata?.namespace).toBe('db-pool-35');
    expect(rendered.header.join('\n')).toContain('Database tier: Shared, in pool pool-35');
  });

  it('says when no pool is given, and renders a cluster of its own', () => {
    const rendered = renderTerritory(acigne, options);
    expect(rendered.objects.map((o) => o.object.kind)).toContain('Cluster');
    expect(rendered.header.join('\n')).toMatch(/Database tier: Dedicated.*with no DatabasePool given/);
  });

  it('renders no database, and says why, for a pool it names that is not given', () => {
    const t = withSpec(acigne, (spec) => {
      spec.database = { pool: 'pool-29' };
    });
    const rendered = renderTerritory(t, { ...options, pools });
    const kinds = rendered.objects.map((o) => o.object.kind);
    expect(kinds).not.toContain('Cluster');
    expect(kinds).not.toContain('Database');
    expect(kinds).not.toContain('CronJob');
    expect(rendered.header.join('\n')).toContain(
      'No database and no backup objects: spec.database.pool names pool pool-29',
    );
  });
});
