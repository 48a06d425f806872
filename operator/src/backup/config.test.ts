import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

const env = {
  TERRITORY_NAME: 'rennes-metropole',
  S3_ENDPOINT: 'https://oos.cloudgouv-eu-west-1.outscale.com',
  S3_BUCKET: 'rennes',
  S3_ACCESS_KEY_ID_FILE: '/s3/access-key-id',
  S3_SECRET_ACCESS_KEY_FILE: '/s3/secret-access-key',
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
      credentialFiles: { accessKeyId: '/s3/access-key-id', secretAccessKey: '/s3/secret-access-key' },
      keyringFile: '/keys/keyring.json',
      keepAtLeast: 1,
      pg: {},
    });
  });

  it('reads what a restore Job adds: the role it checks as, and whose backups it reads', () => {
    const cfg = loadConfig({
      ...env,
      PG_CHECK_USER: 'territory_backup',
      PG_CHECK_PASSWORD_FILE: '/db-check/password',
      RESTORE_SOURCE_TERRITORY: 'rennes-ancien',
    });
    expect(cfg).toMatchObject({
      sourceTerritory: 'rennes-ancien',
      pg: { checkUser: 'territory_backup', checkPasswordFile: '/db-check/password' },
    });
  });

  it('reads the rest of what the CronJob sets', () => {
    const cfg = loadConfig({
      ...env,
      S3_REGION: 'cloudgouv-eu-west-1',
      S3_PREFIX: 'collectivites',
      RETENTION_DAYS: '35',
      PGDATABASE: 'app',
      PG_PASSWORD_FILE: '/db/password',
      TERRITORY_RUNTIME_DIR: '/run/territory',
    });
    expect(cfg).toMatchObject({
      region: 'cloudgouv-eu-west-1',
      prefix: 'collectivites',
      retentionDays: 35,
      runtimeDir: '/run/territory',
      pg: { database: 'app', passwordFile: '/db/password' },
    });
  });

  it("reads the endpoint's private CA bundle path", () => {
    expect(loadConfig({ ...env, S3_CA_FILE: '/ca/ca.crt' }).caFile).toBe('/ca/ca.crt');
    expect(loadConfig(env).caFile).toBeUndefined();
  });

  it('takes the S3 keys from files only, never from AWS_* variables (nor the SDK default chain)', () => {
    const { S3_ACCESS_KEY_ID_FILE: _a, S3_SECRET_ACCESS_KEY_FILE: _s, ...noFiles } = env;
    expect(() => loadConfig({ ...noFiles, AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' })).toThrow(
      'S3_ACCESS_KEY_ID_FILE is required; S3_SECRET_ACCESS_KEY_FILE is required',
    );
    const cfg = loadConfig({ ...env, AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' });
    expect(JSON.stringify(cfg)).not.toContain('SK');
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
      'TERRITORY_NAME is required',
      'S3_ENDPOINT must be an http(s) URL',
      'S3_BUCKET is required',
      'S3_ACCESS_KEY_ID_FILE is required',
      'KEYRING_FILE is required',
      'RETENTION_DAYS must be a whole number >= 1',
    ]) {
      expect(message).toContain(expected);
    }
    expect(message).not.toContain('very-secret');
  });

  it('treats empty variables as unset (the CronJob names unused ones with no value)', () => {
    expect(loadConfig({ ...env, RETENTION_DAYS: '', KEK_FILE: ' ' })).not.toHaveProperty('retentionDays');
    expect(loadConfig({ ...env, KEK_FILE: '', S3_CA_FILE: '', S3_PREFIX: '' })).toMatchObject({ prefix: '' });
    expect(loadConfig({ ...env, KEK_FILE: '' })).not.toHaveProperty('kekFile');
  });
});
