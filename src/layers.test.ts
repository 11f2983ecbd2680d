/**
 * Import rules the layer picture (ARCHITECTURE.md) states, checked on the source: a violation
 * fails here instead of waiting for a reviewer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(SRC, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Top-level folders of src/ a file imports (relative imports only). */
function importedFolders(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)) {
    const target = relative(SRC, resolve(join(SRC, dirname(file)), m[1]));
    out.add(target.split('/')[0]);
  }
  return [...out];
}

/**
 * What each folder may import (besides itself and node:/npm modules): ARCHITECTURE.md's paragraph
 * per folder, as a table. Imports point down; the few sideways ones are named with their reason.
 */
const MAY_IMPORT: Record<string, string[]> = {
  api: [],
  host: ['api'],
  store: ['api'],
  // guest/quote.ts is the one shell quoting; guest/keys.ts needs the key's path.
  guest: ['api', 'host', 'store'],
  // config.ts parses [network] cidr with network/ipalloc.ts's pure address arithmetic.
  config: ['api', 'store', 'network'],
  hypervisor: ['api', 'host', 'store', 'guest'],
  artifacts: ['api', 'host', 'store', 'config', 'guest'],
  // rootd/ speaks the daemon's wire with its own table (daemon/server.ts, daemon/dispatch.ts).
  rootd: ['api', 'host', 'store', 'hypervisor', 'network', 'system', 'daemon'],
  // network/ reaches the root helper through its contract (rootd/api.ts, rootd/client.ts).
  network: ['api', 'host', 'store', 'config', 'guest', 'hypervisor', 'rootd', 'system'],
  system: ['api', 'host', 'store', 'config', 'rootd'],
  workspace: ['api', 'host', 'store', 'guest'],
  vms: ['api', 'host', 'store', 'config', 'guest', 'hypervisor', 'network', 'artifacts'],
  snapshots: ['api', 'host', 'store', 'config', 'guest', 'hypervisor', 'network', 'artifacts', 'vms'],
  doctor: ['api', 'host', 'store', 'hypervisor', 'system'],
  daemon: ['api', 'host', 'store', 'config', 'guest', 'hypervisor', 'network', 'artifacts', 'rootd', 'system', 'vms', 'snapshots', 'workspace', 'http', 'ui', 'e2b'],
  // The loopback HTTP listener: routing, Host checks; its mounts live with what they serve.
  http: ['api', 'host'],
  // The web UI's server half (a mount on http/); it builds daemon/server.ts's CallContext for dispatch (types only)
  // and runs `banger doctor`'s list (doctor/, system/) for its doctor page.
  // Its front-end (ui/web/*.tsx) imports api/ types only (ui/web/imports.test.ts).
  ui: ['api', 'host', 'store', 'guest', 'http', 'vms', 'daemon', 'doctor', 'system'],
  // The E2B-compatible endpoint: a mount on http/, on the VM and snapshot services and guest access.
  e2b: ['api', 'host', 'store', 'config', 'guest', 'vms', 'snapshots', 'workspace', 'http'],
  // guest/fileinfo.ts only: the one parser of the guest's `find -printf` listing (pure).
  sdk: ['api', 'guest'],
  // The MCP server is a client like the CLI: the SDK over the API.
  mcp: ['api', 'sdk'],
  cli: ['api', 'host', 'store', 'guest', 'network', 'system', 'doctor', 'mcp'],
};

describe('layers', () => {
  it('every folder of src/ has a row', () => {
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect(folders).toEqual(Object.keys(MAY_IMPORT).sort());
  });

  it.each(Object.entries(MAY_IMPORT))('%s/ imports only from %j', (folder, allowed) => {
    const bad = sources(folder).flatMap((f) => importedFolders(f).filter((t) => t !== folder && !allowed.includes(t)).map((t) => `${f} → ${t}/`));
    expect(bad).toEqual([]);
  });
});
