import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { crdFiles } from '../api/crd.ts';
import { parseOperatorConfig } from '../config/operator-config.ts';
import { CHART_DIR, chartGeneratedFiles } from './chart-files.ts';
import { operatorClusterRoleRules } from './operator-rbac.ts';
import { chartValuesSchema, operatorConfigJsonSchema } from './values-schema.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

describe("the Helm chart's generated files", () => {
  for (const file of chartGeneratedFiles()) {
    it(`${file.path} is what \`npm run crds\` generates today`, () => {
      let committed = '';
      try {
        committed = read(file.path);
      } catch {
        // missing: reported below as stale
      }
      expect(committed === file.content, `${file.path} is stale: run \`npm run crds\` and commit it`).toBe(
        true,
      );
    });
  }

  it("holds the same CRDs as the repository's crds/", () => {
    const chartCrds = chartGeneratedFiles().filter((f) => f.path.startsWith(`${CHART_DIR}/crds/`));
    expect(chartCrds.map((f) => f.path)).toEqual(crdFiles().map((f) => `${CHART_DIR}/${f.path}`));
    expect(chartCrds.map((f) => f.content)).toEqual(crdFiles().map((f) => f.content));
  });

  it('writes the ClusterRole rules as YAML that parses back to the computed rules', () => {
    const rules = chartGeneratedFiles().find((f) => f.path.endsWith('clusterrole-rules.yaml'));
    expect(parseYaml(rules?.content ?? '')).toEqual(operatorClusterRoleRules());
  });

  it("uses the package's version as the chart's appVersion (the default image tag)", () => {
    const chart = parseYaml(read(`${CHART_DIR}/Chart.yaml`)) as { appVersion: string; version: string };
    const pkg = JSON.parse(read('package.json')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
  });
});

describe('values.schema.json', () => {
  it("describes the config with the operator configuration's own schema", () => {
    const config = operatorConfigJsonSchema();
    const properties = config.properties as Record<string, unknown>;
    expect(Object.keys(properties)).toEqual(
      expect.arrayContaining(['cluster', 'providers', 'backupEgress', 'apiServerCidrs', 'shardSelector']),
    );
    // zod would silently drop an unknown key; the chart refuses it.
    expect(config.additionalProperties).toBe(false);
    expect((properties.cluster as Record<string, unknown>).additionalProperties).toBe(false);
  });

  it("has defaults in values.yaml that the operator's parser accepts and the schema covers", () => {
    const values = parseYaml(read(`${CHART_DIR}/values.yaml`)) as Record<string, unknown>;
    expect(() => parseOperatorConfig(values.config)).not.toThrow();
    const top = Object.keys(chartValuesSchema().properties as Record<string, unknown>);
    expect(Object.keys(values).filter((k) => !top.includes(k))).toEqual([]);
  });
});

describe("the chart's admission policies", () => {
  it("pin the databases to the operator's default PostgreSQL image when the values set none", () => {
    const helpers = read(`${CHART_DIR}/templates/_helpers.tpl`);
    expect(helpers).toContain(
      `default "${parseOperatorConfig({}).postgresImage}" .Values.config.postgresImage`,
    );
  });
});
