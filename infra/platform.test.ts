// The Pulumi program under Pulumi's own mocks (pulumi.runtime.setMocks): no engine, no cluster. Checks the
// resources the program registers and their inputs, and that invalid stacks fail before any is registered.
import { readFileSync } from 'node:fs';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { TerritorySpecInput } from '../operator/src/api/territory.ts';
import { CHART_PATH, chartValuesFor, deployPlatform, territory } from './platform.ts';
import {
  matchesSelector,
  parseStackConfig,
  StackConfigError,
  type StackConfigInput,
} from './stack-config.ts';

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  provider: string | undefined;
}

const registered: Registered[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    'territory-infra',
    'test',
    true, // preview
  );
});

beforeEach(() => {
  registered.length = 0;
});

/** Waits until Pulumi has registered the resource (its URN resolves). */
function registeredAll(resources: pulumi.Resource[]): Promise<unknown> {
  return new Promise((resolve) => pulumi.all(resources.map((r) => r.urn)).apply(resolve));
}

const acigne: TerritorySpecInput = {
  authority: { kind: 'commune', code: '35001' },
  controller: {
    contactEmail: 'mairie@acigne.example.fr',
    dpo: { email: 'dpo@acigne.example.fr' },
    purposes: [
      { name: 'etat-civil', dataCategories: ['identity'], dataSubjects: ['residents'], retentionDays: 3650 },
    ],
  },
  hosting: { level: 'secnumcloud', regions: ['cloudgouv-eu-west-1'] },
  backup: {
    destination: {
      endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
      bucket: 'acigne-backups',
      credentialsSecret: { name: 'backup-credentials' },
    },
  },
};

const bretagne = {
  name: 'bretagne',
  provider: 'outscale',
  regions: ['cloudgouv-eu-west-1'],
  qualification: 'secnumcloud' as const,
  shardSelector: 'sovereign.dev/region=53',
  image: { repository: 'registry.example.fr/territory-operator', tag: '0.1.0' },
  operator: { backupEgress: [{ host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['198.51.100.0/24'] }] },
};

const stack: StackConfigInput = {
  clusters: [
    bretagne,
    { name: 'idf', provider: 'scaleway', regions: ['fr-par'], kubeconfigPath: '/etc/kube/idf.yaml' },
  ],
  territories: [territory('acigne', acigne, 'bretagne', { 'sovereign.dev/region': '53' })],
};

describe('deployPlatform under Pulumi mocks', () => {
  it('installs the chart on every cluster, each through its own provider and namespace', async () => {
    const platform = deployPlatform(stack, { bretagne: pulumi.secret('apiVersion: v1\nkind: Config\n') });
    await registeredAll([...platform.installs.values()].flatMap((i) => [i.chart, i.namespace, i.provider]));

    const charts = registered.filter((r) => r.type === 'kubernetes:helm.sh/v4:Chart');
    expect(charts.map((c) => c.name).sort()).toEqual([
      'bretagne-territory-operator',
      'idf-territory-operator',
    ]);
    for (const c of charts) {
      expect(c.inputs.chart).toBe(CHART_PATH);
      expect(c.inputs.namespace).toBe('territory-system');
      const cluster = c.name.split('-')[0];
      expect(c.provider, 'the chart must go to its own cluster').toContain(`${cluster}-k8s`);
    }
    const providers = registered.filter((r) => r.type === 'pulumi:providers:kubernetes');
    expect(providers.map((p) => p.name).sort()).toEqual(['bretagne-k8s', 'idf-k8s']);
    expect(providers.find((p) => p.name === 'idf-k8s')?.inputs.kubeconfig).toBe('/etc/kube/idf.yaml');
    const namespaces = registered.filter((r) => r.type === 'kubernetes:core/v1:Namespace');
    expect(namespaces).toHaveLength(2);
    for (const ns of namespaces) {
      expect(ns.inputs.metadata).toMatchObject({
        name: 'territory-system',
        labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
      });
    }
  });

  it("passes the cluster's attestation, shard and image as the chart's operator configuration", async () => {
    const platform = deployPlatform(stack);
    await registeredAll([...platform.installs.values()].map((i) => i.chart));
    const chart = registered.find((r) => r.name === 'bretagne-territory-operator');
    expect(chart?.inputs.values).toMatchObject({
      image: { repository: 'registry.example.fr/territory-operator', tag: '0.1.0' },
      config: {
        cluster: {
          provider: 'outscale',
          regions: ['cloudgouv-eu-west-1'],
          qualification: 'secnumcloud',
          nodeEvidence: 'required',
        },
        shardSelector: 'sovereign.dev/region=53',
        backupEgress: [{ host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['198.51.100.0/24'] }],
      },
    });
  });

  it("declares each Territory on its own cluster's provider, as written", async () => {
    const platform = deployPlatform(stack);
    const acigneCr = platform.territories.get('acigne');
    expect(acigneCr).toBeDefined();
    if (!acigneCr) return;
    await registeredAll([acigneCr]);
    const cr = registered.find((r) => r.type === 'kubernetes:sovereign.dev/v1alpha1:Territory');
    expect(cr?.name).toBe('bretagne-territory-acigne');
    expect(cr?.provider).toContain('bretagne-k8s');
    expect(cr?.inputs).toMatchObject({
      apiVersion: 'sovereign.dev/v1alpha1',
      kind: 'Territory',
      metadata: { name: 'acigne', labels: { 'sovereign.dev/region': '53' } },
      spec: acigne,
    });
  });
});

