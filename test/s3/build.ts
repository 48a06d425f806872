// The real S3-compatible server the tests run against: Versity S3 Gateway (versitygw), posix
// backend, built from its Go module at the version pinned in test/s3/go.mod (a `tool`
// directive). Chosen over SeaweedFS because it publishes semver-tagged Go module releases (a
// pin reads v1.8.0, not a commit pseudo-version) and builds from ~90 modules instead of ~500,
// which matters on small CI machines; it implements the S3 calls we use, signed with SigV4.
//
// The binary is cached outside the repository, keyed by version:
//   ${TERRITORY_CACHE_DIR:-~/.cache/territory}/versitygw-<version>/versitygw
// Prebuild (CI): node test/s3/build.ts
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ensureGoTool,
  type GoToolSpec,
  goToolPath,
  isExecutable,
  pinnedModuleVersion,
} from '../support/go-tool.ts';

export const S3_MODULE_DIR = resolve(import.meta.dirname);
const MODULE = 'github.com/versity/versitygw';

export type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(`[s3] ${line}\n`);

const VERSITYGW: GoToolSpec = {
  name: 'versitygw',
  source: { kind: 'pinned', moduleDir: S3_MODULE_DIR, module: MODULE },
  binaries: [{ file: 'versitygw', goPackage: `${MODULE}/cmd/versitygw` }],
  ldflags: (version) => [`-X main.Version=${version}`, '-X main.Build=go-module'],
};

export function pinnedVersion(goMod = readFileSync(join(S3_MODULE_DIR, 'go.mod'), 'utf8')): string {
  return pinnedModuleVersion(goMod, MODULE, join(S3_MODULE_DIR, 'go.mod'));
}

export function s3ServerBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TERRITORY_S3_SERVER_BIN) return resolve(env.TERRITORY_S3_SERVER_BIN);
  return goToolPath(VERSITYGW, 'versitygw', env);
}

/** The cached binary, built first when missing (and Go is available). */
export async function ensureS3ServerBinary(
  opts: { env?: NodeJS.ProcessEnv; log?: Log; build?: boolean } = {},
): Promise<string> {
  const env = opts.env ?? process.env;
  const binary = s3ServerBinaryPath(env);
  if (env.TERRITORY_S3_SERVER_BIN) {
    if (await isExecutable(binary)) return binary;
    throw new Error(`TERRITORY_S3_SERVER_BIN=${binary} is not an executable file`);
  }
  await ensureGoTool(VERSITYGW, {
    env,
    log: opts.log ?? stderrLog,
    ...(opts.build === undefined ? {} : { build: opts.build }),
    notBuilt: ({ version, noGo }) =>
      `The S3 test server (versitygw ${version}) is not built: ${binary} is missing` +
      (noGo ? ` and ${noGo}` : '') +
      `. Build it once with \`node test/s3/build.ts\` (needs Go, the version in ${join(S3_MODULE_DIR, 'go.mod')} ` +
      'or newer, and access to the Go module proxy), or set TERRITORY_S3_SERVER_BIN to a versitygw binary.',
  });
  return binary;
}

if (import.meta.main) {
  try {
    const binary = await ensureS3ServerBinary();
    process.stdout.write(`${binary}\n`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
