// `territoryctl doctor`: checks a cluster for what the Territory operator needs, and says what to
// fix. Gathering (I/O) is separate from judging (pure functions below, unit-tested): each check
// turns facts into ✓ / ✗ lines; any ✗ makes the command exit 1.
//
//   cluster         reachable, version
//   Territory CRD   installed and Established
//   CloudNativePG   its CRDs installed and Established (the database part needs them)
//   Barman Cloud plugin  its ObjectStore CRD (physical backups need it; a warning when missing)
//   hosting         the operator configuration attests a French provider (--config, or the
//                   operator's own ConfigMap) and the nodes' topology.kubernetes.io/region labels
//                   agree with the provider table
//   storage         StorageClasses exist, a default one, and those Territories name
//   API server egress  the addresses the operator opens to CloudNativePG's instance managers
//                   (apiServerCidrs, else the default/kubernetes EndpointSlices) exist, are valid
//                   CIDRs and are not loopback
//   backup egress   every Territory's backup host has backupEgress CIDRs, and they are valid CIDRs
//   operator        its Deployment runs
//   RBAC            its ServiceAccount holds every permission the operator uses
//                   (SubjectAccessReview), or, when no Deployment is found, your own identity does
//                   (SelfSubjectAccessReview: what an operator run with your kubeconfig would have)
import { isIP } from 'node:net';
import { Command, Option } from 'commander';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { API_VERSION, KIND, PLURAL, type Territory } from '../../api/territory.ts';
import type { BuildContext } from '../../builders/context.ts';
import { apiServerCidrs, backupEgressCidrs } from '../../builders/network.ts';
import { BARMAN_CLOUD_PLUGIN_RELEASE } from '../../builders/object-store.ts';
import { evaluateSovereignty, REGION_LABEL } from '../../builders/sovereignty.ts';
import {
  loadOperatorConfig,
  type OperatorConfig,
  parseOperatorConfig,
} from '../../config/operator-config.ts';
import {
  bindTenantRolesRule,
  leaderElectionRoleRules,
  operatorClusterRoleRules,
  type PolicyRule,
} from '../../rbac/operator-rbac.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { API_SERVER_SLICES, apiServerAddresses } from '../../territory/api-server.ts';
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
  /** One object, for grants restricted by name (`bind` on the tenant ClusterRoles). */
  name?: string;
}

/** Every (verb, group, resource) the operator's rules grant, one by one. */
export function permissionsOf(rules: readonly PolicyRule[], namespace?: string): Permission[] {
  return rules.flatMap((r) =>
    r.apiGroups.flatMap((group) =>
      r.resources.flatMap((resource) =>
        r.verbs.flatMap((verb) =>
          (r.resourceNames ?? [undefined]).map((name) => ({
            verb,
            group,
            resource,
            ...(namespace ? { namespace } : {}),
            ...(name ? { name } : {}),
          })),
        ),
      ),
    ),
  );
}

export function describePermission(p: Permission): string {
  const [resource, subresource] = p.resource.split('/');
  const name = `${resource}${p.group ? `.${p.group}` : ''}${subresource ? `/${subresource}` : ''}`;
  return `${p.verb} ${name}${p.name ? ` ${p.name}` : ''}${p.namespace ? ` in ${p.namespace}` : ''}`;
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
        "install the chart's RBAC (rbac.create=true): its ClusterRole, `bind` on the two tenant ClusterRoles named in the operator configuration (tenantRoles), and the leader-election Role",
      ),
      missing: denied,
    };
  }
  return ok('RBAC', `${subject} holds all ${results.length} permissions the operator uses`);
}

// The two egress openings that depend on the operator configuration. The operator's own functions
// (builders/network.ts) decide what its NetworkPolicies open; they read only the configuration, the
// API server's discovered addresses and the Territory's backup endpoint, so a context holding just
// those is enough to ask them.
function egressContext(
  config: OperatorConfig,
  facts: { apiServerAddresses?: string[]; endpoint?: string },
): BuildContext {
  return {
    territory: { spec: { backup: { destination: { endpoint: facts.endpoint ?? '' } } } } as Territory,
    authority: { officialName: '' },
    config,
    allowedRegions: [],
    backupAllowed: true,
    barmanCloudPlugin: false,
    ...(facts.apiServerAddresses ? { apiServerAddresses: facts.apiServerAddresses } : {}),
  };
}

