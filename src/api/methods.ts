/**
 * Every API method: name → params and result schema. The daemon validates with these, the CLI
 * and SDK type their calls with them. Additive changes only (see ARCHITECTURE.md, API changes).
 */
import { z } from 'zod';
import { imageMethods } from './image.js';
import { kernelMethods } from './kernel.js';
import { networkMethods } from './network.js';
import { snapshotMethods } from './snapshot.js';
import { workspaceMethods } from './workspace.js';
import { uiMethods } from './ui.js';
import { DaemonStatus, DoctorCheck, Empty, HttpInfo, Ok } from './daemon.js';
import { Deleted } from './results.js';
import {
  Vm,
  VmCreateParams,
  VmDeleteParams,
  VmExecParams,
  VmExecResult,
  VmKillParams,
  VmListResult,
  VmLogsParams,
  VmLogsResult,
  VmPruneResult,
  VmRef,
  VmSetParams,
  VmSshInfo,
  VmStartParams,
  VmStatsResult,
  VmStopParams,
} from './vm.js';

const m = <P extends z.ZodType, R extends z.ZodType>(params: P, result: R) => ({ params, result });

export const methods = {
  'daemon.status': m(Empty, DaemonStatus),
  'daemon.stop': m(Empty, Ok),
  'daemon.doctor': m(Empty, z.array(DoctorCheck)),
  'daemon.http': m(Empty, HttpInfo),
  'vm.create': m(VmCreateParams, Vm),
  'vm.start': m(VmStartParams, Vm),
  'vm.stop': m(VmStopParams, Vm),
  'vm.restart': m(VmStopParams, Vm),
  'vm.kill': m(VmKillParams, Vm),
  'vm.delete': m(VmDeleteParams, Deleted),
  'vm.prune': m(Empty, VmPruneResult),
  'vm.set': m(VmSetParams, Vm),
  'vm.list': m(Empty, VmListResult),
  'vm.show': m(VmRef, Vm),
  'vm.exec': m(VmExecParams, VmExecResult),
  'vm.logs': m(VmLogsParams, VmLogsResult),
  'vm.sshInfo': m(VmRef, VmSshInfo),
  'vm.stats': m(Empty, VmStatsResult),
  ...kernelMethods,
  ...imageMethods,
  ...networkMethods,
  ...snapshotMethods,
  ...workspaceMethods,
  ...uiMethods,
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = z.input<Methods[M]['params']>;
export type ParsedParamsOf<M extends MethodName> = z.output<Methods[M]['params']>;
export type ResultOf<M extends MethodName> = z.output<Methods[M]['result']>;
