// `npm run crds`: write the CRD generated from the zod schema; `--check` only verifies the
// committed file is up to date (for CI), exiting 1 when it is stale.

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, renderCrdYaml } from '../api/crd.ts';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const target = `${repositoryRoot}${CRD_FILE}`;
const expected = renderCrdYaml();

if (process.argv.includes('--check')) {
  const actual = await readFile(target, 'utf8').catch(() => '');
  if (actual !== expected) {
    console.error(`${CRD_FILE} is stale: run \`npm run crds\` and commit the result`);
    process.exit(1);
  }
  console.log(`${CRD_FILE} is up to date`);
} else {
  await writeFile(target, expected);
  console.log(`wrote ${CRD_FILE}`);
}
