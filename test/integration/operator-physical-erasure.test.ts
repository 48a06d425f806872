// deletionPolicy Delete erases the physical backups (readable by the storage provider) from the bucket,
// against the real control plane and a real S3 server over HTTPS (private CA, named in endpointCA):
// everything under <pathPrefix>/<territory>/physical/ goes, unfinished uploads included, and nothing else
// does (the logical backups, encrypted with keys the deletion destroys; a neighbour's prefix). While the
// store cannot be reached, the Territory keeps its finalizer, keys and namespace, and a Warning Event says
// why; once it can, the deletion completes. CloudNativePG does not run here: the objects are written with
// the S3 client, as barman-cloud would lay them out.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import {
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listMultipartUploads, listObjects } from '../../operator/src/backup/s3-store.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { FINALIZER } from '../../operator/src/territory/finalizer.ts';
import { ExtendedKeyUsage, newCertificateAuthority } from '../controlplane/certs.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';
import { OUTSCALE_ATTESTATION, rennesTerritory } from '../support/territories.ts';

const BUCKET = 'rennes-backups';
const REGION = 'eu-west-2';
const PREFIX = 'territories';

let op: TestOperator;
let s3: S3Server;
let client: S3Client;
let caPem: string;

/** A TCP port the store is reachable at only while `open()`: unreachable (connection refused) before. */
interface Gate {
  port: number;
  open(): Promise<void>;
  close(): Promise<void>;
}
const gates: Gate[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Forwards bytes (TLS included, untouched) to the S3 server; nothing listens before open(). */
async function gateToStore(): Promise<Gate> {
  const port = await freePort();
  const target = Number(new URL(s3.endpoint).port);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const gate: Gate = {
    port,
    open: () =>
      new Promise((resolve, reject) => {
        server = createServer((inbound) => {
          const outbound = tcpConnect(target, '127.0.0.1');
          for (const s of [inbound, outbound]) {
            sockets.add(s);
            s.on('close', () => sockets.delete(s));
            s.on('error', () => {
              inbound.destroy();
              outbound.destroy();
            });
          }
          inbound.pipe(outbound).pipe(inbound);
        });
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server) await new Promise((resolve) => server?.close(resolve));
    },
  };
  gates.push(gate);
  return gate;
}

beforeAll(async () => {
  const { ca, issue } = await newCertificateAuthority('erasure-objectstore-ca', new Date());
  const serving = await issue([{ CN: ['objectstore'] }], ExtendedKeyUsage.serverAuth, [
    { type: 'ip', value: '127.0.0.1' },
  ]);
  caPem = ca.certPem;
  s3 = await startS3Server({ buckets: [BUCKET], region: REGION, tls: { ...serving, caPem } });
  client = s3.client();
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('erasure'),
    config: {
      cluster: OUTSCALE_ATTESTATION,
      // The test store, declared French as a platform team declares its own object storage.
      providers: [
        {
          name: 'test-objectstore',
          regions: [{ name: REGION, french: true }],
          objectStorage: [{ host: '127.0.0.1', region: REGION }],
        },
      ],
    },
  });
}, 300_000);

afterAll(async () => {
  await op?.stop();
  for (const gate of gates) await gate.close();
  client?.destroy();
  await s3?.stop();
});

const territoryRef = (name: string) => ({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });

/** A Territory backing up to the test store at `port`, with the store's credentials and CA in its namespace. */
async function createTerritory(name: string, port: number, backup: Record<string, unknown> = {}) {
  await op.client.create(
    op.label(
      rennesTerritory(name, {
        deletionPolicy: 'Delete',
        backup: {
          ...backup,
          destination: {
            endpoint: `https://127.0.0.1:${port}`,
            bucket: BUCKET,
            region: REGION,
            pathPrefix: `${PREFIX}/`,
            credentialsSecret: { name: 'oos' },
            endpointCA: { name: 'objectstore-ca' },
          },
        },
      }),
    ),
  );
  await waitFor(() => op.client.get({ apiVersion: 'v1', kind: 'Namespace', name }), {
    what: `namespace ${name}`,
    timeoutMs: 15_000,
  });
  for (const secret of [
    { name: 'oos', stringData: { ACCESS_KEY_ID: s3.accessKeyId, ACCESS_SECRET_KEY: s3.secretAccessKey } },
    { name: 'objectstore-ca', stringData: { 'ca.crt': caPem } },
  ]) {
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secret.name, namespace: name },
      stringData: secret.stringData,
    });
  }
  // Backups allowed (credentials and CA found): the keyring exists too.
  await waitFor(
    () => op.client.get({ apiVersion: 'batch/v1', kind: 'CronJob', name: 'logical-backup', namespace: name }),
    { what: `${name} backup CronJob`, timeoutMs: 15_000 },
  ).catch(async (error: Error) => {
    const t = await op.client.get(territoryRef(name));
    throw new Error(`${error.message}; conditions: ${JSON.stringify(t?.status)}`);
  });
}

async function put(key: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `bytes of ${key}` }));
}

const keysUnder = async (prefix: string) => (await listObjects(client, BUCKET, prefix)).map((o) => o.key);

interface TerritoryEvent {
  type: string;
  reason: string;
  note?: string;
  eventTime?: string;
  regarding?: { name?: string };
}

async function eventsOf(name: string): Promise<TerritoryEvent[]> {
  const { items } = await op.client.list({
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    namespace: 'default',
  });
  return (items as unknown as TerritoryEvent[]).filter((e) => e.regarding?.name === name);
}

