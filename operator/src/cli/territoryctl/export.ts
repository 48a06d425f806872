// `territoryctl export NAME`: the reversibility bundle an authority takes with it (SecNumCloud 19.1,
// GDPR art. 28.3.g): its Territory and managed manifests, its latest backup, a SHA256SUMS manifest
// and a README in French and English saying how to restore anywhere.
//
// The backup is either DECRYPTED into a plain pg_dump custom-format file (the default: readable by
// any PostgreSQL without us), or KEPT ENCRYPTED (--keep-encrypted) together with the keyring that
// opens it. A keyring wrapped by the authority's own key stays wrapped (that key is never exported:
// the authority already holds it and must supply it to decrypt); an unwrapped keyring is the key
// itself, and the README says the bundle must then be guarded like the data. Secret values other
// than that keyring are never exported (S3 and database credentials belong to the old platform).
//
// The object is downloaded once, to disk, its sha256 checked against the one recorded at backup
// time, then authenticated chunk by chunk while decrypting; the bundle is assembled in a
// `.partial` folder renamed at the end, so an interrupted export never looks complete.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { stringify as toYaml } from 'yaml';
import { lookupAuthority } from '../../api/geography.ts';
import { parseTerritory, type Territory, territoryNamespace } from '../../api/territory.ts';
import { BackupFormatError, checkBinding, DecryptStream, parseHeader } from '../../backup/format.ts';
import { ByteMeter } from '../../backup/streams.ts';
import type { BuildContext } from '../../builders/context.ts';
import { LABELS } from '../../builders/context.ts';
import { databaseName, ownerRole, purposeRole } from '../../builders/database.ts';
import { KEYRING_KEY, KEYRING_SECRET } from '../../builders/keys.ts';
import { parseOperatorConfig } from '../../config/operator-config.ts';
import { type Keyring, parseKek, parseKeyring, serializeKeyring } from '../../keys/keyring.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { OWNED_KINDS } from '../../territory/owned-kinds.ts';
import { type BundleFacts, bundleReadme } from './bundle-readme.ts';
import { type ClusterOptions, connect, explain, getTerritory, readSecret } from './cluster.ts';
import { decryptFile, readKekFile, resolverFor, startsWithPgDumpMagic } from './decrypt.ts';
import { CliError, EXIT } from './errors.ts';
import { formatData, outputFormat } from './output.ts';
import { formatBytes, progress } from './progress.ts';

export const BUNDLE_FORMAT = 'territory-export/v1';

/** Kinds in the order a restore would apply them (the ObjectStore the CNPG Cluster names before it). */
const MANIFEST_ORDER = [
  'Namespace',
  'ResourceQuota',
  'LimitRange',
  'NetworkPolicy',
  'Role',
  'RoleBinding',
  'Secret',
  'ObjectStore',
  'Cluster',
  'ScheduledBackup',
  'CronJob',
];

/** Server-set fields that would make a manifest refuse to apply elsewhere (uids, versions, status). */
export function portable(object: KubeObject): KubeObject {
  const {
    uid: _uid,
    resourceVersion: _rv,
    generation: _gen,
    creationTimestamp: _created,
    managedFields: _managed,
    ownerReferences: _owners,
    selfLink: _self,
    deletionTimestamp: _deleted,
    deletionGracePeriodSeconds: _grace,
    // Finalizers belong to the operator of the old cluster; elsewhere they would block deletion.
    finalizers: _finalizers,
    ...metadata
  } = object.metadata;
  const { status: _status, ...rest } = object;
  const clean: KubeObject = { ...rest, metadata };
  if (object.kind === 'Secret') {
    // Values never leave the cluster; which keys the Secret had is useful to recreate it.
    const keys = Object.keys({
      ...(object.data as object | undefined),
      ...(object.stringData as object | undefined),
    });
    const { data: _data, stringData: _stringData, ...secret } = clean;
    return {
      ...secret,
      metadata: {
        ...metadata,
        annotations: {
          ...metadata.annotations,
          'sovereign.dev/exported-without-values': keys.sort().join(','),
        },
      },
    };
  }
  return clean;
}

