import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CRD_SOURCES,
  crdFileOf,
  crdOf,
  type JsonSchema,
  openApiSchemaOf,
  renderCrdYamlOf,
  territoryCrd,
  territoryOpenApiSchema,
  toStructural,
} from './crd.ts';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Visit every schema node under `node` with its path. */
function walk(node: JsonSchema, path: string, visit: (node: JsonSchema, path: string) => void): void {
  visit(node, path);
  const properties = (node.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, child] of Object.entries(properties)) walk(child, `${path}.${name}`, visit);
  if (node.items) walk(node.items as JsonSchema, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object')
    walk(node.additionalProperties as JsonSchema, `${path}.*`, visit);
}

function specAndStatus(schema: JsonSchema = territoryOpenApiSchema()): {
  spec: JsonSchema;
  status: JsonSchema;
} {
  const properties = schema.properties as Record<string, JsonSchema>;
  if (!properties.spec || !properties.status) throw new Error('spec and status must be in the schema');
  return { spec: properties.spec, status: properties.status };
}

for (const source of CRD_SOURCES) {
  describe(`the ${source.kind} CRD`, () => {
    const file = crdFileOf(source);
    const schema = openApiSchemaOf(source);

    it(`${file} is what \`npm run crds\` generates today`, () => {
      const committed = readFileSync(`${repositoryRoot}${file}`, 'utf8');
      expect(
        committed === renderCrdYamlOf(source),
        `${file} is stale: run \`npm run crds\` and commit it`,
      ).toBe(true);
    });

    it('describes every spec field', () => {
      const missing: string[] = [];
      walk(specAndStatus(schema).spec, 'spec', (node, path) => {
        if (!path.endsWith('[]') && typeof node.description !== 'string') missing.push(path);
      });
      expect(missing).toEqual([]);
    });

    it('bounds every string and list, so CEL cost estimation accepts the rules', () => {
      const unbounded: string[] = [];
      const { spec, status } = specAndStatus(schema);
      for (const [root, name] of [
        [spec, 'spec'],
        [status, 'status'],
      ] as const) {
        walk(root, name, (node, path) => {
          if (node.type === 'string' && node.maxLength === undefined && node.enum === undefined)
            unbounded.push(path);
          if (node.type === 'array' && node.maxItems === undefined) unbounded.push(path);
        });
      }
      expect(unbounded).toEqual([]);
    });

    it('is structural: typed nodes only, no $ref/anyOf/additionalProperties:false, integers with a format', () => {
      walk(schema, '', (node, path) => {
        expect(node.type, path).toBeDefined();
        for (const forbidden of ['$ref', '$schema', 'anyOf', 'oneOf', 'allOf', 'const']) {
          expect(node[forbidden], `${path} ${forbidden}`).toBeUndefined();
        }
        expect(node.additionalProperties, path).not.toBe(false);
        if (node.type === 'integer') expect(['int32', 'int64'], path).toContain(node.format);
      });
    });

    it('is cluster-scoped, in the sovereign category, with a status subresource', () => {
      const crd = crdOf(source) as {
        spec: Record<string, unknown> & { versions: Record<string, unknown>[] };
      };
      expect(crd.spec.scope).toBe('Cluster');
      expect(crd.spec.names).toMatchObject({ kind: source.kind, categories: ['sovereign'] });
      expect(crd.spec.versions[0]).toMatchObject({ subresources: { status: {} } });
    });
  });
}

describe('the Territory CRD', () => {
  it('keeps the defaults the API server must apply', () => {
    const { spec } = specAndStatus();
    const properties = spec.properties as Record<string, JsonSchema>;
    expect(properties.hosting?.default).toEqual({});
    expect(properties.deletionPolicy?.default).toBe('Retain');
    expect(spec.required).toEqual(['authority', 'controller', 'backup']);
  });

  it('is cluster-scoped with status subresource, short name, category and printer columns', () => {
    const crd = territoryCrd() as { spec: Record<string, unknown> & { versions: Record<string, unknown>[] } };
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({
      kind: 'Territory',
      plural: 'territories',
      shortNames: ['terr'],
      categories: ['sovereign'],
    });
    const [version] = crd.spec.versions;
    expect(version).toMatchObject({
      name: 'v1alpha1',
      served: true,
      storage: true,
      subresources: { status: {} },
    });
    const columns = ((version?.additionalPrinterColumns ?? []) as { name: string }[]).map((c) => c.name);
    expect(columns).toEqual([
      'Authority',
      'Code',
      'Name',
      'Level',
      'Ready',
      'Reason',
      'Last-Backup',
      'Backup',
      'Age',
    ]);
  });
});

describe('toStructural', () => {
  it('folds a union of literals into one enum and types integers', () => {
    expect(
      toStructural({
        anyOf: [
          { type: 'string', enum: ['15'] },
          { type: 'string', enum: ['16'] },
        ],
        description: 'v',
      }),
    ).toEqual({ description: 'v', type: 'string', enum: ['15', '16'] });
    expect(
      toStructural({ type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
    ).toEqual({
      type: 'integer',
      format: 'int64',
    });
    expect(toStructural({ type: 'integer', minimum: 1, maximum: 9 })).toEqual({
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: 9,
    });
  });

  it('refuses what Kubernetes would refuse, naming the path', () => {
    expect(() => toStructural({ type: 'object', properties: { a: { $ref: '#/x' } } })).toThrow(
      /\.a: JSON Schema keyword "\$ref"/,
    );
    expect(() =>
      toStructural({
        anyOf: [
          { type: 'string', enum: ['a'] },
          { type: 'integer', enum: [1] },
        ],
      }),
    ).toThrow(/mixes types/);
    expect(() => toStructural({ description: 'untyped' })).toThrow(/needs a type/);
  });
});
