// `territoryctl doctor`: checks a cluster for what the Territory operator needs, and says what to
// fix. Gathering (I/O) is separate from judging (pure functions below, unit-tested): each check
// turns facts into ✓ / ✗ lines; any ✗ makes the command exit 1.
//
//   cluster         reachable, version
//   Territory CRD   installed and Established
//   CloudNativePG   its CRDs installed and Established (the database part needs them)
//   hosting         the operator configuration attests a French provider (--config, or the
//                   operator's own ConfigMap) and the nodes' topology.kubernetes.io/region labels
//                   agree with the provider table
//   storage         StorageClasses exist, a default one, and those Territories name
//   operator        its Deployment runs
//   RBAC            its ServiceAccount holds every permission the operator uses
//                   (SubjectAccessReview), or, when no Deployment is found, your own identity does
//                   (SelfSubjectAccessReview: what an operator run with your kubeconfig would have)
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { API_VERSION, KIND, PLURAL } from '../../api/territory.ts';
import { evaluateSovereignty, REGION_LABEL } from '../../builders/sovereignty.ts';
import {
  loadOperatorConfig,
  type OperatorConfig,
  parseOperatorConfig,
} from '../../config/operator-config.ts';
import {
  leaderElectionRoleRules,
  operatorClusterRoleRules,
  type PolicyRule,
} from '../../rbac/operator-rbac.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { type ClusterOptions, connect, explain } from './cluster.ts';
import { CliError, EXIT } from './errors.ts';
import { formatData, outputFormat, type Style, styleFor } from './output.ts';

export type Verdict = 'ok' | 'fail' | 'warn';

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
  /** What to do, for a ✗ (or a warning). */
  fix?: string;
  /** Every missing item when the detail only shows the first ones (RBAC). */
  missing?: string[];
}

const ok = (name: string, detail: string): Check => ({ name, verdict: 'ok', detail });
const fail = (name: string, detail: string, fix: string): Check => ({ name, verdict: 'fail', detail, fix });
const warn = (name: string, detail: string, fix: string): Check => ({ name, verdict: 'warn', detail, fix });

// ---------------------------------------------------------------------------------------------
// Pure judgements

interface CrdFacts {
  name: string;
  conditions?: { type: string; status: string; message?: string }[];
  versions?: { name: string; served?: boolean }[];
}

export function checkCrd(label: string, expected: string, crd: CrdFacts | undefined, fix: string): Check {
  if (!crd) return fail(label, `${expected} is not installed`, fix);
  const established = crd.conditions?.find((c) => c.type === 'Established');
  if (established?.status !== 'True') {
    return fail(
      label,
      `${expected} is not Established${established?.message ? `: ${established.message}` : ''}`,
      fix,
    );
  }
  const served = (crd.versions ?? []).filter((v) => v.served).map((v) => v.name);
  return ok(label, `${expected} Established (serves ${served.join(', ') || 'no version'})`);
}

export interface NodeFacts {
  name: string;
  region: string | undefined;
}

