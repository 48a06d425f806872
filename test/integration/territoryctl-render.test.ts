// `territoryctl render examples/<each>.yaml` prints manifests the real API server accepts: every
// object passes a server-side dry-run against the Territory CRD and CloudNativePG's own CRDs (the
// namespace is created for real first, since namespaced objects need it). Each example is rendered
// under a unique name, as the test control plane is shared.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { readExamples } from '../../operator/src/api/test-fixtures.ts';
import { uniqueName } from '../support/kube.ts';
import { installCrds, kubectl, ok, territoryctl } from './territoryctl-support.ts';

const namespaces: string[] = [];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'territoryctl-render-'));
  await installCrds();
});

afterAll(async () => {
  for (const ns of namespaces)
    await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
});

describe('territoryctl render, checked by a server-side dry-run', () => {
  it('renders the example file as it is, with exit code 0', async () => {
    const r = ok(await territoryctl(['render', 'examples/commune-acigne.yaml']), 'render');
    expect(r.stdout).toContain('# Territory acigne: commune 35001, Acigné');
  });

  for (const { file, manifest } of readExamples()) {
    it(`${file}: every rendered object is accepted by the API server`, async () => {
      const copy = structuredClone(manifest) as { metadata: { name: string }; spec: { namespace?: string } };
      copy.metadata.name = uniqueName(copy.metadata.name.slice(0, 40));
      if (copy.spec.namespace) copy.spec.namespace = uniqueName(copy.spec.namespace);
      const ns = copy.spec.namespace ?? copy.metadata.name;
      const path = join(dir, file);
      await writeFile(path, stringify(copy));

      const yaml = ok(await territoryctl(['render', path]), `render ${file}`).stdout;
      const docs = parseAllDocuments(yaml).map(
        (d) => d.toJS() as { kind: string; metadata: { name: string } },
      );
      expect(docs[0]?.kind).toBe('Namespace');
      expect(docs.map((d) => d.kind)).toContain('Cluster');

      // The namespace for real (a dry-run of namespaced objects needs it), then everything dry-run.
      ok(
        await kubectl(
          ['apply', '--server-side', '--field-manager=territoryctl-test', '-f', '-'],
          stringify(docs[0]),
        ),
        'create namespace',
      );
      namespaces.push(ns);
      const dry = ok(
        await kubectl(
          ['apply', '--server-side', '--dry-run=server', '--field-manager=territory-operator', '-f', '-'],
          yaml,
        ),
        `server-side dry-run of ${file}`,
      );
      const accepted = dry.stdout.trim().split('\n');
      expect(accepted).toHaveLength(docs.length);
      for (const line of accepted) expect(line).toMatch(/ serverside-applied \(server dry run\)$/);
      for (const d of docs) {
        expect(dry.stdout, `${d.kind} ${d.metadata.name} not in the dry-run output`).toContain(
          `/${d.metadata.name} `,
        );
      }

      // The JSON form (a v1 List) is accepted the same way.
      const json = ok(await territoryctl(['render', '-o', 'json', path]), `render -o json ${file}`).stdout;
      const dryJson = ok(
        await kubectl(
          ['apply', '--server-side', '--dry-run=server', '--field-manager=territory-operator', '-f', '-'],
          json,
        ),
        `server-side dry-run of the JSON of ${file}`,
      );
      expect(dryJson.stdout.trim().split('\n')).toHaveLength(docs.length);
    });
  }
});
