// A self-signed certificate and its key, made by openssl (as a real PKI would), for servers and CAs in tests.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Writes a one-day self-signed certificate for `commonName` to `certFile`, its private key to `keyFile`. */
export async function selfSignedCertificate(opts: {
  commonName: string;
  keyFile: string;
  certFile: string;
}): Promise<void> {
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${opts.commonName}`,
    '-keyout',
    opts.keyFile,
    '-out',
    opts.certFile,
  ]);
}