/** Node regions against the provider table, and the attestation through the operator's own gate. */
export function checkHosting(config: OperatorConfig, configSource: string, nodes: NodeFacts[]): Check[] {
  const checks: Check[] = [];
  const attested = config.cluster;
  const regionCounts = new Map<string, number>();
  for (const n of nodes)
    regionCounts.set(n.region ?? '(no label)', (regionCounts.get(n.region ?? '(no label)') ?? 0) + 1);
  const summary =
    nodes.length === 0
      ? 'no nodes'
      : `${nodes.length} node(s): ${[...regionCounts].map(([r, c]) => `${r} ×${c}`).join(', ')}`;

  // Node labels vs the provider table, whatever the attestation says.
  const french = new Map<string, string>(); // region -> provider
  for (const p of config.providers) for (const r of p.regions) if (r.french) french.set(r.name, p.name);
  const unlabelled = nodes.filter((n) => !n.region).map((n) => n.name);
  const foreign = nodes
    .filter((n) => n.region && !french.has(n.region))
    .map((n) => `${n.name} (${n.region})`);
  if (nodes.length === 0) {
    checks.push(
      attested.nodeEvidence === 'attestation-only'
        ? warn(
            'node regions',
            'no nodes: hosting rests on the attestation alone (nodeEvidence: attestation-only)',
            'never use attestation-only in production',
          )
        : fail(
            'node regions',
            'no nodes, so French hosting cannot be shown',
            'add nodes labelled with their provider region',
          ),
    );
  } else if (unlabelled.length > 0 || foreign.length > 0) {
    const problems = [
      ...(unlabelled.length ? [`without ${REGION_LABEL}: ${unlabelled.join(', ')}`] : []),
      ...(foreign.length ? [`not a French region of the provider table: ${foreign.join(', ')}`] : []),
    ];
    checks.push(
      fail(
        'node regions',
        `${summary}; ${problems.join('; ')}`,
        `label every node with ${REGION_LABEL} (cloud providers do it), or add the region to the provider table (providers: in the operator configuration) if it is French`,
      ),
    );
  } else {
    const providers = [...new Set(nodes.map((n) => french.get(n.region as string)))].join(', ');
    checks.push(ok('node regions', `${summary}, all French regions of ${providers}`));
  }

  // The attestation, judged by the operator's own fail-closed gate at the attested level.
  if (!attested.provider) {
    checks.push(
      fail(
        'hosting attestation',
        `${configSource} attests no hosting provider (cluster.provider): the operator creates nothing data-bearing`,
        'set cluster.provider, cluster.regions and cluster.qualification in the operator configuration (Helm values config.cluster), and pass it with --config',
      ),
    );
    return checks;
  }
  const verdict = evaluateSovereignty(
    { level: attested.qualification, regions: [] },
    attested,
    config.providers,
    nodes,
  );
  if (verdict.compliant) {
    checks.push(ok('hosting attestation', `${configSource}: ${verdict.message}`));
    const unconfirmed = config.providers
      .find((p) => p.name === attested.provider)
      ?.regions.filter((r) => attested.regions.includes(r.name) && !r.confirmed)
      .map((r) => r.name);
    if (unconfirmed?.length) {
      checks.push(
        warn(
          'provider table',
          `region value(s) ${unconfirmed.join(', ')} are not confirmed by a primary source`,
          "check them against your provider's documentation and correct the provider table if needed",
        ),
      );
    }
  } else {
    checks.push(
      fail(
        'hosting attestation',
        `${configSource}: ${verdict.message} (${verdict.reason})`,
        'make the attestation (cluster.provider/regions/qualification) match the provider table and the nodes',
      ),
    );
  }
  return checks;
}

export interface StorageClassFacts {
  name: string;
  isDefault: boolean;
}

export function checkStorage(
  classes: StorageClassFacts[],
  wanted: { territory: string; storageClass?: string }[],
): Check {
  if (classes.length === 0) {
    return fail(
      'storage classes',
      'no StorageClass: CloudNativePG cannot create database volumes',
      "install your provider's CSI driver and its StorageClass",
    );
  }
  const names = new Set(classes.map((c) => c.name));
  const missing = wanted.filter((w) => w.storageClass && !names.has(w.storageClass));
  const needDefault = wanted.filter((w) => !w.storageClass).map((w) => w.territory);
  const hasDefault = classes.some((c) => c.isDefault);
  const listed = classes.map((c) => (c.isDefault ? `${c.name} (default)` : c.name)).join(', ');
  if (missing.length > 0) {
    return fail(
      'storage classes',
      `${listed}; missing: ${missing.map((m) => `${m.storageClass} (Territory ${m.territory})`).join(', ')}`,
      'create those StorageClasses or change spec.database.storage.storageClass',
    );
  }
  if (!hasDefault && needDefault.length > 0) {
    return fail(
      'storage classes',
      `${listed}; no default StorageClass, and Territories ${needDefault.join(', ')} name none`,
      'mark one default (annotation storageclass.kubernetes.io/is-default-class=true) or set spec.database.storage.storageClass',
    );
  }
  return ok('storage classes', listed);
}

export interface DeploymentFacts {
  namespace: string;
  name: string;
  replicas: number;
  ready: number;
  serviceAccount: string;
  message?: string;
}

