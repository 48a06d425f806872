// The operator's own namespace, which no Territory may claim: configured, else the Pod's.
import { describe, expect, it } from 'vitest';
import { parseOperatorConfig, withOperatorNamespace } from './operator-config.ts';

describe('withOperatorNamespace', () => {
  const config = parseOperatorConfig({});
  const noFile = () => undefined;

  it('keeps a configured namespace', () => {
    const configured = parseOperatorConfig({ operatorNamespace: 'platform' });
    expect(withOperatorNamespace(configured, { POD_NAMESPACE: 'other' }, noFile).operatorNamespace).toBe(
      'platform',
    );
  });

  it("takes the Pod's namespace from POD_NAMESPACE, which the chart sets", () => {
    expect(
      withOperatorNamespace(config, { POD_NAMESPACE: 'territory-system' }, noFile).operatorNamespace,
    ).toBe('territory-system');
  });

  it("falls back on the service account's namespace file", () => {
    expect(withOperatorNamespace(config, {}, () => 'from-file').operatorNamespace).toBe('from-file');
  });

  it('has none out of a cluster', () => {
    expect(withOperatorNamespace(config, {}, noFile).operatorNamespace).toBeUndefined();
  });
});
