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
    /** Why this hypervisor (hypervisor/choice.ts). */
    hypervisorReason: z.string().optional(),
    /** Where bridge networking comes from here (root, the root helper), or why there is none. */
    bridge: z.object({ available: z.boolean(), reason: z.string() }).strict().optional(),
    /** User mode: whether guests are kept off the host's 127.0.0.1 here (passt), and why. */
    userNetwork: z.object({ blocked: z.boolean(), reason: z.string() }).strict().optional(),
    /** The loopback HTTP listener's base URL (E2B endpoint, web UI), or null while it is not started. */
    http: z.string().nullable().optional(),
    /** config.toml keys that were ignored or are not honoured yet. */
    configWarnings: z.array(z.string()).optional(),
  })
  .strict();
export type DaemonStatus = z.infer<typeof DaemonStatus>;

export const Empty = z.object({}).strict();
/** `daemon.http`: starts the loopback HTTP listener if needed and says where it is. */
export const HttpInfo = z.object({ url: z.string() }).strict();
export type HttpInfo = z.infer<typeof HttpInfo>;
export const Ok = z.object({ ok: z.literal(true) }).strict();

/** One line of `banger doctor`. */
export const DoctorCheck = z
  .object({
    name: z.string(),
    verdict: z.enum(['pass', 'warn', 'fail']),
    detail: z.string(),
    /** What to do about a warn or fail. */
    fix: z.string().optional(),
  })
  .strict();
export type DoctorCheck = z.infer<typeof DoctorCheck>;

/** bangerd's exit status when it did not start because another bangerd holds the install's lock (daemon/instance-lock.ts); a CLI that started it waits for that one. */
export const ALREADY_RUNNING_EXIT = 0;

/** The daemon's own methods (api/methods.ts spreads them into the table). */
export const daemonMethods = {
  'daemon.status': { params: Empty, result: DaemonStatus },
  'daemon.stop': { params: Empty, result: Ok },
  'daemon.doctor': { params: Empty, result: z.array(DoctorCheck) },
  'daemon.http': { params: Empty, result: HttpInfo },
} as const;
