/**
 * vm.* handlers: adapt the wire to the VM service (vms/contracts.ts VmService); no logic of their own,
 * besides joining vm.exec's `reportDrift` (the workspace drift check, workspace/drift.ts) to the call.
 */
import { parseSize } from '../api/names.js';
import type { Workspace } from '../api/vm.js';
import type { VmService } from '../vms/contracts.js';
import type { Paths } from '../store/paths.js';
import type { Handlers } from './dispatch.js';

type VmHandlers = Pick<
  Handlers,
  'vm.create' | 'vm.start' | 'vm.stop' | 'vm.restart' | 'vm.kill' | 'vm.delete' | 'vm.prune' | 'vm.set' | 'vm.list' | 'vm.show' | 'vm.exec' | 'vm.logs' | 'vm.sshInfo' | 'vm.stats'
>;

export interface VmHandlerDeps {
  paths: Paths;
  /** vm.exec's reportDrift: the warning when the host repo's HEAD moved since `ws` was prepared (workspace/drift.ts). */
  workspaceDrift: (vm: string, ws: Workspace) => Promise<string | null>;
}

export function vmHandlers(vms: VmService, deps: VmHandlerDeps): VmHandlers {
  return {
    'vm.create': (p, ctx) => vms.create(p, ctx.progress, ctx.signal),
    'vm.start': (p, ctx) => vms.start(p.name, p.waitForSsh, ctx.progress, ctx.signal),
    'vm.stop': (p, ctx) => vms.stop(p.name, p.timeoutMs, ctx.progress),
    'vm.restart': (p, ctx) => vms.restart(p.name, p.timeoutMs, ctx.progress, ctx.signal),
    'vm.kill': (p) => vms.kill(p.name, p.signal),
    'vm.delete': (p, ctx) => vms.delete(p.name, ctx.progress),
    'vm.prune': (_p, ctx) => vms.prune(ctx.progress),
    'vm.set': (p) => vms.set(p.name, { vcpu: p.vcpu, memoryMib: p.memoryMib, diskSizeBytes: p.diskSize ? parseSize(p.diskSize)! : undefined, nat: p.nat }),
    'vm.list': () => ({ vms: vms.list() }),
    'vm.show': (p) => vms.show(p.name),
    'vm.exec': async (p, ctx) => {
      // Before the command runs, so the warning comes before any of its output.
      const ws = p.reportDrift && p.cwd === undefined ? vms.lookup(p.name).workspace : null;
      const warning = ws ? await deps.workspaceDrift(p.name, ws) : null;
      if (warning) ctx.progress('workspace-drift', warning);
      return vms.exec(p.name, { argv: p.argv, cwd: p.cwd, stdin: p.stdin ? ctx.stdin : undefined, output: (s) => ctx.output(s), signal: ctx.signal });
    },
    'vm.logs': (p) => ({ path: deps.paths.vmFile(vms.lookup(p.name).id, 'serial') }),
    'vm.sshInfo': (p) => vms.sshInfo(p.name),
    'vm.stats': async () => ({ stats: await vms.stats() }),
  };
}
