// Shared by the unit tests (zod) and the integration tests (real API server): the same invalid
// manifests must be rejected by both, with an error naming the same field. That is how we know the
// CEL rules and the zod refinements say the same thing.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { API_VERSION, KIND } from './territory.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** Every examples/*.yaml, parsed (one Territory per file). */
export function readExamples(): { file: string; manifest: JsonObject }[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => ({ file, manifest: parse(readFileSync(`${EXAMPLES_DIR}${file}`, 'utf8')) as JsonObject }));
}

/** The smallest valid Territory: authority, controller and backup destination; all else defaulted. */
export function minimalTerritory(name: string): JsonObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: {
      authority: { kind: 'commune', code: '35238' },
      controller: {
        contactEmail: 'mairie@rennes.example.fr',
        dpo: { email: 'dpo@rennes.example.fr' },
        purposes: [
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['residents'], retentionDays: 365 },
        ],
      },
      backup: {
        destination: {
          endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
          bucket: 'rennes-backups',
          credentialsSecret: { name: 'backup-s3' },
        },
      },
    },
  };
}

/** JSON Merge Patch (RFC 7386): objects merge, `null` deletes, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: JsonObject =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

export type InvalidCase = {
  /** What is wrong, in words. */
  name: string;
  /** The field path the error message must name. */
  field: string;
  /** Merge patch applied to minimalTerritory(). */
  patch: JsonObject;
};

const spec = (patch: JsonObject): JsonObject => ({ spec: patch });
const purpose = (patch: JsonObject): JsonObject =>
  spec({
    controller: {
      purposes: [
        mergePatch(
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['residents'], retentionDays: 365 },
          patch,
        ),
      ],
    },
  });
const backup = (patch: JsonObject): JsonObject => spec({ backup: patch });
const destination = (patch: JsonObject): JsonObject => backup({ destination: patch });

/** Physical backups on, as point-in-time recovery needs them. */
const PHYSICAL_ON: JsonObject = { enabled: true, encryption: 'ProviderManaged' };

