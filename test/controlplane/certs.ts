// The PKI of one test control plane: a throw-away CA, the kube-apiserver serving certificate,
// client certificates for the admin and for kube-controller-manager, and the service-account
// token signing key pair. ECDSA P-256 everywhere: generating it takes milliseconds (RSA 3072
// would add seconds to every start) and every Kubernetes component accepts it.

// @peculiar/x509 resolves its algorithms through tsyringe, which needs a Reflect polyfill loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

export interface PemKeyPair {
  certPem: string;
  keyPem: string;
}

export interface ControlPlanePki {
  ca: PemKeyPair;
  apiServer: PemKeyPair;
  admin: PemKeyPair;
  controllerManager: PemKeyPair;
  /** kube-apiserver's client certificate towards kubelets (logs, exec, port-forward). */
  kubeletClient: PemKeyPair;
  serviceAccount: { publicKeyPem: string; privateKeyPem: string };
}

export interface PkiOptions {
  /** Certificates are valid from `now - 1h` (clock skew) to `now + validDays`. */
  now: Date;
  validDays?: number;
  /** Extra SANs for the serving certificate, e.g. the first IP of the service range. */
  extraServingIps?: string[];
}

x509.cryptoProvider.set(webcrypto);

/** A throw-away CA and the issuer of certificates it signs (the control plane's, a test S3 server's). */
export async function newCertificateAuthority(
  commonName: string,
  now: Date,
  validDays = 30,
): Promise<{ ca: PemKeyPair; issue: CertificateIssuer }> {
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + validDays * 24 * 60 * 60 * 1000);
  const caKeys = await generateKeys();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return {
    ca: { certPem: caCert.toString('pem'), keyPem: await privateKeyPem(caKeys.privateKey) },
    issue: issuerFor(caCert, caKeys.privateKey, notBefore, notAfter),
  };
}

export async function generateControlPlanePki(options: PkiOptions): Promise<ControlPlanePki> {
  const { ca, issue } = await newCertificateAuthority('territory-test-ca', options.now, options.validDays);

  const servingSans: x509.JsonGeneralNames = [
    { type: 'ip', value: '127.0.0.1' },
    ...(options.extraServingIps ?? []).map((ip) => ({ type: 'ip' as const, value: ip })),
    // In-cluster names, so a pod-side client (if a test ever runs one) can verify the server too.
    ...['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'].map((dns) => ({
      type: 'dns' as const,
      value: dns,
    })),
    { type: 'dns', value: 'kubernetes.default.svc.cluster.local' },
  ];

  const saKeys = await generateKeys();
  return {
    ca,
    apiServer: await issue([{ CN: ['kube-apiserver'] }], x509.ExtendedKeyUsage.serverAuth, servingSans),
    // O=system:masters is the group RBAC lets do everything, without any binding.
    admin: await issue(
      [{ O: ['system:masters'] }, { CN: ['territory-admin'] }],
      x509.ExtendedKeyUsage.clientAuth,
    ),
    // The bootstrap ClusterRole system:kube-controller-manager is bound to this user name.
    controllerManager: await issue(
      [{ CN: ['system:kube-controller-manager'] }],
      x509.ExtendedKeyUsage.clientAuth,
    ),
    kubeletClient: await issue(
      [{ O: ['system:masters'] }, { CN: ['kube-apiserver-kubelet-client'] }],
      x509.ExtendedKeyUsage.clientAuth,
    ),
    serviceAccount: {
      publicKeyPem: await publicKeyPem(saKeys.publicKey),
      privateKeyPem: await privateKeyPem(saKeys.privateKey),
    },
  };
}

/** Issues certificates signed by a CA: the control plane's own, or one read back from its pki/ folder. */
export type CertificateIssuer = (
  subject: x509.JsonName,
  usage: x509.ExtendedKeyUsage,
  sans?: x509.JsonGeneralNames,
) => Promise<PemKeyPair>;

function issuerFor(
  caCert: x509.X509Certificate,
  caKey: webcrypto.CryptoKey,
  notBefore: Date,
  notAfter: Date,
): CertificateIssuer {
  return async (subject, usage, sans = []) => {
    const keys = await generateKeys();
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([usage]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ];
    if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject,
      issuer: caCert.subject,
      notBefore,
      notAfter,
      signingAlgorithm: SIGNING,
      publicKey: keys.publicKey,
      signingKey: caKey,
      extensions,
    });
    return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
  };
}

/**
 * An issuer for a CA written by generateControlPlanePki (pki/ca.crt, pki/ca.key): the node's
 * components get their client and serving certificates from the control plane's CA.
 */
export async function certificateIssuer(
  ca: PemKeyPair,
  now: Date,
  validDays = 30,
): Promise<CertificateIssuer> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decode(ca.keyPem)[0] as ArrayBuffer,
    EC_KEY,
    false,
    ['sign'],
  );
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + validDays * 24 * 60 * 60 * 1000);
  return issuerFor(caCert, caKey, notBefore, notAfter);
}

/** What a client or server needs from x509 to name itself. */
export const { ExtendedKeyUsage } = x509;

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function publicKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('spki', key);
  return x509.PemConverter.encode(der, 'PUBLIC KEY');
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  // A leading zero bit keeps the DER INTEGER positive, as RFC 5280 requires.
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
