// `territoryctl register`: the GDPR art. 30 record of processing (registre des activités de
// traitement) of every Territory, from the cluster or from files (offline), as Markdown for people,
// CSV for spreadsheets (one row per purpose) and JSON for tools.
//
// Each authority is the controller of its own processing; the platform is its processor (art. 28).
// What the spec declares (purposes, categories, retention) is reported as declared; where the data
// and backups are hosted comes from the operator's verified status when there is one, and is marked
// "declared, not verified" otherwise (offline, or before the operator reconciled).
import { Command, Option } from 'commander';
import { lookupAuthority } from '../../api/geography.ts';
import { type LEGAL_BASES, parseTerritory, type Territory, territoryNamespace } from '../../api/territory.ts';
import { KEYRING_SECRET } from '../../builders/keys.ts';
import { evaluateDestination } from '../../builders/sovereignty.ts';
import { loadOperatorConfig, type Provider } from '../../config/operator-config.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { type ClusterOptions, connect, listTerritories } from './cluster.ts';
import { CliError, EXIT } from './errors.ts';
import { requireTerritories } from './files.ts';
import { formatData, outputFormat } from './output.ts';

type LegalBasis = (typeof LEGAL_BASES)[number];

export const LEGAL_BASIS_TEXT: Record<LegalBasis, string> = {
  consent: 'consent (GDPR art. 6.1.a)',
  contract: 'contract (GDPR art. 6.1.b)',
  'legal-obligation': 'legal obligation (GDPR art. 6.1.c)',
  'vital-interests': 'vital interests (GDPR art. 6.1.d)',
  'public-task': 'public task, mission de service public (GDPR art. 6.1.e)',
  'legitimate-interests': 'legitimate interests (GDPR art. 6.1.f)',
};

export interface RegisterPurpose {
  name: string;
  description: string;
  legalBasis: LegalBasis;
  legalBasisText: string;
  dataCategories: string[];
  dataSubjects: string[];
  retentionDays: number;
}

export interface RegisterEntry {
  territory: string;
  controller: { name: string; kind: string; code: string; siren?: string; contactEmail: string };
  dpo: { name?: string; email: string };
  purposes: RegisterPurpose[];
  recipients: string[];
  hosting: { level: string; provider?: string; regions: string[]; verified: boolean; note: string };
  /**
   * Where the database runs: a PostgreSQL cluster of the authority's own (Dedicated), or a database in a
   * pool that the platform shares among several authorities (Shared): the record says so plainly.
   */
  database: { tier: 'Dedicated' | 'Shared' | 'undecided'; pool?: string; description: string };
  backups: {
    host: string;
    bucket: string;
    provider?: string;
    region?: string;
    french: boolean;
    schedule: string;
    retentionDays: number;
    clientSideEncryption: boolean;
    /**
     * CloudNativePG's physical backups: when enabled, encrypted by the storage provider only
     * (ProviderManaged), so `readableBy` (the provider, named by the endpoint's host) can read them.
     */
    physical: { enabled: boolean; encryption?: string; readableBy?: string };
  };
  keys: { holder: 'authority' | 'platform'; description: string };
  transfersOutsideEU: string;
  securityMeasures: string[];
}

/** What the operator verified and wrote in status; absent offline. */
export interface ObservedStatus {
  authority?: { officialName?: string; siren?: string };
  sovereignty?: { provider?: string; regions?: string[]; level?: string };
  backup?: { destinationHost?: string };
  database?: { tier?: string; pool?: string };
  conditions?: { type: string; status: string; message: string }[];
}

