// `npm run crds`: write the CRDs generated from the zod schemas, and the Helm chart's generated files (its
// CRD copies, the operator's RBAC rules, values.schema.json); `--check` only verifies the committed files
// are up to date (for CI), exiting 1 when one is stale.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFiles } from '../api/crd.ts';
import { chartGeneratedFiles } from '../rbac/chart-files.ts';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const files = [...crdFiles(), ...chartGeneratedFiles()];

if (process.argv.includes('--check')) {
  let stale = 0;
  for (const { path, content } of files) {
    const actual = await readFile(`${repositoryRoot}${path}`, 'utf8').catch(() => '');
    if (actual !== content) {
      console.error(`${path} is stale: run \`npm run crds\` and commit the result`);
      stale += 1;
    }
  }
  if (stale > 0) process.exit(1);
  console.log(`${files.length} generated files are up to date`);
} else {
  for (const { path, content } of files) {
    await mkdir(dirname(`${repositoryRoot}${path}`), { recursive: true });
    await writeFile(`${repositoryRoot}${path}`, content);
    console.log(`wrote ${path}`);
  }
}
