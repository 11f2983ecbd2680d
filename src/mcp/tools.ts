/**
 * The MCP tools `banger mcp` offers a coding agent, as a table: name, what it does, its input
 * schema (the API's own zod schema, extended only where MCP carries data the socket streams), and
 * what it does with the banger SDK. Errors become MCP tool errors carrying banger's error code.
 */
import { z } from 'zod';
import { BangerError, toBangerError } from '../api/errors.js';
import { Empty } from '../api/daemon.js';
import { VmForkParams, VmSnapshotParams } from '../api/snapshot.js';
import { VmCreateParams, VmDeleteParams, VmExecParams, VmRef } from '../api/vm.js';
import { WorkspaceExportParams, WorkspacePrepareParams } from '../api/workspace.js';
import { Vm, type ConnectionOpts } from '../sdk/index.js';

/** Per stream: an agent's context is small, a guest's output need not be. */
export const MAX_TOOL_OUTPUT = 256 * 1024;

export interface ToolResult {
  [k: string]: unknown;
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export interface ToolDef<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  input: S;
  /** Changes nothing (list, read): agents may call it without asking. */
  readOnly?: boolean;
  run(input: z.output<S>, conn: ConnectionOpts): Promise<Record<string, unknown>>;
}

const tool = <S extends z.ZodType>(t: ToolDef<S>): ToolDef => t as unknown as ToolDef;

/** Cuts text to MAX_TOOL_OUTPUT bytes, saying how much was left out. */
export function bounded(text: string, max = MAX_TOOL_OUTPUT): string {
  const b = Buffer.from(text, 'utf8');
  if (b.length <= max) return text;
  return `${b.subarray(0, max).toString('utf8')}\n[... ${b.length - max} more bytes not shown]`;
}

const GuestPath = z.string().min(1).describe('an absolute path in the guest');
const Encoding = z.enum(['utf8', 'base64']).default('utf8').describe('utf8 for text, base64 for bytes');

export const TOOLS: ToolDef[] = [
  tool({
    name: 'vm_list',
    description: 'List banger VMs with their state, image, IP and workspace.',
    input: Empty,
    readOnly: true,
    run: async (_i, conn) => ({ vms: (await Vm.list(conn)).map((v) => ({ name: v.name, state: v.state, image: v.image, ip: v.network.ip ?? null, workspace: v.workspace?.guestPath ?? null })) }),
  }),
  tool({
    name: 'vm_create',
    description: 'Create and boot a VM (a real Linux microVM). Returns when SSH answers.',
    input: VmCreateParams,
    run: async (i, conn) => ({ vm: (await Vm.create(i, conn)).info }),
  }),
  tool({
    name: 'vm_delete',
    description: 'Delete a VM and its disks.',
    input: VmDeleteParams,
    run: async (i, conn) => {
      await (await Vm.connect(i.name, conn)).delete();
      return { deleted: i.name };
    },
  }),
  tool({
    name: 'vm_run',
    description: 'Run a command (argv) in a VM; returns exit code, stdout and stderr. Runs in the workspace by default.',
    input: VmExecParams.omit({ stdin: true }).extend({
      stdin: z.string().optional().describe('text fed to the command'),
      timeoutMs: z.number().int().positive().max(3_600_000).default(600_000).describe('kill the command after this long'),
    }),
    run: async (i, conn) => {
      const vm = await Vm.connect(i.name, conn);
      const r = await vm.commands.run(i.argv, { cwd: i.cwd, stdin: i.stdin, timeoutMs: i.timeoutMs });
      return { exitCode: r.exitCode, stdout: bounded(r.stdout), stderr: bounded(r.stderr) };
    },
  }),
  tool({
    name: 'file_read',
    description: 'Read a file from a VM.',
    input: VmRef.extend({ path: GuestPath, encoding: Encoding }),
    readOnly: true,
    run: async (i, conn) => {
      const bytes = await (await Vm.connect(i.name, conn)).files.read(i.path, { format: 'bytes' });
      return { path: i.path, size: bytes.length, content: bounded(bytes.toString(i.encoding === 'base64' ? 'base64' : 'utf8')) };
    },
  }),
  tool({
    name: 'file_write',
    description: 'Write a file in a VM (parent directories are created).',
    input: VmRef.extend({ path: GuestPath, content: z.string(), encoding: Encoding }),
    run: async (i, conn) => {
      const data = Buffer.from(i.content, i.encoding === 'base64' ? 'base64' : 'utf8');
      await (await Vm.connect(i.name, conn)).files.write(i.path, data);
      return { path: i.path, size: data.length };
    },
  }),
  tool({
    name: 'file_list',
    description: 'List a directory in a VM (depth 1 by default).',
    input: VmRef.extend({ path: GuestPath, depth: z.number().int().min(1).max(10).default(1) }),
    readOnly: true,
    run: async (i, conn) => ({
      entries: (await (await Vm.connect(i.name, conn)).files.list(i.path, { depth: i.depth })).map((e) => ({ path: e.path, type: e.type, size: e.size, mode: `0${(e.mode & 0o7777).toString(8)}` })),
    }),
  }),
  tool({
    name: 'workspace_prepare',
    description: "Copy a host git repo (hostPath: any directory inside it) into a VM as its workspace; later commands run there.",
    input: WorkspacePrepareParams,
    run: async (i, conn) => ({ ...(await (await Vm.connect(i.name, conn)).workspace.prepare(i)) }),
  }),
  tool({
    name: 'workspace_export',
    description: "The guest workspace's changes as a git patch against what was prepared. apply=true applies it to the host repo (3-way) instead: only when the user asked for that.",
    input: WorkspaceExportParams,
    run: async (i, conn) => {
      const r = await (await Vm.connect(i.name, conn)).workspace.export(i);
      return { ...r, patch: bounded(r.patch) };
    },
  }),
  tool({
    name: 'vm_snapshot',
    description: "Save a VM's memory and disks as a named snapshot.",
    input: VmSnapshotParams,
    run: async (i, conn) => ({ snapshot: await (await Vm.connect(i.name, conn)).snapshot({ snapshot: i.snapshot, stop: i.stop }) }),
  }),
  tool({
    name: 'vm_fork',
    description: 'New VMs from a snapshot, or from a running VM (snapshotted first): independent copies of its memory and disks.',
    input: VmForkParams,
    run: async (i, conn) => ({ vms: (await Vm.forkFrom(i.source, i.name, { count: i.count, egress: i.egress }, conn)).map((v) => v.name) }),
  }),
];

/** Runs one tool: its result as JSON text (and structured), or banger's error as a tool error. */
export async function runTool(def: ToolDef, input: unknown, conn: ConnectionOpts): Promise<ToolResult> {
  try {
    const parsed = def.input.safeParse(input ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new BangerError('bad_request', `${def.name}: ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
    }
    const out = await def.run(parsed.data, conn);
    return { content: [{ type: 'text', text: JSON.stringify(out, null, 2) }], structuredContent: out };
  } catch (err) {
    const e = toBangerError(err);
    return { isError: true, content: [{ type: 'text', text: `error [${e.code}]: ${e.message}` }], structuredContent: { error: { code: e.code, message: e.message } } };
  }
}