/** Every object of the Territory's stack that exists on the cluster, by its territory label. */
async function ownedObjects(kube: KubeClient, t: Territory): Promise<KubeObject[]> {
  const ns = territoryNamespace(t);
  const selector = `${LABELS.territory}=${t.metadata.name}`;
  const found: KubeObject[] = [];
  for (const kind of OWNED_KINDS) {
    if (kind.cnpg && !(await kube.serves(kind.apiVersion, kind.kind))) continue;
    if (!kind.namespaced) {
      const object = await kube.get({ apiVersion: kind.apiVersion, kind: kind.kind, name: ns });
      if (object && object.metadata.labels?.[LABELS.territory] === t.metadata.name) found.push(object);
      continue;
    }
    const { items } = await kube.list({
      apiVersion: kind.apiVersion,
      kind: kind.kind,
      namespace: ns,
      labelSelector: selector,
    });
    found.push(...items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')));
  }
  const rank = (o: KubeObject) => MANIFEST_ORDER.indexOf(o.kind);
  return found.sort((a, b) => rank(a) - rank(b));
}

function manifestsYaml(objects: KubeObject[]): string {
  return objects.map((o) => `---\n${toYaml(portable(o), { lineWidth: 0 })}`).join('');
}

/** `sha256  path` lines for every file under `dir` (GNU coreutils format: `sha256sum -c` reads it). */
export async function checksums(dir: string): Promise<string> {
  const files: string[] = [];
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files.push(relative(dir, path));
    }
  };
  await walk(dir);
  const lines: string[] = [];
  for (const file of files.filter((f) => f !== 'SHA256SUMS').sort()) {
    const hash = createHash('sha256');
    await pipeline(createReadStream(join(dir, file)), hash);
    lines.push(`${hash.digest('hex')}  ${file}`);
  }
  return `${lines.join('\n')}\n`;
}

function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

function namesContext(t: Territory): BuildContext {
  return {
    territory: t,
    authority: { officialName: '' },
    config: parseOperatorConfig({}),
    allowedRegions: [],
    backupAllowed: false,
    barmanCloudPlugin: false,
  };
}

export interface ExportOptions {
  out?: string;
  mode: 'decrypted' | 'encrypted';
  backup: string;
  kekFile?: string;
  s3Endpoint?: string;
  now: Date;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  territory: string;
  officialName: string;
  authority: { kind: string; code: string };
  namespace: string;
  createdAt: string;
  mode: 'decrypted' | 'encrypted';
  backup: {
    source: string;
    takenAt: string;
    keyId: string;
    ciphertextBytes: number;
    ciphertextSha256: string;
    plaintextBytes?: number;
    authenticated: boolean;
  };
  dumpFile: string;
  keyring?: { file: string; wrapped: boolean; kekFingerprint?: string; kekSecret?: string };
  manifests: number;
  directory: string;
}

async function loadKeyring(kube: KubeClient, ns: string): Promise<Keyring> {
  const secret = await readSecret(kube, ns, KEYRING_SECRET);
  const text = secret?.[KEYRING_KEY]?.toString('utf8');
  if (text === undefined) {
    throw new CliError(`no keyring: Secret ${ns}/${KEYRING_SECRET} (key ${KEYRING_KEY}) is missing`, {
      hint: 'the operator creates it with the keys; without it no backup of this Territory can be read. Restore it from your key escrow',
    });
  }
  const parsed = parseKeyring(text);
  if (!parsed.ok) throw new CliError(`Secret ${ns}/${KEYRING_SECRET}: ${parsed.error}`);
  return parsed.value;
}

