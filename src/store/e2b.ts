/**
 * The E2B endpoint's sandbox rows (which banger VMs are E2B sandboxes, with their metadata, envs,
 * expiry and envd access token), so a daemon restart keeps them. Validated on read with zod.
 */
import { z } from 'zod';
import type { Db } from './db.js';

export const E2bSandboxRow = z.object({
  id: z.string(),
  vmName: z.string(),
  template: z.string(),
  metadata: z.record(z.string(), z.string()),
  envs: z.record(z.string(), z.string()),
  accessToken: z.string(),
  startedAt: z.string(),
  endAt: z.string(),
  onTimeout: z.enum(['kill', 'pause']),
  state: z.enum(['running', 'paused']),
});
export type E2bSandboxRow = z.infer<typeof E2bSandboxRow>;

interface Raw {
  id: string;
  vm_name: string;
  template: string;
  metadata: string;
  envs: string;
  access_token: string;
  started_at: string;
  end_at: string;
  on_timeout: string;
  state: string;
}

function fromRaw(r: Raw): E2bSandboxRow | null {
  try {
    return E2bSandboxRow.parse({
      id: r.id,
      vmName: r.vm_name,
      template: r.template,
      metadata: JSON.parse(r.metadata),
      envs: JSON.parse(r.envs),
      accessToken: r.access_token,
      startedAt: r.started_at,
      endAt: r.end_at,
      onTimeout: r.on_timeout,
      state: r.state,
    });
  } catch {
    return null; // an unreadable row is no sandbox
  }
}

export function createE2bStore(db: Db) {
  const put = db.prepare(
    `INSERT OR REPLACE INTO e2b_sandboxes (id, vm_name, template, metadata, envs, access_token, started_at, end_at, on_timeout, state)
     VALUES (@id, @vm_name, @template, @metadata, @envs, @access_token, @started_at, @end_at, @on_timeout, @state)`,
  );
  const one = db.prepare<[string], Raw>('SELECT * FROM e2b_sandboxes WHERE id = ?');
  const all = db.prepare<[], Raw>('SELECT * FROM e2b_sandboxes ORDER BY started_at');
  const del = db.prepare<[string]>('DELETE FROM e2b_sandboxes WHERE id = ?');
  return {
    put(row: E2bSandboxRow): void {
      put.run({
        id: row.id,
        vm_name: row.vmName,
        template: row.template,
        metadata: JSON.stringify(row.metadata),
        envs: JSON.stringify(row.envs),
        access_token: row.accessToken,
        started_at: row.startedAt,
        end_at: row.endAt,
        on_timeout: row.onTimeout,
        state: row.state,
      });
    },
    get(id: string): E2bSandboxRow | null {
      const r = one.get(id);
      return r ? fromRaw(r) : null;
    },
    list(): E2bSandboxRow[] {
      return all.all().map(fromRaw).filter((r): r is E2bSandboxRow => r !== null);
    },
    delete(id: string): void {
      del.run(id);
    },
  };
}
export type E2bStore = ReturnType<typeof createE2bStore>;
