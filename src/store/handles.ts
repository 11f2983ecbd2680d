/**
 * handles.json: transient kernel state of a running VM (pid, control socket, forwarded ports).
 * Written atomically; re-read at daemon start to adopt VMs that outlived the daemon.
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

export function readHandles(path: string): Handles | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = Handles.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : null;
}

export function writeHandles(path: string, h: Handles): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(h, null, 2), { mode: 0o600 });
  renameSync(tmp, path);
}

export function removeHandles(path: string): void {
  rmSync(path, { force: true });
}
