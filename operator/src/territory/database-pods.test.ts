import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../runtime/kube-client.ts';
import type { Logger, ResourceSelector } from '../runtime/types.ts';
import { readDatabasePods } from './database-pods.ts';

/** A logger that keeps what it is given, by level. */
function recordingLogger() {
  const lines: { level: string; obj: unknown; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  const logger: Logger = {
    child: () => logger,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { logger, lines };
}

describe("reading the database's Pods", () => {
  it("lists the namespace's CloudNativePG Pods not yet on a node, and nothing else", async () => {
    const asked: ResourceSelector[] = [];
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'db-1-initdb-x7k2p', namespace: 'rennes' },
    };
    const { logger } = recordingLogger();
    const pods = await readDatabasePods(
      {
        list: async (selector) => {
          asked.push(selector);
          return { items: [pod] };
        },
      },
      'rennes',
      logger,
    );
    expect(pods).toEqual([pod]);
    expect(asked).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: 'rennes',
        labelSelector: 'cnpg.io/cluster=db',
        fieldSelector: 'spec.nodeName=',
      },
    ]);
  });

  it('answers no Pods and logs at debug level when the read is refused, never failing the reconcile', async () => {
    const { logger, lines } = recordingLogger();
    const pods = await readDatabasePods(
      {
        list: async () => {
          throw new KubeApiError(403, 'pods is forbidden: User cannot list resource "pods"', 'Forbidden');
        },
      },
      'rennes',
      logger,
    );
    expect(pods).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'debug', obj: { namespace: 'rennes' } });
    expect(JSON.stringify(lines[0]?.obj)).toContain('forbidden');
  });
});