async function waitGone(name: string, timeoutMs: number): Promise<void> {
  await waitFor(async () => ((await op.client.get(territoryRef(name))) ? undefined : true), {
    what: `Territory ${name} to be deleted`,
    timeoutMs,
  });
}

describe('deletionPolicy Delete and the physical backups', () => {
  it('erases everything under the physical prefix, and only that, before the keys go', async () => {
    const name = uniqueName('erase');
    await createTerritory(name, Number(new URL(s3.endpoint).port), {
      physical: { enabled: true, encryption: 'ProviderManaged' },
    });
    const physical = `${PREFIX}/${name}/physical/`;
    const written = [
      `${physical}db/wals/0000000100000000/000000010000000000000001.gz`,
      `${physical}db/wals/0000000100000000/000000010000000000000002.gz`,
      `${physical}db/base/20260101T020000/backup.info`,
      `${physical}db/base/20260101T020000/data.tar.gz`,
    ];
    const logical = `${PREFIX}/${name}/20260101T020000.000Z.pgdump.enc`;
    // A neighbour whose name starts with this one's: its prefix is not this one's.
    const neighbour = `${PREFIX}/${name}-2/physical/db/wals/x.gz`;
    for (const key of [...written, logical, neighbour]) await put(key);
    // A base backup interrupted mid-upload: its parts are bytes in the bucket too.
    const upload = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: BUCKET,
        Key: `${physical}db/base/20260102T020000/data.tar.gz`,
      }),
    );
    await client.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: `${physical}db/base/20260102T020000/data.tar.gz`,
        UploadId: upload.UploadId,
        PartNumber: 1,
        Body: 'part one',
      }),
    );
    expect(await listMultipartUploads(client, BUCKET, physical)).toHaveLength(1);

    await op.client.delete(territoryRef(name));
    await waitGone(name, 60_000);

    expect(await keysUnder(physical)).toEqual([]);
    expect(await listMultipartUploads(client, BUCKET, physical)).toEqual([]);
    expect(await keysUnder(`${PREFIX}/`)).toEqual(expect.arrayContaining([logical, neighbour]));
    const events = await eventsOf(name);
    const erased = events.find((e) => e.reason === 'PhysicalBackupsErased');
    expect(erased?.type).toBe('Normal');
    expect(erased?.note).toContain(`erased ${written.length} object(s) and 1 unfinished upload(s)`);
    expect(erased?.note).toContain(`s3://${BUCKET}/${physical}`);
    // The keyring went after the erasure, and its Event no longer claims more than it does.
    const keyring = events.find((e) => e.reason === 'KeyringDestroyed');
    expect(keyring?.note).toContain('the logical backups left in the bucket can no longer be decrypted');
    expect(String(erased?.eventTime) <= String(keyring?.eventTime)).toBe(true);
    // The bucket's credentials are in no Event and no log line.
    const haystack = JSON.stringify(events) + op.logs.join('\n');
    expect(haystack).not.toContain(s3.secretAccessKey);
    expect(haystack).not.toContain(s3.accessKeyId);
  });

  it('waits, keeping keys and namespace, while the store is unreachable, then completes', async () => {
    const gate = await gateToStore();
    const name = uniqueName('unreachable');
    // Physical backups off now: objects from an earlier time are erased all the same.
    await createTerritory(name, gate.port);
    const physical = `${PREFIX}/${name}/physical/`;
    await put(`${physical}db/wals/0000000100000000/000000010000000000000001.gz`);

    await op.client.delete(territoryRef(name));
    const warning = await waitFor(
      async () => (await eventsOf(name)).find((e) => e.reason === 'PhysicalBackupErasureFailed'),
      { what: 'a Warning Event saying why the erasure fails', timeoutMs: 30_000 },
    );
    expect(warning.type).toBe('Warning');
    expect(warning.note).toContain(`s3://${BUCKET}/${physical} at 127.0.0.1`);
    expect(warning.note).toContain('connection refused (ECONNREFUSED)');
    expect(warning.note).toContain('sovereign.dev/leave-physical-backups');
    // The deletion went no further: the finalizer, the keyring and the namespace are still there.
    await new Promise((r) => setTimeout(r, 2_000));
    const stuck = (await op.client.get(territoryRef(name))) as KubeObject;
    expect(stuck.metadata.deletionTimestamp).toBeDefined();
    expect(stuck.metadata.finalizers).toContain(FINALIZER);
    const keyring = await op.client.get({
      apiVersion: 'v1',
      kind: 'Secret',
      name: 'territory-keyring',
      namespace: name,
    });
    expect(keyring).toBeDefined();
    const ns = await op.client.get({ apiVersion: 'v1', kind: 'Namespace', name });
    expect(ns?.metadata.deletionTimestamp).toBeUndefined();
    expect(await keysUnder(physical)).toHaveLength(1);

    await gate.open();
    // The controller retries with backoff (0.5 s doubling): a few seconds here.
    await waitGone(name, 90_000);
    expect(await keysUnder(physical)).toEqual([]);
    const erased = (await eventsOf(name)).find((e) => e.reason === 'PhysicalBackupsErased');
    expect(erased?.note).toContain('erased 1 object(s)');
    expect(JSON.stringify(await eventsOf(name)) + op.logs.join('\n')).not.toContain(s3.secretAccessKey);
  });
});
