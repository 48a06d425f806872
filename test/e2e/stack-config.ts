// The operator configuration a platform team would write for the e2e cluster: what it attests
// about the cluster (provider, region, qualification), which PostgreSQL image to run, and the
// egress of the examples' backup endpoints. The API server's addresses are not given: the operator
// finds them itself, as on any cluster.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EXAMPLES_DIR } from './support.ts';

/**
 * A documentation range (RFC 5737), never routed from the test node: the examples' real endpoints
 * are outside the test cluster, so their backups are scheduled but cannot run here.
 */
const UNREACHABLE_BACKUP_CIDR = '198.51.100.0/24';

function exampleBackupHosts(): string[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map(
      (f) =>
        parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as {
          spec: { backup: { destination: { endpoint: string } } };
        },
    )
    .map((t) => new URL(t.spec.backup.destination.endpoint).hostname);
}

export function testClusterOperatorConfig(opts: {
  region: string;
  postgresImage: string;
}): Record<string, unknown> {
  return {
    cluster: {
      provider: 'outscale',
      regions: [opts.region],
      qualification: 'secnumcloud',
      nodeEvidence: 'required',
    },
    backupEgress: exampleBackupHosts().map((host) => ({ host, cidrs: [UNREACHABLE_BACKUP_CIDR] })),
    postgresImage: opts.postgresImage,
    resyncSeconds: 30,
  };
}
