import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseOperatorConfig } from '../../config/operator-config.ts';
import { operatorClusterRoleRules } from '../../rbac/operator-rbac.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { apiServerAddresses } from '../../territory/api-server.ts';
import {
  checkApiServerEgress,
  checkBackupEgress,
  checkCrd,
  checkDeployment,
  checkHosting,
  checkRbac,
  checkStorage,
  cidrProblem,
  describePermission,
  formatChecks,
  permissionsOf,
} from './doctor.ts';
import { noStyle } from './output.ts';

const established = [{ type: 'Established', status: 'True' }];

const slice = (endpoints: { addresses: string[]; conditions?: { ready: boolean } }[]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { namespace: 'default', name: 'kubernetes' },
  endpoints,
});

describe('doctor judgements', () => {
  it('CRDs: missing, not Established, Established', () => {
    expect(checkCrd('CRD', 'x.io', undefined, 'install it')).toMatchObject({
      verdict: 'fail',
      fix: 'install it',
    });
    expect(
      checkCrd(
        'CRD',
        'x.io',
        { name: 'x.io', conditions: [{ type: 'Established', status: 'False', message: 'naming conflict' }] },
        'f',
      ),
    ).toMatchObject({ verdict: 'fail', detail: 'x.io is not Established: naming conflict' });
    expect(
      checkCrd(
        'CRD',
        'x.io',
        { name: 'x.io', conditions: established, versions: [{ name: 'v1alpha1', served: true }] },
        'f',
      ),
    ).toMatchObject({ verdict: 'ok', detail: 'x.io Established (serves v1alpha1)' });
  });

  it('hosting: no attestation fails, whatever the nodes', () => {
    const checks = checkHosting(parseOperatorConfig({}), 'cfg.yaml', [{ name: 'n1', region: 'fr-par' }]);
    expect(checks.map((c) => [c.name, c.verdict])).toEqual([
      ['node regions', 'ok'],
      ['hosting attestation', 'fail'],
    ]);
  });

  it('hosting: unlabelled and foreign nodes fail with their names', () => {
    const config = parseOperatorConfig({ cluster: { provider: 'scaleway', regions: ['fr-par'] } });
    const checks = checkHosting(config, 'cfg.yaml', [
      { name: 'n1', region: 'fr-par' },
      { name: 'n2', region: 'nl-ams' },
      { name: 'n3', region: undefined },
    ]);
    const nodes = checks.find((c) => c.name === 'node regions');
    expect(nodes?.verdict).toBe('fail');
    expect(nodes?.detail).toContain('without topology.kubernetes.io/region: n3');
    expect(nodes?.detail).toContain('not a French region of the provider table: n2 (nl-ams)');
    expect(checks.find((c) => c.name === 'hosting attestation')?.verdict).toBe('fail');
  });

  it('hosting: a consistent attestation passes; an unconfirmed region value warns', () => {
    const config = parseOperatorConfig({ cluster: { provider: 'ovhcloud', regions: ['GRA9'] } });
    const checks = checkHosting(config, 'cfg.yaml', [{ name: 'n1', region: 'GRA9' }]);
    expect(checks.map((c) => [c.name, c.verdict])).toEqual([
      ['node regions', 'ok'],
      ['hosting attestation', 'ok'],
      ['provider table', 'warn'],
    ]);
  });

  it('hosting: no nodes fails unless the configuration says attestation-only (and then warns)', () => {
    const required = parseOperatorConfig({ cluster: { provider: 'scaleway', regions: ['fr-par'] } });
    expect(checkHosting(required, 'c', []).map((c) => c.verdict)).toEqual(['fail', 'fail']);
    const local = parseOperatorConfig({
      cluster: { provider: 'scaleway', regions: ['fr-par'], nodeEvidence: 'attestation-only' },
    });
    expect(checkHosting(local, 'c', []).map((c) => c.verdict)).toEqual(['warn', 'ok']);
  });

  it('storage classes: none, missing named ones, no default', () => {
    expect(checkStorage([], []).verdict).toBe('fail');
    expect(
      checkStorage([{ name: 'fast', isDefault: true }], [{ territory: 't', storageClass: 'slow' }]),
    ).toMatchObject({
      verdict: 'fail',
      detail: 'fast (default); missing: slow (Territory t)',
    });
    expect(checkStorage([{ name: 'fast', isDefault: false }], [{ territory: 't' }]).verdict).toBe('fail');
    expect(
      checkStorage([{ name: 'fast', isDefault: false }], [{ territory: 't', storageClass: 'fast' }]).verdict,
    ).toBe('ok');
  });

  it('operator Deployment: absent, not ready, ready', () => {
    expect(checkDeployment([], 'app=x').verdict).toBe('fail');
    const d = { namespace: 'ops', name: 'op', replicas: 2, serviceAccount: 'op' };
    expect(checkDeployment([{ ...d, ready: 0, message: 'ImagePullBackOff' }], 'app=x')).toMatchObject({
      verdict: 'fail',
      detail: 'ops/op 0/2 ready: ImagePullBackOff',
    });
    expect(checkDeployment([{ ...d, ready: 2 }], 'app=x')).toMatchObject({
      verdict: 'ok',
      detail: 'ops/op 2/2 ready',
    });
  });

  it('RBAC: every granted (verb, resource) is checked; denials are named', () => {
    const permissions = permissionsOf(operatorClusterRoleRules());
    expect(permissions.map(describePermission)).toContain('patch territories.sovereign.dev/status');
    expect(permissions.map(describePermission)).toContain('create clusters.postgresql.cnpg.io');
    const results = permissions.map((permission) => ({
      permission,
      allowed: !(permission.resource === 'secrets' && permission.verb === 'create'),
    }));
    const check = checkRbac('ServiceAccount ops/op', results);
    expect(check.verdict).toBe('fail');
    expect(check.detail).toBe(
      `ServiceAccount ops/op lacks 1 of ${permissions.length} permissions: create secrets`,
    );
    expect(
      checkRbac(
        'me',
        results.map((r) => ({ ...r, allowed: true })),
      ).verdict,
    ).toBe('ok');
  });

  it('API server egress: nothing configured nor published fails, with the chart value to set', () => {
    const check = checkApiServerEgress(parseOperatorConfig({}), 'cfg.yaml', []);
    expect(check).toMatchObject({
      name: 'API server egress',
      verdict: 'fail',
      detail:
        "cfg.yaml sets no apiServerCidrs and the default/kubernetes EndpointSlices list no ready address: no NetworkPolicy lets CloudNativePG's instance managers reach the API server, so no database becomes ready",
    });
    expect(check.fix).toContain("--set 'config.apiServerCidrs={10.0.0.10/32}'");
  });

  it('API server egress: names the discovered addresses, as the operator turns them into CIDRs', () => {
    // What api-server.ts reads from real EndpointSlices: ready addresses only, sorted and unique.
    const addresses = apiServerAddresses([
      slice([{ addresses: ['10.0.0.3'] }, { addresses: ['10.0.0.9'], conditions: { ready: false } }]),
      slice([{ addresses: ['fd00::1', '10.0.0.3'] }]),
    ] as unknown as KubeObject[]);
    expect(checkApiServerEgress(parseOperatorConfig({}), 'cfg.yaml', addresses)).toEqual({
      name: 'API server egress',
      verdict: 'ok',
      detail:
        '10.0.0.3/32, fd00::1/128, discovered from the default/kubernetes EndpointSlices (cfg.yaml sets no apiServerCidrs)',
    });
  });

  it('API server egress: configured CIDRs win over the discovered addresses, and are checked', () => {
    const configured = parseOperatorConfig({ apiServerCidrs: ['192.0.2.0/28'] });
    expect(checkApiServerEgress(configured, 'cfg.yaml', undefined)).toMatchObject({
      verdict: 'ok',
      detail: '192.0.2.0/28, configured (apiServerCidrs in cfg.yaml)',
    });
    const invalid = parseOperatorConfig({ apiServerCidrs: ['192.0.2.1', '192.0.2.1/24', '192.0.2.0/28'] });
    expect(checkApiServerEgress(invalid, 'cfg.yaml', ['10.0.0.3'])).toMatchObject({
      verdict: 'fail',
      detail:
        'apiServerCidrs in cfg.yaml holds invalid CIDRs: "192.0.2.1" (a single address, written 192.0.2.1/32 as a CIDR), ' +
        '"192.0.2.1/24" (bits set beyond the prefix length: the network is 192.0.2.0/24); ' +
        "Kubernetes refuses the NetworkPolicy that opens the database Pods' egress to the API server",
    });
  });

  it('API server egress: loopback addresses are useless to Pods (only loopback fails, some warns)', () => {
    // Kubernetes refuses loopback addresses in EndpointSlices, so discovery never yields one (the
    // operator uses what it reads as is); a configuration can still name one.
    const loopback = parseOperatorConfig({ apiServerCidrs: ['127.0.0.1/32'] });
    expect(checkApiServerEgress(loopback, 'cfg.yaml', undefined)).toMatchObject({
      verdict: 'fail',
      detail: expect.stringContaining('127.0.0.1/32, configured (apiServerCidrs in cfg.yaml): loopback only'),
    });
    expect(checkApiServerEgress(parseOperatorConfig({}), 'cfg.yaml', ['127.0.0.1', '::1'])).toMatchObject({
      verdict: 'fail',
      fix: expect.stringContaining('--advertise-address'),
    });
    const some = parseOperatorConfig({ apiServerCidrs: ['10.0.0.0/24', '::1/128'] });
    expect(checkApiServerEgress(some, 'cfg.yaml', undefined)).toMatchObject({
      verdict: 'warn',
      detail:
        '10.0.0.0/24, ::1/128, configured (apiServerCidrs in cfg.yaml); ::1/128 is loopback, useless to Pods',
    });
  });

  it('CIDRs: what the API server accepts in a NetworkPolicy ipBlock', () => {
    for (const valid of [
      '10.0.0.0/8',
      '198.51.100.7/32',
      '0.0.0.0/0',
      'fd00::/8',
      '2001:db8::1/128',
      '::/0',
    ]) {
      expect(cidrProblem(valid), valid).toBeUndefined();
    }
    expect(cidrProblem('fd00::1')).toBe('a single address, written fd00::1/128 as a CIDR');
    expect(cidrProblem('10.0.0.0/33')).toBe('the prefix length must be 0 to 32');
    expect(cidrProblem('10.0.0.0/08')).toBe('the prefix length must be 0 to 32');
    expect(cidrProblem('010.0.0.0/8')).toBe('not an address/prefix-length CIDR');
    expect(cidrProblem('oos.example.fr/24')).toBe('not an address/prefix-length CIDR');
    expect(cidrProblem('fe80::1%eth0/64')).toBe('not an address/prefix-length CIDR');
    expect(cidrProblem('2001:db8::1/64')).toBe(
      'bits set beyond the prefix length: the network is 2001:db8::/64',
    );
    expect(cidrProblem('::ffff:192.0.2.1/120')).toBe(
      'bits set beyond the prefix length: the network is ::ffff:c000:200/120',
    );
  });

  it('backup egress: no Territory yet passes', () => {
    expect(checkBackupEgress(parseOperatorConfig({}), 'cfg.yaml', [])).toEqual([
      {
        name: 'backup egress',
        verdict: 'ok',
        detail: 'no Territory yet; backupEgress in cfg.yaml gives CIDRs for 0 host(s)',
      },
    ]);
  });

  it('backup egress: hosts without CIDRs fail, with the YAML to add for each', () => {
    const config = parseOperatorConfig({
      backupEgress: [{ host: 'S3.GRA.io.cloud.ovh.net', cidrs: ['198.51.100.0/24'] }],
    });
    const checks = checkBackupEgress(config, 'cfg.yaml', [
      { territory: 'rennes', endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com' },
      { territory: 'acigne', endpoint: 'https://s3.gra.io.cloud.ovh.net' },
      { territory: 'bretagne', endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com:443/' },
      { territory: 'cd35', endpoint: 'https://s3.fr-par.scw.cloud' },
    ]);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toEqual({
      name: 'backup egress',
      verdict: 'fail',
      detail:
        "2 of 3 backup host(s) have no backupEgress CIDRs in cfg.yaml, so their Territories' backups cannot leave the namespace " +
        '(BackupReady=False, BackupEgressNotAllowed): oos.cloudgouv-eu-west-1.outscale.com (Territories rennes, bretagne), ' +
        's3.fr-par.scw.cloud (Territory cd35)',
      fix: [
        'add under backupEgress: in the chart values (config.backupEgress; top level of an operator configuration file):',
        '- host: oos.cloudgouv-eu-west-1.outscale.com',
        '  cidrs: ["<CIDR>"]  # the ranges your provider publishes for this host; Territories rennes, bretagne',
        '- host: s3.fr-par.scw.cloud',
        '  cidrs: ["<CIDR>"]  # the ranges your provider publishes for this host; Territory cd35',
      ].join('\n'),
      missing: ['oos.cloudgouv-eu-west-1.outscale.com', 's3.fr-par.scw.cloud'],
    });
    // The YAML is exactly what the operator needs: once added (CIDRs filled in), the check passes.
    const entries = parseYaml(checks[0]?.fix?.split('\n').slice(1).join('\n') ?? '') as {
      host: string;
      cidrs: string[];
    }[];
    const fixed = parseOperatorConfig({
      backupEgress: [
        ...config.backupEgress,
        ...entries.map((e) => ({ host: e.host, cidrs: e.cidrs.map(() => '203.0.113.0/24') })),
      ],
    });
    expect(
      checkBackupEgress(fixed, 'cfg.yaml', [
        { territory: 'rennes', endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com' },
        { territory: 'cd35', endpoint: 'https://s3.fr-par.scw.cloud' },
      ]),
    ).toEqual([
      {
        name: 'backup egress',
        verdict: 'ok',
        detail:
          'the 2 backup host(s) of 2 Territories have CIDRs: oos.cloudgouv-eu-west-1.outscale.com → 203.0.113.0/24, s3.fr-par.scw.cloud → 203.0.113.0/24',
      },
    ]);
  });

  it('backup egress: many hosts show the first few and a count; missing lists them all', () => {
    const targets = Array.from({ length: 14 }, (_, i) => ({
      territory: `t${String(i).padStart(2, '0')}`,
      endpoint: `https://h${String(i).padStart(2, '0')}.s3.example.fr`,
    }));
    const [check] = checkBackupEgress(parseOperatorConfig({}), 'cfg.yaml', targets);
    expect(check?.detail).toMatch(
      /: h00\.s3\.example\.fr \(Territory t00\), .*h04\.s3\.example\.fr \(Territory t04\) and 9 more$/,
    );
    expect(check?.missing).toHaveLength(14);
    expect(check?.fix).toContain('- host: h11.s3.example.fr');
    expect(check?.fix).not.toContain('h12');
    expect(check?.fix).toMatch(/# and 2 more hosts: -o json lists them all in missing$/);
  });

  it('backup egress: invalid configured CIDRs fail on their own line', () => {
    const config = parseOperatorConfig({
      backupEgress: [
        { host: 's3.fr-par.scw.cloud', cidrs: ['198.51.100.0/24', '<CIDR>'] },
        { host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['203.0.113.9/24'] },
      ],
    });
    const checks = checkBackupEgress(config, 'cfg.yaml', [
      { territory: 'cd35', endpoint: 'https://s3.fr-par.scw.cloud' },
    ]);
    expect(checks.map((c) => [c.name, c.verdict])).toEqual([
      ['backup egress', 'ok'],
      ['backup egress CIDRs', 'fail'],
    ]);
    expect(checks[1]?.detail).toBe(
      'backupEgress in cfg.yaml holds 2 invalid CIDRs: s3.fr-par.scw.cloud: "<CIDR>" (not an address/prefix-length CIDR), ' +
        'oos.cloudgouv-eu-west-1.outscale.com: "203.0.113.9/24" (bits set beyond the prefix length: the network is 203.0.113.0/24); ' +
        'Kubernetes refuses the NetworkPolicy that opens egress to them, so backups to those hosts cannot leave',
    );
  });

  it('prints ✓/✗ lines with what to fix', () => {
    const text = formatChecks(
      [
        { name: 'cluster', verdict: 'ok', detail: 'up' },
        { name: 'CRD', verdict: 'fail', detail: 'missing', fix: 'install it' },
      ],
      noStyle,
    );
    expect(text).toBe('✓ cluster: up\n✗ CRD: missing\n    fix: install it\n');
    expect(
      formatChecks(
        [{ name: 'backup egress', verdict: 'fail', detail: 'x', fix: 'add:\n- host: h' }],
        noStyle,
      ),
    ).toBe('✗ backup egress: x\n    fix: add:\n      - host: h\n');
  });
});