/** The authority's key: --kek-file, else its Secret when this user may read it. */
async function loadKek(
  kube: KubeClient,
  ns: string,
  keyring: Keyring,
  kekFile?: string,
): Promise<Buffer | undefined> {
  if (keyring.wrapping.algorithm === 'none') return undefined;
  if (kekFile) return readKekFile(kekFile);
  try {
    const secret = await readSecret(kube, ns, keyring.wrapping.secretName);
    const bytes = secret?.[keyring.wrapping.key];
    if (bytes === undefined) return undefined;
    const kek = parseKek(bytes);
    return kek.ok ? kek.value : undefined;
  } catch {
    return undefined; // not allowed to read it: the caller says what to do
  }
}

export async function exportTerritory(
  kube: KubeClient,
  name: string,
  opts: ExportOptions,
): Promise<BundleManifest> {
  const object = await getTerritory(kube, name);
  const { status, ...rest } = object;
  const parsed = parseTerritory(rest);
  if (!parsed.ok) {
    throw new CliError(`Territory ${name} is invalid: ${parsed.errors.join('; ')}`, {
      hint: 'fix its spec first',
    });
  }
  const t = parsed.territory;
  const ns = territoryNamespace(t);
  const destination = t.spec.backup.destination;
  const observed = (status ?? {}) as { authority?: { officialName?: string } };
  const found = lookupAuthority(t.spec.authority.kind, t.spec.authority.code, t.spec.authority.displayName);
  const officialName =
    observed.authority?.officialName ??
    (found.found ? found.officialName : (t.spec.authority.displayName ?? name));

  const directory = opts.out ?? `${name}-export-${stamp(opts.now)}`;
  if (existsSync(directory) && (await readdir(directory)).length > 0) {
    throw new CliError(`${directory} already exists and is not empty`, {
      hint: 'pass --out with a new folder',
      exitCode: EXIT.usage,
    });
  }

  // Everything that can fail on the cluster side fails before any byte is downloaded.
  const credentials = await readSecret(kube, ns, destination.credentialsSecret.name);
  const accessKeyId = credentials?.[destination.credentialsSecret.accessKeyIdKey]?.toString('utf8');
  const secretAccessKey = credentials?.[destination.credentialsSecret.secretAccessKeyKey]?.toString('utf8');
  if (!accessKeyId || !secretAccessKey) {
    throw new CliError(
      `no S3 credentials: Secret ${ns}/${destination.credentialsSecret.name} with keys ${destination.credentialsSecret.accessKeyIdKey} and ${destination.credentialsSecret.secretAccessKeyKey} is missing or incomplete`,
      { hint: 'it is the Secret the backups use; create it, or ask for permission to read it' },
    );
  }
  const endpointCa = await loadEndpointCa(kube, ns, destination.endpointCA);
  const keyring = await loadKeyring(kube, ns);
  const kek = await loadKek(kube, ns, keyring, opts.kekFile);
  const wrapped = keyring.wrapping.algorithm !== 'none';
  const keysAvailable = !wrapped || kek !== undefined;
  if (opts.mode === 'decrypted' && !keysAvailable && keyring.wrapping.algorithm === 'A256KW') {
    throw new CliError(
      `the keyring is wrapped by the authority's own key (Secret ${ns}/${keyring.wrapping.secretName}), which this user cannot read`,
      {
        hint: "pass the authority's key with --kek-file, or export with --keep-encrypted",
        exitCode: EXIT.usage,
      },
    );
  }
  const resolveKey = keysAvailable ? resolverFor({ keyring, ...(kek ? { kek } : {}) }) : undefined;

  // The S3 SDK is loaded only here: the other subcommands never pay for it.
  const { META, expectedBinding, resolveBackupKey } = await import('../../backup/commands.ts');
  const { createS3Client, getObjectStream, headObject, readCondition } = await import(
    '../../backup/s3-store.ts'
  );
  const endpoint = opts.s3Endpoint ?? destination.endpoint;
  const s3 = createS3Client({
    endpoint,
    region: destination.region ?? 'us-east-1',
    bucket: destination.bucket,
    credentials: { accessKeyId, secretAccessKey },
    ...(endpointCa ? { ca: endpointCa } : {}),
  });
  const work = `${directory}.partial`;
  try {
    let key: string;
    try {
      key = await resolveBackupKey(s3, destination.bucket, destination.pathPrefix ?? '', name, opts.backup);
    } catch (err) {
      throw new CliError(`${(err as Error).message} (endpoint ${endpoint})`, {
        hint: `wait for the scheduled backup, or run one now: kubectl create job -n ${ns} --from=cronjob/logical-backup export-backup`,
      });
    }
    const head = await headObject(s3, destination.bucket, key);
    if (!head) throw new CliError(`backup object s3://${destination.bucket}/${key} vanished`);
    const keyId = head.metadata[META.keyId] ?? '';
    const takenAt = head.metadata[META.takenAt] ?? head.lastModified.toISOString();
    const expectedSha256 = head.metadata[META.ciphertextSha256];
    const plaintextBytes = Number(head.metadata[META.plaintextBytes] ?? Number.NaN);

    await rm(work, { recursive: true, force: true });
    await mkdir(join(work, 'database'), { recursive: true, mode: 0o700 });
    await chmod(work, 0o700);

    // 1. Download once, checking the bytes against the sha256 recorded when the backup was taken.
    const base = key.slice(key.lastIndexOf('/') + 1);
    const encrypted = join(work, 'database', base);
    const report = progress(`downloading ${base}`, head.size);
    const meter = new ByteMeter({ sha256: true, everyMs: 200, onProgress: (b) => report.update(b) });
    // What the object must be: this Territory's backup of the time its name carries. A copy of an
    // older backup (or another Territory's) placed under this name is refused below.
    const binding = expectedBinding(destination.bucket, key, name);
    const source = await getObjectStream(
      s3,
      destination.bucket,
      key,
      readCondition(destination.bucket, key, head),
    );
    await pipeline(source, meter, createWriteStream(encrypted, { mode: 0o600 }));
    report.done(meter.bytes);
    const sha256 = meter.digest();
    if (meter.bytes !== head.size || (expectedSha256 !== undefined && expectedSha256 !== sha256)) {
      throw new CliError(
        `the downloaded backup does not match its record (sha256 ${sha256}, ${meter.bytes} bytes; recorded ${expectedSha256 ?? 'no sha256'}, ${head.size} bytes)`,
        { hint: 'run the export again; if it persists, the object was altered in the store' },
      );
    }

    // 2. Decrypt (authenticating every chunk), or authenticate only and keep the ciphertext.
    let dumpFile: string;
    let authenticated = false;
    let decryptedBytes: number | undefined;
    if (opts.mode === 'decrypted' && resolveKey) {
      dumpFile = join('database', `${name}.pgdump`);
      const result = await decryptFile(encrypted, join(work, dumpFile), resolveKey, {
        label: `decrypting ${base}`,
        expect: binding,
      });
      await rm(encrypted);
      authenticated = true;
      decryptedBytes = result.plaintextBytes;
      if (!(await startsWithPgDumpMagic(join(work, dumpFile)))) {
        throw new CliError(`${dumpFile} is not a pg_dump custom-format file`, {
          hint: 'the backup object holds something else: check the backup CronJob of this Territory',
        });
      }
    } else {
      dumpFile = join('database', base);
      // Without the keys the binding cannot be authenticated; its header is still compared, so a naive
      // copy is refused here too (the keyring kept with the bundle authenticates it when decrypted).
      const header = await readHeaderOf(encrypted);
      if (header) {
        try {
          checkBinding(header, binding);
        } catch (err) {
          throw new CliError((err as Error).message, { hint: 'export another backup with --backup NAME' });
        }
      }
      if (resolveKey) {
        const check = new DecryptStream({ resolveKey, expect: binding });
        const discard = new Writable({ write: (_c, _e, done) => done() });
        await pipeline(createReadStream(encrypted), check, discard).catch((err: Error) => {
          if (err instanceof BackupFormatError && err.code === 'misplaced') throw new CliError(err.message);
          throw new CliError(`the backup does not open with this Territory's keyring: ${err.message}`);
        });
        authenticated = true;
        decryptedBytes = check.plaintextBytes;
      }
      await mkdir(join(work, 'keys'), { mode: 0o700 });
      await writeFile(join(work, 'keys', 'keyring.json'), serializeKeyring(keyring), { mode: 0o600 });
    }

    // 3. The Territory and what it manages, portable (no uids, versions or Secret values).
    const owned = await ownedObjects(kube, t);
    const territoryYaml = toYaml(portable(object), { lineWidth: 0 });
    await writeFile(join(work, 'territory.yaml'), territoryYaml, { mode: 0o600 });
    await writeFile(join(work, 'manifests.yaml'), manifestsYaml(owned), { mode: 0o600 });

    const ctx = namesContext(t);
    const keyringFacts =
      opts.mode === 'encrypted'
        ? {
            file: join('keys', 'keyring.json'),
            wrapped,
            ...(keyring.wrapping.algorithm === 'A256KW'
              ? {
                  kekFingerprint: keyring.wrapping.kekFingerprint,
                  kekSecret: `${ns}/${keyring.wrapping.secretName}`,
                }
              : {}),
          }
        : undefined;
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      territory: name,
      officialName,
      authority: { kind: t.spec.authority.kind, code: t.spec.authority.code },
      namespace: ns,
      createdAt: opts.now.toISOString(),
      mode: opts.mode,
      backup: {
        source: `s3://${destination.bucket}/${key}`,
        takenAt,
        keyId,
        ciphertextBytes: meter.bytes,
        ciphertextSha256: sha256,
        ...(decryptedBytes !== undefined
          ? { plaintextBytes: decryptedBytes }
          : Number.isFinite(plaintextBytes)
            ? { plaintextBytes }
            : {}),
        authenticated,
      },
      dumpFile,
      ...(keyringFacts ? { keyring: keyringFacts } : {}),
      manifests: owned.length,
      directory,
    };
    const facts: BundleFacts = {
      territory: name,
      officialName,
      authority: `${t.spec.authority.kind} ${t.spec.authority.code}`,
      namespace: ns,
      database: databaseName(ctx),
      postgresVersion: t.spec.database.postgresVersion,
      mode: opts.mode,
      backup: { source: manifest.backup.source, takenAt, keyId },
      dumpFile,
      ...(keyringFacts ? { keyring: keyringFacts } : {}),
      roles: [ownerRole(ctx), ...t.spec.controller.purposes.map((p) => purposeRole(ctx, p.name))],
      createdAt: manifest.createdAt,
    };
    await writeFile(join(work, 'README.md'), bundleReadme(facts), { mode: 0o600 });
    await writeFile(
      join(work, 'bundle.json'),
      `${JSON.stringify({ ...manifest, directory: undefined }, null, 2)}\n`,
      {
        mode: 0o600,
      },
    );
    await writeFile(join(work, 'SHA256SUMS'), await checksums(work), { mode: 0o600 });
    if (existsSync(directory)) await rm(directory, { recursive: true });
    await rename(work, directory);
    return manifest;
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    if (err instanceof CliError) throw err;
    throw explain(err, kube, `exporting Territory ${name}`);
  } finally {
    s3.destroy();
  }
}

