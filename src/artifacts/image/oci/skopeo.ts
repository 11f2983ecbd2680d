/**
 * skopeo, banger's registry client: `skopeo copy docker://REF oci:DIR` speaks the registry API v2
 * (token and basic auth, credentials from an auth file such as ~/.docker/config.json, plain HTTP
 * with --insecure), picks linux/amd64 from an index, verifies every blob while it downloads, and
 * with `--dest-shared-blob-dir` keeps blobs in one content-addressed cache that later pulls reuse.
 * It also reads `docker save` archives. Argv builders and the error reading are pure, table-tested.
 */
import { BangerError } from '../../../api/errors.js';
import type { Progress } from '../../../api/progress.js';
import { run } from '../../../host/exec.js';
import { runLines } from '../../runlines.js';
import { ImageIndex, otherArch } from './layout.js';
import type { OciReference } from './ref.js';

export interface CopyArgs {
  /** A transport:reference skopeo reads (docker://…, docker-archive:…). */
  src: string;
  /** The OCI layout directory and tag to write. */
  destDir: string;
  destTag: string;
  /** Blob cache shared across pulls (sha256/<hex>). */
  sharedBlobDir?: string;
  /** Plain HTTP / unverified TLS to the source registry. */
  insecure?: boolean;
  /** Registry credentials (containers-auth.json or ~/.docker/config.json format). */
  authFile?: string;
}

/** The `skopeo copy` argv. Platform fixed to linux/amd64, what banger's guests run. */
export function skopeoCopyArgv(a: CopyArgs): string[] {
  if (a.destDir.includes(':')) throw new BangerError('bad_request', `the staging path ${a.destDir} contains ":", which skopeo cannot address; move banger's state dir`);
  return [
    'skopeo',
    'copy',
    '--override-os',
    'linux',
    '--override-arch',
    'amd64',
    ...(a.insecure ? ['--src-tls-verify=false'] : []),
    ...(a.authFile ? ['--src-authfile', a.authFile] : []),
    ...(a.sharedBlobDir ? ['--dest-shared-blob-dir', a.sharedBlobDir] : []),
    a.src,
    `oci:${a.destDir}:${a.destTag}`,
  ];
}

/** The `skopeo inspect --raw` argv (the top manifest or index, as the registry has it). */
export function skopeoInspectRawArgv(ref: OciReference, insecure: boolean, authFile?: string): string[] {
  return ['skopeo', 'inspect', '--raw', ...(insecure ? ['--tls-verify=false'] : []), ...(authFile ? ['--authfile', authFile] : []), `docker://${ref.canonical}`];
}

/** What a failed copy's output means, as an error the user can act on. `what` names the source. */
export function skopeoError(what: string, registry: string | null, output: string): BangerError {
  const tail = output.trim().split('\n').slice(-3).join(' ').slice(-600);
  const details = { output: tail };
  if (/no image found in (the )?(manifest list|image index) for architecture|choosing an? image (instance|from manifest list)/i.test(output)) return otherArch(what, 'other platforms only');
  if (/unauthorized|authentication required|access (to the resource )?(is )?denied|\b401 unauthorized/i.test(output)) {
    const login = registry ? `\`skopeo login ${registry}\` or \`docker login ${registry}\`` : '`docker login`';
    return new BangerError('bad_request', `${what}: the registry refused access (${tail}); log in with ${login} (banger reads ~/.docker/config.json)`, { details });
  }
  if (/manifest unknown|name unknown|not found|\b404 not found/i.test(output)) return new BangerError('not_found', `${what}: no such image in the registry (${tail})`, { details });
  if (/HTTP response to HTTPS client|first record does not look like a TLS handshake/i.test(output)) {
    return new BangerError('unavailable', `${what}: the registry speaks plain HTTP; pass --insecure for a local registry you trust`, { details });
  }
  if (/x509|certificate/i.test(output)) return new BangerError('unavailable', `${what}: TLS verification failed (${tail}); pass --insecure only for a registry you trust`, { details });
  if (/digest|does not match/i.test(output)) return new BangerError('bad_request', `${what}: a blob did not match its digest (${tail}); nothing was registered`, { details });
  if (/connection refused|no such host|dial tcp|i\/o timeout|network is unreachable|pinging container registry/i.test(output)) {
    return new BangerError('unavailable', `${what}: cannot reach the registry (${tail})`, { details });
  }
  if (/does not exist|no such file|not a docker archive|invalid tar|unexpected EOF|archive\/tar/i.test(output)) {
    return new BangerError('bad_request', `${what}: skopeo cannot read it (${tail}); nothing was registered`, { details });
  }
  return new BangerError('internal', `${what}: skopeo copy failed: ${tail}`, { details });
}

/** Runs a copy, each blob skopeo starts reported as progress; a failure becomes skopeoError. */
export async function skopeoCopy(a: CopyArgs, what: string, registry: string | null, progress: Progress, signal?: AbortSignal): Promise<void> {
  const out: string[] = [];
  try {
    await runLines(skopeoCopyArgv(a), (line) => {
      out.push(line);
      const m = /^Copying (blob|config) (sha256:[0-9a-f]{12})/.exec(line.trim());
      if (m) progress('fetch', `${m[1]} ${m[2]}${/skipped|already exists/.test(line) ? ' (cached)' : ''}`);
    }, { label: 'skopeo copy', signal });
  } catch (err) {
    if (!(err instanceof BangerError) || err.code !== 'internal') throw err;
    throw skopeoError(what, registry, out.join('\n') || err.message);
  }
}

/** The platforms an index offers (for the "other architecture only" error); null when unknown. */
export async function listPlatforms(ref: OciReference, insecure: boolean, authFile?: string): Promise<string | null> {
  const r = await run(skopeoInspectRawArgv(ref, insecure, authFile), { check: false, timeoutMs: 60_000 });
  if (r.code !== 0) return null;
  try {
    const idx = ImageIndex.safeParse(JSON.parse(r.stdout));
    if (!idx.success) return null;
    return [...new Set(idx.data.manifests.map((d) => (d.platform ? `${d.platform.os}/${d.platform.architecture}` : 'unknown')))].join(', ');
  } catch {
    return null;
  }
}
