/**
 * Every API method: name → params and result schema. The daemon validates with these, the CLI
 * and SDK type their calls with them. Additive changes only (see ARCHITECTURE.md, API changes).
 */
import type { z } from 'zod';
import { daemonMethods } from './daemon.js';
import { imageMethods } from './image.js';
import { kernelMethods } from './kernel.js';
import { networkMethods } from './network.js';
import { snapshotMethods } from './snapshot.js';
import { workspaceMethods } from './workspace.js';
import { uiMethods } from './ui.js';
import { vmMethods } from './vm.js';

export const methods = {
  ...daemonMethods,
  ...vmMethods,
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
