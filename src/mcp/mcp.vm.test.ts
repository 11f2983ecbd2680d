/**
 * `banger mcp` driven by the official MCP SDK client (stdio, spawning the real CLI) against a real
 * daemon and guest: list tools, create, run, write/read a file, prepare a repo, change it, export.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshInstall, REPO, type Install } from '../../test/install.fixture.js';
import { makeRepo } from '../../test/gitrepo.fixture.js';

let inst: Install;
let client: Client;
const dir = mkdtempSync(join(tmpdir(), 'banger-mcp-'));

beforeAll(async () => {
  inst = await freshInstall();
  client = new Client({ name: 'banger-test', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [join(REPO, 'bin', 'banger'), 'mcp'], env: inst.env as Record<string, string>, stderr: 'pipe' }));
}, 1_800_000);
afterAll(async () => {
  await client?.close();
  await inst?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

type Result = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: Record<string, any> };
const callTool = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args }, undefined, { timeout: 900_000 })) as Result;

describe('banger mcp', () => {
  it('lists its tools with input schemas from the API', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['vm_create', 'vm_run', 'file_read', 'file_write', 'workspace_prepare', 'workspace_export']));
    const create = tools.find((t) => t.name === 'vm_create')!;
    expect(create.inputSchema.properties).toHaveProperty('memoryMib');
    expect(tools.find((t) => t.name === 'file_read')!.annotations?.readOnlyHint).toBe(true);
  });

  it('creates a VM, runs commands, writes and reads files, prepares a repo and exports the change', async () => {
    const created = await callTool('vm_create', { name: 'agent' });
    expect(created.isError).toBeFalsy();
    expect(created.structuredContent!.vm).toMatchObject({ name: 'agent', state: 'running' });

    const uname = await callTool('vm_run', { name: 'agent', argv: ['uname', '-s'] });
    expect(uname.structuredContent).toEqual({ exitCode: 0, stdout: 'Linux\n', stderr: '' });
    const failing = await callTool('vm_run', { name: 'agent', argv: ['sh', '-c', 'echo no >&2; exit 7'] });
    expect(failing.structuredContent).toEqual({ exitCode: 7, stdout: '', stderr: 'no\n' });

    await callTool('file_write', { name: 'agent', path: '/tmp/m/notes.txt', content: 'hello from mcp\n' });
    expect((await callTool('file_read', { name: 'agent', path: '/tmp/m/notes.txt' })).structuredContent).toMatchObject({ content: 'hello from mcp\n', size: 15 });
    expect((await callTool('file_list', { name: 'agent', path: '/tmp/m' })).structuredContent!.entries).toEqual([{ path: '/tmp/m/notes.txt', type: 'file', size: 15, mode: '0644' }]);

    const repo = await makeRepo(join(dir, 'repo'), { 'README.md': 'one\n', 'src/a.txt': 'a\n' });
    const prep = await callTool('workspace_prepare', { name: 'agent', hostPath: repo });
    expect(prep.isError).toBeFalsy();
    expect((await callTool('vm_run', { name: 'agent', argv: ['cat', 'README.md'] })).structuredContent!.stdout).toBe('one\n');
    await callTool('vm_run', { name: 'agent', argv: ['sh', '-c', 'echo two >> README.md'] });
    const exp = await callTool('workspace_export', { name: 'agent' });
    expect(exp.structuredContent!.files).toEqual(['README.md']);
    expect(exp.structuredContent!.patch).toContain('+two');
  }, 900_000);

  it('errors come back as tool errors with banger error codes', async () => {
    const ghost = await callTool('vm_run', { name: 'ghost', argv: ['true'] });
    expect(ghost.isError).toBe(true);
    expect(ghost.structuredContent).toMatchObject({ error: { code: 'not_found' } });
    const missing = await callTool('file_read', { name: 'agent', path: '/nope' });
    expect(missing.structuredContent).toMatchObject({ error: { code: 'not_found' } });
    const bad = await client.callTool({ name: 'vm_create', arguments: { name: 'Bad Name!' } }).catch((e: Error) => ({ isError: true, content: [{ type: 'text', text: e.message }] }));
    expect(bad.isError).toBe(true);
    expect(JSON.stringify(bad.content)).toMatch(/name/);
    const del = await callTool('vm_delete', { name: 'agent' });
    expect(del.structuredContent).toEqual({ deleted: 'agent' });
  });
});
