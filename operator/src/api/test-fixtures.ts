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

/** Manifests that must be rejected at creation by the API server AND by parseTerritory. */
export const INVALID_CASES: InvalidCase[] = [
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
];

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