/** One register entry from a Territory (and its status when read from the cluster). Pure. */
export function registerEntry(t: Territory, providers: Provider[], observed?: ObservedStatus): RegisterEntry {
  const spec = t.spec;
  const a = spec.authority;
  const found = lookupAuthority(a.kind, a.code, a.displayName);
  const name =
    observed?.authority?.officialName ?? (found.found ? found.officialName : (a.displayName ?? a.code));
  const siren = observed?.authority?.siren ?? (found.found ? found.siren : undefined);
  const ns = territoryNamespace(t);

  const sovereignty = observed?.sovereignty;
  let hosting: RegisterEntry['hosting'];
  if (sovereignty?.provider && sovereignty.regions?.length) {
    hosting = {
      level: sovereignty.level ?? spec.hosting.level,
      provider: sovereignty.provider,
      regions: [...sovereignty.regions],
      verified: true,
      note: 'verified by the operator (hosting attestation and node region labels)',
    };
  } else {
    const condition = observed?.conditions?.find((c) => c.type === 'SovereigntyCompliant');
    const why = observed
      ? condition
        ? `not verified: ${condition.message}`
        : 'not verified yet: the operator has not reported on this Territory'
      : 'declared in the spec; the operator verifies it at run time';
    hosting = { level: spec.hosting.level, regions: spec.hosting.regions ?? [], verified: false, note: why };
  }

  const database = databaseEntry(t, observed);
  const b = spec.backup;
  const destination = evaluateDestination(b.destination.endpoint, spec.hosting.level, providers);
  const host = observed?.backup?.destinationHost ?? safeHost(b.destination.endpoint);
  // Who holds the bucket: the endpoint's host, and the provider the table names for it.
  const storageProvider = destination.sovereign ? `${destination.provider} (${host})` : host;
  const physical = b.physical.enabled;
  const backups: RegisterEntry['backups'] = {
    host,
    bucket: b.destination.bucket,
    ...(destination.sovereign ? { provider: destination.provider, region: destination.region } : {}),
    french: destination.sovereign,
    schedule: b.schedule,
    retentionDays: b.retentionDays,
    clientSideEncryption: b.clientSideEncryption,
    physical: physical
      ? {
          enabled: true,
          ...(b.physical.encryption ? { encryption: b.physical.encryption } : {}),
          readableBy: storageProvider,
        }
      : { enabled: false },
  };

  const customerKey = spec.encryption.customerKey;
  const keys: RegisterEntry['keys'] = customerKey
    ? {
        holder: 'authority',
        description: `the authority: data keys wrapped (AES-256 key wrap) by its own key in Secret ${ns}/${customerKey.secretName}; without that key they cannot be read`,
      }
    : {
        holder: 'platform',
        description: `the platform: keyring generated by the operator in Secret ${ns}/${KEYRING_SECRET}, not wrapped by a key of the authority`,
      };

  const securityMeasures = [
    `isolated namespace ${ns} (Pod Security restricted, default-deny network policies, per-namespace roles)`,
    ...(database.tier === 'Shared'
      ? [
          "a database and roles of its own in a PostgreSQL cluster shared with other authorities: other tenants' roles are refused a connection to it (pg_hba and CONNECT privilege), its passwords stay in its namespace",
        ]
      : []),
    'PostgreSQL over TLS 1.3 only, SCRAM-SHA-256 passwords rotated by the operator, one database role per purpose',
    b.clientSideEncryption
      ? `logical backups encrypted before they leave the cluster (AES-256-GCM) with keys rotated every ${spec.encryption.rotationDays} days`
      : 'logical backups NOT encrypted on the client side (spec.backup.clientSideEncryption is false)',
    physical
      ? `physical backups (CloudNativePG: WAL archive and base backups) NOT encrypted with the authority's keys: encrypted by the storage provider with its own keys (provider-managed, S3 server-side encryption), so the storage provider ${storageProvider} can read them; erased from the bucket when the Territory is deleted with deletionPolicy Delete`
      : 'no physical backups (spec.backup.physical is off): only the logical backups go to the bucket',
    `backups on schedule "${b.schedule}" (UTC), kept ${b.retentionDays} days`,
  ];
  // A provider that can read the data receives it, in the sense of art. 30.1.d: the record names it.
  const recipients = [
    ...(spec.controller.recipients ?? []),
    ...(physical
      ? [
          `storage provider ${storageProvider}: can read the physical backups (provider-managed encryption, spec.backup.physical)`,
        ]
      : []),
  ];

  return {
    territory: t.metadata.name,
    controller: {
      name,
      kind: a.kind,
      code: a.code,
      ...(siren ? { siren } : {}),
      contactEmail: spec.controller.contactEmail,
    },
    dpo: {
      ...(spec.controller.dpo.name ? { name: spec.controller.dpo.name } : {}),
      email: spec.controller.dpo.email,
    },
    purposes: spec.controller.purposes.map((p) => ({
      name: p.name,
      description: p.description ?? '',
      legalBasis: p.legalBasis,
      legalBasisText: LEGAL_BASIS_TEXT[p.legalBasis],
      dataCategories: [...p.dataCategories],
      dataSubjects: [...p.dataSubjects],
      retentionDays: p.retentionDays,
    })),
    recipients,
    hosting,
    database,
    backups,
    keys,
    transfersOutsideEU: backups.french
      ? 'none: data and backups are hosted in France'
      : `none intended, but the backup endpoint ${host} is not in the French provider table: the operator refuses to back up there`,
    securityMeasures,
  };
}

