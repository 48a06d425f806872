// Mounts the kubelet and containerd leave under the node's folder (Pod volumes, overlay snapshots,
// sandbox network namespaces, the shm of each sandbox): found in /proc/self/mountinfo and unmounted
// deepest first, so the folder can be deleted and the next `cluster:up` starts clean.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    // Field 5 is the mount point, with spaces and other bytes escaped as \\ooo.
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o) =>
        String.fromCharCode(Number.parseInt(o, 8)),
      ),
    )
    .filter((point) => point === dir || point.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountAllUnder(dir: string): Promise<number> {
  let count = 0;
  // A path can be mounted over more than once: repeat until nothing is left.
  for (let round = 0; round < 5; round += 1) {
    const points = mountsUnder(dir);
    if (points.length === 0) return count;
    for (const point of points) {
      try {
        await run('umount', [point]);
      } catch {
        // Busy (a process we could not kill yet): detach it so the folder can still go.
        await run('umount', ['--lazy', point]).catch(() => undefined);
      }
      count += 1;
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`still mounted after unmounting: ${left.join(', ')}`);
  return count;
}
