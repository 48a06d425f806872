// The Barman Cloud plugin's own image, the one its Deployment runs (`manager operator`): upstream's
// containers/Dockerfile.plugin copies the static `manager` to / of ubi-micro, USER 65532:65532,
// ENTRYPOINT ["/manager"]. Here the same binary in the project's one-static-binary image (what
// distroless gives: passwd with nonroot 65532, group, nsswitch.conf, Debian's CA bundle, /tmp).
// The plugin's Deployment overrides the user anyway (runAsUser 10001, read-only root filesystem).
import type { ImageOptions, LocalImage } from './common.ts';
import { type BinaryImageSpec, ensureBinaryImage } from './static-binary.ts';

/** Where upstream's image has the binary, and as which user it runs. */
export function barmanCloudPluginImageSpec(binary: string, pluginVersion: string): BinaryImageSpec {
  return {
    name: 'plugin-barman-cloud',
    version: pluginVersion,
    binary,
    path: '/manager',
    entrypoint: ['/manager'],
    user: '65532:65532',
  };
}

export async function ensureBarmanCloudPluginImage(
  options: ImageOptions & { manager: string; pluginVersion: string },
): Promise<LocalImage> {
  const { manager, pluginVersion, ...imageOptions } = options;
  return ensureBinaryImage({ ...barmanCloudPluginImageSpec(manager, pluginVersion), ...imageOptions });
}