export function checkDeployment(found: DeploymentFacts[], selector: string): Check {
  if (found.length === 0) {
    return fail(
      'operator',
      `no operator Deployment (label ${selector})`,
      'install it: helm install territory-operator charts/territory-operator -n territory-system --create-namespace (or pass --operator-selector)',
    );
  }
  const bad = found.filter((d) => d.ready < 1);
  const text = found.map((d) => `${d.namespace}/${d.name} ${d.ready}/${d.replicas} ready`).join(', ');
  if (bad.length > 0) {
    return fail(
      'operator',
      `${text}${bad[0]?.message ? `: ${bad[0].message}` : ''}`,
      `look at its pods: kubectl -n ${bad[0]?.namespace} describe deployment ${bad[0]?.name}`,
    );
  }
  return ok('operator', text);
}

export interface Permission {
  verb: string;
  group: string;
  resource: string;
  /** Namespace for namespaced grants (leader election); undefined: cluster-wide. */
  namespace?: string;
}

/** Every (verb, group, resource) the operator's rules grant, one by one. */
export function permissionsOf(rules: readonly PolicyRule[], namespace?: string): Permission[] {
  return rules.flatMap((r) =>
    r.apiGroups.flatMap((group) =>
      r.resources.flatMap((resource) =>
        r.verbs.map((verb) => ({ verb, group, resource, ...(namespace ? { namespace } : {}) })),
      ),
    ),
  );
}

export function describePermission(p: Permission): string {
  const [resource, subresource] = p.resource.split('/');
  const name = `${resource}${p.group ? `.${p.group}` : ''}${subresource ? `/${subresource}` : ''}`;
  return `${p.verb} ${name}${p.namespace ? ` in ${p.namespace}` : ''}`;
}

export function checkRbac(subject: string, results: { permission: Permission; allowed: boolean }[]): Check {
  const denied = results.filter((r) => !r.allowed).map((r) => describePermission(r.permission));
  if (denied.length > 0) {
    const shown =
      denied.length > 12
        ? `${denied.slice(0, 12).join(', ')} and ${denied.length - 12} more`
        : denied.join(', ');
    return {
      ...fail(
        'RBAC',
        `${subject} lacks ${denied.length} of ${results.length} permissions: ${shown}`,
        'bind it to the chart ClusterRole (charts/territory-operator/files/clusterrole-rules.yaml) and the leader-election Role',
      ),
      missing: denied,
    };
  }
  return ok('RBAC', `${subject} holds all ${results.length} permissions the operator uses`);
}

// ---------------------------------------------------------------------------------------------
// Gathering

async function getCrd(kube: KubeClient, name: string): Promise<CrdFacts | undefined> {
  const crd = await kube.get({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    name,
  });
  if (!crd) return undefined;
  const spec = crd.spec as { versions?: { name: string; served?: boolean }[] } | undefined;
  const status = crd.status as
    | { conditions?: { type: string; status: string; message?: string }[] }
    | undefined;
  return {
    name,
    ...(status?.conditions ? { conditions: status.conditions } : {}),
    ...(spec?.versions ? { versions: spec.versions } : {}),
  };
}

function deploymentFacts(d: KubeObject): DeploymentFacts {
  const spec = d.spec as
    | { replicas?: number; template?: { spec?: { serviceAccountName?: string } } }
    | undefined;
  const status = d.status as
    | { readyReplicas?: number; conditions?: { type: string; status: string; message?: string }[] }
    | undefined;
  const unavailable = status?.conditions?.find((c) => c.status !== 'True');
  return {
    namespace: d.metadata.namespace ?? '',
    name: d.metadata.name ?? '',
    replicas: spec?.replicas ?? 1,
    ready: status?.readyReplicas ?? 0,
    serviceAccount: spec?.template?.spec?.serviceAccountName ?? 'default',
    ...(unavailable?.message ? { message: unavailable.message } : {}),
  };
}

/** The operator's configuration as its Deployment mounts it (the chart's ConfigMap), if readable. */
async function deployedConfig(kube: KubeClient, deployment: KubeObject): Promise<OperatorConfig | undefined> {
  const spec = deployment.spec as { template?: { spec?: { volumes?: { configMap?: { name?: string } }[] } } };
  for (const volume of spec.template?.spec?.volumes ?? []) {
    const name = volume.configMap?.name;
    if (!name) continue;
    const cm = await kube.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: deployment.metadata.namespace,
      name,
    });
    const text = (cm?.data as Record<string, string> | undefined)?.['config.yaml'];
    if (text !== undefined) return parseOperatorConfig(parseYaml(text));
  }
  return undefined;
}

