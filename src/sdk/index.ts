/**
 * The banger TypeScript SDK (`import { Vm } from 'banger/sdk'`): a thin client of bangerd's API,
 * shaped like E2B's (static factories, a handle per VM with `commands`, `files`, `workspace`,
 * errors as classes). It holds no VM logic; agents that already speak E2B can use banger's
 * E2B-compatible endpoint instead (`banger serve`), which also has PTYs and file watching.
 *
 *   const vm = await Vm.create({ name: 'ci' });
 *   const r = await vm.commands.run(['make', 'test']);
 *   await vm.files.write('/tmp/x', 'hello');
 *   await vm.delete();
 */
export { BangerError } from '../api/errors.js';
export type { Vm as VmInfo } from '../api/vm.js';
export { ConflictError, NotFoundError, type ConnectionOpts } from './api.js';
export { CommandExitError, Commands, type CommandHandle, type CommandResult, type CommandRunOpts } from './commands.js';
export { Files, type FileEntry } from './files.js';
export { Vm, Workspace } from './vm.js';
