// Sovereignty gate. Pure: decides from the operator's attestation, the provider table and the nodes'
// region labels whether a Territory's hosting requirement is met, and which regions its workloads may
// run in. It fails closed: missing evidence is a "no", never a "probably".
import { checkEndpoint } from '../api/endpoint.ts';
import type { OperatorConfig, Provider } from '../config/operator-config.ts';

export const REGION_LABEL = 'topology.kubernetes.io/region';

export type HostingLevel = 'standard' | 'secnumcloud';

export interface HostingRequirement {
  level: HostingLevel;
  /** Regions the authority allows; empty means every French region of the attested provider. */
  regions: string[];
}

export interface NodeFact {
  name: string;
  region: string | undefined;
}

export type SovereigntyVerdict =
  | { compliant: true; provider: string; level: HostingLevel; allowedRegions: string[]; message: string }
  | { compliant: false; reason: string; message: string };

function regionsOf(provider: Provider, level: HostingLevel) {
  return provider.regions.filter((r) => r.french && (level === 'standard' || r.secnumcloud));
}

export function evaluateSovereignty(
  requirement: HostingRequirement,
  cluster: OperatorConfig['cluster'],
  providers: Provider[],
  nodes: NodeFact[],
): SovereigntyVerdict {
  const deny = (reason: string, message: string): SovereigntyVerdict => ({
    compliant: false,
    reason,
    message,
  });

  if (!cluster.provider) {
    return deny(
      'NoHostingAttestation',
      'the operator configuration does not attest a hosting provider (cluster.provider)',
    );
  }
  const provider = providers.find((p) => p.name === cluster.provider);
  if (!provider) {
    return deny('UnknownProvider', `provider "${cluster.provider}" is not in the French provider table`);
  }
  if (requirement.level === 'secnumcloud' && cluster.qualification !== 'secnumcloud') {
    return deny(
      'QualificationNotMet',
      `spec.hosting.level requires SecNumCloud but the cluster is attested as "${cluster.qualification}"`,
    );
  }

  const eligible = new Set(regionsOf(provider, requirement.level).map((r) => r.name));
  const attested = cluster.regions.length > 0 ? cluster.regions : [];
  const badAttested = attested.filter((r) => !eligible.has(r));
  if (attested.length === 0) {
    return deny('NoHostingAttestation', 'the operator configuration attests no region (cluster.regions)');
  }
  if (badAttested.length > 0) {
    return deny(
      'RegionNotEligible',
      `attested region(s) ${badAttested.join(', ')} are not French${requirement.level === 'secnumcloud' ? ' SecNumCloud' : ''} regions of ${provider.name}`,
    );
  }

  let present: Set<string>;
  if (cluster.nodeEvidence === 'attestation-only') {
    present = new Set(attested);
  } else {
    if (nodes.length === 0) {
      return deny(
        'NoNodeEvidence',
        `no node reports a ${REGION_LABEL} label, so French hosting cannot be shown`,
      );
    }
    const unlabelled = nodes.filter((n) => !n.region).map((n) => n.name);
    if (unlabelled.length > 0) {
      return deny('NoNodeEvidence', `node(s) ${list(unlabelled)} carry no ${REGION_LABEL} label`);
    }
    // Every node must be eligible: system components on a foreign node could still process the data.
    const foreign = nodes.filter((n) => !eligible.has(n.region as string));
    if (foreign.length > 0) {
      const shown = foreign.map((n) => `${n.name} (${n.region})`);
      return deny(
        'RegionNotEligible',
        `node(s) ${list(shown)} are outside the French${requirement.level === 'secnumcloud' ? ' SecNumCloud' : ''} regions of ${provider.name}`,
      );
    }
    present = new Set(nodes.map((n) => n.region as string));
  }

  const wanted = requirement.regions.length > 0 ? requirement.regions : [...eligible];
  const allowedRegions = wanted.filter((r) => eligible.has(r) && present.has(r)).sort();
  if (allowedRegions.length === 0) {
    return deny(
      'RegionNotAvailable',
      `none of the allowed regions (${wanted.join(', ')}) is available on this cluster (${[...present].sort().join(', ')})`,
    );
  }
  return {
    compliant: true,
    provider: provider.name,
    level: requirement.level,
    allowedRegions,
    message: `hosted by ${provider.displayName ?? provider.name} in ${allowedRegions.join(', ')} (${requirement.level})`,
  };
}

/** A compact list for condition messages: enough to act on, bounded for large clusters. */
function list(items: string[], max = 5): string {
  return items.length <= max
    ? items.join(', ')
    : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

export type DestinationVerdict =
  | { sovereign: true; provider: string; region: string; host: string }
  | { sovereign: false; reason: 'NonSovereignDestination' | 'InvalidDestination'; message: string };

/** A table entry (lower-cased): a plain host name, or `*.` and a plain suffix. Anything else never matches. */
const TABLE_HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function hostMatches(pattern: string, host: string): boolean {
  if (!TABLE_HOST.test(pattern)) return false; // fail closed on a malformed table entry
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".s3.fr1.cloud-temple.com"
    return (
      host.endsWith(suffix) && host.length > suffix.length && !host.slice(0, -suffix.length).includes('.')
    );
  }
  return pattern === host;
}

/**
 * A backup destination is sovereign when its endpoint is a French object storage endpoint of the
 * provider table; a SecNumCloud Territory also needs a SecNumCloud endpoint (SecNumCloud 12.5: backup
 * sites follow the same location rules).
 *
 * The endpoint is judged as every program that uses it will read it: the AWS SDK in Node (WHATWG URL),
 * barman-cloud (Python) and CloudNativePG (Go) disagree on many URLs (`https://a\@b`, `https:/a`,
 * `0x7f.1`, tabs...), so only the one form they all read alike is accepted (api/endpoint.ts), whatever the
 * CRD let through (an older CRD, `territoryctl` offline). The refusal never repeats the URL: it may carry
 * a password.
 *
 * The port is deliberately not part of the decision. Sovereignty is about where the data lands: the host
 * names the provider's machines (and the backupEgress CIDRs pin the addresses the namespace may reach);
 * another port on the same host is the same machines in the same place, and TLS authenticates the name,
 * not the port. The port must only be written unambiguously (1-65535, no leading zeros).
 */
export function evaluateDestination(
  endpoint: string,
  level: HostingLevel,
  providers: Provider[],
): DestinationVerdict {
  const checked = checkEndpoint(endpoint);
  if (!checked.ok) {
    return { sovereign: false, reason: 'InvalidDestination', message: `backup endpoint ${checked.problem}` };
  }
  const { host } = checked;
  for (const provider of providers) {
    for (const storage of provider.objectStorage) {
      if (!hostMatches(storage.host.toLowerCase(), host)) continue;
      const region = provider.regions.find((r) => r.name === storage.region);
      if (region && !region.french) continue;
      const secnumcloud = storage.secnumcloud ?? region?.secnumcloud ?? false;
      if (level === 'secnumcloud' && !secnumcloud) {
        return {
          sovereign: false,
          reason: 'NonSovereignDestination',
          message: `backup endpoint ${host} (${provider.name} ${storage.region}) is French but not SecNumCloud-qualified, as spec.hosting.level requires`,
        };
      }
      return { sovereign: true, provider: provider.name, region: storage.region, host };
    }
  }
  return {
    sovereign: false,
    reason: 'NonSovereignDestination',
    message: `backup endpoint ${host} is not a French object storage endpoint in the provider table`,
  };
}
