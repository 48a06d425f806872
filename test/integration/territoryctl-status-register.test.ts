// `territoryctl status` and `register` read the Territories created here from the real API server:
// one with the status the operator writes (through the status subresource), one never reconciled.
// Other test files share the cluster, so assertions look at these two by name.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readExamples } from '../../operator/src/api/test-fixtures.ts';
import type { RegisterEntry } from '../../operator/src/cli/territoryctl/register.ts';
import type { StatusRow } from '../../operator/src/cli/territoryctl/status.ts';
import { PART_ORDER } from '../../operator/src/territory/conditions.ts';
import { uniqueName } from '../support/kube.ts';
import { installCrds, kubectl, ok, territoryctl } from './territoryctl-support.ts';

const example = (file: string) => {
  const found = readExamples().find((e) => e.file === file);
  if (!found) throw new Error(`no example ${file}`);
  return structuredClone(found.manifest) as { metadata: { name: string }; spec: Record<string, unknown> };
};

const ready = uniqueName('ctl-acigne');
const fresh = uniqueName('ctl-rennes');
const T = '2026-11-28T10:00:00Z';

beforeAll(async () => {
  await installCrds();
  const a = example('commune-acigne.yaml');
  a.metadata.name = ready;
  const b = example('epci-rennes-metropole.yaml');
  b.metadata.name = fresh;
  ok(await kubectl(['create', '-f', '-'], `${stringify(a)}---\n${stringify(b)}`), 'create Territories');
  // What the operator writes once the stack is up (the status subresource, as the operator does).
  const conditions = [
    {
      type: 'Ready',
      status: 'True',
      reason: 'Ready',
      message: 'namespace, keys, database and backups are ready',
    },
    ...PART_ORDER.map((type) => ({ type, status: 'True', reason: 'Fine', message: `${type} fine` })),
    { type: 'Reconciling', status: 'False', reason: 'Ready', message: 'every part of the stack is ready' },
    { type: 'Stalled', status: 'False', reason: 'Ready', message: 'every part of the stack is ready' },
  ].map((c) => ({ ...c, lastTransitionTime: T, observedGeneration: 1 }));
  const status = {
    observedGeneration: 1,
    conditions,
    authority: { officialName: 'Acigné', departement: '35', region: '53', siren: '213500010' },
    namespace: ready,
    sovereignty: { provider: 'ovhcloud', regions: ['GRA7'], level: 'standard' },
    backup: { destinationHost: 's3.gra.io.cloud.ovh.net' },
  };
  ok(
    await kubectl([
      'patch',
      'territory',
      ready,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]),
    'write status',
  );
});

afterAll(async () => {
  await kubectl(['delete', 'territory', ready, fresh, '--ignore-not-found', '--wait=false']);
});

describe('territoryctl status', () => {
  it('lists the Territories with one mark per part and the reason of the first failure', async () => {
    const r = ok(await territoryctl(['status']), 'status');
    const header = r.stdout.split('\n')[0];
    expect(header).toMatch(
      /^NAME +AUTHORITY +OFFICIAL NAME +READY +VERIFIED +SOVEREIGN +NAMESPACE +KEYS +DATABASE +BACKUP +REASON$/,
    );
    const line = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`${name} `));
    expect(line(ready)).toMatch(new RegExp(`^${ready} +commune 35001 +Acigné +✓( +✓){6}$`));
    expect(line(fresh)).toMatch(
      new RegExp(`^${fresh} +epci 243500139 +Rennes Métropole +…( +…){6} +NotReconciled$`),
    );
    expect(r.stdout).not.toContain('\u001b['); // not a terminal: no colours
  });

  it('prints JSON and YAML for scripts, and one Territory by name', async () => {
    const rows = JSON.parse(
      ok(await territoryctl(['status', '-o', 'json']), 'status -o json').stdout,
    ) as StatusRow[];
    const mine = rows.filter((row) => row.name === ready || row.name === fresh);
    expect(mine.map((row) => [row.name, row.ready.mark, row.reason]).sort()).toEqual(
      [
        [fresh, 'pending', 'NotReconciled'],
        [ready, 'ok', ''],
      ].sort(),
    );
    const one = ok(await territoryctl(['status', ready, '-o', 'yaml']), 'status NAME -o yaml').stdout;
    expect(one).toMatch(new RegExp(`^name: ${ready}$`, 'm'));
    expect(one).toContain('officialName: Acigné');
  });

  it('fails with a hint for an unknown name, and says what to do without a cluster', async () => {
    const missing = await territoryctl(['status', 'no-such-territory']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error: no Territory named no-such-territory');
    expect(missing.stderr).toContain('fix: `territoryctl status` lists them');

    const home = await mkdtemp(join(tmpdir(), 'territoryctl-home-'));
    const none = await territoryctl(['status'], {
      env: { KUBECONFIG: '', HOME: home, KUBERNETES_SERVICE_HOST: '' },
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('error: no cluster');
    expect(none.stderr).toContain('set KUBECONFIG or pass --kubeconfig');

    const dead = join(home, 'dead.kubeconfig');
    await writeFile(
      dead,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 'x' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const unreachable = await territoryctl(['--kubeconfig', dead, 'status']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain('cannot reach the cluster at https://127.0.0.1:1');
  });
});

describe('territoryctl register (from the cluster)', () => {
  it('lists each Territory with its controller and hosting, verified where the operator said so', async () => {
    const entries = JSON.parse(
      ok(await territoryctl(['register', '-o', 'json']), 'register -o json').stdout,
    ) as RegisterEntry[];
    const a = entries.find((e) => e.territory === ready);
    const b = entries.find((e) => e.territory === fresh);
    expect(a?.controller).toMatchObject({
      name: 'Acigné',
      kind: 'commune',
      code: '35001',
      siren: '213500010',
    });
    expect(a?.hosting).toMatchObject({ provider: 'ovhcloud', regions: ['GRA7'], verified: true });
    expect(a?.backups).toMatchObject({
      host: 's3.gra.io.cloud.ovh.net',
      provider: 'ovhcloud',
      region: 'gra',
    });
    expect(b?.controller.name).toBe('Rennes Métropole');
    expect(b?.hosting).toMatchObject({
      level: 'secnumcloud',
      regions: ['cloudgouv-eu-west-1'],
      verified: false,
    });
    expect(b?.hosting.note).toBe('not verified yet: the operator has not reported on this Territory');
    expect(b?.keys.holder).toBe('authority');
  });

  it('writes one CSV row per purpose and a Markdown section per Territory', async () => {
    const csv = ok(await territoryctl(['register', '-o', 'csv']), 'register -o csv').stdout;
    const rows = csv.split('\r\n').filter((l) => l.startsWith(`${ready},`) || l.startsWith(`${fresh},`));
    expect(rows).toHaveLength(4); // two purposes each
    const excel = ok(await territoryctl(['register', '-o', 'csv', '--bom']), 'register -o csv --bom').stdout;
    expect(excel.startsWith('\uFEFFterritory,controller,')).toBe(true);
    const md = ok(await territoryctl(['register']), 'register').stdout;
    expect(md).toContain('## Acigné — commune 35001');
    expect(md).toContain('## Rennes Métropole — epci 243500139');
    expect(md).toContain(`| Territory | ${ready} |`);
  });
});
