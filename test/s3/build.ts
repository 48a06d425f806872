// The real S3-compatible server the tests run against: Versity S3 Gateway (versitygw), posix
// backend, built from its Go module at the version pinned in test/s3/go.mod (a `tool`
// directive). Chosen over SeaweedFS because it publishes semver-tagged Go module releases (a
// pin reads v1.8.0, not a commit pseudo-version) and builds from ~90 modules instead of ~500,
// which matters on small CI machines; it implements the S3 calls we use, signed with SigV4.
//
// The binary is cached outside the repository, keyed by version:
//   ${TERRITORY_CACHE_DIR:-~/.cache/territory}/versitygw-<version>/versitygw
// Prebuild (CI): node test/s3/build.ts
import { spawn, spawnSync } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cacheRoot, formatDuration } from '../controlplane/binaries.ts';

export const S3_MODULE_DIR = resolve(import.meta.dirname);
const MODULE = 'github.com/versity/versitygw';
const PACKAGE = `${MODULE}/cmd/versitygw`;

export type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(`[s3] ${line}\n`);

export function pinnedVersion(goMod = readFileSync(join(S3_MODULE_DIR, 'go.mod'), 'utf8')): string {
  const m = /^\s*(?:require\s+)?github\.com\/versity\/versitygw\s+(v\S+)/m.exec(goMod);
  if (!m?.[1]) throw new Error(`${MODULE} is not required in ${join(S3_MODULE_DIR, 'go.mod')}`);
  return m[1];
}

export function s3ServerBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TERRITORY_S3_SERVER_BIN) return resolve(env.TERRITORY_S3_SERVER_BIN);
  return join(cacheRoot(env), `versitygw-${pinnedVersion()}`, 'versitygw');
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findGo(env: NodeJS.ProcessEnv): string | undefined {
  for (const candidate of [env.GO, 'go', '/usr/local/go/bin/go']) {
    if (candidate && spawnSync(candidate, ['version'], { env }).status === 0) return candidate;
  }
  return undefined;
}

/** The cached binary, built first when missing (and Go is available). */
export async function ensureS3ServerBinary(
  opts: { env?: NodeJS.ProcessEnv; log?: Log; build?: boolean } = {},
): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLog;
  const binary = s3ServerBinaryPath(env);
  if (await isExecutable(binary)) return binary;
  if (env.TERRITORY_S3_SERVER_BIN) {
    throw new Error(`TERRITORY_S3_SERVER_BIN=${binary} is not an executable file`);
  }
  const go = findGo(env);
  if (opts.build === false || go === undefined) {
    throw new Error(
      `The S3 test server (versitygw ${pinnedVersion()}) is not built: ${binary} is missing` +
        (go === undefined ? ' and no Go toolchain was found to build it' : '') +
        `. Build it once with \`node test/s3/build.ts\` (needs Go, the version in ${join(S3_MODULE_DIR, 'go.mod')} ` +
        'or newer, and access to the Go module proxy), or set TERRITORY_S3_SERVER_BIN to a versitygw binary.',
    );
  }
  await build(go, binary, env, log);
  return binary;
}

/** go build into a private staging folder, then rename into place: never a half-written cache. */
async function build(go: string, binary: string, env: NodeJS.ProcessEnv, log: Log): Promise<void> {
  const version = pinnedVersion();
  const finalDir = resolve(binary, '..');
  const staging = `${finalDir}.build-${process.pid}-${Date.now()}`;
  await mkdir(staging, { recursive: true });
  const started = Date.now();
  log(`building versitygw ${version} from ${S3_MODULE_DIR} into ${finalDir}`);
  try {
    const args = [
      'build',
      '-v',
      '-trimpath',
      `-ldflags=-s -w -X main.Version=${version} -X main.Build=go-module`,
      '-o',
      join(staging, 'versitygw'),
      PACKAGE,
    ];
    const child = spawn(go, args, { cwd: S3_MODULE_DIR, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let compiled = 0;
    let last = '';
    const tail: string[] = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        // With -v, go prints each package it compiles (cached ones are silent).
        if (/^[\w.-]+(\/[\w.~-]+)*$/.test(line)) {
          compiled += 1;
          last = line;
        }
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    });
    const ticker = setInterval(
      () =>
        log(
          `  still building: ${formatDuration(Date.now() - started)}, ${compiled} packages compiled, last ${last}`,
        ),
      20_000,
    );
    const code = await new Promise<number | null>((ok, fail) => {
      child.once('error', fail);
      child.once('exit', ok);
    }).finally(() => clearInterval(ticker));
    if (code !== 0) throw new Error(`go build of ${PACKAGE} failed (exit ${code}):\n${tail.join('\n')}`);
    await rm(finalDir, { recursive: true, force: true });
    await rename(staging, finalDir);
    log(
      `built versitygw ${version} in ${formatDuration(Date.now() - started)} (${compiled} packages compiled)`,
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
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
