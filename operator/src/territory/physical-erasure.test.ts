import { describe, expect, it } from 'vitest';
import { context, territory, withPhysicalBackups } from '../builders/fixtures.test-helpers.ts';
import { physicalBackupPath } from '../builders/object-store.ts';
import {
  describeStoreError,
  erasedMessage,
  failedMessage,
  LEAVE_PHYSICAL_BACKUPS_ANNOTATION,
  leftMessage,
  MAX_ERASURE_ROUNDS,
  nextErasureStep,
  planErasure,
} from './physical-erasure.ts';

const withDestination = (destination: Record<string, unknown>, annotations?: Record<string, string>) => {
  const t = territory({ spec: { backup: { destination } } });
  return annotations ? { ...t, metadata: { ...t.metadata, annotations } } : t;
};

describe('planErasure', () => {
  it('erases the prefix CloudNativePG writes to, with the bucket’s region, credentials and CA', () => {
    const t = withDestination({
      endpoint: 'https://s3.cooperative.example:8443',
      bucket: 'backups',
      region: 'gra',
      pathPrefix: 'territories/bretagne/',
      credentialsSecret: { name: 'creds' },
      endpointCA: { name: 'objectstore-ca' },
    });
    const plan = planErasure(t);
    expect(plan).toEqual({
      action: 'erase',
      target: {
        endpoint: 'https://s3.cooperative.example:8443',
        host: 's3.cooperative.example',
        region: 'gra',
        bucket: 'backups',
        prefix: 'territories/bretagne/rennes-metropole/physical/',
        namespace: 'rennes-metropole',
        credentialsSecret: {
          name: 'creds',
          accessKeyIdKey: 'ACCESS_KEY_ID',
          secretAccessKeyKey: 'ACCESS_SECRET_KEY',
        },
        endpointCA: { name: 'objectstore-ca', key: 'ca.crt' },
      },
    });
    // Exactly where the ObjectStore points barman-cloud, when physical backups are on.
    expect(`s3://backups/${plan.target.prefix}`).toBe(`${physicalBackupPath(context(t))}/`);
  });

  it('is planned whether physical backups are on or off now (objects may remain from earlier)', () => {
    expect(planErasure(territory()).action).toBe('erase');
    const on = withPhysicalBackups();
    expect(planErasure(on)).toMatchObject({
      action: 'erase',
      target: { region: 'us-east-1', prefix: 'rennes-metropole/physical/' },
    });
  });

  it('leaves the objects when a person accepted it in the annotation, repeating who on one bounded line', () => {
    const destination = {
      endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
      bucket: 'bucket-1',
      credentialsSecret: { name: 'c' },
    };
    const plan = planErasure(
      withDestination(destination, {
        [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: '  jeanne@region.example.fr:\nbucket closed, ticket 42  ',
      }),
    );
    expect(plan).toMatchObject({
      action: 'leave',
      acceptedBy: 'jeanne@region.example.fr: bucket closed, ticket 42',
    });
    const long = planErasure(
      withDestination(destination, { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: 'x'.repeat(5000) }),
    );
    expect(long.action === 'leave' && long.acceptedBy.length).toBe(200);
    // An empty value names nobody: it is not an acceptance.
    expect(
      planErasure(withDestination(destination, { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: ' ' })).action,
    ).toBe('erase');
  });
});

describe('nextErasureStep', () => {
  const prefix = 'p/rennes/physical/';

  it('is done on an empty listing, and erases what a listing holds', () => {
    expect(nextErasureStep(prefix, { objects: [], uploads: [] }, 0)).toEqual({ action: 'done' });
    expect(nextErasureStep(prefix, { objects: [], uploads: [] }, MAX_ERASURE_ROUNDS)).toEqual({
      action: 'done',
    });
    const listing = {
      objects: [`${prefix}db/wals/0000000100000000/000000010000000000000001.gz`],
      uploads: [{ key: `${prefix}db/base/20260101T000000/data.tar.gz`, uploadId: 'u1' }],
    };
    expect(nextErasureStep(prefix, listing, 0)).toEqual({ action: 'erase', ...listing });
  });

  it('deletes nothing when the store answers keys outside the prefix', () => {
    const step = nextErasureStep(
      prefix,
      { objects: [`${prefix}a`, 'p/rennes/20260101T000000.000Z.pgdump.enc'], uploads: [] },
      0,
    );
    expect(step).toMatchObject({ action: 'fail' });
    expect(step.action === 'fail' && step.reason).toContain('nothing is deleted');
    const upload = nextErasureStep(prefix, { objects: [], uploads: [{ key: 'other/x', uploadId: 'u' }] }, 0);
    expect(upload.action).toBe('fail');
  });

  it('gives up when objects keep appearing: something still writes there', () => {
    const step = nextErasureStep(prefix, { objects: [`${prefix}x`], uploads: [] }, MAX_ERASURE_ROUNDS);
    expect(step).toEqual({
      action: 'fail',
      reason: `objects keep appearing under ${prefix} after ${MAX_ERASURE_ROUNDS} rounds of erasure: something still writes there`,
    });
  });
});

describe('describeStoreError', () => {
  it('names the S3 error and status, never the store’s message', () => {
    const denied = Object.assign(new Error('Access Denied for AKIAEXAMPLE'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    expect(describeStoreError(denied)).toBe('the store answered AccessDenied (HTTP 403)');
    const odd = Object.assign(new Error('x'), {
      name: 'has spaces: AKIA',
      $metadata: { httpStatusCode: 500 },
    });
    expect(describeStoreError(odd)).toBe('the store answered an error (HTTP 500)');
  });

  it('names network and TLS failures by their code, nested or not', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(describeStoreError(refused)).toBe('connection refused (ECONNREFUSED)');
    const aggregate = Object.assign(new AggregateError([refused], ''), {});
    expect(describeStoreError(aggregate)).toBe('connection refused (ECONNREFUSED)');
    const tls = Object.assign(new Error('wrapped'), { cause: { code: 'SELF_SIGNED_CERT_IN_CHAIN' } });
    expect(describeStoreError(tls)).toBe(
      "TLS: the endpoint's certificate chains to an untrusted CA (SELF_SIGNED_CERT_IN_CHAIN)",
    );
    expect(describeStoreError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe('timed out');
    expect(describeStoreError('nope')).toBe('the request failed');
  });
});

describe('Events', () => {
  const { target } = planErasure(territory());

  it('say where, how many, and what a person can do', () => {
    expect(erasedMessage(target, 3, 0)).toBe(
      'deletionPolicy Delete: erased 3 object(s) of physical backups under s3://rennes-backups/rennes-metropole/physical/ at oos.cloudgouv-eu-west-1.outscale.com',
    );
    expect(erasedMessage(target, 0, 2)).toContain('erased 0 object(s) and 2 unfinished upload(s)');
    const failed = failedMessage(target, 'connection refused (ECONNREFUSED)');
    expect(failed).toContain(': connection refused (ECONNREFUSED). The deletion waits here');
    expect(failed).toContain(`annotate the Territory ${LEAVE_PHYSICAL_BACKUPS_ANNOTATION}="`);
    expect(leftMessage(target, 'jeanne')).toContain('NOT erased');
    expect(leftMessage(target, 'jeanne')).toContain('"jeanne"');
  });
});