describe('the stack configuration is checked at preview', () => {
  const refuse = (input: StackConfigInput): string[] => {
    try {
      deployPlatform(input);
    } catch (e) {
      expect(e).toBeInstanceOf(StackConfigError);
      expect(registered, 'nothing may be registered from an invalid stack').toEqual([]);
      return (e as StackConfigError).problems;
    }
    throw new Error('the stack was accepted');
  };

  it('refuses a Territory the operator schema refuses, naming the field', () => {
    const bad = { ...acigne, backup: { ...acigne.backup, schedule: '0 2 * * 0' } };
    expect(
      refuse({ clusters: [bretagne], territories: [territory('acigne', bad, 'bretagne')] }),
    ).toContainEqual(expect.stringContaining('territories[0].spec.backup.schedule: must run at least daily'));
  });

  it('refuses a SecNumCloud Territory on a standard cluster, or on none of its regions', () => {
    const standard = {
      ...bretagne,
      qualification: 'standard' as const,
      regions: ['fr-par'],
      shardSelector: undefined,
    };
    const problems = refuse({ clusters: [standard], territories: [territory('acigne', acigne, 'bretagne')] });
    expect(problems).toContainEqual(expect.stringContaining('requires secnumcloud'));
    expect(problems).toContainEqual(expect.stringContaining('none of cloudgouv-eu-west-1 is a region'));
  });

  it("refuses a Territory the cluster's shard would ignore, and an unknown cluster", () => {
    const problems = refuse({
      clusters: [bretagne],
      territories: [territory('acigne', acigne, 'bretagne'), territory('b', acigne, 'nowhere')],
    });
    expect(problems).toContainEqual(expect.stringContaining('reconciles only "sovereign.dev/region=53"'));
    expect(problems).toContainEqual(
      expect.stringContaining('territories[1].cluster: no cluster named nowhere'),
    );
  });

  it("refuses an operator configuration the operator's schema refuses", () => {
    const bad = { ...bretagne, operator: { concurrency: 0, apiServerCidrs: 'x' } };
    const problems = refuse({ clusters: [bad] } as unknown as StackConfigInput);
    expect(problems).toContainEqual(expect.stringMatching(/^clusters\[0\]\.operator\.concurrency:/));
    expect(problems).toContainEqual(expect.stringMatching(/^clusters\[0\]\.operator\.apiServerCidrs:/));
  });

  it('accepts the example stack shipped in Pulumi.example.yaml', () => {
    const file = parseYaml(readFileSync(new URL('./Pulumi.example.yaml', import.meta.url), 'utf8')) as {
      config: Record<string, unknown>;
    };
    const parsed = parseStackConfig({
      clusters: file.config['territory-infra:clusters'],
      territories: file.config['territory-infra:territories'],
    });
    expect(parsed.territories.map((t) => t.name)).toEqual(['commune-acigne']);
    expect(chartValuesFor(parsed.clusters[0] ?? (bretagne as never))).toHaveProperty(
      'config.cluster.provider',
      'outscale',
    );
  });
});

describe('the program entry point (index.ts)', () => {
  it('reads the clusters, Territories and kubeconfig secrets of a stack (Pulumi.example.yaml)', async () => {
    const file = parseYaml(readFileSync(new URL('./Pulumi.example.yaml', import.meta.url), 'utf8')) as {
      config: Record<string, unknown>;
    };
    const kubeconfig = 'apiVersion: v1\nkind: Config\n';
    pulumi.runtime.setAllConfig(
      {
        'territory-infra:clusters': JSON.stringify(file.config['territory-infra:clusters']),
        'territory-infra:territories': JSON.stringify(file.config['territory-infra:territories']),
        'territory-infra:kubeconfig-bretagne': kubeconfig,
      },
      ['territory-infra:kubeconfig-bretagne'],
    );
    const program = await import('./index.ts');
    expect(program.territories).toEqual(['commune-acigne']);
    await new Promise((ok) => pulumi.all(Object.values(program.operatorNamespaces)).apply(ok));
    const provider = registered.find((r) => r.type === 'pulumi:providers:kubernetes');
    expect(provider?.name).toBe('bretagne-k8s');
    // Handed to the provider as a secret: encrypted in the state, never shown in previews.
    expect(provider?.inputs.kubeconfig).toEqual({
      [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
      value: kubeconfig,
    });
    // The Territory registers once the chart it depends on has.
    await vi.waitFor(() =>
      expect(registered.map((r) => r.type)).toContain('kubernetes:sovereign.dev/v1alpha1:Territory'),
    );
  });
});

describe('matchesSelector', () => {
  it('reads equality-based selectors and leaves set-based ones to the operator', () => {
    expect(matchesSelector('a=1,b!=2', { a: '1', b: '3' })).toBe(true);
    expect(matchesSelector('a=1', { a: '2' })).toBe(false);
    expect(matchesSelector('a==1,c', { a: '1' })).toBe(false);
    expect(matchesSelector('!c', { c: 'x' })).toBe(false);
    expect(matchesSelector('a in (1,2)', { a: '1' })).toBeUndefined();
  });
});