/** The database's tier, as the operator resolved it (status), or as the spec asks for it (offline). */
function databaseEntry(t: Territory, observed: ObservedStatus | undefined): RegisterEntry['database'] {
  const tier = observed?.database?.tier;
  const pool = observed?.database?.pool;
  if (tier === 'Shared' && pool) {
    return {
      tier: 'Shared',
      pool,
      description: `shared infrastructure: a database of its own in PostgreSQL pool ${pool}, run by the platform for several authorities (the platform also makes the pool's physical backups)`,
    };
  }
  if (tier === 'Dedicated') {
    return { tier: 'Dedicated', description: 'a PostgreSQL cluster of its own, in its namespace' };
  }
  const asked = t.spec.database.tier;
  const declared = asked
    ? `declared ${asked}${t.spec.database.pool ? ` (pool ${t.spec.database.pool})` : ''}`
    : "chosen by the operator from the authority's size";
  return {
    tier: 'undecided',
    description: `${declared}; the operator reports the tier in effect at run time`,
  };
}

function safeHost(endpoint: string): string {
  try {
    return new URL(endpoint).hostname;
  } catch {
    return endpoint;
  }
}

// ---------------------------------------------------------------------------------------------
// Formats

function hostingText(e: RegisterEntry): string {
  const where = e.hosting.regions.length
    ? e.hosting.regions.join(', ')
    : `any French${e.hosting.level === 'secnumcloud' ? ' SecNumCloud' : ''} region of the cluster's attested provider`;
  return `${e.hosting.provider ? `${e.hosting.provider}, ` : ''}${where} (level ${e.hosting.level}; ${e.hosting.note})`;
}

function backupText(e: RegisterEntry): string {
  const b = e.backups;
  const who = b.provider ? `${b.provider} ${b.region}` : 'not a French endpoint of the provider table';
  const physical = b.physical.enabled
    ? `; physical backups too, readable by the storage provider ${b.physical.readableBy}`
    : '';
  return `${b.host}, bucket ${b.bucket} (${who})${physical}`;
}

function retentionText(days: number): string {
  if (days % 365 === 0) return `${days} days (${days / 365} year${days === 365 ? '' : 's'})`;
  return `${days} days`;
}

