// The CustomResourceDefinitions (Territory, DatabasePool), derived from their zod schemas (never written
// by hand).
//
// zod emits JSON Schema; Kubernetes wants a *structural* OpenAPI v3 schema: every node typed, no
// $ref/anyOf-of-types, no `additionalProperties: false` (pruning does that job), integer formats,
// and bounded strings/lists so CEL cost estimation accepts the rules. `toStructural` does that
// translation and throws on any keyword it does not know, so a zod upgrade that emits something new
// fails the CRD generation instead of producing a CRD the API server rejects.

import { stringify } from 'yaml';
import * as z from 'zod';
import { type CelRule, POOL_NAME_MAX } from './patterns.ts';
import {
  DatabasePoolSchema,
  DatabasePoolSpecSchema,
  DatabasePoolStatusSchema,
  POOL_KIND,
  POOL_PLURAL,
  POOL_ROOT_RULES,
  POOL_SINGULAR,
} from './pool.ts';
import {
  GROUP,
  KIND,
  PLURAL,
  ROOT_RULES,
  SINGULAR,
  TerritorySchema,
  TerritorySpecSchema,
  TerritoryStatusSchema,
  VERSION,
} from './territory.ts';

export type JsonSchema = { [key: string]: unknown };

export const CRD_NAME = `${PLURAL}.${GROUP}`;
export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Keywords copied as they are (after their children are converted). */
const KEPT_KEYWORDS = new Set([
  'type',
  'description',
  'default',
  'enum',
  'pattern',
  'format',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minimum',
  'maximum',
  'required',
  'nullable',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
]);

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Turn one zod-emitted JSON Schema node (and its children) into a structural OpenAPI v3 node. */
export function toStructural(node: JsonSchema, path = ''): JsonSchema {
  const merged = mergeEnumUnion(node, path);
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(merged)) {
    if (key === '$schema') continue;
    if (key === 'properties') {
      if (!isObject(value)) throw new Error(`${path}: properties must be an object`);
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, child]) => {
          if (!isObject(child)) throw new Error(`${path}.${name}: schema must be an object`);
          return [name, toStructural(child, `${path}.${name}`)];
        }),
      );
    } else if (key === 'items') {
      if (!isObject(value)) throw new Error(`${path}[]: tuple items are not structural`);
      out.items = toStructural(value, `${path}[]`);
    } else if (key === 'additionalProperties') {
      // `false` comes from strict objects: the API server prunes unknown fields instead.
      if (value === false) continue;
      if (!isObject(value)) throw new Error(`${path}: additionalProperties must be a schema`);
      out.additionalProperties = toStructural(value, `${path}.*`);
    } else if (KEPT_KEYWORDS.has(key)) {
      out[key] = value;
    } else {
      throw new Error(`${path || '(root)'}: JSON Schema keyword "${key}" has no structural translation`);
    }
  }
  if (out.type === 'integer') setIntegerFormat(out);
  if (out.type === undefined)
    throw new Error(`${path || '(root)'}: every node of a structural schema needs a type`);
  return inReadingOrder(out);
}

/** Order in which a person reads a schema node in the YAML: what it is, its bounds, then its children. */
const READING_ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'nullable',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'required',
  'properties',
  'items',
  'additionalProperties',
  'x-kubernetes-validations',
];

function inReadingOrder(node: JsonSchema): JsonSchema {
  const rank = (key: string) => {
    const index = READING_ORDER.indexOf(key);
    return index === -1 ? READING_ORDER.length : index;
  };
  return Object.fromEntries(Object.entries(node).sort(([a], [b]) => rank(a) - rank(b)));
}

/** zod writes a union of literals (e.g. postgresVersion "15" | "16") as anyOf of enums: fold them. */
function mergeEnumUnion(node: JsonSchema, path: string): JsonSchema {
  const branches = node.anyOf;
  if (branches === undefined) return node;
  if (!Array.isArray(branches) || branches.length === 0) throw new Error(`${path}: empty anyOf`);
  const types = new Set<unknown>();
  const values: unknown[] = [];
  for (const branch of branches) {
    if (!isObject(branch) || !Array.isArray(branch.enum)) {
      throw new Error(`${path}: anyOf is only supported for unions of literals`);
    }
    types.add(branch.type);
    values.push(...branch.enum);
  }
  if (types.size !== 1) throw new Error(`${path}: anyOf mixes types, which is not structural`);
  const { anyOf: _anyOf, ...rest } = node;
  return { ...rest, type: [...types][0], enum: values };
}

