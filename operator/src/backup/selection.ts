// Which backup a restore takes: the latest, a named one, or the latest taken at or before a time.
// Pure: a listing in, one backup (or why none) out. The listing is what `list` shows (listBackups).
import { BACKUP_SUFFIX } from './naming.ts';

export type BackupChoice = { latest: true } | { object: string } | { before: Date };

/** The object names a person (or spec.restore.backup) gives: `<YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc`. */
export const BACKUP_NAME = /^\d{8}T\d{6}\.\d{3}Z\.pgdump\.enc$/;

/** In words, for messages and logs. */
export function describeChoice(choice: BackupChoice): string {
  if ('latest' in choice) return 'the latest backup';
  if ('object' in choice) return `backup ${choice.object}`;
  return `the latest backup taken at or before ${choice.before.toISOString()}`;
}

/**
 * The key of the backup `choice` names among `backups` (any order), or undefined when none fits.
 * `object` is matched by its name (the last segment of the key), so a full key and a bare name agree.
 */
export function selectBackup(
  backups: readonly { key: string; takenAt: Date }[],
  choice: BackupChoice,
): string | undefined {
  if ('object' in choice) {
    const name = choice.object.slice(choice.object.lastIndexOf('/') + 1);
    return backups.find((b) => b.key.slice(b.key.lastIndexOf('/') + 1) === name)?.key;
  }
  const limit = 'before' in choice ? choice.before.getTime() : Number.POSITIVE_INFINITY;
  let best: { key: string; takenAt: Date } | undefined;
  for (const b of backups) {
    if (!b.key.endsWith(BACKUP_SUFFIX) || b.takenAt.getTime() > limit) continue;
    if (!best || b.takenAt.getTime() > best.takenAt.getTime()) best = b;
  }
  return best?.key;
}
