// The Territory CustomResourceDefinition, derived from the zod schema (never written by hand).
//
// zod emits JSON Schema; Kubernetes wants a *structural* OpenAPI v3 schema: every node typed, no
// $ref/anyOf-of-types, no `additionalProperties: false` (pruning does that job), integer formats,
// and bounded strings/lists so CEL cost estimation accepts the rules. `toStructural` does that
// translation and throws on any keyword it does not know, so a zod upgrade that emits something new
// fails the CRD generation instead of producing a CRD the API server rejects.

import { stringify } from 'yaml';
import * as z from 'zod';
import {
  API_VERSION,
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

function description(schema: z.ZodType): string {
  const text = schema.meta()?.description;
  if (typeof text !== 'string') throw new Error('the Territory schema must carry a description');
  return text;
}

/** The openAPIV3Schema of the Territory kind. */
export function territoryOpenApiSchema(): JsonSchema {
  return {
    type: 'object',
    description: description(TerritorySchema),
    properties: {
      apiVersion: {
        type: 'string',
        description: `APIVersion of this object: ${API_VERSION}.`,
      },
      kind: { type: 'string', description: `Kind of this object: ${KIND}.` },
      // The API server owns metadata's schema; a CRD may only restrict name and generateName. CEL
      // keeps this schema only when BOTH are typed (else it substitutes unbounded strings); the bounds
      // let CEL estimate the cost of the root rules. name stops at 63 (not the API server's 253)
      // because it is the value of the sovereign.dev/territory label on every owned object.
      metadata: {
        type: 'object',
        properties: {
          name: { type: 'string', maxLength: 63 },
          generateName: { type: 'string', maxLength: 253 },
        },
      },
      spec: toStructural(jsonSchemaOf(TerritorySpecSchema), 'spec'),
      status: toStructural(jsonSchemaOf(TerritoryStatusSchema), 'status'),
    },
    required: ['spec'],
    'x-kubernetes-validations': ROOT_RULES,
  };
}

const readyCondition = '.status.conditions[?(@.type=="Ready")]';

/** The whole CustomResourceDefinition object. */
export function territoryCrd(): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: {
        'app.kubernetes.io/name': 'territory-operator',
        'app.kubernetes.io/part-of': 'territory-operator',
      },
    },
    spec: {
      group: GROUP,
      scope: 'Cluster',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: ['terr'],
        categories: ['sovereign'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          // Field selectors let an operator instance (or a person) list one kind or level only.
          selectableFields: [{ jsonPath: '.spec.authority.kind' }, { jsonPath: '.spec.hosting.level' }],
          additionalPrinterColumns: [
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
          schema: { openAPIV3Schema: territoryOpenApiSchema() },
        },
      ],
    },
  };
}

const HEADER = [
  '# GENERATED FILE, DO NOT EDIT.',
  '# Generated from the zod schema in operator/src/api/territory.ts by `npm run crds`.',
  '# A unit test fails when this file is stale.',
].join('\n');

/** The exact content of crds/sovereign.dev_territories.yaml. */
export function renderCrdYaml(): string {
  return `${HEADER}\n${stringify(territoryCrd(), { lineWidth: 0 })}`;
}