async function describe(manifest: BundleManifest): Promise<string> {
  const size = async (file: string) => formatBytes((await stat(join(manifest.directory, file))).size);
  const backup = manifest.backup;
  const lines = [
    `Export of Territory ${manifest.territory} (${manifest.officialName}, ${manifest.authority.kind} ${manifest.authority.code}) in ${manifest.directory}/`,
    `  territory.yaml    the Territory, re-applicable elsewhere`,
    `  manifests.yaml    ${manifest.manifests} managed objects (Secret values left out)`,
    `  ${manifest.dumpFile}  ${await size(manifest.dumpFile)}, ${manifest.mode === 'decrypted' ? 'decrypted pg_dump (custom format)' : 'encrypted (TERRBK01)'} from ${backup.source}, taken ${backup.takenAt}, key ${backup.keyId}`,
  ];
  if (manifest.keyring) {
    lines.push(
      `  ${manifest.keyring.file}  ${manifest.keyring.wrapped ? `wrapped by the authority's key (${manifest.keyring.kekFingerprint}), which is NOT in the bundle` : 'NOT wrapped: the bundle holds the keys, guard it like the data'}`,
    );
  }
  if (!backup.authenticated) {
    lines.push(
      '  (the backup was checked against its recorded sha256 only: decrypting it needs the authority key)',
    );
  }
  lines.push('  README.md         how to restore anywhere (français, English)', '  bundle.json, SHA256SUMS');
  return `${lines.join('\n')}\n`;
}

