/**
 * One method's schemas without building the whole table (issue 13): `schemasFor(name)` imports only the
 * api/ module that defines the method and returns that module's method table. The CLI parses a call's
 * result with it, so `banger vm list` builds the VM schemas, not the images', kernels' or workspaces'
 * (zod schemas cost real time to construct, and a short command's time is mostly start-up).
 * `GROUP_OF` is typed by `MethodName`: a method added to api/methods.ts without a row here fails the
 * typecheck, and lazymethods.test.ts checks each row leads to the very schemas `methods` holds.
 */
import type { MethodName, Methods } from './methods.js';

const load = {
  daemon: () => import('./daemon.js').then((m) => m.daemonMethods),
  vm: () => import('./vm.js').then((m) => m.vmMethods),
  kernel: () => import('./kernel.js').then((m) => m.kernelMethods),
  image: () => import('./image.js').then((m) => m.imageMethods),
  network: () => import('./network.js').then((m) => m.networkMethods),
  snapshot: () => import('./snapshot.js').then((m) => m.snapshotMethods),
  workspace: () => import('./workspace.js').then((m) => m.workspaceMethods),
  ui: () => import('./ui.js').then((m) => m.uiMethods),
};
export type MethodGroup = keyof typeof load;

/** The api/ module (by its method table) that defines each method. */
export const GROUP_OF: Record<MethodName, MethodGroup> = {
  'daemon.status': 'daemon',
  'daemon.stop': 'daemon',
  'daemon.doctor': 'daemon',
  'daemon.http': 'daemon',
  'vm.create': 'vm',
  'vm.start': 'vm',
  'vm.stop': 'vm',
  'vm.restart': 'vm',
  'vm.kill': 'vm',
  'vm.delete': 'vm',
  'vm.prune': 'vm',
  'vm.set': 'vm',
  'vm.list': 'vm',
  'vm.show': 'vm',
  'vm.exec': 'vm',
  'vm.logs': 'vm',
  'vm.sshInfo': 'vm',
  'vm.stats': 'vm',
  'kernel.pull': 'kernel',
  'kernel.list': 'kernel',
  'kernel.show': 'kernel',
  'kernel.delete': 'kernel',
  'kernel.import': 'kernel',
  'image.build': 'image',
  'image.import': 'image',
  'image.export': 'image',
  'image.pull': 'image',
  'image.pullOci': 'image',
  'image.importOci': 'image',
  'image.buildDockerfile': 'image',
  'image.list': 'image',
  'image.show': 'image',
  'image.delete': 'image',
  'dns.status': 'network',
  'dns.install': 'network',
  'dns.uninstall': 'network',
  'sshConfig.show': 'network',
  'vm.ports': 'network',
  'vm.forward': 'network',
  'vm.unforward': 'network',
  'vm.forwards': 'network',
  'vm.snapshot': 'snapshot',
  'vm.fork': 'snapshot',
  'snapshot.list': 'snapshot',
  'snapshot.show': 'snapshot',
  'snapshot.delete': 'snapshot',
  'workspace.plan': 'workspace',
  'workspace.prepare': 'workspace',
  'workspace.export': 'workspace',
  'ui.open': 'ui',
};

/** The method table of the module that defines `method`: it holds `method`'s params and result schemas. */
export async function schemasFor<M extends MethodName>(method: M): Promise<Pick<Methods, M>> {
  const group = GROUP_OF[method];
  if (!group) throw new Error(`schemasFor: no API method ${JSON.stringify(method)}`);
  return (await load[group]()) as unknown as Pick<Methods, M>;
}
