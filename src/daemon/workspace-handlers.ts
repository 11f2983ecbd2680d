/** workspace.* handlers: adapt the wire to the workspace service (the patch streams as stdout frames). */
import type { WorkspaceService } from '../workspace/service.js';
import type { Handlers } from './dispatch.js';

export function workspaceHandlers(ws: WorkspaceService): Pick<Handlers, 'workspace.plan' | 'workspace.prepare' | 'workspace.export'> {
  return {
    'workspace.plan': (p) => ws.plan(p),
    'workspace.prepare': (p, ctx) => ws.prepare(p, ctx.progress, ctx.signal),
    'workspace.export': (p, ctx) => ws.export(p, { write: (chunk) => ctx.write('stdout', chunk) }, ctx.progress, ctx.signal),
  };
}
