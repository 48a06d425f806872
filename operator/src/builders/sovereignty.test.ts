import { describe, expect, it } from 'vitest';
import { defaultProviders, type OperatorConfig } from '../config/operator-config.ts';
import { evaluateDestination, evaluateSovereignty } from './sovereignty.ts';

const providers = defaultProviders();
const cluster = (over: Partial<OperatorConfig['cluster']> = {}): OperatorConfig['cluster'] => ({
  provider: 'outscale',
  regions: ['cloudgouv-eu-west-1'],
  qualification: 'secnumcloud',
  nodeEvidence: 'required',
  ...over,
});
const nodes = (...regions: (string | undefined)[]) =>
  regions.map((region, i) => ({ name: `node-${i}`, region }));

describe('evaluateSovereignty', () => {
  it('accepts a SecNumCloud Territory on an attested SecNumCloud cluster whose nodes are in the region', () => {
    const v = evaluateSovereignty(
      { level: 'secnumcloud', regions: [] },
      cluster(),
      providers,
      nodes('cloudgouv-eu-west-1'),
    );
    expect(v).toMatchObject({
      compliant: true,
      provider: 'outscale',
      allowedRegions: ['cloudgouv-eu-west-1'],
    });
  });

  it('refuses SecNumCloud on a cluster attested as standard', () => {
    const v = evaluateSovereignty(
      { level: 'secnumcloud', regions: [] },
      cluster({ qualification: 'standard', regions: ['eu-west-2'] }),
      providers,
      nodes('eu-west-2'),
    );
    expect(v).toMatchObject({ compliant: false, reason: 'QualificationNotMet' });
  });

  it('refuses when a node runs outside France, naming the node', () => {
    const v = evaluateSovereignty(
      { level: 'standard', regions: [] },
      cluster({ provider: 'scaleway', regions: ['fr-par'], qualification: 'standard' }),
      providers,
      nodes('fr-par', 'nl-ams'),
    );
    expect(v).toMatchObject({ compliant: false, reason: 'RegionNotEligible' });
    expect(v.compliant ? '' : v.message).toContain('node-1 (nl-ams)');
  });

  it('fails closed without node evidence, or with an unlabelled node', () => {
    expect(evaluateSovereignty({ level: 'standard', regions: [] }, cluster(), providers, [])).toMatchObject({
      compliant: false,
      reason: 'NoNodeEvidence',
    });
    expect(
      evaluateSovereignty(
        { level: 'standard', regions: [] },
        cluster(),
        providers,
        nodes('cloudgouv-eu-west-1', undefined),
      ),
    ).toMatchObject({ compliant: false, reason: 'NoNodeEvidence' });
  });

  it('trusts the attestation alone only when told to', () => {
    const v = evaluateSovereignty(
      { level: 'standard', regions: [] },
      cluster({ nodeEvidence: 'attestation-only' }),
      providers,
      [],
    );
    expect(v).toMatchObject({ compliant: true, allowedRegions: ['cloudgouv-eu-west-1'] });
  });

  it('fails closed with no attestation or an unknown provider', () => {
    const req = { level: 'standard' as const, regions: [] };
    expect(evaluateSovereignty(req, cluster({ provider: undefined }), providers, nodes('x'))).toMatchObject({
      reason: 'NoHostingAttestation',
    });
    expect(evaluateSovereignty(req, cluster({ provider: 'aws' }), providers, nodes('x'))).toMatchObject({
      reason: 'UnknownProvider',
    });
    expect(
      evaluateSovereignty(req, cluster({ regions: ['us-east-1'] }), providers, nodes('x')),
    ).toMatchObject({
      reason: 'RegionNotEligible',
    });
  });

  it('restricts workloads to the regions the authority allows, and refuses when none is present', () => {
    const c = cluster({ provider: 'ovhcloud', regions: ['GRA7', 'GRA5'], qualification: 'standard' });
    expect(
      evaluateSovereignty({ level: 'standard', regions: ['GRA7'] }, c, providers, nodes('GRA7', 'GRA5')),
    ).toMatchObject({
      compliant: true,
      allowedRegions: ['GRA7'],
    });
    expect(
      evaluateSovereignty({ level: 'standard', regions: ['SBG5'] }, c, providers, nodes('GRA7')),
    ).toMatchObject({
      compliant: false,
      reason: 'RegionNotAvailable',
    });
  });
});

describe('evaluateDestination', () => {
  it('accepts French endpoints of the table, including per-customer wildcard hosts', () => {
    expect(evaluateDestination('https://oos.eu-west-2.outscale.com', 'standard', providers)).toMatchObject({
      sovereign: true,
      provider: 'outscale',
    });
    expect(
      evaluateDestination('https://mairie.s3.fr1.cloud-temple.com', 'secnumcloud', providers),
    ).toMatchObject({
      sovereign: true,
      provider: 'cloud-temple',
    });
  });

  it('refuses foreign and look-alike hosts', () => {
    for (const endpoint of [
      'https://s3.amazonaws.com',
      'https://s3.nl-ams.scw.cloud',
      'https://oos.eu-west-2.outscale.com.evil.example',
      'https://a.b.s3.fr1.cloud-temple.com',
    ]) {
      expect(evaluateDestination(endpoint, 'standard', providers)).toMatchObject({
        sovereign: false,
        reason: 'NonSovereignDestination',
      });
    }
  });

  it('requires a SecNumCloud endpoint for a SecNumCloud Territory', () => {
    const v = evaluateDestination('https://s3.fr-par.scw.cloud', 'secnumcloud', providers);
    expect(v).toMatchObject({ sovereign: false, reason: 'NonSovereignDestination' });
    expect(
      evaluateDestination('https://oos.cloudgouv-eu-west-1.outscale.com', 'secnumcloud', providers),
    ).toMatchObject({
      sovereign: true,
    });
  });
});
