// Public API of the backup module, for the operator (metadata names, object naming) and for
// `territoryctl export` (list, verify and decrypt a backup without restoring it).
export {
  type BackupListing,
  type BackupLog,
  type BackupResult,
  type Deps,
  decryptBackupTo,
  expectedBinding,
  type KeyResolver,
  type LoadedKeys,
  listBackups,
  loadKeys,
  META,
  type RestoreResult,
  readManifest,
  resolveBackupKey,
  runBackup,
  runPrune,
  runRestore,
  type VerifiedBackup,
  verifyBackup,
} from './commands.ts';
export { type BackupConfig, ConfigError, loadConfig } from './config.ts';
export { DRILL_EXIT, DrillError, type DrillResult, runDrill } from './drill.ts';
export {
  type BackupBinding,
  BackupFormatError,
  DecryptStream,
  EncryptStream,
  FORMAT_VERSION,
  MAGIC,
} from './format.ts';
export { type BackupManifest, openManifest } from './manifest.ts';
export {
  BACKUP_SUFFIX,
  backupObjectKey,
  backupTime,
  MANIFEST_SUFFIX,
  manifestKeyOf,
  selectExpired,
  territoryFolder,
} from './naming.ts';
export { createS3Client, type S3Location } from './s3-store.ts';
