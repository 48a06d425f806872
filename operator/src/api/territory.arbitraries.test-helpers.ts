// fast-check arbitraries for Territories, shared by the property tests (api/, builders/) and the
// chaos suite: valid Territories drawn across the whole schema (real authority codes, unicode free
// text, boundary numbers), and adversarial values (wrong types, huge strings, prototype-pollution
// keys) to put anywhere in a manifest.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { bucketProblem } from './s3-names.ts';
import { API_VERSION, KIND } from './territory.ts';
import type { JsonObject } from './test-fixtures.ts';

type Json = JsonObject[string];

function officialCodes(file: string, keep: (record: Record<string, unknown>) => boolean): string[] {
  const path = createRequire(import.meta.url).resolve(`@etalab/decoupage-administratif/data/${file}`);
  const records = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>[];
  return records.filter(keep).map((record) => String(record.code));
}

// Read once: the official lists are the only source of codes the operator accepts as real.
const CODES = {
  commune: officialCodes('communes.json', (c) => c.type === 'commune-actuelle'),
  epci: officialCodes('epci.json', () => true),
  departement: officialCodes('departements.json', (d) => d.zone !== 'com'),
  region: officialCodes('regions.json', (r) => r.zone !== 'com'),
};

/** A 9-digit SIREN with a valid Luhn check digit (what a syndicat must carry). */
export const sirenArb = fc
  .array(fc.integer({ min: 0, max: 9 }), { minLength: 8, maxLength: 8 })
  .map((digits) => {
    let sum = 0;
    // Positions counted from the right, check digit at position 0: double the odd ones.
    digits.forEach((digit, index) => {
      const fromRight = 8 - index;
      let value = fromRight % 2 === 1 ? digit * 2 : digit;
      if (value > 9) value -= 9;
      sum += value;
    });
    const check = (10 - (sum % 10)) % 10;
    return `${digits.join('')}${check}`;
  });

/** Free text as people type it: any unicode, emoji, combining marks, RTL, control characters. */
export const freeText = (maxLength: number, minLength = 1) =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme', minLength, maxLength }),
      fc.string({ unit: 'binary', minLength, maxLength }),
      fc.string({ minLength, maxLength }),
    )
    .filter((text) => text.length >= minLength && text.length <= maxLength);

export const authorityArb = fc.oneof(
  fc.record({ kind: fc.constant('commune'), code: fc.constantFrom(...CODES.commune) }),
  fc.record({ kind: fc.constant('epci'), code: fc.constantFrom(...CODES.epci) }),
  fc.record({ kind: fc.constant('departement'), code: fc.constantFrom(...CODES.departement) }),
  fc.record({ kind: fc.constant('region'), code: fc.constantFrom(...CODES.region) }),
  fc.record({ kind: fc.constant('syndicat'), code: sirenArb, displayName: freeText(200) }),
);

const DNS_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A DNS label of 1..max characters (lowercase alphanumerics and inner dashes). */
export const dnsLabelArb = (max = 63) =>
  fc
    .tuple(
      fc.constantFrom(...DNS_CHARS),
      fc.string({ unit: fc.constantFrom(...`${DNS_CHARS}-`), maxLength: max - 2 }),
      fc.constantFrom(...DNS_CHARS),
      fc.boolean(),
    )
    .map(([first, middle, last, single]) => (single ? first : `${first}${middle}${last}`))
    .filter((name) => name !== 'default' && !name.startsWith('kube-'));

/** A DNS subdomain made of labels, up to `max` characters. */
export const dnsSubdomainArb = (max = 253) =>
  fc
    .array(dnsLabelArb(63), { minLength: 1, maxLength: 6 })
    .map((labels) =>
      labels
        .join('.')
        .slice(0, max)
        .replace(/[-.]+$/, ''),
    )
    .filter((name) => name.length > 0);

/** A DNS subdomain of 64..253 characters: a valid object name for the API server, too long for a label. */
export const longDnsSubdomainArb = fc
  .tuple(
    fc.integer({ min: 64, max: 253 }),
    fc.array(fc.integer({ min: 1, max: 63 }), { minLength: 5, maxLength: 5 }),
  )
  .map(([length, cuts]) => {
    // Labels of the drawn lengths, separated by dots, cut to the exact length; never ends with '.'.
    const labels = cuts.map((size, index) => String.fromCharCode(97 + index).repeat(size));
    let name = labels.join('.');
    while (name.length < length) name = `${name}.${'z'.repeat(Math.min(63, length - name.length - 1) || 1)}`;
    return name.slice(0, length);
  })
  .filter((name) => !name.endsWith('.'));

