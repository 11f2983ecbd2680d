/**
 * The one routing table: method name → schema-validated params → one service call. The only
 * place that validates input; handlers hold no logic. `createTableDispatch` is the same machinery
 * for another method table (bangerd-root's, src/rootd/api.ts). It also tells the server which
 * calls read the client's stdin frames (STDIN_CALLS), so the others' frames are dropped unread.
 */
import type { z } from 'zod';
import { BangerError } from '../api/errors.js';
import { methods, type MethodName, type ParsedParamsOf, type ResultOf } from '../api/methods.js';
import type { CallContext, Dispatch } from './server.js';

export type Handler<M extends MethodName> = (params: ParsedParamsOf<M>, ctx: CallContext) => Promise<ResultOf<M>> | ResultOf<M>;
export type Handlers = { [M in MethodName]: Handler<M> };

export type MethodTable = Record<string, { params: z.ZodType; result: z.ZodType }>;
export type TableHandlers<T extends MethodTable> = {
  [M in keyof T]: (params: z.output<T[M]['params']>, ctx: CallContext) => Promise<z.output<T[M]['result']>> | z.output<T[M]['result']>;
};

/** Which calls read stdin frames, by their validated params; every other call's stdin frames are dropped unread. */
export type StdinCalls = Record<string, (params: never) => boolean>;
export const STDIN_CALLS: StdinCalls = {
  'vm.exec': (p: ParsedParamsOf<'vm.exec'>) => p.stdin,
  'image.import': (p: ParsedParamsOf<'image.import'>) => p.rootfsTar === '-',
};

export function createTableDispatch<T extends MethodTable>(table: T, handlers: TableHandlers<T>, unknownHint: string, stdinCalls: StdinCalls = {}): Dispatch {
  return async (method, params, ctx) => {
    if (!Object.hasOwn(table, method)) throw new BangerError('bad_request', `unknown method ${method}; ${unknownHint}`);
    const parsed = table[method].params.safeParse(params ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      const where = i.path.length ? `${i.path.join('.')}: ` : '';
      throw new BangerError('bad_request', `${method}: ${where}${i.message}`, { details: { issues: parsed.error.issues } });
    }
    // Said before the handler runs (and synchronously, before the server feeds any stdin frame).
    ctx.stdinUsed?.(Object.hasOwn(stdinCalls, method) && stdinCalls[method](parsed.data as never));
    return handlers[method as keyof T](parsed.data as never, ctx);
  };
}

export function createDispatch(handlers: Handlers): Dispatch {
  return createTableDispatch(methods as unknown as MethodTable, handlers as unknown as TableHandlers<MethodTable>, 'the CLI and daemon versions may differ (banger version, banger daemon status)', STDIN_CALLS);
}