/** int32 when the bounds fit (what the API server and clients expect for small counts), else int64. */
function setIntegerFormat(node: JsonSchema): void {
  const min = typeof node.minimum === 'number' ? node.minimum : Number.MIN_SAFE_INTEGER;
  const max = typeof node.maximum === 'number' ? node.maximum : Number.MAX_SAFE_INTEGER;
  // zod's "safe integer" bounds only say "a JS number": they mean nothing to Kubernetes.
  if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
  if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
  node.format = min >= INT32_MIN && max <= INT32_MAX ? 'int32' : 'int64';
}

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  // io: 'input' so fields with a default are optional (the API server fills them in).
  return z.toJSONSchema(schema, {
    io: 'input',
    target: 'openapi-3.0',
    unrepresentable: 'throw',
  }) as JsonSchema;
}

/** What one kind's CRD is made of: its names, its zod schemas, and how kubectl lists it. */
export interface CrdSource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  /** The module holding the zod schema, named in the generated file's header. */
  module: string;
  /** The whole object's schema: its description becomes the CRD's. */
  schema: z.ZodType;
  spec: z.ZodType;
  status: z.ZodType;
  /** Rules on the whole object: the only place CEL sees metadata.name beside the spec. */
  rootRules: CelRule[];
  /** metadata.name's bound, when the name ends up in a label value or a derived name. */
  nameMaxLength: number;
  selectableFields?: { jsonPath: string }[];
  printerColumns: Record<string, unknown>[];
}

function description(source: CrdSource): string {
  const text = source.schema.meta()?.description;
  if (typeof text !== 'string') throw new Error(`the ${source.kind} schema must carry a description`);
  return text;
}

/** The openAPIV3Schema of a kind. */
export function openApiSchemaOf(source: CrdSource): JsonSchema {
  return {
    type: 'object',
    description: description(source),
    properties: {
      apiVersion: {
        type: 'string',
        description: `APIVersion of this object: ${source.group}/${source.version}.`,
      },
      kind: { type: 'string', description: `Kind of this object: ${source.kind}.` },
      // The API server owns metadata's schema; a CRD may only restrict name and generateName. CEL
      // keeps this schema only when BOTH are typed (else it substitutes unbounded strings); the bounds
      // let CEL estimate the cost of the root rules.
      metadata: {
        type: 'object',
        properties: {
          name: { type: 'string', maxLength: source.nameMaxLength },
          generateName: { type: 'string', maxLength: 253 },
        },
      },
      spec: toStructural(jsonSchemaOf(source.spec), 'spec'),
      status: toStructural(jsonSchemaOf(source.status), 'status'),
    },
    required: ['spec'],
    'x-kubernetes-validations': source.rootRules,
  };
}

/** The name of a kind's CRD, and the file `npm run crds` writes it to. */
export const crdNameOf = (source: CrdSource) => `${source.plural}.${source.group}`;
export const crdFileOf = (source: CrdSource) => `crds/${source.group}_${source.plural}.yaml`;

/** The whole CustomResourceDefinition object of a kind. */
export function crdOf(source: CrdSource): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: crdNameOf(source),
      labels: {
        'app.kubernetes.io/name': 'territory-operator',
        'app.kubernetes.io/part-of': 'territory-operator',
      },
    },
    spec: {
      group: source.group,
      scope: 'Cluster',
      names: {
        kind: source.kind,
        listKind: `${source.kind}List`,
        plural: source.plural,
        singular: source.singular,
        shortNames: source.shortNames,
        categories: source.categories,
      },
      versions: [
        {
          name: source.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          ...(source.selectableFields ? { selectableFields: source.selectableFields } : {}),
          additionalPrinterColumns: source.printerColumns,
          schema: { openAPIV3Schema: openApiSchemaOf(source) },
        },
      ],
    },
  };
}

