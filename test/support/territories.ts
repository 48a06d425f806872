// A small valid Territory for the operator's integration tests: a commune (Rennes) on Outscale's
// eu-west-2, one purpose, backups to Outscale's object storage, credentials in the Secret `oos`.
// Tests spread their own fields over `spec`.
import type { KubeObject } from '../../operator/src/runtime/types.ts';

/** What a platform team attests for these Territories' cluster (no nodes in these tests: attestation only). */
export const OUTSCALE_ATTESTATION = {
  provider: 'outscale',
  regions: ['eu-west-2'],
  qualification: 'standard',
  nodeEvidence: 'attestation-only',
};

export function rennesTerritory(name: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'Territory',
    metadata: { name },
    spec: {
      authority: { kind: 'commune', code: '35238' },
      controller: {
        contactEmail: 'dpd@rennes.example.fr',
        dpo: { email: 'dpo@rennes.example.fr' },
        purposes: [
          {
            name: 'etat-civil',
            dataCategories: ['identity'],
            dataSubjects: ['residents'],
            retentionDays: 365,
          },
        ],
      },
      backup: {
        destination: {
          endpoint: 'https://oos.eu-west-2.outscale.com',
          bucket: 'rennes-backups',
          credentialsSecret: { name: 'oos' },
        },
      },
      ...spec,
    },
  };
}

/**
 * An EPCI (Rennes Métropole) at the SecNumCloud level, its keyring wrapped by the customer key in the
 * Secret `rennes-kek`; `encryption` fields (rotationDays…) are added to that.
 */
export function secnumcloudTerritory(name: string, encryption: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'Territory',
    metadata: { name },
    spec: {
      authority: { kind: 'epci', code: '243500139' },
      controller: {
        contactEmail: 'donnees@rennes.example.fr',
        dpo: { email: 'dpo@rennes.example.fr' },
        purposes: [
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['travellers'], retentionDays: 730 },
        ],
      },
      hosting: { level: 'secnumcloud' },
      encryption: { ...encryption, customerKey: { secretName: 'rennes-kek' } },
      backup: {
        destination: {
          endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
          bucket: 'rennes-backups',
          credentialsSecret: { name: 'oos' },
        },
      },
    },
  };
}
