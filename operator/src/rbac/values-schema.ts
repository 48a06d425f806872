// The Helm chart's values.schema.json. Its `config` part IS the operator configuration's zod schema
// (operator/src/config/operator-config.ts), converted to JSON Schema, so `helm install` rejects a
// configuration the operator would refuse at start, before any pod is scheduled. The rest describes the
// chart's own knobs. Draft-07: the JSON Schema version every Helm 3 and 4 release validates.
import { z } from 'zod';
import { OperatorConfigSchema } from '../config/operator-config.ts';

type Schema = Record<string, unknown>;

/**
 * zod strips unknown keys, so a typo in the configuration (`qualifcation`) would be silently ignored by
 * the operator; in the chart it is refused instead: every object of the config gets additionalProperties false.
 */
function closeObjects(node: unknown): void {
  if (Array.isArray(node)) {
    for (const child of node) closeObjects(child);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as Schema;
  if (schema.type === 'object' && schema.properties && schema.additionalProperties === undefined) {
    schema.additionalProperties = false;
  }
  for (const value of Object.values(schema)) closeObjects(value);
}

export function operatorConfigJsonSchema(): Schema {
  const schema = z.toJSONSchema(OperatorConfigSchema, { io: 'input', target: 'draft-07' }) as Schema;
  delete schema.$schema;
  closeObjects(schema);
  return {
    ...schema,
    description:
      'The operator configuration (OperatorConfig), mounted as a ConfigMap. operatorImage defaults to the chart image.',
  };
}

const str = (description: string): Schema => ({ type: 'string', description });
const bool = (description: string): Schema => ({ type: 'boolean', description });
const map = (description: string): Schema => ({
  type: 'object',
  additionalProperties: { type: 'string' },
  description,
});
const anyObject = (description: string): Schema => ({ type: 'object', description });
const anyArray = (description: string): Schema => ({ type: 'array', description });
const quantity: Schema = { type: ['string', 'number'] };
const resourceList: Schema = {
  type: 'object',
  additionalProperties: quantity,
};

export function chartValuesSchema(): Schema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'territory-operator chart values',
    type: 'object',
    additionalProperties: false,
    properties: {
      global: anyObject('Values shared with parent charts (unused here).'),
      nameOverride: str('Replaces the chart name in resource names.'),
      fullnameOverride: str('Replaces the full resource name prefix.'),
      replicaCount: {
        type: 'integer',
        minimum: 1,
        description: 'Operator pods. One leads (Lease), the others stand by; 2 survives a node drain.',
      },
      image: {
        type: 'object',
        additionalProperties: false,
        required: ['repository'],
        properties: {
          repository: { type: 'string', minLength: 1, description: 'Image repository (your registry).' },
          tag: str('Image tag; empty means the chart appVersion.'),
          digest: str('Image digest (sha256:...); wins over the tag when set.'),
          pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'] },
        },
      },
      imagePullSecrets: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' } },
        },
      },
      serviceAccount: {
        type: 'object',
        additionalProperties: false,
        properties: {
          create: bool('Create the ServiceAccount.'),
          name: str('ServiceAccount name; empty means the full name.'),
          annotations: map('Annotations of the ServiceAccount.'),
        },
      },
      rbac: {
        type: 'object',
        additionalProperties: false,
        properties: {
          create: bool('Create the ClusterRole/Role and bindings (generated from the operator code).'),
        },
      },
      admissionPolicies: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: bool("Install the chart's ValidatingAdmissionPolicies (Kubernetes 1.30+)."),
          platformGroups: {
            type: 'array',
            items: { type: 'string', minLength: 1 },
            description: 'Groups that may still change platform-managed objects in Territory namespaces.',
          },
          platformUsers: {
            type: 'array',
            items: { type: 'string', minLength: 1 },
            description: 'Users that may still change platform-managed objects in Territory namespaces.',
          },
          tenantIngressDomain: {
            type: 'string',
            pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$',
            description:
              'Territories may declare Ingress hosts <territory>.<this domain> and below; empty: none.',
          },
        },
      },
      networkPolicy: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: bool("Install the operator Pods' NetworkPolicy."),
          apiServerCidrs: {
            type: 'array',
            items: { type: 'string', minLength: 1 },
            description: 'API server CIDRs; empty: read from the cluster at install.',
          },
          apiServerPorts: {
            type: 'array',
            items: { type: 'integer', minimum: 1, maximum: 65535 },
            description: 'Ports the API server listens on; empty: read from the cluster at install.',
          },
          backupPorts: {
            type: 'array',
            items: { type: 'integer', minimum: 1, maximum: 65535 },
            description:
              'Ports of the backup endpoints, opened at the CIDRs of config.backupEgress (the operator erases ' +
              'physical backups of deleted Territories); empty: 443.',
          },
          metricsFrom: anyArray('NetworkPolicyPeers allowed to reach the health port; empty: any.'),
          dnsNamespace: { type: 'string', minLength: 1, description: 'Namespace of the cluster DNS.' },
        },
      },
      leaderElection: {
        type: 'object',
        additionalProperties: false,
        properties: { enabled: bool('Pass --leader-elect (needed with more than one replica).') },
      },
      healthPort: {
        type: 'integer',
        minimum: 1,
        maximum: 65535,
        description: '/healthz, /readyz, /metrics.',
      },
      extraArgs: { type: 'array', items: { type: 'string' }, description: 'Extra manager flags.' },
      extraEnv: anyArray('Extra environment variables (EnvVar objects).'),
      nodeOptions: {
        type: 'string',
        description: 'NODE_OPTIONS of the manager: V8 heap bounds kept under resources.limits.memory.',
      },
      glibcTunables: {
        type: 'string',
        description: "GLIBC_TUNABLES of the manager: the native allocator's settings.",
      },
      resources: {
        type: 'object',
        additionalProperties: false,
        properties: { requests: resourceList, limits: resourceList },
      },
      podAnnotations: map('Annotations of the operator pods.'),
      podLabels: map('Extra labels of the operator pods.'),
      priorityClassName: str('PriorityClass of the operator pods.'),
      nodeSelector: map('Node selector of the operator pods.'),
      tolerations: anyArray('Tolerations of the operator pods.'),
      affinity: anyObject('Affinity; empty means a preferred spread of replicas across nodes.'),
      topologySpreadConstraints: anyArray('Topology spread constraints of the operator pods.'),
      podDisruptionBudget: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: bool('Create a PodDisruptionBudget (when replicaCount > 1).'),
          minAvailable: {
            type: ['integer', 'string'],
            description: 'Pods kept during voluntary disruptions.',
          },
        },
      },
      metrics: {
        type: 'object',
        additionalProperties: false,
        properties: {
          service: {
            type: 'object',
            additionalProperties: false,
            properties: { enabled: bool('A ClusterIP Service in front of /metrics.') },
          },
        },
      },
      serviceMonitor: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: bool('Create a Prometheus Operator ServiceMonitor (its CRD must be installed).'),
          interval: str('Scrape interval, e.g. 30s.'),
          scrapeTimeout: str('Scrape timeout, e.g. 10s.'),
          labels: map('Labels the Prometheus instance selects ServiceMonitors by.'),
        },
      },
      config: operatorConfigJsonSchema(),
    },
  };
}