/** Manifests that must be rejected at creation by the API server AND by parseTerritory. */
export const INVALID_CASES: InvalidCase[] = [
  {
    name: 'restore naming both a backup and a time',
    field: 'spec.restore',
    patch: spec({
      restore: {
        from: 'LogicalBackup',
        backup: '20261101T020000.000Z.pgdump.enc',
        before: '2026-11-01T03:00:00Z',
      },
    }),
  },
  {
    name: 'restore confirmation that is not the Territory name',
    field: 'spec.restore.replaceExistingData',
    patch: spec({ restore: { from: 'LogicalBackup', replaceExistingData: 'yes' } }),
  },
  {
    name: 'restore from an unknown source',
    field: 'spec.restore.from',
    patch: spec({ restore: { from: 'Dump' } }),
  },
  {
    name: 'restore of a backup that is not a backup name',
    field: 'spec.restore.backup',
    patch: spec({ restore: { from: 'LogicalBackup', backup: '../other/20261101T020000.000Z.pgdump.enc' } }),
  },
  {
    name: 'restore before something that is not a time',
    field: 'spec.restore.before',
    patch: spec({ restore: { from: 'LogicalBackup', before: 'yesterday' } }),
  },
  {
    name: 'point-in-time recovery without a target time',
    field: 'spec.restore',
    patch: spec({ restore: { from: 'PointInTime' }, backup: { physical: PHYSICAL_ON } }),
  },
  {
    name: 'point-in-time recovery naming a logical backup',
    field: 'spec.restore',
    patch: spec({
      restore: {
        from: 'PointInTime',
        targetTime: '2026-11-01T03:00:00Z',
        backup: '20261101T020000.000Z.pgdump.enc',
      },
      backup: { physical: PHYSICAL_ON },
    }),
  },
  {
    name: "point-in-time recovery of another Territory's backups",
    field: 'spec.restore',
    patch: spec({
      restore: { from: 'PointInTime', targetTime: '2026-11-01T03:00:00Z', sourceTerritory: 'rennes-ancien' },
      backup: { physical: PHYSICAL_ON },
    }),
  },
  {
    name: 'logical restore with a target time',
    field: 'spec.restore',
    patch: spec({ restore: { from: 'LogicalBackup', targetTime: '2026-11-01T03:00:00Z' } }),
  },
  {
    name: 'point-in-time recovery without physical backups',
    field: 'spec.restore.from',
    patch: spec({ restore: { from: 'PointInTime', targetTime: '2026-11-01T03:00:00Z' } }),
  },
  {
    name: 'point-in-time recovery to something that is not a time',
    field: 'spec.restore.targetTime',
    patch: spec({
      restore: { from: 'PointInTime', targetTime: 'yesterday' },
      backup: { physical: PHYSICAL_ON },
    }),
  },
  { name: 'no authority', field: 'spec.authority', patch: spec({ authority: null }) },
  {
    name: 'unknown authority kind',
    field: 'spec.authority.kind',
    patch: spec({ authority: { kind: 'ville' } }),
  },
  {
    name: 'commune code too short',
    field: 'spec.authority.code',
    patch: spec({ authority: { code: '3523' } }),
  },
  {
    name: 'commune code with letters',
    field: 'spec.authority.code',
    patch: spec({ authority: { code: '35ABC' } }),
  },
  {
    name: 'département code of 3 digits outside 971-976',
    field: 'spec.authority.code',
    patch: spec({ authority: { kind: 'departement', code: '123' } }),
  },
  {
    name: 'région code of one digit',
    field: 'spec.authority.code',
    patch: spec({ authority: { kind: 'region', code: '5' } }),
  },
  {
    name: 'commune code given for an EPCI',
    field: 'spec.authority.code',
    patch: spec({ authority: { kind: 'epci', code: '35238' } }),
  },
  {
    name: 'syndicat without a name',
    field: 'spec.authority.displayName',
    patch: spec({ authority: { kind: 'syndicat', code: '243500139' } }),
  },
  { name: 'unknown spec field', field: 'spec.colour', patch: spec({ colour: 'blue' }) },
  { name: 'namespace not a DNS label', field: 'spec.namespace', patch: spec({ namespace: 'Rennes_Ville' }) },
  {
    name: 'namespace reserved by Kubernetes',
    field: 'spec.namespace',
    patch: spec({ namespace: 'kube-system' }),
  },
  { name: 'namespace default', field: 'spec.namespace', patch: spec({ namespace: 'default' }) },
  {
    name: 'name that cannot be a namespace and no spec.namespace',
    field: 'metadata.name',
    patch: { metadata: { name: 'rennes.ville' } },
  },
  { name: 'no controller', field: 'spec.controller', patch: spec({ controller: null }) },
  {
    name: 'controller email invalid',
    field: 'spec.controller.contactEmail',
    patch: spec({ controller: { contactEmail: 'mairie at rennes' } }),
  },
  { name: 'no DPO', field: 'spec.controller.dpo', patch: spec({ controller: { dpo: null } }) },
  {
    name: 'DPO email invalid',
    field: 'spec.controller.dpo.email',
    patch: spec({ controller: { dpo: { email: 'dpo@' } } }),
  },
  { name: 'no purposes', field: 'spec.controller.purposes', patch: spec({ controller: { purposes: [] } }) },
  {
    name: 'purpose name in capitals',
    field: 'spec.controller.purposes[0].name',
    patch: purpose({ name: 'Mobility' }),
  },
  {
    name: 'duplicate purpose names',
    field: 'spec.controller.purposes',
    patch: spec({
      controller: {
        purposes: [
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['residents'], retentionDays: 365 },
          { name: 'mobility', dataCategories: ['counts'], dataSubjects: ['residents'], retentionDays: 30 },
        ],
      },
    }),
  },
  {
    name: 'unknown legal basis',
    field: 'spec.controller.purposes[0].legalBasis',
    patch: purpose({ legalBasis: 'because' }),
  },
  {
    name: 'purpose without data categories',
    field: 'spec.controller.purposes[0].dataCategories',
    patch: purpose({ dataCategories: [] }),
  },
  {
    name: 'purpose retention of 0 days',
    field: 'spec.controller.purposes[0].retentionDays',
    patch: purpose({ retentionDays: 0 }),
  },
  {
    name: 'purpose retention over a century',
    field: 'spec.controller.purposes[0].retentionDays',
    patch: purpose({ retentionDays: 40000 }),
  },
  {
    name: 'unknown hosting level',
    field: 'spec.hosting.level',
    patch: spec({ hosting: { level: 'sovereign' } }),
  },
  {
    name: 'provider region with a space',
    field: 'spec.hosting.regions[0]',
    patch: spec({ hosting: { regions: ['fr par'] } }),
  },
  {
    name: 'duplicate provider region',
    field: 'spec.hosting.regions[1]',
    patch: spec({ hosting: { regions: ['fr-par', 'fr-par'] } }),
  },
  {
    name: 'unsupported PostgreSQL version',
    field: 'spec.database.postgresVersion',
    patch: spec({ database: { postgresVersion: '14' } }),
  },
  {
    name: 'PostgreSQL version as a number',
    field: 'spec.database.postgresVersion',
    patch: spec({ database: { postgresVersion: 17 } }),
  },
  { name: 'no instances', field: 'spec.database.instances', patch: spec({ database: { instances: 0 } }) },
  { name: 'ten instances', field: 'spec.database.instances', patch: spec({ database: { instances: 10 } }) },
  {
    name: 'fractional instances',
    field: 'spec.database.instances',
    patch: spec({ database: { instances: 1.5 } }),
  },
  {
    name: 'storage size not a quantity',
    field: 'spec.database.storage.size',
    patch: spec({ database: { storage: { size: 'lots' } } }),
  },
  {
    name: 'storage size under 1Gi',
    field: 'spec.database.storage.size',
    patch: spec({ database: { storage: { size: '500Mi' } } }),
  },
  {
    name: 'CPU request above limit',
    field: 'spec.database.resources.requests.cpu',
    patch: spec({ database: { resources: { requests: { cpu: '4' }, limits: { cpu: '2000m' } } } }),
  },
  {
    name: 'rotation every 0 days',
    field: 'spec.encryption.rotationDays',
    patch: spec({ encryption: { rotationDays: 0 } }),
  },
  {
    name: 'customer key without Secret name',
    field: 'spec.encryption.customerKey.secretName',
    patch: spec({ encryption: { customerKey: { key: 'kek' } } }),
  },
  { name: 'no backup', field: 'spec.backup', patch: spec({ backup: null }) },
  { name: 'schedule in words', field: 'spec.backup.schedule', patch: backup({ schedule: 'daily' }) },
  {
    name: 'schedule with four fields',
    field: 'spec.backup.schedule',
    patch: backup({ schedule: '0 2 * *' }),
  },
  {
    name: 'backup retention of 0 days',
    field: 'spec.backup.retentionDays',
    patch: backup({ retentionDays: 0 }),
  },
  {
    name: 'weekly schedule kept 3 days',
    field: 'spec.backup.retentionDays',
    patch: backup({ schedule: '0 2 * * 0', retentionDays: 3 }),
  },
  {
    name: 'monthly schedule kept 14 days',
    field: 'spec.backup.retentionDays',
    patch: backup({ schedule: '0 2 1 * *', retentionDays: 14 }),
  },
  {
    name: 'yearly schedule kept 100 days',
    field: 'spec.backup.retentionDays',
    patch: backup({ schedule: '0 2 1 1 *', retentionDays: 100 }),
  },
  {
    name: 'restore drill schedule in words',
    field: 'spec.backup.restoreDrill.schedule',
    patch: backup({ restoreDrill: { schedule: 'weekly' } }),
  },
  {
    name: 'restore drill schedule with a time zone',
    field: 'spec.backup.restoreDrill.schedule',
    patch: backup({ restoreDrill: { schedule: 'TZ=Europe/Paris 0 4 * * 0' } }),
  },
  {
    name: 'restore drill on day-of-week 7',
    field: 'spec.backup.restoreDrill.schedule',
    patch: backup({ restoreDrill: { schedule: '0 4 * * 7' } }),
  },
  {
    name: 'restore drill scratch disk below 1Gi',
    field: 'spec.backup.restoreDrill.scratchSize',
    patch: backup({ restoreDrill: { scratchSize: '500Mi' } }),
  },
  {
    name: 'restore drill scratch disk that is not a quantity',
    field: 'spec.backup.restoreDrill.scratchSize',
    patch: backup({ restoreDrill: { scratchSize: 'twenty gigabytes' } }),
  },
  {
    name: 'restore drill enabled not a boolean',
    field: 'spec.backup.restoreDrill.enabled',
    patch: backup({ restoreDrill: { enabled: 'yes' } }),
  },
  {
    name: 'client-side encryption not a boolean',
    field: 'spec.backup.clientSideEncryption',
    patch: backup({ clientSideEncryption: 'yes' }),
  },
  { name: 'no backup destination', field: 'spec.backup.destination', patch: backup({ destination: null }) },
  {
    name: 'plain http endpoint',
    field: 'spec.backup.destination.endpoint',
    patch: destination({ endpoint: 'http://s3.fr-par.scw.cloud' }),
  },
  {
    name: 'endpoint that is not a URL',
    field: 'spec.backup.destination.endpoint',
    patch: destination({ endpoint: 's3.fr-par.scw.cloud' }),
  },
  {
    name: 'bucket name with capitals and underscore',
    field: 'spec.backup.destination.bucket',
    patch: destination({ bucket: 'My_Bucket' }),
  },
  {
    name: 'no credentials Secret',
    field: 'spec.backup.destination.credentialsSecret',
    patch: destination({ credentialsSecret: null }),
  },
  {
    name: 'SecNumCloud with weekly backups',
    field: 'spec.backup.schedule',
    patch: spec({ hosting: { level: 'secnumcloud' }, backup: { schedule: '0 2 * * 0', retentionDays: 35 } }),
  },
  {
    name: 'SecNumCloud without client-side encryption',
    field: 'spec.backup.clientSideEncryption',
    patch: spec({ hosting: { level: 'secnumcloud' }, backup: { clientSideEncryption: false } }),
  },
  {
    name: 'SecNumCloud with physical backups the provider can read',
    field: 'spec.backup.physical.enabled',
    patch: spec({
      hosting: { level: 'secnumcloud' },
      backup: { physical: { enabled: true, encryption: 'ProviderManaged' } },
    }),
  },
  {
    name: 'physical backups enabled without saying who can read them',
    field: 'spec.backup.physical.encryption',
    patch: backup({ physical: { enabled: true } }),
  },
  {
    name: 'physical backups with an unknown encryption',
    field: 'spec.backup.physical.encryption',
    patch: backup({ physical: { enabled: true, encryption: 'ClientSide' } }),
  },
  {
    name: 'physical backups as the boolean of earlier versions',
    field: 'spec.backup.physical',
    patch: backup({ physical: true }),
  },
  ...(
    [
      ['minute 61', '61 2 * * *'],
      ['hour 24', '0 24 * * *'],
      ['day of month 0', '0 2 0 * *'],
      ['day of month 32', '0 2 32 * *'],
      ['month 13', '0 2 1 13 *'],
      ['month 0', '0 2 1 0 *'],
      ['day of week 7', '0 2 * * 7'],
      ['day of week 8', '0 2 * * 8'],
      ['range backwards', '0 2 * * 5-1'],
      ['named range backwards', '0 2 * * FRI-MON'],
      ['step of 0', '*/0 2 * * *'],
      ['minute list with a value out of range', '0,30,60 2 * * *'],
      ['unknown month name', '0 2 1 JANUARY *'],
      ['name in the minute field', 'MON 2 * * *'],
      ['dangling range', '0 2 * * MON-'],
      ['two slashes', '0/5/5 2 * * *'],
      ['time zone prefix TZ=', 'TZ=Europe/Paris 0 2 * * *'],
      ['time zone prefix CRON_TZ=', 'CRON_TZ=UTC 0 2 * * *'],
      ['@every interval', '@every 24h'],
      ['@reboot', '@reboot'],
      ['six fields', '0 0 2 * * *'],
    ] as const
  ).map(
    ([what, schedule]): InvalidCase => ({
      name: `schedule with ${what}`,
      field: 'spec.backup.schedule',
      patch: backup({ schedule, retentionDays: 366 }),
    }),
  ),
  ...(
    [
      ['two adjacent dots', 'rennes..backups'],
      ['a dot next to a dash', 'rennes.-backups'],
      ['a dash next to a dot', 'rennes-.backups'],
      ['the form of an IP address', '192.168.5.4'],
      ['the xn-- prefix', 'xn--rennes-backups'],
      ['the sthree- prefix', 'sthree-rennes'],
      ['the amzn-s3-demo- prefix', 'amzn-s3-demo-rennes'],
      ['the -s3alias suffix', 'rennes-s3alias'],
      ['the --ol-s3 suffix', 'rennes--ol-s3'],
      ['the .mrap suffix', 'rennes.mrap'],
      ['the --x-s3 suffix', 'rennes--x-s3'],
      ['the --table-s3 suffix', 'rennes--table-s3'],
    ] as const
  ).map(
    ([what, bucket]): InvalidCase => ({
      name: `bucket name with ${what}`,
      field: 'spec.backup.destination.bucket',
      patch: destination({ bucket }),
    }),
  ),
  ...(
    [
      ['a .. segment', 'territories/../rennes'],
      ['a leading ..', '../rennes'],
      ['a . segment', 'territories/./rennes'],
      ['only a dot', '.'],
      ['an empty segment', 'territories//rennes'],
      ['a leading slash', '/territories/rennes'],
    ] as const
  ).map(
    ([what, pathPrefix]): InvalidCase => ({
      name: `path prefix with ${what}`,
      field: 'spec.backup.destination.pathPrefix',
      patch: destination({ pathPrefix }),
    }),
  ),
  ...(
    [
      ['user and password', 'https://user:pass@oos.cloudgouv-eu-west-1.outscale.com'],
      ['a backslash before @', 'https://oos.cloudgouv-eu-west-1.outscale.com\\@evil.example'],
      ['one slash', 'https:/oos.cloudgouv-eu-west-1.outscale.com'],
      ['a tab in the host', 'https://oos.cloudgouv-eu-west-1.out\tscale.com'],
      ['a percent-encoded dot', 'https://oos%2ecloudgouv-eu-west-1.outscale.com'],
      ['a trailing dot', 'https://oos.cloudgouv-eu-west-1.outscale.com.'],
      ['capitals in the host', 'https://OOS.cloudgouv-eu-west-1.outscale.com'],
      ['a hexadecimal address', 'https://0x7f.1'],
      ['a short IPv4 address', 'https://127.1'],
      ['an IPv4 address with leading zeros', 'https://010.0.0.1'],
      ['an IPv6 address', 'https://[::1]'],
      ['a port with a leading zero', 'https://oos.cloudgouv-eu-west-1.outscale.com:0443'],
      ['port 0', 'https://oos.cloudgouv-eu-west-1.outscale.com:0'],
      ['a query', 'https://oos.cloudgouv-eu-west-1.outscale.com/?x=1'],
      ['a fragment', 'https://oos.cloudgouv-eu-west-1.outscale.com#x'],
      ['a punycode label', 'https://xn--oos.cloudgouv-eu-west-1.outscale.com'],
      ['a non-ASCII host', 'https://oös.cloudgouv-eu-west-1.outscale.com'],
      ['a .. path segment', 'https://oos.cloudgouv-eu-west-1.outscale.com/a/../b'],
    ] as const
  ).map(
    ([what, endpoint]): InvalidCase => ({
      name: `endpoint with ${what}`,
      field: 'spec.backup.destination.endpoint',
      patch: destination({ endpoint }),
    }),
  ),
  ...(
    [
      ['adminGroups', 'system:masters'],
      ['adminGroups', 'system:authenticated'],
      ['adminGroups', 'system:serviceaccounts'],
      ['readerGroups', 'system:serviceaccounts:kube-system'],
      ['readerGroups', 'system:nodes'],
      ['readerGroups', 'system:unauthenticated'],
      ['adminGroups', 'system:'],
    ] as const
  ).map(
    ([list, group]): InvalidCase => ({
      name: `${list} with Kubernetes' own group ${group}`,
      field: `spec.access.${list}[0]`,
      patch: spec({ access: { [list]: [group] } }),
    }),
  ),
  { name: 'namespace kube-public', field: 'spec.namespace', patch: spec({ namespace: 'kube-public' }) },
  {
    name: 'namespace kube-node-lease',
    field: 'spec.namespace',
    patch: spec({ namespace: 'kube-node-lease' }),
  },
  {
    name: 'duplicate admin group',
    field: 'spec.access.adminGroups[1]',
    patch: spec({ access: { adminGroups: ['dsi', 'dsi'] } }),
  },
  { name: 'unknown quota profile', field: 'spec.quota.profile', patch: spec({ quota: { profile: 'huge' } }) },
  {
    name: 'negative pod quota',
    field: 'spec.quota.overrides.pods',
    patch: spec({ quota: { overrides: { pods: -1 } } }),
  },
  {
    name: 'unknown deletion policy',
    field: 'spec.deletionPolicy',
    patch: spec({ deletionPolicy: 'Orphan' }),
  },
  {
    name: 'a pool named with tier Dedicated',
    field: 'spec.database.pool',
    patch: spec({ database: { tier: 'Dedicated', pool: 'pool-35' } }),
  },
  {
    name: 'a pool name CloudNativePG refuses for a Cluster',
    field: 'spec.database.pool',
    patch: spec({ database: { pool: '35-pool' } }),
  },
  {
    name: 'an unknown database tier',
    field: 'spec.database.tier',
    patch: spec({ database: { tier: 'Serverless' } }),
  },
  {
    name: 'a Shared database with instances of its own',
    field: 'spec.database.instances',
    patch: spec({ database: { tier: 'Shared', instances: 2 } }),
  },
  {
    name: 'a database in a named pool with a volume size of its own',
    field: 'spec.database.storage.size',
    patch: spec({ database: { pool: 'pool-35', storage: { size: '10Gi' } } }),
  },
  {
    name: 'a Shared database with a StorageClass of its own',
    field: 'spec.database.storage.storageClass',
    patch: spec({ database: { tier: 'Shared', storage: { storageClass: 'fast' } } }),
  },
  {
    name: 'a Shared database with resources of its own',
    field: 'spec.database.resources',
    patch: spec({ database: { tier: 'Shared', resources: { limits: { memory: '1Gi' } } } }),
  },
  {
    name: 'a Shared database with physical backups',
    field: 'spec.backup.physical.enabled',
    patch: spec({ database: { tier: 'Shared' }, backup: { physical: PHYSICAL_ON } }),
  },
  {
    name: 'a point-in-time recovery of a database in a pool',
    field: 'spec.restore.from',
    patch: spec({
      database: { pool: 'pool-35' },
      restore: { from: 'PointInTime', targetTime: '2026-11-01T03:00:00Z' },
      backup: { physical: PHYSICAL_ON },
    }),
  },
];

