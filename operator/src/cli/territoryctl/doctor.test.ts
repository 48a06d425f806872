import { describe, expect, it } from 'vitest';
import { parseOperatorConfig } from '../../config/operator-config.ts';
import { operatorClusterRoleRules } from '../../rbac/operator-rbac.ts';
import {
  checkCrd,
  checkDeployment,
  checkHosting,
  checkRbac,
  checkStorage,
  describePermission,
  formatChecks,
  permissionsOf,
} from './doctor.ts';
import { noStyle } from './output.ts';

const established = [{ type: 'Established', status: 'True' }];

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

  it('prints ✓/✗ lines with what to fix', () => {
    const text = formatChecks(
      [
        { name: 'cluster', verdict: 'ok', detail: 'up' },
        { name: 'CRD', verdict: 'fail', detail: 'missing', fix: 'install it' },
      ],
      noStyle,
    );
    expect(text).toBe('✓ cluster: up\n✗ CRD: missing\n    fix: install it\n');
  });
});