/** The TERRBK01 header at the start of a downloaded object (undefined if it does not parse). */
async function readHeaderOf(file: string): Promise<ReturnType<typeof parseHeader>> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return parseHeader(head.subarray(0, bytesRead));
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** The private CA the Territory's backups trust for their endpoint, when it names one. */
async function loadEndpointCa(
  kube: KubeClient,
  ns: string,
  ref: { name: string; key: string } | undefined,
): Promise<string | undefined> {
  if (!ref) return undefined;
  const pem = (await readSecret(kube, ns, ref.name))?.[ref.key]?.toString('utf8');
  if (!pem?.includes('BEGIN CERTIFICATE')) {
    throw new CliError(
      `spec.backup.destination.endpointCA names Secret ${ns}/${ref.name} key ${ref.key}, which is missing or holds no PEM certificate`,
      {
        hint: 'it is the CA bundle the backups trust for their endpoint; create it, or ask for permission to read it',
      },
    );
  }
  return pem;
}

export function exportCommand(): Command {
  return new Command('export')
    .description(
      "write a Territory's reversibility bundle: manifests, latest backup, SHA256SUMS, README (fr/en)",
    )
    .argument('<name>', 'the Territory')
    .option('--out <dir>', 'bundle folder to create (default: ./<name>-export-<time>)')
    .option('--decrypt', 'decrypt the backup into a plain pg_dump file (default)')
    .option('--keep-encrypted', 'keep the backup encrypted and include the keyring that opens it')
    .option('--backup <object>', '"latest" or the name of a backup object', 'latest')
    .option(
      '--kek-file <file>',
      "the authority's own key, when its keyring is wrapped and this user cannot read it",
    )
    .option(
      '--s3-endpoint <url>',
      "reach the backup store at this URL instead of the Territory's endpoint (tunnel, mirror)",
    )
    .addOption(
      new Option('-o, --output <format>', 'text, json or yaml (a description of the bundle)').default('text'),
    )
    .action(
      async (
        name: string,
        o: {
          out?: string;
          decrypt?: boolean;
          keepEncrypted?: boolean;
          backup: string;
          kekFile?: string;
          s3Endpoint?: string;
          output: string;
        },
        command: Command,
      ) => {
        const format = outputFormat(o.output, ['text', 'json', 'yaml'] as const);
        if (o.decrypt && o.keepEncrypted) {
          throw new CliError('--decrypt and --keep-encrypted exclude each other', { exitCode: EXIT.usage });
        }
        const kube = await connect(command.optsWithGlobals<ClusterOptions>());
        try {
          const manifest = await exportTerritory(kube, name, {
            mode: o.keepEncrypted ? 'encrypted' : 'decrypted',
            backup: o.backup,
            now: new Date(),
            ...(o.out ? { out: o.out } : {}),
            ...(o.kekFile ? { kekFile: o.kekFile } : {}),
            ...(o.s3Endpoint ? { s3Endpoint: o.s3Endpoint } : {}),
          });
          process.stdout.write(format === 'text' ? await describe(manifest) : formatData(manifest, format));
        } finally {
          await kube.close();
        }
      },
    );
}
