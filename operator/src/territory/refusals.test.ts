// Refusals by the API server, as status shows them: the object named, the server's words kept, and
// never a value of a Secret (the integration side is test/integration/operator-refusals.test.ts).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/types.ts';
import { describeRefusal, refusalOf, refusedOutcome, withoutSecretValues } from './refusals.ts';

const cronJob: KubeObject = {
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'logical-backup', namespace: 'rennes' },
};

describe('refusalOf', () => {
  it.each([400, 403, 422])('takes HTTP %i as a refusal of the object', (code) => {
    const refusal = refusalOf(new KubeApiError(code, 'no', 'Invalid'), cronJob);
    expect(refusal).toEqual({
      kind: 'CronJob',
      namespace: 'rennes',
      name: 'logical-backup',
      code,
      reason: 'Invalid',
      message: 'no',
    });
  });

  it.each([404, 409, 429, 500, 503])('leaves HTTP %i to the ordinary retry', (code) => {
    expect(refusalOf(new KubeApiError(code, 'later'), cronJob)).toBeUndefined();
  });

  it('leaves network errors to the ordinary retry', () => {
    expect(refusalOf(new Error('ECONNRESET'), cronJob)).toBeUndefined();
    expect(refusalOf('nope', cronJob)).toBeUndefined();
  });
});

describe('what status says', () => {
  it('names the kind, namespace and name, the status and the API server message', () => {
    const refusal = refusalOf(
      new KubeApiError(
        403,
        'cronjobs.batch "logical-backup" is forbidden: exceeded quota: platform, requested: count/cronjobs.batch=1',
        'Forbidden',
      ),
      cronJob,
    );
    if (!refusal) throw new Error('not a refusal');
    expect(describeRefusal(refusal)).toBe(
      'the API server refused CronJob rennes/logical-backup (403 Forbidden): cronjobs.batch "logical-backup" ' +
        'is forbidden: exceeded quota: platform, requested: count/cronjobs.batch=1',
    );
    expect(refusedOutcome('BackupReady', refusal)).toMatchObject({
      type: 'BackupReady',
      status: 'False',
      reason: 'RefusedByAPIServer',
      progressing: false,
    });
  });

  it('names a cluster-scoped object without a namespace', () => {
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'rennes' } };
    const refusal = refusalOf(new KubeApiError(403, 'denied by policy'), ns);
    if (!refusal) throw new Error('not a refusal');
    expect(describeRefusal(refusal)).toBe('the API server refused Namespace rennes (403): denied by policy');
  });

  it('removes every value of a Secret from the message: raw, base64, decoded, or a piece of one', () => {
    const password = randomBytes(24).toString('base64url');
    const key = randomBytes(32);
    const secret: KubeObject & Record<string, unknown> = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db-owner', namespace: 'rennes' },
      stringData: { username: 'owner', password },
      data: { kek: key.toString('base64') },
    };
    const echoed = [
      `data[password]: Invalid value: "${password}"`,
      `data[password]: Invalid value: "${Buffer.from(password).toString('base64')}"`,
      `data[kek]: Invalid value: "${key.toString('base64')}"`,
      `webhook said: ${password.slice(0, 20)}...(truncated)`,
    ].join('; ');
    const message = withoutSecretValues(echoed, secret);
    expect(message).not.toContain(password.slice(0, 12));
    expect(message).not.toContain(key.toString('base64').slice(0, 12));
    expect(message).not.toContain(Buffer.from(password).toString('base64').slice(0, 12));
    expect(message).toContain('data[password]: Invalid value: "[redacted]"');
    // Names are not secrets, and the words around them stay readable.
    expect(withoutSecretValues('user owner cannot be changed', secret)).toBe('user owner cannot be changed');
  });

  it('keeps the message of other kinds whole', () => {
    expect(withoutSecretValues('spec.schedule: Invalid value: "61 2 * * *"', cronJob)).toBe(
      'spec.schedule: Invalid value: "61 2 * * *"',
    );
  });
});
