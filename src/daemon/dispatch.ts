/**
 * The one routing table: method name → schema-validated params → one service call. The only
 * place that validates input; handlers hold no logic.
 */
import { BangerError } from '../api/errors.js';
import { methods, type MethodName, type ParsedParamsOf, type ResultOf } from '../api/methods.js';
import type { CallContext, Dispatch } from './server.js';

export type Handler<M extends MethodName> = (params: ParsedParamsOf<M>, ctx: CallContext) => Promise<ResultOf<M>> | ResultOf<M>;
export type Handlers = { [M in MethodName]: Handler<M> };

export function createDispatch(handlers: Handlers): Dispatch {
  return async (method, params, ctx) => {
    if (!Object.hasOwn(methods, method)) {
      throw new BangerError('bad_request', `unknown method ${method}; the CLI and daemon versions may differ (banger version, banger daemon status)`);
    }
    const name = method as MethodName;
    const parsed = methods[name].params.safeParse(params ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      const where = i.path.length ? `${i.path.join('.')}: ` : '';
      throw new BangerError('bad_request', `${method}: ${where}${i.message}`, { details: { issues: parsed.error.issues } });
    }
    const handler = handlers[name] as Handler<typeof name>;
    return handler(parsed.data as never, ctx);
  };
}