/** Value of an address isIP() accepted (4 or 6), as one integer. */
function addressValue(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((v, octet) => (v << 8n) | BigInt(octet), 0n);
  let text = address;
  if (text.includes('.')) {
    // An IPv4 tail (::ffff:192.0.2.1) is the last two groups.
    const at = text.lastIndexOf(':') + 1;
    const v4 = addressValue(text.slice(at), 4);
    text = `${text.slice(0, at)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const before = head ? head.split(':') : [];
  const after = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - before.length - after.length).fill('0');
  return [...before, ...zeros, ...after].reduce((v, group) => (v << 16n) | BigInt(`0x${group}`), 0n);
}

function formatAddress(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => (value >> shift) & 0xffn).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) =>
    ((value >> shift) & 0xffffn).toString(16),
  );
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1); // the canonical (compressed) form
}

interface ParsedCidr {
  family: 4 | 6;
  value: bigint;
  prefix: number;
}

/**
 * Why Kubernetes would refuse `cidr` in a NetworkPolicy's ipBlock, or undefined when it is a valid
 * CIDR. The operator configuration only asks for non-empty strings; the API server parses strictly:
 * an address and a prefix length, no leading zeros, no bits set beyond the prefix.
 */
export function cidrProblem(cidr: string): string | undefined {
  const parsed = parseCidr(cidr);
  return typeof parsed === 'string' ? parsed : undefined;
}

function parseCidr(cidr: string): ParsedCidr | string {
  const [address = '', prefixText, ...extra] = cidr.split('/');
  const family = address.includes('%') ? 0 : isIP(address);
  if (family !== 4 && family !== 6) return 'not an address/prefix-length CIDR';
  const bits = family === 4 ? 32 : 128;
  if (prefixText === undefined) return `a single address, written ${address}/${bits} as a CIDR`;
  if (extra.length > 0 || !/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
    return `the prefix length must be 0 to ${bits}`;
  }
  const prefix = Number(prefixText);
  const value = addressValue(address, family);
  const host = (1n << BigInt(bits - prefix)) - 1n;
  if ((value & host) !== 0n) {
    return `bits set beyond the prefix length: the network is ${formatAddress(value & ~host, family)}/${prefix}`;
  }
  return { family, value, prefix };
}

/** Whether every address of a valid CIDR is loopback (127.0.0.0/8, ::1): a Pod's own, never the API server. */
function isLoopback(cidr: string): boolean {
  const parsed = parseCidr(cidr);
  if (typeof parsed === 'string') return false;
  return parsed.family === 4 ? parsed.prefix >= 8 && parsed.value >> 24n === 127n : parsed.value === 1n;
}

const listFirst = (items: string[], max: number) =>
  items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');

const SLICES = `${API_SERVER_SLICES.namespace}/kubernetes EndpointSlices`;

/**
 * The egress the operator opens to CloudNativePG's instance managers towards the API server, asked
 * of its own apiServerCidrs(): the configured CIDRs, else the ready addresses of the `kubernetes`
 * Service's EndpointSlices (`addresses`: apiServerAddresses() of them, as the operator reads them;
 * undefined when not read because apiServerCidrs is set).
 */
export function checkApiServerEgress(
  config: OperatorConfig,
  configSource: string,
  addresses: string[] | undefined,
): Check {
  const name = 'API server egress';
  const configured = config.apiServerCidrs.length > 0;
  const invalid = config.apiServerCidrs.flatMap((cidr) => {
    const problem = cidrProblem(cidr);
    return problem ? [`"${cidr}" (${problem})`] : [];
  });
  if (invalid.length > 0) {
    return fail(
      name,
      `apiServerCidrs in ${configSource} holds ${invalid.length === 1 ? 'an invalid CIDR' : 'invalid CIDRs'}: ${invalid.join(', ')}; Kubernetes refuses the NetworkPolicy that opens the database Pods' egress to the API server`,
      'correct apiServerCidrs (chart values: config.apiServerCidrs), e.g. 10.0.0.10/32 for one address',
    );
  }
  const cidrs = apiServerCidrs(egressContext(config, addresses ? { apiServerAddresses: addresses } : {}));
  if (cidrs.length === 0) {
    return fail(
      name,
      `${configSource} sets no apiServerCidrs and the ${SLICES} list no ready address: no NetworkPolicy lets CloudNativePG's instance managers reach the API server, so no database becomes ready`,
      "set apiServerCidrs to the addresses Pods reach the API server at: in the chart values, config.apiServerCidrs (e.g. --set 'config.apiServerCidrs={10.0.0.10/32}'); in an operator configuration file, the top-level apiServerCidrs",
    );
  }
  const origin = configured
    ? `configured (apiServerCidrs in ${configSource})`
    : `discovered from the ${SLICES} (${configSource} sets no apiServerCidrs)`;
  const loopback = cidrs.filter(isLoopback);
  const fixLoopback = configured
    ? 'set apiServerCidrs to addresses of the API server that Pods can route to (its nodes or load balancer)'
    : 'make kube-apiserver advertise an address Pods can route to (--advertise-address), or set apiServerCidrs (chart values: config.apiServerCidrs)';
  if (loopback.length === cidrs.length) {
    return fail(
      name,
      `${cidrs.join(', ')}, ${origin}: loopback only, which in a Pod is the Pod itself, so CloudNativePG's instance managers cannot reach the API server`,
      fixLoopback,
    );
  }
  if (loopback.length > 0) {
    return warn(
      name,
      `${cidrs.join(', ')}, ${origin}; ${loopback.join(', ')} ${loopback.length === 1 ? 'is' : 'are'} loopback, useless to Pods`,
      fixLoopback,
    );
  }
  return ok(name, `${cidrs.join(', ')}, ${origin}`);
}