/** PURPOSE_NAME: a lowercase letter, then letters, digits and inner dashes, at most 31 characters. */
const purposeNameArb = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
    fc.string({ unit: fc.constantFrom(...`${DNS_CHARS}-`), maxLength: 29 }),
    fc.constantFrom(...DNS_CHARS),
    fc.boolean(),
  )
  .map(([first, middle, last, single]) => (single ? first : `${first}${middle}${last}`));

const purposeArb = (name: string) =>
  fc.record(
    {
      name: fc.constant(name),
      description: freeText(1000, 0),
      legalBasis: fc.constantFrom(
        'public-task',
        'legal-obligation',
        'consent',
        'contract',
        'vital-interests',
        'legitimate-interests',
      ),
      dataCategories: fc.array(freeText(200), { minLength: 1, maxLength: 5 }),
      dataSubjects: fc.array(freeText(200), { minLength: 1, maxLength: 5 }),
      retentionDays: fc.integer({ min: 1, max: 36500 }),
    },
    { requiredKeys: ['name', 'dataCategories', 'dataSubjects', 'retentionDays'] },
  );

const emailArb = fc.constantFrom(
  'dpo@mairie.example.fr',
  "o'neil+rgpd@agglo.example.fr",
  'donnees.rgpd@sub.domain.example.fr',
  'a@b.co',
);

/** Quantities of at least 1Gi, written in every unit the schema takes. */
const storageArb = fc.oneof(
  fc.integer({ min: 1, max: 65536 }).map((n) => `${n}Gi`),
  fc.integer({ min: 1, max: 64 }).map((n) => `${n}Ti`),
  fc.integer({ min: 1074, max: 999999 }).map((n) => `${n}M`),
  fc.integer({ min: 2, max: 9999 }).map((n) => `${n}G`),
);

/** Schedules paired with a retention that covers one of their periods. */
const scheduleArb = fc.oneof(
  fc.record({
    schedule: fc.constantFrom('0 2 * * *', '*/15 * * * *', '30 1 * * *', '0 2 ? * *', '@daily', '@hourly'),
    minRetention: fc.constant(1),
  }),
  fc.record({
    schedule: fc.constantFrom('0 3 * * 0', '0 4 * * 1-5', '0 4 ? * mon-fri', '@weekly'),
    minRetention: fc.constant(7),
  }),
  fc.record({
    schedule: fc.constantFrom('0 2 1 * *', '0 2 1,15 * *', '@monthly'),
    minRetention: fc.constant(31),
  }),
  fc.record({
    schedule: fc.constantFrom('0 2 1 1 *', '0 2 1 JAN-MAR *', '@yearly'),
    minRetention: fc.constant(366),
  }),
);

const ENDPOINTS = [
  'https://oos.cloudgouv-eu-west-1.outscale.com',
  'https://oos.eu-west-2.outscale.com',
  'https://s3.gra.io.cloud.ovh.net',
  'https://s3.fr-par.scw.cloud',
  'https://rennes.s3.fr1.cloud-temple.com',
  'https://s3.example.com:8443/path',
  'https://minio.territoire.example.fr',
];

/** S3 bucket names: dot-separated labels of letters, digits and inner hyphens, none of S3's reserved forms. */
const bucketLabelArb = fc
  .tuple(
    fc.constantFrom(...DNS_CHARS),
    fc.string({ unit: fc.constantFrom(...`${DNS_CHARS}-`), maxLength: 20 }),
    fc.constantFrom(...DNS_CHARS),
  )
  .map(([a, b, c]) => `${a}${b}${c}`);
const bucketArb = fc
  .array(bucketLabelArb, { minLength: 1, maxLength: 3 })
  .map((labels) =>
    labels
      .join('.')
      .slice(0, 63)
      .replace(/[-.]+$/, ''),
  )
  .filter((name) => name.length >= 3 && bucketProblem(name) === undefined);

const secretKeyArb = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._'),
  minLength: 1,
  maxLength: 253,
});

const groupsArb = fc.uniqueArray(
  freeText(256).filter((group) => !group.startsWith('system:')),
  { maxLength: 8 },
);

