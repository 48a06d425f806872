// The README of an export bundle, in French then English: what the bundle holds and how to restore
// it on any PostgreSQL, without the Territory operator (SecNumCloud 19.1: data returned in
// documented formats). Pure: everything it says comes from `BundleFacts`.

export interface BundleFacts {
  territory: string;
  officialName: string;
  authority: string;
  namespace: string;
  database: string;
  postgresVersion: string;
  mode: 'decrypted' | 'encrypted';
  backup: { source: string; takenAt: string; keyId: string; plaintextBytes?: number };
  /** Path inside the bundle of the dump (decrypted) or of the encrypted object. */
  dumpFile: string;
  /** Encrypted mode: the keyring file and, when wrapped, the customer key's fingerprint and Secret. */
  keyring?: { file: string; wrapped: boolean; kekFingerprint?: string; kekSecret?: string };
  roles: string[];
  createdAt: string;
}

function fr(f: BundleFacts): string {
  const lines = [
    `# Export de réversibilité — ${f.officialName} (${f.authority})`,
    '',
    `Ce dossier, exporté le ${f.createdAt}, contient toutes les données du Territory \`${f.territory}\` (espace de noms \`${f.namespace}\`).`,
    'Il permet de restaurer la base de données sur n’importe quel serveur PostgreSQL, sans l’opérateur Territory.',
    '',
    '## Contenu',
    '',
    '| Fichier | Contenu |',
    '|---|---|',
    '| `territory.yaml` | la ressource Territory (spécification : registre des traitements, hébergement, sauvegardes) |',
    '| `manifests.yaml` | les objets Kubernetes gérés pour ce Territory (les valeurs des Secrets ne sont pas exportées) |',
    f.mode === 'decrypted'
      ? `| \`${f.dumpFile}\` | la dernière sauvegarde, **déchiffrée** : un fichier \`pg_dump\` au format « custom » |`
      : `| \`${f.dumpFile}\` | la dernière sauvegarde, **chiffrée** (format TERRBK01, AES-256-GCM) |`,
    ...(f.keyring ? [`| \`${f.keyring.file}\` | le trousseau de clés qui ouvre la sauvegarde |`] : []),
    '| `bundle.json` | la description de l’export (origine de la sauvegarde, clé, tailles) |',
    '| `SHA256SUMS` | l’empreinte SHA-256 de chaque fichier |',
    '',
    `Sauvegarde : \`${f.backup.source}\`, prise le ${f.backup.takenAt}, chiffrée avec la version de clé \`${f.backup.keyId}\`.`,
    '',
    '## 1. Vérifier l’intégrité',
    '',
    '```sh',
    'sha256sum -c SHA256SUMS',
    '```',
    '',
  ];
  if (f.mode === 'encrypted' && f.keyring) {
    const plain = f.dumpFile.replace(/\.enc$/, '');
    lines.push(
      '## 2. Déchiffrer la sauvegarde',
      '',
      f.keyring.wrapped
        ? `Le trousseau est protégé par la clé propre de la collectivité (Secret \`${f.keyring.kekSecret}\`, empreinte \`${f.keyring.kekFingerprint}\`). Elle n’est **pas** dans cet export : fournissez-la (32 octets, bruts, en base64 ou en hexadécimal) dans un fichier \`kek\`.`
        : '**Attention :** le trousseau n’est pas protégé par une clé de la collectivité : quiconque détient ce dossier peut lire les données. Conservez-le comme les données elles-mêmes.',
      '',
      '```sh',
      `territoryctl decrypt ${f.dumpFile} --keyring ${f.keyring.file}${f.keyring.wrapped ? ' --kek-file kek' : ''} --out ${plain}`,
      '```',
      '',
      `\`territoryctl\` fait partie de l’opérateur Territory (logiciel libre, Apache-2.0). Le format TERRBK01 est documenté dans son code source (\`operator/src/backup/format.ts\`) : HKDF-SHA256 puis AES-256-GCM par blocs (construction STREAM).`,
      '',
      '## 3. Restaurer',
      '',
    );
    lines.push(...restoreCommands(f, plain, 'fr'));
  } else {
    lines.push('## 2. Restaurer', '', ...restoreCommands(f, f.dumpFile, 'fr'));
  }
  return lines.join('\n');
}