async function reviewAll(
  kube: KubeClient,
  permissions: Permission[],
  subject: { user: string; groups: string[] } | 'self',
): Promise<{ permission: Permission; allowed: boolean }[]> {
  const out: { permission: Permission; allowed: boolean }[] = [];
  // A few at a time: one API request each, cheap, but not hundreds at once.
  for (let i = 0; i < permissions.length; i += 8) {
    const batch = permissions.slice(i, i + 8);
    out.push(
      ...(await Promise.all(
        batch.map(async (p) => {
          const resourceAttributes = {
            verb: p.verb,
            group: p.group,
            resource: p.resource.split('/')[0],
            ...(p.resource.includes('/') ? { subresource: p.resource.split('/')[1] } : {}),
            ...(p.namespace ? { namespace: p.namespace } : {}),
          };
          const review = await kube.create<KubeObject>(
            subject === 'self'
              ? {
                  apiVersion: 'authorization.k8s.io/v1',
                  kind: 'SelfSubjectAccessReview',
                  metadata: {},
                  spec: { resourceAttributes },
                }
              : {
                  apiVersion: 'authorization.k8s.io/v1',
                  kind: 'SubjectAccessReview',
                  metadata: {},
                  spec: { resourceAttributes, user: subject.user, groups: subject.groups },
                },
          );
          return {
            permission: p,
            allowed: (review.status as { allowed?: boolean } | undefined)?.allowed === true,
          };
        }),
      )),
    );
  }
  return out;
}

export interface DoctorOptions {
  config?: string;
  operatorNamespace?: string;
  operatorSelector: string;
}