const quotaArb = fc.record(
  {
    profile: fc.constantFrom('auto', 'small', 'medium', 'large', 'xlarge'),
    overrides: fc.record(
      {
        requestsCpu: fc.constantFrom('500m', '1', '2.5', '64', '1e3'),
        limitsMemory: fc.constantFrom('512Mi', '1Gi', '1.5Gi', '100G'),
        requestsStorage: storageArb,
        pods: fc.integer({ min: 0, max: 100000 }),
        services: fc.integer({ min: 0, max: 100000 }),
        persistentVolumeClaims: fc.integer({ min: 0, max: 100000 }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

export interface ValidTerritoryOptions {
  /** Dotted names (DNS subdomains up to 63 characters) with spec.namespace set. Default true. */
  dottedNames?: boolean;
}

/** Territories the schema must accept: every optional part sometimes present, values at their bounds. */
export const validTerritoryArb = (options: ValidTerritoryOptions = {}): fc.Arbitrary<JsonObject> =>
  fc
    .record({
      naming: fc.oneof(
        fc.record({ name: dnsLabelArb(), namespace: fc.option(dnsLabelArb(), { nil: undefined }) }),
        ...(options.dottedNames === false
          ? []
          : [
              fc.record({
                name: dnsSubdomainArb(63),
                namespace: dnsLabelArb().map((n) => n as string | undefined),
              }),
            ]),
      ),
      authority: authorityArb,
      purposeNames: fc.uniqueArray(purposeNameArb, { minLength: 1, maxLength: 6 }),
      purposeSeeds: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
      contactEmail: emailArb,
      dpo: fc.record({ name: freeText(200), email: emailArb }, { requiredKeys: ['email'] }),
      recipients: fc.option(fc.array(freeText(200), { maxLength: 5 }), { nil: undefined }),
      secnumcloud: fc.boolean(),
      regions: fc.option(
        fc.uniqueArray(fc.constantFrom('cloudgouv-eu-west-1', 'fr-par', 'GRA7', 'eu-west-2', 'FR1'), {
          maxLength: 3,
        }),
        { nil: undefined },
      ),
      database: fc.record(
        {
          postgresVersion: fc.constantFrom('15', '16', '17', '18'),
          instances: fc.integer({ min: 1, max: 9 }),
          storage: fc.record({ size: storageArb, storageClass: dnsSubdomainArb(253) }, { requiredKeys: [] }),
        },
        { requiredKeys: [] },
      ),
      rotationDays: fc.option(fc.integer({ min: 1, max: 3650 }), { nil: undefined }),
      customerKey: fc.option(
        fc.record({ secretName: dnsSubdomainArb(253), key: secretKeyArb }, { requiredKeys: ['secretName'] }),
        { nil: undefined },
      ),
      schedule: scheduleArb,
      retentionExtra: fc.integer({ min: 0, max: 3650 }),
      // Physical backups are opt-in, and enabling them must name who can read them.
      physical: fc.option(
        fc.oneof(
          fc.constant<JsonObject>({}),
          fc.record<JsonObject>(
            { enabled: fc.constant(false), encryption: fc.constant('ProviderManaged') },
            { requiredKeys: ['enabled'] },
          ),
          fc.constant<JsonObject>({ enabled: true, encryption: 'ProviderManaged' }),
        ),
        { nil: undefined },
      ),
      endpoint: fc.constantFrom(...ENDPOINTS),
      bucket: bucketArb,
      pathPrefix: fc.option(fc.constantFrom('', 'territories/x/', "a!b_c.d*e'(f)/g-"), { nil: undefined }),
      credentialsSecret: fc.record(
        { name: dnsSubdomainArb(253), accessKeyIdKey: secretKeyArb, secretAccessKeyKey: secretKeyArb },
        { requiredKeys: ['name'] },
      ),
      access: fc.record({ adminGroups: groupsArb, readerGroups: groupsArb }, { requiredKeys: [] }),
      quota: quotaArb,
      deletionPolicy: fc.option(fc.constantFrom('Retain', 'Delete'), { nil: undefined }),
      // A restore names a backup or a time (never both), maybe another Territory's, maybe confirmed
      // (the confirmation is the Territory's own name, filled in below); or it recovers a point in time.
      restore: fc.option(
        fc.record(
          {
            pick: fc.oneof(
              fc.constant<JsonObject>({}),
              fc.constantFrom<JsonObject>(
                { backup: '20261101T020000.000Z.pgdump.enc' },
                { before: '2026-11-01T03:00:00Z' },
                { before: '2026-11-01T04:00:00.123+01:00' },
              ),
            ),
            sourceTerritory: dnsLabelArb(),
            confirmed: fc.boolean(),
            // A point-in-time recovery instead, kept only where physical backups end up on (below).
            targetTime: fc.constantFrom('2026-11-01T03:00:00Z', '2026-11-01T04:00:00.123456+01:00'),
          },
          { requiredKeys: ['pick', 'confirmed'] },
        ),
        { nil: undefined },
      ),
    })
    .chain((draw) =>
      fc.tuple(...draw.purposeNames.map((name) => purposeArb(name))).map((purposes) => ({ draw, purposes })),
    )
    .map(({ draw, purposes }) => {
      const retentionDays = Math.min(3650, draw.schedule.minRetention + draw.retentionExtra);
      // SecNumCloud forbids less than daily backups and clear-text ones (physical backups are readable by
      // the storage provider): keep such draws valid.
      const level = draw.secnumcloud && draw.schedule.minRetention === 1 ? 'secnumcloud' : 'standard';
      const physical = level === 'secnumcloud' && draw.physical?.enabled === true ? undefined : draw.physical;
      const spec: JsonObject = {
        authority: draw.authority,
        controller: {
          contactEmail: draw.contactEmail,
          dpo: draw.dpo,
          purposes: purposes as unknown as Json,
          ...(draw.recipients ? { recipients: draw.recipients } : {}),
        },
        hosting: { level, ...(draw.regions ? { regions: draw.regions } : {}) },
        database: draw.database as Json,
        encryption: {
          ...(draw.rotationDays ? { rotationDays: draw.rotationDays } : {}),
          ...(draw.customerKey ? { customerKey: draw.customerKey } : {}),
        },
        backup: {
          schedule: draw.schedule.schedule,
          retentionDays,
          clientSideEncryption: true,
          ...(physical === undefined ? {} : { physical }),
          destination: {
            endpoint: draw.endpoint,
            bucket: draw.bucket,
            ...(draw.pathPrefix === undefined ? {} : { pathPrefix: draw.pathPrefix }),
            credentialsSecret: draw.credentialsSecret,
          },
        },
        access: draw.access,
        quota: draw.quota as Json,
        ...(draw.deletionPolicy ? { deletionPolicy: draw.deletionPolicy } : {}),
        ...(draw.restore
          ? {
              restore:
                draw.restore.targetTime && physical?.enabled === true
                  ? {
                      from: 'PointInTime',
                      targetTime: draw.restore.targetTime,
                      ...(draw.restore.confirmed ? { replaceExistingData: draw.naming.name } : {}),
                    }
                  : {
                      from: 'LogicalBackup',
                      ...draw.restore.pick,
                      ...(draw.restore.sourceTerritory
                        ? { sourceTerritory: draw.restore.sourceTerritory }
                        : {}),
                      ...(draw.restore.confirmed ? { replaceExistingData: draw.naming.name } : {}),
                    },
            }
          : {}),
        ...(draw.naming.namespace ? { namespace: draw.naming.namespace } : {}),
      };
      return {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: draw.naming.name, uid: '0b9b6a4e-1111-4222-8333-444455556666', generation: 1 },
        spec,
      };
    });

/** Keys that have broken JavaScript merges and parsers before. */
export const POLLUTION_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '__defineGetter__',
  'hasOwnProperty',
  'toString',
];

/**
 * Values a careless or hostile manifest puts where something else belongs: every JSON type, numbers at
 * and past every boundary, huge and strange strings, nested objects whose keys are prototype keys.
 * Objects are built with JSON.parse so `__proto__` is an OWN key, as it is in parsed YAML/JSON input.
 */
export const adversarialValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -0,
    -1,
    1.5,
    2 ** 31,
    2 ** 53,
    -(2 ** 53),
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    '',
    ' ',
    '0',
    'true',
    'null',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a log-injection probe, literal on purpose
    '${jndi:ldap://x}',
    "'; DROP TABLE t; --",
    '../../etc/passwd',
    '\u0000',
    '\u202e',
    'kube-system',
    'default',
    [],
    {},
  ),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.integer({ min: 64, max: 300 }).map((n) => 'a'.repeat(n)),
  fc.constantFrom(10_000, 1_000_000).map((n) => 'x'.repeat(n)),
  fc.double(),
  fc.integer(),
  fc.bigInt().map((n) => n),
  fc.date().map((d) => d),
  fc.constantFrom(...POLLUTION_KEYS).map((key) => JSON.parse(`{"${key}": {"polluted": "yes"}}`) as unknown),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 5 }),
  fc.anything({ maxDepth: 2, withNullPrototype: true, withMap: true, withSet: true }),
);

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Kubernetes' bounds for each cron field (robfig/cron v3), written here independently of cron.ts. */
const CRON_BOUNDS: { min: number; max: number; names: string[] }[] = [
  { min: 0, max: 59, names: [] },
  { min: 0, max: 23, names: [] },
  { min: 1, max: 31, names: [] },
  { min: 1, max: 12, names: MONTH_NAMES },
  { min: 0, max: 6, names: DAY_NAMES },
];

