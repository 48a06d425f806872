// The node's cgroups (cgroup v1, cgroupfs driver): one subtree per node in every hierarchy, the
// kubelet's cgroupRoot. The node's agents run in `<root>/agents` and Pods in `<root>/kubepods`
// (the kubelet makes that one), so stopping the node is: freeze the subtree, kill every process in
// it (containerd's shims and Pods included, which outlive the agents otherwise), remove it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '../controlplane/processes.ts';

const CGROUP_FS = '/sys/fs/cgroup';
/** Hierarchies the kubelet uses; each must hold the cgroupRoot. */
const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'freezer', 'devices', 'blkio', 'systemd'];

export interface NodeCgroups {
  /** The kubelet's cgroupRoot, e.g. /territory-node. */
  root: string;
  agents: string;
}

export function nodeCgroups(name: string): NodeCgroups {
  return { root: `/${name}`, agents: `/${name}/agents` };
}

function mountedControllers(): string[] {
  return CONTROLLERS.filter((c) => existsSync(join(CGROUP_FS, c, 'cgroup.procs')));
}

/** Fails with the reason when the machine is not the cgroup v1 layout the node is set up for. */
export function assertCgroupV1(): void {
  if (existsSync(join(CGROUP_FS, 'cgroup.controllers'))) {
    throw new Error(
      'this machine runs cgroup v2 only; the test node is configured for cgroup v1 (cgroupfs driver)',
    );
  }
  for (const needed of ['cpu', 'memory', 'pids', 'freezer']) {
    if (!existsSync(join(CGROUP_FS, needed, 'cgroup.procs'))) {
      throw new Error(`cgroup v1 hierarchy ${join(CGROUP_FS, needed)} is not mounted; a node needs it`);
    }
  }
}

export async function createNodeCgroups(cgroups: NodeCgroups): Promise<void> {
  for (const controller of mountedControllers()) {
    for (const path of [cgroups.root, cgroups.agents]) {
      const dir = join(CGROUP_FS, controller, path);
      await mkdir(dir, { recursive: true });
      if (controller === 'cpuset') {
        // A new cpuset is empty and refuses tasks until it is given its parent's CPUs and memory nodes.
        for (const file of ['cpuset.cpus', 'cpuset.mems']) {
          const parent = readFileSync(join(dir, '..', file), 'utf8').trim();
          writeFileSync(join(dir, file), parent);
        }
      }
    }
  }
}

/** Moves a process (and the children it will have) into the agents' cgroup of every hierarchy. */
export function joinAgentsCgroup(cgroups: NodeCgroups, pid: number): void {
  for (const controller of mountedControllers()) {
    writeFileSync(join(CGROUP_FS, controller, cgroups.agents, 'cgroup.procs'), String(pid));
  }
}

function subtreeDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const children = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => subtreeDirs(join(dir, entry.name)));
  return [...children, dir]; // deepest first: the order rmdir needs
}

function pidsIn(dir: string): number[] {
  return subtreeDirs(dir).flatMap((d) => {
    try {
      return readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
}

/** Every process still in the node's subtree (agents, shims, Pods). */
export function nodeProcesses(cgroups: NodeCgroups): number[] {
  return pidsIn(join(CGROUP_FS, 'freezer', cgroups.root));
}

/** Kills every process of the node and removes its cgroups. Returns how many were killed. */
export async function destroyNodeCgroups(cgroups: NodeCgroups): Promise<number> {
  const freezer = join(CGROUP_FS, 'freezer', cgroups.root);
  let killed = 0;
  if (existsSync(freezer)) {
    // Frozen, nothing forks between the listing and the kill; SIGKILL is delivered on thaw.
    writeFileSync(join(freezer, 'freezer.state'), 'FROZEN');
    for (const pid of pidsIn(freezer)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      } catch {
        // Already gone.
      }
    }
    writeFileSync(join(freezer, 'freezer.state'), 'THAWED');
    const deadline = Date.now() + 15_000;
    while (pidsIn(freezer).length > 0) {
      if (Date.now() > deadline) {
        throw new Error(`processes survived SIGKILL in ${freezer}: ${pidsIn(freezer).join(', ')}`);
      }
      await sleep(100);
    }
  }
  for (const controller of mountedControllers()) {
    for (const dir of subtreeDirs(join(CGROUP_FS, controller, cgroups.root))) {
      await rmdirRetrying(dir);
    }
  }
  return killed;
}

async function rmdirRetrying(dir: string): Promise<void> {
  // A cgroup whose last task just died can report EBUSY for a moment.
  for (let attempt = 0; ; attempt += 1) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw new Error(`cannot remove cgroup ${dir}: ${code}`);
      await sleep(100);
    }
  }
}
