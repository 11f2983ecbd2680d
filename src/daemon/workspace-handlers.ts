/** workspace.* handlers: adapt the wire to the workspace service (the patch streams as stdout frames at the client's pace). */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { WorkspaceService } from '../workspace/service.js';
import type { Handlers } from './dispatch.js';

export function workspaceHandlers(ws: WorkspaceService): Pick<Handlers, 'workspace.plan' | 'workspace.prepare' | 'workspace.export'> {
  return {
    'workspace.plan': (p) => ws.plan(p),
    'workspace.prepare': (p, ctx) => ws.prepare(p, ctx.progress, ctx.signal),
    'workspace.export': async (p, ctx) => {
      const out = ctx.output('stdout');
      const sink = { write: (chunk: Buffer) => out.write(chunk), drained: () => once(out, 'drain', { signal: ctx.signal }).then(() => undefined) };
      const r = await ws.export(p, sink, ctx.progress, ctx.signal);
      out.end();
      await finished(out); // every patch frame goes before the result
      return r;
    },
  };
}
