/**
 * The web UI's contract (src/ui serves it, src/ui/web renders it): `ui.open` mints the one-time
 * login URL `banger ui` prints, and the messages the browser receives on the live event stream and
 * on an action's NDJSON answer. The web front-end imports these types only (never zod at runtime).
 */
import { z } from 'zod';
import type { ProgressEvent } from './progress.js';
import type { Vm, VmStats } from './vm.js';

export const UiOpenResult = z.object({ url: z.string() }).strict();
export type UiOpenResult = z.infer<typeof UiOpenResult>;

export const uiMethods = {
  /** Starts the loopback HTTP listener if needed; a URL with a one-time login token (valid 5 minutes). */
  'ui.open': { params: z.object({}).strict(), result: UiOpenResult },
} as const;

/** The daemon's own events, as the browser's live stream (`GET /ui/events`, server-sent events) carries them. */
export type UiEvent =
  | { type: 'vms'; vms: Vm[] }
  | { type: 'vm'; vm: Vm }
  | { type: 'vm-removed'; id: string; name: string }
  | { type: 'stats'; at: number; stats: Array<z.infer<typeof VmStats>> };

/** One line of an action's answer (`POST /ui/api/<method>`, NDJSON): what the CLI sees as frames. */
export type UiCallLine =
  | { progress: ProgressEvent }
  | { stream: 'stdout' | 'stderr'; data: string }
  | { result: unknown }
  | { error: { code: string; message: string } };

/** Terminal WebSocket control message (text frames); bytes travel as binary frames both ways. */
export type UiTermControl = { type: 'resize'; rows: number; cols: number };

/** The request header that carries the page's CSRF token on every state-changing request. */
export const UI_CSRF_HEADER = 'x-banger-csrf';
