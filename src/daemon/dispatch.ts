/**
 * The one routing table: method name → schema-validated params → one service call. The only
 * place that validates input; handlers hold no logic. `createTableDispatch` is the same machinery
 * for another method table (bangerd-root's, src/rootd/api.ts).
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

export function createTableDispatch<T extends MethodTable>(table: T, handlers: TableHandlers<T>, unknownHint: string): Dispatch {
  return async (method, params, ctx) => {
    if (!Object.hasOwn(table, method)) throw new BangerError('bad_request', `unknown method ${method}; ${unknownHint}`);
    const parsed = table[method].params.safeParse(params ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      const where = i.path.length ? `${i.path.join('.')}: ` : '';
      throw new BangerError('bad_request', `${method}: ${where}${i.message}`, { details: { issues: parsed.error.issues } });
    }
    return handlers[method as keyof T](parsed.data as never, ctx);
  };
}

export function createDispatch(handlers: Handlers): Dispatch {
  return createTableDispatch(methods as unknown as MethodTable, handlers as unknown as TableHandlers<MethodTable>, 'the CLI and daemon versions may differ (banger version, banger daemon status)');
}