export async function runDoctor(kube: KubeClient, opts: DoctorOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const server = kube.server;
  try {
    const version = (await kube.request('GET', '/version', { verb: 'get', resource: 'version' })) as {
      gitVersion?: string;
    };
    checks.push(ok('cluster', `Kubernetes ${version.gitVersion ?? '(unknown version)'} at ${server}`));
  } catch (err) {
    const e = explain(err, kube, 'reading the server version');
    checks.push(
      fail('cluster', e.message, e instanceof CliError && e.hint ? e.hint : 'check the kubeconfig'),
    );
    return checks;
  }

  const step = async (name: string, run: () => Promise<Check | Check[]>) => {
    try {
      const result = await run();
      checks.push(...(Array.isArray(result) ? result : [result]));
    } catch (err) {
      const e = explain(err, kube, `checking ${name}`);
      checks.push(fail(name, e.message, e instanceof CliError && e.hint ? e.hint : 'see the error above'));
    }
  };

  await step('Territory CRD', async () =>
    checkCrd(
      'Territory CRD',
      `${PLURAL}.${API_VERSION.split('/')[0]}`,
      await getCrd(kube, `${PLURAL}.${API_VERSION.split('/')[0]}`),
      'install it with the Helm chart, or: kubectl apply --server-side -f crds/sovereign.dev_territories.yaml',
    ),
  );
  await step('CloudNativePG', async () => {
    const names = ['clusters', 'scheduledbackups', 'backups'].map((r) => `${r}.postgresql.cnpg.io`);
    const found = await Promise.all(names.map((n) => getCrd(kube, n)));
    const results = names.map((n, i) =>
      checkCrd(
        'CloudNativePG',
        n,
        found[i],
        'install the CloudNativePG operator (its release manifest or Helm chart); Territories wait for it with DatabaseReady=False',
      ),
    );
    const failed = results.filter((r) => r.verdict === 'fail');
    return failed.length > 0
      ? fail('CloudNativePG', failed.map((f) => f.detail).join('; '), failed[0]?.fix ?? '')
      : ok('CloudNativePG', `CRDs ${names.join(', ')} Established`);
  });

  let deployments: KubeObject[] = [];
  await step('operator', async () => {
    ({ items: deployments } = await kube.list({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      labelSelector: opts.operatorSelector,
      ...(opts.operatorNamespace ? { namespace: opts.operatorNamespace } : {}),
    }));
    return checkDeployment(deployments.map(deploymentFacts), opts.operatorSelector);
  });

  await step('hosting attestation', async () => {
    let config: OperatorConfig;
    let source: string;
    const deployed = deployments[0];
    if (opts.config) {
      config = loadOperatorConfig(opts.config);
      source = opts.config;
    } else if (deployed && (await deployedConfig(kube, deployed))) {
      config = (await deployedConfig(kube, deployed)) as OperatorConfig;
      source = `the configuration of ${deployed.metadata.namespace}/${deployed.metadata.name}`;
    } else {
      config = loadOperatorConfig(undefined);
      source = 'the default configuration (no --config, no operator found)';
    }
    const { items } = await kube.list({ apiVersion: 'v1', kind: 'Node' });
    const nodes = items.map((n) => ({
      name: n.metadata.name ?? '',
      region: n.metadata.labels?.[REGION_LABEL],
    }));
    return checkHosting(config, source, nodes);
  });

  await step('storage classes', async () => {
    const { items } = await kube.list({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass' });
    const classes = items.map((c) => ({
      name: c.metadata.name ?? '',
      isDefault: c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true',
    }));
    const territories = (await kube.serves(API_VERSION, KIND))
      ? (await kube.list({ apiVersion: API_VERSION, kind: KIND })).items
      : [];
    const wanted = territories.map((t) => {
      const storageClass = (t.spec as { database?: { storage?: { storageClass?: string } } } | undefined)
        ?.database?.storage?.storageClass;
      return { territory: t.metadata.name ?? '', ...(storageClass ? { storageClass } : {}) };
    });
    return checkStorage(classes, wanted);
  });

  await step('RBAC', async () => {
    const deployment = deployments[0] ? deploymentFacts(deployments[0]) : undefined;
    const cluster = permissionsOf(operatorClusterRoleRules());
    if (deployment) {
      const ns = deployment.namespace;
      const user = `system:serviceaccount:${ns}:${deployment.serviceAccount}`;
      const groups = ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
      const results = await reviewAll(kube, [...cluster, ...permissionsOf(leaderElectionRoleRules(), ns)], {
        user,
        groups,
      });
      return checkRbac(`ServiceAccount ${ns}/${deployment.serviceAccount}`, results);
    }
    const results = await reviewAll(kube, cluster, 'self');
    return checkRbac(
      'your identity (no operator Deployment found; an operator run with your kubeconfig)',
      results,
    );
  });
  return checks;
}

export function formatChecks(checks: Check[], style: Style): string {
  return checks
    .map((c) => {
      const mark =
        c.verdict === 'ok' ? style.ok('✓') : c.verdict === 'fail' ? style.bad('✗') : style.pending('!');
      const fix = c.verdict !== 'ok' && c.fix ? `\n    ${style.bold('fix:')} ${c.fix}` : '';
      return `${mark} ${style.bold(c.name)}: ${c.detail}${fix}`;
    })
    .join('\n')
    .concat('\n');
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check the cluster for what the Territory operator needs, and print what to fix')
    .option('--config <file>', "operator configuration to judge (default: the operator Deployment's own)")
    .option('--operator-namespace <ns>', 'where the operator runs (default: search every namespace)')
    .option(
      '--operator-selector <labels>',
      'label selector of the operator Deployment',
      'app.kubernetes.io/name=territory-operator',
    )
    .addOption(new Option('-o, --output <format>', 'text, json or yaml').default('text'))
    .addHelpText(
      'after',
      '\nExit codes: 0 every check passed (warnings allowed); 1 a check failed; 2 could not run.',
    )
    .action(
      async (
        o: { config?: string; operatorNamespace?: string; operatorSelector: string; output: string },
        command: Command,
      ) => {
        const format = outputFormat(o.output, ['text', 'json', 'yaml'] as const);
        const kube = await connect(command.optsWithGlobals<ClusterOptions>());
        try {
          const checks = await runDoctor(kube, {
            operatorSelector: o.operatorSelector,
            ...(o.config ? { config: o.config } : {}),
            ...(o.operatorNamespace ? { operatorNamespace: o.operatorNamespace } : {}),
          });
          const healthy = checks.every((c) => c.verdict !== 'fail');
          process.stdout.write(
            format === 'text'
              ? formatChecks(checks, styleFor(process.stdout))
              : formatData({ healthy, checks }, format),
          );
          if (!healthy) process.exitCode = EXIT.failure;
        } finally {
          await kube.close();
        }
      },
    );
}
