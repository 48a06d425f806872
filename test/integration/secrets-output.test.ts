// Secrets stay secret (issue 8, the cheap form of the chaos suite's grep): the real operator reconciles
// the Rennes Métropole example (keys wrapped by the métropole's own key) on the real API server, is
// fed a wrong customer key and a new purpose on the way, and then every key of the keyring (wrapped and
// unwrapped), every database password, the backup secret key and both customer keys are searched in
// everything it wrote where people look: its log lines (debug level), the Events, the Territory (status
// included) and its /metrics. None may appear, in clear, base64 (padded or not), base64url or hex.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { KEYRING_KEY, KEYRING_SECRET } from '../../operator/src/builders/keys.ts';
import { type Keyring, unwrapKey } from '../../operator/src/keys/keyring.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { LEAVE_PHYSICAL_BACKUPS_ANNOTATION } from '../../operator/src/territory/physical-erasure.ts';
import { KubeHttp, objectPath } from '../chaos/lib/kube-http.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { bytesNeedle, leaksIn, type Needle, textNeedle } from '../support/secret-forms.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type T = KubeObject & {
  spec: Record<string, unknown>;
  status?: { observedGeneration?: number; conditions?: Cond[] };
};

const admin = KubeHttp.fromKubeconfig(inject('kubeconfigPath'));
const example = parse(
  readFileSync(new URL('../../examples/epci-rennes-metropole.yaml', import.meta.url), 'utf8'),
) as T;
const name = uniqueName('secrets-rennes');
const territoryPath = objectPath({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
const secretPath = (secret: string) =>
  objectPath({ apiVersion: 'v1', kind: 'Secret', namespace: name, name: secret });
const customerKey = randomBytes(32);
const wrongKey = randomBytes(32);
const s3SecretKey = randomBytes(30).toString('base64url');
let op: TestOperator;

const condition = (t: T, type: string) => t.status?.conditions?.find((c) => c.type === type);

async function territory(): Promise<T> {
  return (await admin.get(territoryPath)).body as T;
}

async function waitCondition(type: string, check: (c: Cond) => boolean, what: string): Promise<T> {
  return waitFor(
    async () => {
      const t = await territory();
      const c = condition(t, type);
      return t.status?.observedGeneration === t.metadata.generation && c && check(c) ? t : undefined;
    },
    { what: `${name}: ${what}`, timeoutMs: 30_000 },
  );
}

async function putCustomerKey(key: Buffer): Promise<void> {
  const body = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'rennes-kek', namespace: name },
    data: { kek: key.toString('base64') },
  };
  const answer = await admin.apply(secretPath('rennes-kek'), body, 'the-authority');
  expect(answer.status, answer.text.slice(0, 200)).toBeLessThan(300);
}

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('secrets'),
    config: {
      cluster: {
        provider: 'outscale',
        regions: ['cloudgouv-eu-west-1'],
        qualification: 'secnumcloud',
        nodeEvidence: 'attestation-only',
      },
      // The example's backup endpoint (a documentation range: nothing is sent).
      backupEgress: [{ host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['198.51.100.0/24'] }],
    },
  });
  const answer = await admin.request(
    'POST',
    objectPath({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory' }),
    op.label({ ...example, metadata: { ...example.metadata, name } }),
  );
  expect(answer.status, answer.text.slice(0, 300)).toBe(201);
  await waitFor(
    async () => (await admin.get(objectPath({ apiVersion: 'v1', kind: 'Namespace', name }))).status === 200,
    {
      what: `namespace ${name}`,
    },
  );
  // What the métropole provides: its S3 credentials and its own key-encryption key.
  await admin.request('POST', objectPath({ apiVersion: 'v1', kind: 'Secret', namespace: name }), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'oos-credentials' },
    stringData: { ACCESS_KEY_ID: 'AKIARENNES', ACCESS_SECRET_KEY: s3SecretKey },
  });
  await putCustomerKey(customerKey);
  await waitCondition('KeysReady', (c) => c.status === 'True', 'keys ready');
  await waitCondition('BackupReady', (c) => c.status === 'True', 'backups scheduled');

  // The paths where a careless operator would leak: a wrong customer key, then the right one again,
  // and a spec change that creates a new credential.
  await putCustomerKey(wrongKey);
  await admin.request(
    'PATCH',
    territoryPath,
    { metadata: { annotations: { 'test/nudge': '1' } } },
    'application/merge-patch+json',
  );
  await waitCondition('KeysReady', (c) => c.status === 'False', 'the wrong customer key refused');
  await putCustomerKey(customerKey);
  const purposes = [...((example.spec.controller as { purposes: unknown[] }).purposes ?? [])];
  purposes.push({
    name: 'schools',
    dataCategories: ['pupils'],
    dataSubjects: ['families'],
    retentionDays: 365,
  });
  await admin.request(
    'PATCH',
    territoryPath,
    { spec: { controller: { purposes } } },
    'application/merge-patch+json',
  );
  await waitFor(async () => (await admin.get(secretPath('db-purpose-schools'))).status === 200, {
    what: 'the new purpose credential',
  });
  await waitCondition('KeysReady', (c) => c.status === 'True', 'keys ready again');
});

