// A real S3-compatible server for tests: versitygw (posix backend) on a free loopback port,
// with a root access key / secret so every request is SigV4-signed, buckets created on start,
// everything deleted on stop. The binary comes from test/s3/build.ts (built once, cached).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { ensureS3ServerBinary } from '../s3/build.ts';

export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The keys in 0600 files, as a mounted Secret holds them (S3_ACCESS_KEY_ID_FILE, S3_SECRET_ACCESS_KEY_FILE). */
  credentialFiles: { accessKeyId: string; secretAccessKey: string };
  /** Where the posix backend keeps objects: <dataDir>/<bucket>/<key>. */
  dataDir: string;
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface S3ServerOptions {
  buckets?: string[];
  region?: string;
  /** Listen address, `<ip>:<port>`; default a free port on 127.0.0.1. */
  listen?: string;
  /** Serve HTTPS with this certificate; clients of `client()` trust `caPem` only. */
  tls?: { certPem: string; keyPem: string; caPem: string };
}

export async function startS3Server(opts: S3ServerOptions = {}): Promise<S3Server> {
  const binary = await ensureS3ServerBinary();
  const dir = await mkdtemp(join(tmpdir(), 'territory-s3-'));
  const dataDir = join(dir, 'data');
  const sidecar = join(dir, 'meta');
  await mkdir(dataDir);
  await mkdir(sidecar);
  const region = opts.region ?? 'eu-west-2';
  const accessKeyId = `TEST${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(24).toString('base64');
  const credentialFiles = {
    accessKeyId: join(dir, 'access-key-id'),
    secretAccessKey: join(dir, 'secret-access-key'),
  };
  await writeFile(credentialFiles.accessKeyId, accessKeyId, { mode: 0o600 });
  await writeFile(credentialFiles.secretAccessKey, secretAccessKey, { mode: 0o600 });
  const listen = opts.listen ?? `127.0.0.1:${await freePort()}`;
  const tlsArgs: string[] = [];
  if (opts.tls) {
    await writeFile(join(dir, 'tls.crt'), opts.tls.certPem);
    await writeFile(join(dir, 'tls.key'), opts.tls.keyPem, { mode: 0o600 });
    tlsArgs.push('--cert', join(dir, 'tls.crt'), '--key', join(dir, 'tls.key'));
  }
  const logPath = join(dir, 'server.log');
  const logFd = openSync(logPath, 'a');

  // Credentials go through the environment, not argv, so they never show in `ps`.
  // The sidecar folder holds object metadata, so the data folder needs no xattr support
  // (tmpfs before Linux 6.6 and some CI filesystems have none).
  const child: ChildProcess = spawn(
    binary,
    ['--port', listen, ...tlsArgs, '--region', region, '--quiet', 'posix', '--sidecar', sidecar, dataDir],
    {
      env: { ...process.env, ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey },
      stdio: ['ignore', logFd, logFd],
    },
  );
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exit ${code ?? signal}`;
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const endpoint = `${opts.tls ? 'https' : 'http'}://${listen}`;
  const trust = opts.tls ? { requestHandler: { httpsAgent: new Agent({ ca: opts.tls.caPem }) } } : {};
  const client = () =>
    new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...trust,
    });

  const admin = client();
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      throw new Error(
        `versitygw (${binary}) stopped at start (${exited}):\n${await readFile(logPath, 'utf8')}`,
      );
    }
    try {
      await admin.send(new ListBucketsCommand({}));
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`versitygw did not answer on ${endpoint} within 30s: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const server: S3Server = {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    credentialFiles,
    dataDir,
    client,
    async createBucket(name) {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (!exited) child.kill('SIGKILL');
      }
      admin.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
  for (const b of opts.buckets ?? []) await server.createBucket(b);
  return server;
}
