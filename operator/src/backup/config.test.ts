import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

const env = {
  TERRITORY_NAME: 'rennes-metropole',
  S3_ENDPOINT: 'https://oos.cloudgouv-eu-west-1.outscale.com',
  S3_BUCKET: 'rennes',
  KEYRING_FILE: '/keys/keyring.json',
};

describe('loadConfig', () => {
  it('reads the CronJob environment, with safe defaults', () => {
    expect(loadConfig(env)).toEqual({
      territory: 'rennes-metropole',
      endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
      region: 'us-east-1',
      bucket: 'rennes',
      prefix: '',
      keyringFile: '/keys/keyring.json',
      keepAtLeast: 1,
      pg: {},
    });
  });

  it('lets flags override the environment', () => {
    const cfg = loadConfig(
      { ...env, S3_REGION: 'eu-west-2', RETENTION_DAYS: '35', PGDATABASE: 'app' },
      { bucket: 'other', region: 'cloudgouv-eu-west-1', retentionDays: '7', dbname: 'restore_target' },
    );
    expect(cfg).toMatchObject({
      bucket: 'other',
      region: 'cloudgouv-eu-west-1',
      retentionDays: 7,
      pg: { database: 'restore_target' },
    });
  });

  it("reads the endpoint's private CA bundle path, flag first", () => {
    expect(loadConfig({ ...env, S3_CA_FILE: '/ca/ca.crt' }).caFile).toBe('/ca/ca.crt');
    expect(loadConfig({ ...env, S3_CA_FILE: '/ca/ca.crt' }, { caFile: '/other.pem' }).caFile).toBe(
      '/other.pem',
    );
    expect(loadConfig(env).caFile).toBeUndefined();
  });

  it('takes static credentials only as a pair', () => {
    const cfg = loadConfig({ ...env, AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' });
    expect(cfg.credentials).toEqual({ accessKeyId: 'AK', secretAccessKey: 'SK' });
    expect(() => loadConfig({ ...env, AWS_SECRET_ACCESS_KEY: 'very-secret' })).toThrow(
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together',
    );
  });

  it('reports every problem at once, by name, without values', () => {
    let error: unknown;
    try {
      loadConfig({
        S3_ENDPOINT: 'oos.example',
        RETENTION_DAYS: 'forever',
        AWS_SECRET_ACCESS_KEY: 'very-secret',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const expected of [
      'TERRITORY_NAME (or --territory) is required',
      'S3_ENDPOINT must be an http(s) URL',
      'S3_BUCKET (or --bucket) is required',
      'KEYRING_FILE (or --keyring-file) is required',
      'RETENTION_DAYS must be a whole number >= 1',
    ]) {
      expect(message).toContain(expected);
    }
    expect(message).not.toContain('very-secret');
  });

  it('treats empty variables as unset (Kubernetes often renders them empty)', () => {
    expect(loadConfig({ ...env, RETENTION_DAYS: '', KEK_FILE: ' ' })).not.toHaveProperty('retentionDays');
    expect(loadConfig({ ...env, KEK_FILE: '' })).not.toHaveProperty('kekFile');
  });
});