afterAll(async () => {
  if (op) {
    // Its bucket is fictional: leaving its physical backups is accepted (no store to erase them from).
    await admin.request(
      'PATCH',
      territoryPath,
      {
        metadata: {
          annotations: { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: 'secrets-output test: no such bucket' },
        },
        spec: { deletionPolicy: 'Delete' },
      },
      'application/merge-patch+json',
    );
    await admin.request('DELETE', territoryPath);
    await waitFor(
      async () =>
        (await territory()).metadata === undefined || (await admin.get(territoryPath)).status === 404,
      {
        what: `${name} deleted`,
      },
    ).catch(() => undefined);
    await op.stop();
  }
  admin.close();
});

/** Every secret value, each in every form it could leak in (in clear, base64 padded or not, base64url, hex). */
async function secretValues(): Promise<Needle[]> {
  const values: Needle[] = [];
  const keyringSecret = (await admin.get(secretPath(KEYRING_SECRET))).body as KubeObject & {
    data: Record<string, string>;
  };
  const stored = keyringSecret.data[KEYRING_KEY] ?? '';
  values.push(textNeedle('keyring as stored', stored));
  const keyring = JSON.parse(Buffer.from(stored, 'base64').toString('utf8')) as Keyring;
  expect(keyring.wrapping.algorithm, 'the keyring is wrapped by the métropole’s key').toBe('A256KW');
  for (const version of keyring.keys) {
    values.push(bytesNeedle(`wrapped key ${version.id}`, Buffer.from(version.material, 'base64')));
    values.push(bytesNeedle(`data key ${version.id}`, unwrapKey(keyring, version.id, customerKey)));
  }
  const secrets = await admin.list(
    `${objectPath({ apiVersion: 'v1', kind: 'Secret', namespace: name })}?labelSelector=app.kubernetes.io%2Fcomponent%3Ddatabase`,
  );
  for (const secret of secrets.items) {
    const password = Buffer.from((secret.data as Record<string, string>).password ?? '', 'base64').toString(
      'utf8',
    );
    expect(password.length, `password of ${secret.metadata.name}`).toBeGreaterThanOrEqual(32);
    values.push(textNeedle(`password of ${secret.metadata.name}`, password));
  }
  values.push(textNeedle('S3 secret key', s3SecretKey));
  values.push(bytesNeedle('customer key', customerKey), bytesNeedle('wrong customer key', wrongKey));
  return values;
}

describe('secrets stay secret', () => {
  it('appear in no log line, Event, Territory field or metric of the operator', async () => {
    const values = await secretValues();
    // At least: the keyring, one key version (wrapped, raw), the owner and 3 purpose passwords, S3, 2 KEKs.
    expect(values.length).toBeGreaterThanOrEqual(10);
    expect(values.every((v) => v.forms.some((f) => f.how === 'base64url'))).toBe(true);
    const coreEvents = await admin.list(objectPath({ apiVersion: 'v1', kind: 'Event', namespace: name }));
    const events = await admin.list(`/apis/events.k8s.io/v1/namespaces/${name}/events`);
    const clusterEvents = await admin.list(
      `/apis/events.k8s.io/v1/events?fieldSelector=regarding.name%3D${name}`,
    );
    const allEvents = [...coreEvents.items, ...events.items, ...clusterEvents.items];
    const metrics = await op.operator.manager.metrics.registry.metrics();
    const haystacks = {
      'operator log': op.logs.join('\n'),
      Events: allEvents.map((e) => JSON.stringify(e)).join('\n'),
      Territory: JSON.stringify(await territory()),
      metrics,
    };
    // The haystacks hold what they should, so an empty search cannot pass by accident.
    expect(haystacks['operator log']).toContain('data key version created');
    expect(haystacks.Events).toContain('KeyCreated');
    expect(haystacks.Territory).toContain('KeysReady');
    expect(metrics).toContain('rest_client_requests_total');
    const leaks = Object.entries(haystacks).flatMap(([where, text]) =>
      leaksIn(text, values).map((leak) => `${leak} in ${where}`),
    );
    expect(leaks).toEqual([]);
  });
});
