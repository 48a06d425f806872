// Minimal HTTP(S) GET for readiness probes: etcd /health and kube-apiserver /readyz, /version.
// node:https rather than fetch because the apiserver wants a client certificate.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface TlsClient {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export function httpGet(url: string, tls?: TlsClient, timeoutMs = 5_000): Promise<HttpAnswer> {
  return new Promise((resolveAnswer, reject) => {
    const target = new URL(url);
    const options = {
      method: 'GET',
      timeout: timeoutMs,
      agent: false as const,
      ...(tls ? { ca: tls.caPem, cert: tls.certPem, key: tls.keyPem } : {}),
    };
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(
      target,
      options,
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolveAnswer({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out after ${timeoutMs}ms`)));
    request.on('error', reject);
    request.end();
  });
}