/**
 * Backup schedules a Kubernetes CronJob accepts, and so must a Territory (the API server's CronJob
 * validation, robfig/cron v3's standard parser, is the reference: test/integration/api-admission.test.ts
 * checks each of them against it). Retention 366 covers every period.
 */
export const ACCEPTED_SCHEDULES = [
  '0 2 * * *',
  '*/15 * * * *',
  '0 0 1 1 *',
  '59 23 31 12 6',
  '0-59 0-23 1-31 1-12 0-6',
  '00 02 * * *',
  '0 2 * * MON-FRI',
  '0 2 * * mon,Wed,FRI',
  '0 2 * * SUN',
  '0 2 1 JAN-DEC *',
  '0 2 1 jan,Jul *',
  '0 2 1 1-FEB *',
  '5/15 * * * *',
  '0 */6 ? * *',
  '? ? ? ? ?',
  '0 2 1-31/2 * *',
  '0 2 * * 0-6/2',
  '0 2 * * */7',
  '*/61 * * * *',
  '1-1 2 * * *',
  '0 2 1,15,31 * *',
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly',
] as const;

/** minimalTerritory(name) with one case's patch applied. */
export function invalidTerritory(testCase: InvalidCase, name: string): JsonObject {
  return mergePatch(minimalTerritory(name), testCase.patch) as JsonObject;
}

/** One case by name (throws when there is none, so a renamed case cannot silently skip a test). */
export function invalidCase(name: string): InvalidCase {
  const found = INVALID_CASES.find((testCase) => testCase.name === name);
  if (!found) throw new Error(`no invalid case named "${name}"`);
  return found;
}
