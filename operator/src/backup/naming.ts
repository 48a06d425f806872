// Where backup objects live in the bucket, and which ones retention lets go. Pure.
//
//   <prefix>/<territory>/<YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc        finished backups
//   <prefix>/<territory>/<YYYYMMDDTHHMMSS.mmmZ>.manifest.enc      their table checksums (manifest.ts)
//   <prefix>/<territory>/.incomplete/<same>-<random>.pgdump.enc   uploads in progress
//
// A backup is written under .incomplete/ and only copied to its final name once pg_dump has
// exited 0 and the upload completed, so every object at the final name is a whole dump. Its
// manifest is written (in one request) just before that copy. Names sort by time, so "latest" is
// the greatest key; only `.pgdump.enc` names are backups, so listing, restoring and exporting never
// see a manifest.

export const BACKUP_SUFFIX = '.pgdump.enc';
export const MANIFEST_SUFFIX = '.manifest.enc';
export const INCOMPLETE_DIR = '.incomplete';
const DAY_MS = 86_400_000;
const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** `<prefix>/<territory>/`, the folder holding one territory's backups (prefix may be empty). */
export function territoryFolder(prefix: string, territory: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(territory)) {
    throw new Error(`territory name "${territory}" is not a valid DNS label`);
  }
  const clean = prefix.replace(/^\/+|\/+$/g, '');
  return clean === '' ? `${territory}/` : `${clean}/${territory}/`;
}

/** Basic ISO 8601 with milliseconds: sortable, no colons (awkward in keys and on disks). */
export function backupStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '');
}

export function backupObjectKey(prefix: string, territory: string, at: Date): string {
  return `${territoryFolder(prefix, territory)}${backupStamp(at)}${BACKUP_SUFFIX}`;
}

export function incompleteObjectKey(prefix: string, territory: string, at: Date, nonce: string): string {
  return `${territoryFolder(prefix, territory)}${INCOMPLETE_DIR}/${backupStamp(at)}-${nonce}${BACKUP_SUFFIX}`;
}

/** The time a backup was taken, from its key; undefined for keys that are not backups. */
export function backupTime(key: string): Date | undefined {
  const base = key.slice(key.lastIndexOf('/') + 1);
  if (!base.endsWith(BACKUP_SUFFIX)) return undefined;
  const m = STAMP.exec(base.slice(0, -BACKUP_SUFFIX.length));
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m;
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** The manifest of the backup at `backupKey`: same folder, same stamp. */
export function manifestKeyOf(backupKey: string): string {
  if (!backupTime(backupKey)) throw new Error(`${backupKey} is not the name of a backup`);
  return `${backupKey.slice(0, -BACKUP_SUFFIX.length)}${MANIFEST_SUFFIX}`;
}

/** The backup a manifest key describes; undefined for keys that are not manifests. */
export function backupKeyOfManifest(key: string): string | undefined {
  if (!key.endsWith(MANIFEST_SUFFIX)) return undefined;
  const backupKey = `${key.slice(0, -MANIFEST_SUFFIX.length)}${BACKUP_SUFFIX}`;
  return backupTime(backupKey) ? backupKey : undefined;
}

export interface StoredBackup {
  key: string;
  /** When the backup was taken (from its name). */
  takenAt: Date;
}

/**
 * Backups past retention: taken more than `retentionDays` ago. The newest `keepAtLeast`
 * (default 1) are always kept, so a run of failed backups can never let retention delete the
 * last good copy.
 */
export function selectExpired<T extends StoredBackup>(
  backups: readonly T[],
  opts: { now: Date; retentionDays: number; keepAtLeast?: number },
): T[] {
  const keep = opts.keepAtLeast ?? 1;
  if (!Number.isFinite(opts.retentionDays) || opts.retentionDays < 0) {
    throw new Error(`retention days must be a non-negative number, got ${opts.retentionDays}`);
  }
  const newestFirst = [...backups].sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
  return newestFirst
    .slice(keep)
    .filter((b) => b.takenAt.getTime() + opts.retentionDays * DAY_MS < opts.now.getTime());
}

/** Leftovers of runs that died mid-upload: old enough that no live run can still own them. */
export function isAbandoned(lastModified: Date, now: Date, graceMs = DAY_MS): boolean {
  return lastModified.getTime() + graceMs < now.getTime();
}
