import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BangerError } from '../api/errors.js';
import { bounded, MAX_TOOL_OUTPUT, runTool, TOOLS, type ToolDef } from './tools.js';

describe('MCP tools', () => {
  it('every tool has a unique snake_case name, a description and an object input schema', () => {
    const names = TOOLS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const t of TOOLS) {
      expect(t.name).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(t.description.length).toBeGreaterThan(10);
      expect(z.toJSONSchema(t.input, { io: 'input' })).toMatchObject({ type: 'object' });
    }
    expect(names).toEqual(expect.arrayContaining(['vm_list', 'vm_create', 'vm_delete', 'vm_run', 'file_read', 'file_write', 'file_list', 'workspace_prepare', 'workspace_export', 'vm_snapshot', 'vm_fork']));
  });

  it('inputs are the API schemas: a bad VM name is refused as the API refuses it', async () => {
    const create = TOOLS.find((t) => t.name === 'vm_create')!;
    const r = await runTool(create, { name: 'Bad Name!' }, { socketPath: '/nonexistent' });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toMatchObject({ error: { code: 'bad_request' } });
    expect(r.content[0]!.text).toMatch(/^error \[bad_request\]: vm_create: name: /);
    const unknownField = await runTool(create, { nmae: 'x' }, { socketPath: '/nonexistent' });
    expect(unknownField.isError).toBe(true);
  });

  it('workspace_export applies only when asked', () => {
    const exp = TOOLS.find((t) => t.name === 'workspace_export')!;
    expect(exp.input.parse({ name: 'v' })).toMatchObject({ apply: false });
  });

  it("a tool's banger error comes back as a tool error with its code", async () => {
    const failing: ToolDef = { name: 'x', description: 'fails on purpose', input: z.object({}), run: async () => Promise.reject(new BangerError('not_found', 'no VM named ghost')) };
    const r = await runTool(failing, {}, {});
    expect(r).toMatchObject({ isError: true, structuredContent: { error: { code: 'not_found', message: 'no VM named ghost' } } });
    const ok: ToolDef = { name: 'y', description: 'works on purpose', input: z.object({}), run: async () => ({ a: 1 }) };
    expect(await runTool(ok, {}, {})).toEqual({ content: [{ type: 'text', text: '{\n  "a": 1\n}' }], structuredContent: { a: 1 } });
  });

  it('bounded cuts long output and says how much', () => {
    expect(bounded('short')).toBe('short');
    const long = 'x'.repeat(MAX_TOOL_OUTPUT + 10);
    expect(bounded(long)).toMatch(/\[\.\.\. 10 more bytes not shown\]$/);
  });
});