function en(f: BundleFacts): string {
  const lines = [
    `# Reversibility export — ${f.officialName} (${f.authority})`,
    '',
    `This folder, exported on ${f.createdAt}, holds all the data of Territory \`${f.territory}\` (namespace \`${f.namespace}\`).`,
    'It restores the database on any PostgreSQL server, without the Territory operator.',
    '',
    '## Contents',
    '',
    '| File | What it is |',
    '|---|---|',
    '| `territory.yaml` | the Territory resource (its spec: record of processing, hosting, backups) |',
    '| `manifests.yaml` | the Kubernetes objects managed for this Territory (Secret values are not exported) |',
    f.mode === 'decrypted'
      ? `| \`${f.dumpFile}\` | the latest backup, **decrypted**: a \`pg_dump\` custom-format file |`
      : `| \`${f.dumpFile}\` | the latest backup, **encrypted** (TERRBK01 format, AES-256-GCM) |`,
    ...(f.keyring ? [`| \`${f.keyring.file}\` | the keyring that opens the backup |`] : []),
    '| `bundle.json` | a description of the export (where the backup came from, key, sizes) |',
    '| `SHA256SUMS` | the SHA-256 checksum of every file |',
    '',
    `Backup: \`${f.backup.source}\`, taken on ${f.backup.takenAt}, encrypted with key version \`${f.backup.keyId}\`.`,
    '',
    '## 1. Check integrity',
    '',
    '```sh',
    'sha256sum -c SHA256SUMS',
    '```',
    '',
  ];
  if (f.mode === 'encrypted' && f.keyring) {
    const plain = f.dumpFile.replace(/\.enc$/, '');
    lines.push(
      '## 2. Decrypt the backup',
      '',
      f.keyring.wrapped
        ? `The keyring is protected by the authority's own key (Secret \`${f.keyring.kekSecret}\`, fingerprint \`${f.keyring.kekFingerprint}\`). It is **not** in this export: supply it (32 bytes, raw, base64 or hex) in a file \`kek\`.`
        : '**Warning:** the keyring is not protected by a key of the authority: whoever holds this folder can read the data. Keep it as safe as the data itself.',
      '',
      '```sh',
      `territoryctl decrypt ${f.dumpFile} --keyring ${f.keyring.file}${f.keyring.wrapped ? ' --kek-file kek' : ''} --out ${plain}`,
      '```',
      '',
      '`territoryctl` is part of the Territory operator (free software, Apache-2.0). The TERRBK01 format is documented in its source (`operator/src/backup/format.ts`): HKDF-SHA256, then AES-256-GCM in chunks (STREAM construction).',
      '',
      '## 3. Restore',
      '',
    );
    lines.push(...restoreCommands(f, plain, 'en'));
  } else {
    lines.push('## 2. Restore', '', ...restoreCommands(f, f.dumpFile, 'en'));
  }
  return lines.join('\n');
}

function restoreCommands(f: BundleFacts, dump: string, lang: 'fr' | 'en'): string[] {
  const say =
    lang === 'fr'
      ? {
          version: `Il faut \`pg_restore\` en version ${f.postgresVersion} ou plus récente (la base d’origine est en PostgreSQL ${f.postgresVersion}).`,
          create: 'Créer une base vide puis y restaurer la sauvegarde (en une seule transaction) :',
          owners: `\`--no-owner --no-privileges\` rend les objets à l’utilisateur qui restaure : les rôles d’origine (${f.roles.join(', ')}) n’ont pas besoin d’exister. Pour les recréer à l’identique, créez-les d’abord et retirez ces deux options.`,
          inspect: 'Lister le contenu, ou obtenir un script SQL lisible sans serveur :',
        }
      : {
          version: `You need \`pg_restore\` ${f.postgresVersion} or newer (the source database runs PostgreSQL ${f.postgresVersion}).`,
          create: 'Create an empty database, then restore the backup into it (in one transaction):',
          owners: `\`--no-owner --no-privileges\` gives the objects to the restoring user: the original roles (${f.roles.join(', ')}) need not exist. To keep them, create them first and drop both options.`,
          inspect: 'List the contents, or get a plain SQL script without any server:',
        };
  return [
    say.version,
    '',
    say.create,
    '',
    '```sh',
    `createdb --host=<host> --username=<user> ${f.database}`,
    `pg_restore --host=<host> --username=<user> --dbname=${f.database} --no-owner --no-privileges --single-transaction --exit-on-error ${dump}`,
    '```',
    '',
    say.owners,
    '',
    say.inspect,
    '',
    '```sh',
    `pg_restore --list ${dump}`,
    `pg_restore --file=${f.database}.sql ${dump}`,
    '```',
  ];
}

export function bundleReadme(f: BundleFacts): string {
  return `${fr(f)}\n\n---\n\n${en(f)}\n`;
}
