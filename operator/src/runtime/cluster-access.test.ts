import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { fromKubeconfigFiles, inCluster, loadClusterAccess } from './cluster-access.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'cluster-access-'));
const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(
  folder: string,
  name: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
) {
  const file = join(folder, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'ctx',
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443/', ...cluster } }],
      users: [{ name: 'u', user }],
    }),
  );
  return file;
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
});

describe('fromKubeconfigFiles', () => {
  it('reads inline certificates and keys, and trims the server URL', async () => {
    const file = kubeconfig(
      dir(),
      'config',
      { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
      { 'certificate-authority-data': b64('CA') },
    );
    const access = await fromKubeconfigFiles([file]);
    expect(access.server).toBe('https://127.0.0.1:6443');
    expect(access.tls.ca?.toString()).toBe('CA');
    expect(access.tls.cert?.toString()).toBe('CERT');
    expect(access.tls.key?.toString()).toBe('KEY');
    expect(access.tls.rejectUnauthorized).toBe(true);
    expect(await access.headers()).toEqual({});
  });

  it('resolves relative certificate and token files against the kubeconfig’s folder', async () => {
    const folder = dir();
    writeFileSync(join(folder, 'ca.crt'), 'CA-FILE');
    writeFileSync(join(folder, 'token'), 'tok-123\n');
    const file = kubeconfig(
      folder,
      'config',
      { tokenFile: 'token' },
      { 'certificate-authority': 'ca.crt', 'tls-server-name': 'api.internal' },
    );
    const access = await fromKubeconfigFiles([file]);
    expect(access.tls.ca?.toString()).toBe('CA-FILE');
    expect(access.tls.servername).toBe('api.internal');
    expect(await access.headers()).toEqual({ Authorization: 'Bearer tok-123' });
  });

  it('takes a static token and honours insecure-skip-tls-verify', async () => {
    const file = kubeconfig(dir(), 'config', { token: 'abc' }, { 'insecure-skip-tls-verify': true });
    const access = await fromKubeconfigFiles([file]);
    expect(access.tls.rejectUnauthorized).toBe(false);
    expect(await access.headers()).toEqual({ Authorization: 'Bearer abc' });
  });

  it('hands exec-plugin users to client-node, which runs the plugin', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-exec' },
    });
    const file = kubeconfig(dir(), 'config', {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: 'sh',
        args: ['-c', `echo '${credential}'`],
        interactiveMode: 'Never',
      },
    });
    const access = await fromKubeconfigFiles([file]);
    expect(access.server).toBe('https://127.0.0.1:6443');
    expect(await access.headers()).toMatchObject({ Authorization: 'Bearer from-exec' });
  });

  it('says what is missing when there is no current context', async () => {
    const file = join(dir(), 'config');
    writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [] }));
    await expect(fromKubeconfigFiles([file])).rejects.toThrow(/no current-context/);
  });
});

describe('loadClusterAccess', () => {
  it('merges the files of $KUBECONFIG: the first current-context wins, entries come from any file', async () => {
    const folder = dir();
    const first = join(folder, 'a');
    writeFileSync(
      first,
      stringify({
        'current-context': 'ctx',
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      }),
    );
    const second = join(folder, 'b');
    writeFileSync(
      second,
      stringify({
        'current-context': 'other',
        clusters: [{ name: 'c', cluster: { server: 'https://10.1.2.3:443' } }],
        users: [{ name: 'u', user: { token: 'merged' } }],
      }),
    );
    process.env.KUBECONFIG = `${first}:${second}`;
    const access = await loadClusterAccess();
    expect(access.server).toBe('https://10.1.2.3:443');
    expect(await access.headers()).toEqual({ Authorization: 'Bearer merged' });
  });

  it('falls back to the in-cluster service account', () => {
    const folder = dir();
    writeFileSync(join(folder, 'ca.crt'), 'SA-CA');
    writeFileSync(join(folder, 'token'), 'sa-token');
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const access = inCluster(folder);
    expect(access.server).toBe('https://10.96.0.1:443');
    expect(access.tls.ca?.toString()).toBe('SA-CA');
    return expect(access.headers()).resolves.toEqual({ Authorization: 'Bearer sa-token' });
  });
});
