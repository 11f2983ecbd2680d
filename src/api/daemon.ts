import { z } from 'zod';

export const DaemonStatus = z
  .object({
    pid: z.number().int(),
    socket: z.string(),
    logPath: z.string(),
    stateDir: z.string(),
    version: z.string(),
    commit: z.string(),
    startedAt: z.string(),
    vmsRunning: z.number().int(),
    hypervisor: z.string(),
    accel: z.string(),
    accelReason: z.string(),
  })
  .strict();
export type DaemonStatus = z.infer<typeof DaemonStatus>;

export const Empty = z.object({}).strict();
export const Ok = z.object({ ok: z.literal(true) }).strict();
