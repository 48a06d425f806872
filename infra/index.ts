// The Pulumi program (`pulumi up` in infra/): reads the stack configuration, installs the operator on each
// cluster and declares the stack's Territories. See Pulumi.example.yaml and the README's "Pulumi" section.
import * as pulumi from '@pulumi/pulumi';
import { deployPlatform, type Kubeconfigs } from './platform.ts';
import type { StackConfigInput } from './stack-config.ts';

const config = new pulumi.Config();
const stack: StackConfigInput = {
  clusters: config.requireObject('clusters'),
  territories: config.getObject('territories') ?? [],
};

// A cluster's kubeconfig contents are a stack secret named kubeconfig-<cluster> (pulumi config set --secret).
const kubeconfigs: Kubeconfigs = {};
for (const c of stack.clusters) kubeconfigs[c.name] = config.getSecret(`kubeconfig-${c.name}`);

const platform = deployPlatform(stack, kubeconfigs);

export const operatorNamespaces = Object.fromEntries(
  [...platform.installs].map(([name, install]) => [name, install.namespace.metadata.name]),
);
export const territories = [...platform.territories.keys()];