/** Markdown table cells: pipes escaped, line breaks flattened. */
function md(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function toMarkdown(entries: RegisterEntry[]): string {
  const out: string[] = [
    '# Registre des activités de traitement — Record of processing activities (GDPR art. 30)',
    '',
    `${entries.length} Territor${entries.length === 1 ? 'y' : 'ies'}. Each authority is the controller (responsable de traitement) of its processing; the platform running the Territory operator is its processor (sous-traitant, GDPR art. 28).`,
  ];
  for (const e of entries) {
    const dpo = e.dpo.name ? `${e.dpo.name} <${e.dpo.email}>` : e.dpo.email;
    out.push(
      '',
      `## ${md(e.controller.name)} — ${e.controller.kind} ${e.controller.code}`,
      '',
      '| Rubrique / Field | |',
      '|---|---|',
      `| Territory | ${md(e.territory)} |`,
      `| Responsable de traitement / Controller | ${md(e.controller.name)}${e.controller.siren ? ` (SIREN ${e.controller.siren})` : ''}, ${md(e.controller.contactEmail)} |`,
      `| Délégué à la protection des données / DPO | ${md(dpo)} |`,
      `| Destinataires / Recipients | ${md(e.recipients.join(', ') || 'none declared')} |`,
      `| Hébergement des données / Data hosting | ${md(hostingText(e))} |`,
      `| Base de données / Database | ${md(e.database.description)} |`,
      `| Sauvegardes / Backups | ${md(backupText(e))}, kept ${e.backups.retentionDays} days |`,
      `| Clés de chiffrement / Encryption keys | ${md(e.keys.description)} |`,
      `| Transferts hors UE / Transfers outside the EU | ${md(e.transfersOutsideEU)} |`,
      `| Mesures de sécurité / Security measures | ${md(e.securityMeasures.join('; '))} |`,
      '',
      '| Finalité / Purpose | Description | Base légale / Legal basis | Données / Data categories | Personnes concernées / Data subjects | Conservation / Retention |',
      '|---|---|---|---|---|---|',
      ...e.purposes.map(
        (p) =>
          `| ${md(p.name)} | ${md(p.description)} | ${md(p.legalBasisText)} | ${md(p.dataCategories.join(', '))} | ${md(p.dataSubjects.join(', '))} | ${retentionText(p.retentionDays)} |`,
      ),
    );
  }
  return `${out.join('\n')}\n`;
}

export const CSV_COLUMNS = [
  'territory',
  'controller',
  'authority_kind',
  'authority_code',
  'siren',
  'controller_contact',
  'dpo_name',
  'dpo_email',
  'purpose',
  'purpose_description',
  'legal_basis',
  'data_categories',
  'data_subjects',
  'retention_days',
  'recipients',
  'hosting_level',
  'hosting_provider',
  'hosting_regions',
  'hosting_verified',
  'database',
  'backup_host',
  'backup_bucket',
  'backup_provider',
  'backup_retention_days',
  'backup_physical',
  'keys_holder',
  'keys',
  'transfers_outside_eu',
  'security_measures',
] as const;

/**
 * One RFC 4180 field: quoted when it holds a comma, a quote or a line break (quotes doubled). A
 * value a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe (OWASP).
 */
export function csvField(value: string | number | boolean): string {
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(entries: RegisterEntry[]): string {
  const rows: string[][] = [[...CSV_COLUMNS]];
  for (const e of entries) {
    for (const p of e.purposes) {
      const row: Record<(typeof CSV_COLUMNS)[number], string | number | boolean> = {
        territory: e.territory,
        controller: e.controller.name,
        authority_kind: e.controller.kind,
        authority_code: e.controller.code,
        siren: e.controller.siren ?? '',
        controller_contact: e.controller.contactEmail,
        dpo_name: e.dpo.name ?? '',
        dpo_email: e.dpo.email,
        purpose: p.name,
        purpose_description: p.description,
        legal_basis: p.legalBasisText,
        data_categories: p.dataCategories.join('; '),
        data_subjects: p.dataSubjects.join('; '),
        retention_days: p.retentionDays,
        recipients: e.recipients.join('; '),
        hosting_level: e.hosting.level,
        hosting_provider: e.hosting.provider ?? '',
        hosting_regions: e.hosting.regions.join('; '),
        hosting_verified: e.hosting.verified,
        database: e.database.description,
        backup_host: e.backups.host,
        backup_bucket: e.backups.bucket,
        backup_provider: e.backups.provider ? `${e.backups.provider} ${e.backups.region}` : '',
        backup_retention_days: e.backups.retentionDays,
        backup_physical: e.backups.physical.enabled
          ? `on, readable by the storage provider ${e.backups.physical.readableBy}`
          : 'off',
        keys_holder: e.keys.holder,
        keys: e.keys.description,
        transfers_outside_eu: e.transfersOutsideEU,
        security_measures: e.securityMeasures.join('; '),
      };
      rows.push(CSV_COLUMNS.map((c) => csvField(row[c])));
    }
  }
  // CRLF line ends, as RFC 4180 says and spreadsheets expect.
  return `${rows.map((r) => r.join(',')).join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// Command

function fromCluster(
  objects: KubeObject[],
  providers: Provider[],
): { entries: RegisterEntry[]; errors: string[] } {
  const entries: RegisterEntry[] = [];
  const errors: string[] = [];
  for (const object of objects) {
    // The status is the operator's; only the spec is validated here.
    const { status, ...rest } = object;
    const parsed = parseTerritory(rest);
    if (!parsed.ok) {
      errors.push(`Territory ${object.metadata.name}: ${parsed.errors.join('; ')}`);
      continue;
    }
    entries.push(registerEntry(parsed.territory, providers, (status ?? {}) as ObservedStatus));
  }
  return { entries, errors };
}

export function registerCommand(): Command {
  return new Command('register')
    .description(
      'print the GDPR art. 30 record of processing of every Territory (cluster, or --file offline)',
    )
    .addOption(new Option('-o, --output <format>', 'markdown, csv, json or yaml').default('markdown'))
    .option('-f, --file <files...>', 'read Territories from these YAML files instead of the cluster')
    .option('--config <file>', 'operator configuration (its provider table names the backup providers)')
    .option(
      '--bom',
      'start the CSV with a UTF-8 byte-order mark, so spreadsheet software reads the accents right',
    )
    .action(
      async (o: { output: string; file?: string[]; config?: string; bom?: boolean }, command: Command) => {
        const format = outputFormat(o.output, ['markdown', 'csv', 'json', 'yaml'] as const);
        let providers: Provider[];
        try {
          providers = loadOperatorConfig(o.config).providers;
        } catch (err) {
          throw new CliError((err as Error).message, { exitCode: EXIT.usage });
        }
        let entries: RegisterEntry[];
        let errors: string[] = [];
        if (o.file) {
          entries = requireTerritories(o.file).map(({ territory }) => registerEntry(territory, providers));
        } else {
          const kube = await connect(command.optsWithGlobals<ClusterOptions>());
          try {
            ({ entries, errors } = fromCluster(await listTerritories(kube), providers));
          } finally {
            await kube.close();
          }
        }
        if (format === 'markdown') process.stdout.write(toMarkdown(entries));
        else if (format === 'csv') process.stdout.write(`${o.bom ? '\uFEFF' : ''}${toCsv(entries)}`);
        else process.stdout.write(formatData(entries, format));
        if (errors.length > 0) {
          throw new CliError(
            `the record is incomplete: invalid Territories left out:\n  ${errors.join('\n  ')}`,
            {
              hint: 'fix those Territories (`territoryctl status` shows their InvalidSpec reason)',
            },
          );
        }
      },
    );
}
