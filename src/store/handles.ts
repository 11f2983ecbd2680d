/**
 * handles.json: transient kernel state of a running VM (pid, control socket, forwarded ports).
 * Written atomically; re-read at daemon start to adopt VMs that outlived the daemon. The one schema
 * of handles: the driver's `VmHandles` fields plus banger's (driver name, SSH endpoint, forwards),
 * so a `Handles` goes to the driver as it is.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { Accel } from '../api/enums.js';

export const Handles = z
  .object({
    driver: z.string(),
    pid: z.number().int(),
    controlSocket: z.string(),
    accel: Accel,
    startedAt: z.string(),
    ssh: z.object({ host: z.string(), port: z.number().int() }).strict(),
    forwards: z.array(z.object({ hostPort: z.number().int(), guestPort: z.number().int() }).strict()).default([]),
  })
  .passthrough();
export type Handles = z.infer<typeof Handles>;

/** The handles, or null when there are none or the file is corrupt (`inspectHandles` says which). */
export function readHandles(path: string): Handles | null {
  return inspectHandles(path).handles;
}

/**
 * Reads handles.json. A file that is not JSON or does not fit the schema counts as missing, with
 * `problem` saying why (the VM shows as broken with it); only an unexpected I/O error throws.
 */
export function inspectHandles(path: string): { handles: Handles | null; problem: string | null } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { handles: null, problem: null };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { handles: null, problem: `handles.json is not JSON (${(err as Error).message})` };
  }
  const parsed = Handles.safeParse(json);
  if (parsed.success) return { handles: parsed.data, problem: null };
  const i = parsed.error.issues[0];
  return { handles: null, problem: `handles.json does not fit its schema (${i.path.join('.') || 'record'}: ${i.message})` };
}

export function writeHandles(path: string, h: Handles): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(h, null, 2), { mode: 0o600 });
  renameSync(tmp, path);
}

export function removeHandles(path: string): void {
  rmSync(path, { force: true });
}
