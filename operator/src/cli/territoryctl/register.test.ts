import { describe, expect, it } from 'vitest';
import { EXAMPLES_DIR, readExamples } from '../../api/test-fixtures.ts';
import { defaultProviders } from '../../config/operator-config.ts';
import { requireTerritories } from './files.ts';
import { CSV_COLUMNS, csvField, type RegisterEntry, registerEntry, toCsv, toMarkdown } from './register.ts';

const providers = defaultProviders();
const files = readExamples().map((e) => `${EXAMPLES_DIR}${e.file}`);
const territories = requireTerritories(files).map((f) => f.territory);
const entries = territories.map((t) => registerEntry(t, providers));

/** A strict RFC 4180 reader, to prove the CSV parses back into exactly the fields written. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length > 0) throw new Error('CSV does not end with CRLF');
  return rows;
}

describe('register of the examples (offline)', () => {
  it('has one entry per example Territory, with its official controller and hosting', () => {
    expect(entries.map((e) => e.territory).sort()).toEqual(territories.map((t) => t.metadata.name).sort());
    const rennes = entries.find((e) => e.territory === 'rennes-metropole') as RegisterEntry;
    expect(rennes.controller).toMatchObject({
      name: 'Rennes Métropole',
      kind: 'epci',
      code: '243500139',
      siren: '243500139',
    });
    expect(rennes.hosting).toMatchObject({
      level: 'secnumcloud',
      regions: ['cloudgouv-eu-west-1'],
      verified: false,
    });
    expect(rennes.backups).toMatchObject({
      host: 'oos.cloudgouv-eu-west-1.outscale.com',
      provider: 'outscale',
      region: 'cloudgouv-eu-west-1',
      french: true,
    });
    expect(rennes.keys.holder).toBe('authority');
    expect(rennes.transfersOutsideEU).toMatch(/^none/);
    const acigne = entries.find((e) => e.territory === 'acigne') as RegisterEntry;
    expect(acigne.controller.name).toBe('Acigné');
    expect(acigne.keys.holder).toBe('platform');
    expect(acigne.purposes.map((p) => [p.name, p.legalBasis, p.retentionDays])).toEqual([
      ['etat-civil', 'legal-obligation', 36500],
      ['cantine', 'public-task', 1825],
    ]);
  });

  it('CSV: a header, then one row per purpose, parsing back into the same fields', () => {
    const rows = parseCsv(toCsv(entries));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const purposes = territories.flatMap((t) =>
      t.spec.controller.purposes.map((p) => [t.metadata.name, p.name]),
    );
    const body = rows.slice(1);
    expect(body).toHaveLength(purposes.length);
    for (const row of body) expect(row).toHaveLength(CSV_COLUMNS.length);
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    expect(body.map((r) => [r[col('territory')], r[col('purpose')]])).toEqual(purposes);
    const cantine = body.find((r) => r[col('purpose')] === 'cantine') as string[];
    expect(cantine[col('controller')]).toBe('Acigné');
    expect(cantine[col('legal_basis')]).toBe('public task, mission de service public (GDPR art. 6.1.e)');
    expect(cantine[col('data_subjects')]).toBe('pupils; parents');
    expect(cantine[col('backup_host')]).toBe('s3.gra.io.cloud.ovh.net');
    expect(cantine[col('transfers_outside_eu')]).toMatch(/^none/);
    // A field holding a quote round-trips: the schedule is quoted in the security measures.
    expect(cantine[col('security_measures')]).toContain('schedule "0 2 * * *"');
  });

  it('CSV quoting follows RFC 4180 and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a, b')).toBe('"a, b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvField('-1+2')).toBe("'-1+2");
    expect(csvField(365)).toBe('365');
  });

  it('Markdown: one section per Territory with its purposes, and table cells that cannot break', () => {
    const md = toMarkdown(entries);
    for (const e of entries) {
      expect(md).toContain(`## ${e.controller.name} — ${e.controller.kind} ${e.controller.code}`);
      for (const p of e.purposes) expect(md).toMatch(new RegExp(`^\\| ${p.name} \\|`, 'm'));
    }
    expect(md).toContain(
      '| Transferts hors UE / Transfers outside the EU | none: data and backups are hosted in France |',
    );
    const tricky = { ...entries[0], recipients: ['a | b'] } as RegisterEntry;
    expect(toMarkdown([tricky])).toContain('a \\| b');
  });

  it('JSON is the entries themselves', () => {
    expect(JSON.parse(JSON.stringify(entries))).toHaveLength(files.length);
  });

  it('says plainly when the storage provider can read the physical backups, and when nothing of the kind is kept', () => {
    const acigne = territories.find((x) => x.metadata.name === 'acigne');
    if (!acigne) throw new Error('acigne example missing');
    const off = registerEntry(acigne, providers);
    expect(off.backups.physical).toEqual({ enabled: false });
    expect(off.securityMeasures).toContain(
      'no physical backups (spec.backup.physical is off): only the logical backups go to the bucket',
    );
    expect(off.recipients.join(' ')).not.toContain('storage provider');

    const withPhysical = {
      ...acigne,
      spec: {
        ...acigne.spec,
        backup: {
          ...acigne.spec.backup,
          physical: { enabled: true, encryption: 'ProviderManaged' as const },
        },
      },
    };
    const on = registerEntry(withPhysical, providers);
    const host = new URL(acigne.spec.backup.destination.endpoint).hostname;
    const provider = `${on.backups.provider} (${host})`;
    expect(on.backups.physical).toEqual({
      enabled: true,
      encryption: 'ProviderManaged',
      readableBy: provider,
    });
    expect(on.securityMeasures).toContainEqual(
      expect.stringContaining(`so the storage provider ${provider} can read them`),
    );
    expect(on.recipients.at(-1)).toBe(
      `storage provider ${provider}: can read the physical backups (provider-managed encryption, spec.backup.physical)`,
    );
    // The declared recipients stay first, as declared.
    expect(on.recipients.slice(0, -1)).toEqual(off.recipients);
    const md = toMarkdown([on]);
    expect(md).toContain(`physical backups too, readable by the storage provider ${provider}`);
    expect(md).toMatch(
      /\| Destinataires \/ Recipients \| .*storage provider .*can read the physical backups/,
    );
    const [header, row] = parseCsv(toCsv([on]));
    expect(row?.[header?.indexOf('backup_physical') ?? -1]).toBe(
      `on, readable by the storage provider ${provider}`,
    );
    expect(parseCsv(toCsv([off]))[1]?.[header?.indexOf('backup_physical') ?? -1]).toBe('off');
  });

  it('says plainly when the database runs on infrastructure shared with other authorities', () => {
    const t = territories.find((x) => x.metadata.name === 'acigne');
    if (!t) throw new Error('acigne example missing');
    const shared = registerEntry(t, providers, { database: { tier: 'Shared', pool: 'pool-35' } });
    expect(shared.database).toMatchObject({ tier: 'Shared', pool: 'pool-35' });
    expect(shared.database.description).toContain('shared infrastructure');
    expect(shared.securityMeasures.join(' ')).toContain('shared with other authorities');
    expect(toMarkdown([shared])).toMatch(
      /\| Base de données \/ Database \| shared infrastructure: .*pool-35/,
    );
    const [header, row] = parseCsv(toCsv([shared]));
    expect(row?.[header?.indexOf('database') ?? -1]).toContain('pool pool-35');
    const own = registerEntry(t, providers, { database: { tier: 'Dedicated' } });
    expect(own.database.description).toBe('a PostgreSQL cluster of its own, in its namespace');
    expect(own.securityMeasures.join(' ')).not.toContain('shared with other authorities');
    // Offline, the record says what the spec asks and that the operator decides.
    expect(registerEntry(t, providers).database).toMatchObject({ tier: 'undecided' });
  });

  it('reports the hosting the operator verified, when read from the cluster', () => {
    const t = territories.find((x) => x.metadata.name === 'acigne');
    if (!t) throw new Error('acigne example missing');
    const verified = registerEntry(t, providers, {
      sovereignty: { provider: 'ovhcloud', regions: ['GRA7'], level: 'standard' },
      backup: { destinationHost: 's3.gra.io.cloud.ovh.net' },
    });
    expect(verified.hosting).toMatchObject({ provider: 'ovhcloud', regions: ['GRA7'], verified: true });
    const refused = registerEntry(t, providers, {
      conditions: [{ type: 'SovereigntyCompliant', status: 'False', message: 'no node reports a label' }],
    });
    expect(refused.hosting.verified).toBe(false);
    expect(refused.hosting.note).toBe('not verified: no node reports a label');
  });
});
