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

// The endpoint is read by three parsers: the AWS SDK in Node (WHATWG URL) for the logical backups,
// barman-cloud (Python: botocore, urllib.parse.urlsplit) for CloudNativePG's physical backups, and
// CloudNativePG itself (Go: net/url). Each URL below is read differently by at least two of them, or
// carries what must never be in it (credentials, plain http). The column says what each one reads as
// the host, from running them (Node 24, Python 3.11, Go 1.26); the gate must refuse every one, with a
// message that never repeats the URL (it may hold a password).
const OUTSCALE = 'oos.eu-west-2.outscale.com';
const AMBIGUOUS_ENDPOINTS: [string, string][] = [
  [`https://${OUTSCALE}\\@evil.example`, 'Node: outscale; Python: evil.example; Go: error'],
  [`https://evil.example\\@${OUTSCALE}`, 'Node: evil.example; Python: outscale; Go: error'],
  [`https://${OUTSCALE}\\.evil.example`, 'Node: outscale (path /.evil.example); Go: error'],
  [`https:/${OUTSCALE}`, 'Node: outscale; Python and Go: no host'],
  [`https:${OUTSCALE}`, 'Node: outscale; Go: opaque, no host'],
  [`https:///${OUTSCALE}`, 'Node: outscale; Python and Go: no host'],
  [`https://${OUTSCALE.replace('outscale', 'out\tscale')}`, 'Node and Python strip the tab; Go: error'],
  [`https://${OUTSCALE.replace('outscale', 'out\nscale')}`, 'Node strips the newline'],
  [` https://${OUTSCALE}`, 'Node trims leading spaces'],
  [`https://${OUTSCALE.replace('.', '%2e')}`, 'Node decodes %2e in the host; Go: error'],
  [`https://${OUTSCALE}.`, 'trailing dot: a different name for TLS and for the table'],
  [`https://${OUTSCALE.toUpperCase()}`, 'Go keeps the capitals'],
  [`HTTPS://${OUTSCALE}`, 'scheme in capitals'],
  [`https://${OUTSCALE}:0443`, 'Node: port 443 (omitted); Go: "0443"'],
  [`https://${OUTSCALE}:`, 'empty port'],
  [`https://${OUTSCALE}:99999`, 'port out of range: Node refuses, Go accepts'],
  [`https://${OUTSCALE}:0`, 'port 0'],
  ['https://0x7f.1', 'Node: 127.0.0.1; Python and Go: a name "0x7f.1"'],
  ['https://010.0.0.1', 'Node: 8.0.0.1 (octal); Go: "010.0.0.1"'],
  ['https://127.1', 'Node: 127.0.0.1; Go: "127.1"'],
  ['https://[::ffff:127.0.0.1]', 'Node: [::ffff:7f00:1]; Go and Python keep it'],
  ['https://[fe80::1%25eth0]', 'IPv6 zone: Node refuses, Go and Python accept'],
  [`https://xn--oos.eu-west-2.outscale.com`, 'punycode label: Node validates it, Go and Python do not'],
  [`https://oös.eu-west-2.outscale.com`, 'Node: xn--os-fka...; Go and Python keep the unicode'],
  [`https://${OUTSCALE}/a/../b`, 'Node: path /b; Go: /a/../b'],
  [`https://${OUTSCALE};evil`, 'Node and Go: host with ";"'],
  [`https://oos_x.eu-west-2.outscale.com`, 'underscore: not a DNS name'],
];
const WITH_CREDENTIALS = [
  `https://user:s3cr3t-pa55@${OUTSCALE}`,
  `https://s3cr3t-pa55@${OUTSCALE}`,
  `https://@${OUTSCALE}`,
  `https://${OUTSCALE}@evil.example`,
  `https://evil.example#@${OUTSCALE}`,
  `https://evil.example?@${OUTSCALE}`,
];

describe('evaluateDestination judges the URL as every consumer will', () => {
  it.each(AMBIGUOUS_ENDPOINTS)('refuses %j (%s)', (endpoint) => {
    const v = evaluateDestination(endpoint, 'standard', providers);
    expect(v).toMatchObject({ sovereign: false, reason: 'InvalidDestination' });
    expect(v.sovereign ? '' : v.message).toMatch(/^backup endpoint /);
  });

  it.each(WITH_CREDENTIALS)('refuses user info or a misplaced @ in %j, without repeating it', (endpoint) => {
    const v = evaluateDestination(endpoint, 'standard', providers);
    expect(v).toMatchObject({ sovereign: false, reason: 'InvalidDestination' });
    const message = v.sovereign ? '' : v.message;
    expect(message).not.toContain('s3cr3t');
    expect(message).not.toContain('evil');
  });

  it('refuses plain http, even to a French endpoint of the table', () => {
    for (const endpoint of [`http://${OUTSCALE}`, `ftp://${OUTSCALE}`, `//${OUTSCALE}`, OUTSCALE]) {
      expect(evaluateDestination(endpoint, 'standard', providers), endpoint).toMatchObject({
        sovereign: false,
        reason: 'InvalidDestination',
      });
    }
  });

  it('accepts the unambiguous forms: a port, a path, a trailing slash; the port does not change the verdict', () => {
    for (const endpoint of [
      `https://${OUTSCALE}`,
      `https://${OUTSCALE}/`,
      `https://${OUTSCALE}:443`,
      `https://${OUTSCALE}:8443`,
      `https://${OUTSCALE}/s3/v1`,
      `https://${OUTSCALE}:9000/s3/`,
    ]) {
      expect(evaluateDestination(endpoint, 'standard', providers), endpoint).toMatchObject({
        sovereign: true,
        provider: 'outscale',
        host: OUTSCALE,
      });
    }
    expect(evaluateDestination('https://s3.example.com:443', 'standard', providers)).toMatchObject({
      sovereign: false,
      reason: 'NonSovereignDestination',
    });
  });

  it('matches a table entry only when it is a plain host name or *.suffix (a trailing dot or a bare * never match)', () => {
    const table = [
      {
        name: 'local',
        regions: [{ name: 'fr', french: true, secnumcloud: false, confirmed: true }],
        objectStorage: [
          { host: 'S3.Local.Example.', region: 'fr', confirmed: true },
          { host: '*', region: 'fr', confirmed: true },
          { host: '*.', region: 'fr', confirmed: true },
          { host: 'Minio.Local.Example', region: 'fr', confirmed: true },
        ],
      },
    ];
    for (const endpoint of ['https://s3.local.example', 'https://anything.example', 'https://x']) {
      expect(evaluateDestination(endpoint, 'standard', table), endpoint).toMatchObject({ sovereign: false });
    }
    // The table is the platform team's: its capitals are read as DNS reads them.
    expect(evaluateDestination('https://minio.local.example', 'standard', table)).toMatchObject({
      sovereign: true,
    });
  });
});