export interface BackupTargetFacts {
  territory: string;
  /** spec.backup.destination.endpoint */
  endpoint: string;
}

/** The host the operator opens backup egress to (what the reconciler reports as destinationHost). */
function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).hostname;
  } catch {
    return endpoint;
  }
}

/**
 * Every Territory's backup host against backupEgress, asked of the operator's own backupEgressCidrs():
 * a host without CIDRs leaves its Territories' backups shut in (BackupReady=False,
 * BackupEgressNotAllowed). Then the configured CIDRs themselves, which the schema does not parse.
 */
export function checkBackupEgress(
  config: OperatorConfig,
  configSource: string,
  targets: BackupTargetFacts[],
): Check[] {
  const name = 'backup egress';
  const checks: Check[] = [];
  const hosts = new Map<string, { territories: string[]; cidrs: string[] }>();
  for (const t of targets) {
    const host = hostOf(t.endpoint);
    const entry = hosts.get(host) ?? {
      territories: [],
      cidrs: backupEgressCidrs(egressContext(config, { endpoint: t.endpoint })),
    };
    entry.territories.push(t.territory);
    hosts.set(host, entry);
  }
  const missing = [...hosts].filter(([, h]) => h.cidrs.length === 0).sort(([a], [b]) => a.localeCompare(b));
  const territoriesOf = (territories: string[]) =>
    territories.length === 1 ? `Territory ${territories[0]}` : `Territories ${listFirst(territories, 3)}`;

  if (targets.length === 0) {
    checks.push(
      ok(
        name,
        `no Territory yet; backupEgress in ${configSource} gives CIDRs for ${config.backupEgress.length} host(s)`,
      ),
    );
  } else if (missing.length > 0) {
    const shown = missing.slice(0, 5).map(([host, h]) => `${host} (${territoriesOf(h.territories)})`);
    const yaml = missing
      .slice(0, 12)
      .map(([host, h]) =>
        [
          `- host: ${stringifyYaml(host).trimEnd()}`,
          `  cidrs: ["<CIDR>"]  # the ranges your provider publishes for this host; ${territoriesOf(h.territories)}`,
        ].join('\n'),
      );
    if (missing.length > 12)
      yaml.push(`# and ${missing.length - 12} more hosts: -o json lists them all in missing`);
    checks.push({
      ...fail(
        name,
        `${missing.length} of ${hosts.size} backup host(s) have no backupEgress CIDRs in ${configSource}, so their Territories' backups cannot leave the namespace (BackupReady=False, BackupEgressNotAllowed): ${shown.join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`,
        `add under backupEgress: in the chart values (config.backupEgress; top level of an operator configuration file):\n${yaml.join('\n')}`,
      ),
      missing: missing.map(([host]) => host),
    });
  } else {
    const shown = [...hosts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([host, h]) => `${host} → ${h.cidrs.join(', ')}`);
    checks.push(
      ok(
        name,
        `the ${hosts.size} backup host(s) of ${targets.length} Territories have CIDRs: ${listFirst(shown, 5)}`,
      ),
    );
  }

  const invalid = config.backupEgress.flatMap((e) =>
    e.cidrs.flatMap((cidr) => {
      const problem = cidrProblem(cidr);
      return problem ? [`${e.host}: "${cidr}" (${problem})`] : [];
    }),
  );
  if (invalid.length > 0) {
    checks.push(
      fail(
        'backup egress CIDRs',
        `backupEgress in ${configSource} holds ${invalid.length === 1 ? 'an invalid CIDR' : `${invalid.length} invalid CIDRs`}: ${listFirst(invalid, 5)}; Kubernetes refuses the NetworkPolicy that opens egress to them, so backups to those hosts cannot leave`,
        'correct them under backupEgress: in the chart values (config.backupEgress), e.g. 198.51.100.0/24, or 198.51.100.7/32 for one address',
      ),
    );
  }
  return checks;
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
            ...(p.name ? { name: p.name } : {}),
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
  // Physical backups go through CloudNativePG's Barman Cloud plugin: only Territories that turn them on
  // need it, so its absence is a warning, not a failure.
  await step('Barman Cloud plugin', async () => {
    const name = 'objectstores.barmancloud.cnpg.io';
    const check = checkCrd(
      'Barman Cloud plugin',
      name,
      await getCrd(kube, name),
      `install ${BARMAN_CLOUD_PLUGIN_RELEASE} in CloudNativePG's namespace (with cert-manager or your own TLS Secrets); ` +
        'until then Territories with spec.backup.physical.enabled report BackupReady=False (BarmanCloudPluginNotInstalled)',
    );
    return check.verdict === 'fail' ? warn(check.name, check.detail, check.fix ?? '') : check;
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

  // The configuration judged: --config, else the operator's own, else the defaults. Read by the
  // hosting step; the egress steps judge the same one.
  let judged: { config: OperatorConfig; source: string } | undefined;
  const judgedConfig = () => {
    if (judged) return judged;
    throw new CliError('no operator configuration to judge', {
      hint: 'fix the operator configuration first (see the hosting attestation check)',
    });
  };
  await step('hosting attestation', async () => {
    const deployed = deployments[0];
    const own = !opts.config && deployed ? await deployedConfig(kube, deployed) : undefined;
    if (opts.config) {
      judged = { config: loadOperatorConfig(opts.config), source: opts.config };
    } else if (deployed && own) {
      judged = {
        config: own,
        source: `the configuration of ${deployed.metadata.namespace}/${deployed.metadata.name}`,
      };
    } else {
      judged = {
        config: loadOperatorConfig(undefined),
        source: 'the default configuration (no --config, no operator found)',
      };
    }
    const { items } = await kube.list({ apiVersion: 'v1', kind: 'Node' });
    const nodes = items.map((n) => ({
      name: n.metadata.name ?? '',
      region: n.metadata.labels?.[REGION_LABEL],
    }));
    return checkHosting(judged.config, judged.source, nodes);
  });

  let territoryList: Promise<KubeObject[]> | undefined;
  const territories = () => {
    territoryList ??= (async () =>
      (await kube.serves(API_VERSION, KIND))
        ? (await kube.list({ apiVersion: API_VERSION, kind: KIND })).items
        : [])();
    return territoryList;
  };

  await step('storage classes', async () => {
    const { items } = await kube.list({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass' });
    const classes = items.map((c) => ({
      name: c.metadata.name ?? '',
      isDefault: c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true',
    }));
    const wanted = (await territories()).map((t) => {
      const storageClass = (t.spec as { database?: { storage?: { storageClass?: string } } } | undefined)
        ?.database?.storage?.storageClass;
      return { territory: t.metadata.name ?? '', ...(storageClass ? { storageClass } : {}) };
    });
    return checkStorage(classes, wanted);
  });

  await step('API server egress', async () => {
    const { config, source } = judgedConfig();
    // Read only when the operator would: configured CIDRs replace the discovered addresses.
    const addresses =
      config.apiServerCidrs.length > 0
        ? undefined
        : apiServerAddresses((await kube.list(API_SERVER_SLICES)).items);
    return checkApiServerEgress(config, source, addresses);
  });

  await step('backup egress', async () => {
    const { config, source } = judgedConfig();
    const targets = (await territories()).map((t) => ({
      territory: t.metadata.name ?? '',
      endpoint:
        (t.spec as { backup?: { destination?: { endpoint?: string } } } | undefined)?.backup?.destination
          ?.endpoint ?? '',
    }));
    return checkBackupEgress(config, source, targets);
  });

  await step('RBAC', async () => {
    const deployment = deployments[0] ? deploymentFacts(deployments[0]) : undefined;
    const cluster = permissionsOf([
      ...operatorClusterRoleRules(),
      bindTenantRolesRule(judgedConfig().config.tenantRoles),
    ]);
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
      // A fix of several lines (YAML to add) is indented under its first.
      const fix =
        c.verdict !== 'ok' && c.fix
          ? `\n    ${style.bold('fix:')} ${c.fix.replaceAll('\n', '\n      ')}`
          : '';
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