/** A value of one field: mostly inside its bounds, sometimes just outside, a name in any case, or a wrong word. */
function cronValueArb(bounds: (typeof CRON_BOUNDS)[number]): fc.Arbitrary<string> {
  const inside = fc.integer({ min: bounds.min, max: bounds.max });
  const names = bounds.names.length > 0 ? bounds.names : MONTH_NAMES;
  return fc.oneof(
    { arbitrary: inside.map(String), weight: 120 },
    { arbitrary: inside.map((n) => `0${n}`), weight: 10 },
    {
      arbitrary: fc
        .constantFrom(bounds.min - 1, bounds.max + 1, bounds.max + 2, 7)
        .filter((n) => n >= 0)
        .map(String),
      weight: 10,
    },
    {
      arbitrary: fc
        .tuple(fc.constantFrom(...names), fc.constantFrom('lower', 'upper', 'title'))
        .map(([name, c]) =>
          c === 'lower'
            ? name
            : c === 'upper'
              ? name.toUpperCase()
              : `${name[0]?.toUpperCase()}${name.slice(1)}`,
        ),
      weight: bounds.names.length > 0 ? 40 : 3,
    },
    { arbitrary: fc.constantFrom('january', 'monday', 'x'), weight: 2 },
  );
}

function cronItemArb(bounds: (typeof CRON_BOUNDS)[number]): fc.Arbitrary<string> {
  const value = cronValueArb(bounds);
  return fc
    .tuple(
      fc.oneof(
        { arbitrary: fc.constantFrom('*', '?'), weight: 3 },
        { arbitrary: value, weight: 4 },
        { arbitrary: fc.tuple(value, value).map(([a, b]) => `${a}-${b}`), weight: 2 },
      ),
      fc.option(
        fc.oneof(
          { arbitrary: fc.integer({ min: 1, max: 70 }), weight: 9 },
          { arbitrary: fc.constant(0), weight: 1 },
        ),
        { nil: undefined, freq: 3 },
      ),
    )
    .map(([base, step]) => (step === undefined ? base : `${base}/${step}`));
}

const cronFieldArb = (bounds: (typeof CRON_BOUNDS)[number]) =>
  fc.array(cronItemArb(bounds), { minLength: 1, maxLength: 2 }).map((items) => items.join(','));

/**
 * Cron schedules in the grammar people write (five fields, single spaces, lists, ranges, steps, names,
 * descriptors), drawn around every bound so that about half are valid: the property tests compare what
 * the Territory admits with what a Kubernetes CronJob admits.
 */
export const cronScheduleArb: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc.tuple(...CRON_BOUNDS.map(cronFieldArb)).map((fields) => fields.join(' ')),
    weight: 12,
  },
  {
    // Four or six fields: each field drawn for the position it lands in, or the next one.
    arbitrary: fc
      .tuple(...CRON_BOUNDS.map(cronFieldArb), fc.boolean())
      .map(([a, b, c, d, e, longer]) => (longer ? [a, b, c, d, e, b] : [a, b, c, d]).join(' ')),
    weight: 1,
  },
  {
    arbitrary: fc.constantFrom(
      '@yearly',
      '@annually',
      '@monthly',
      '@weekly',
      '@daily',
      '@midnight',
      '@hourly',
      '@DAILY',
      '@reboot',
      '@every 1h',
    ),
    weight: 1,
  },
);