/** The exact content of a kind's CRD file. */
export function renderCrdYamlOf(source: CrdSource): string {
  const header = [
    '# GENERATED FILE, DO NOT EDIT.',
    `# Generated from the zod schema in ${source.module} by \`npm run crds\`.`,
    '# A unit test fails when this file is stale.',
  ].join('\n');
  return `${header}\n${stringify(crdOf(source), { lineWidth: 0 })}`;
}

export const readyCondition = '.status.conditions[?(@.type=="Ready")]';

export const TERRITORY_CRD: CrdSource = {
  group: GROUP,
  version: VERSION,
  kind: KIND,
  plural: PLURAL,
  singular: SINGULAR,
  shortNames: ['terr'],
  categories: ['sovereign'],
  module: 'operator/src/api/territory.ts',
  schema: TerritorySchema,
  spec: TerritorySpecSchema,
  status: TerritoryStatusSchema,
  rootRules: ROOT_RULES,
  // Not the API server's 253: the name is the value of the sovereign.dev/territory label on every owned
  // object, and label values stop at 63.
  nameMaxLength: 63,
  // Field selectors let an operator instance (or a person) list one kind or level only.
  selectableFields: [{ jsonPath: '.spec.authority.kind' }, { jsonPath: '.spec.hosting.level' }],
  printerColumns: [
    { name: 'Authority', type: 'string', jsonPath: '.spec.authority.kind' },
    { name: 'Code', type: 'string', jsonPath: '.spec.authority.code' },
    { name: 'Name', type: 'string', jsonPath: '.status.authority.officialName' },
    { name: 'Level', type: 'string', jsonPath: '.spec.hosting.level' },
    { name: 'Ready', type: 'string', jsonPath: `${readyCondition}.status` },
    { name: 'Reason', type: 'string', jsonPath: `${readyCondition}.reason` },
    // A date column prints as an age: how long since the last encrypted backup succeeded.
    {
      name: 'Last-Backup',
      type: 'date',
      jsonPath: '.status.backup.logical.lastSuccessful',
      priority: 1,
    },
    { name: 'Backup', type: 'string', jsonPath: '.status.backup.logical.state', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};

/** The openAPIV3Schema of the Territory kind. */
export const territoryOpenApiSchema = (): JsonSchema => openApiSchemaOf(TERRITORY_CRD);

/** The Territory's CustomResourceDefinition object. */
export const territoryCrd = (): JsonSchema => crdOf(TERRITORY_CRD);

/** The exact content of crds/sovereign.dev_territories.yaml. */
export const renderCrdYaml = (): string => renderCrdYamlOf(TERRITORY_CRD);

export const DATABASE_POOL_CRD: CrdSource = {
  group: GROUP,
  version: VERSION,
  kind: POOL_KIND,
  plural: POOL_PLURAL,
  singular: POOL_SINGULAR,
  shortNames: ['dbpool'],
  categories: ['sovereign'],
  module: 'operator/src/api/pool.ts',
  schema: DatabasePoolSchema,
  spec: DatabasePoolSpecSchema,
  status: DatabasePoolStatusSchema,
  rootRules: POOL_ROOT_RULES,
  // The name of the pool's CloudNativePG Cluster, which CloudNativePG keeps to 50 characters.
  nameMaxLength: POOL_NAME_MAX,
  printerColumns: [
    { name: 'Namespace', type: 'string', jsonPath: '.spec.namespace' },
    { name: 'Tenants', type: 'integer', jsonPath: '.status.tenants' },
    { name: 'Max-Tenants', type: 'integer', jsonPath: '.spec.maxTenants' },
    { name: 'Level', type: 'string', jsonPath: '.spec.hosting.level' },
    { name: 'Ready', type: 'string', jsonPath: `${readyCondition}.status` },
    { name: 'Reason', type: 'string', jsonPath: `${readyCondition}.reason`, priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};

/** Every kind the operator defines, in the order their files are written. */
export const CRD_SOURCES: readonly CrdSource[] = [TERRITORY_CRD, DATABASE_POOL_CRD];

/** The CRD files of crds/, as `npm run crds` writes them. */
export function crdFiles(): { path: string; content: string }[] {
  return CRD_SOURCES.map((source) => ({ path: crdFileOf(source), content: renderCrdYamlOf(source) }));
}
