/**
 * Test fixture: a real registry (Debian's `docker-registry`, the CNCF distribution registry) on
 * 127.0.0.1 and a free port, in a temp directory, plain or with htpasswd basic auth; OCI image
 * layouts written by the test itself (any layers, any config, any platform, hostile on purpose);
 * `skopeo copy` to push them. Not imported by production code.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { run, spawnProcess, which, type ProcessHandle } from '../src/host/exec.js';
import { freePort } from '../src/host/freeport.js';

/** Why the registry tests cannot run here (print it and skip), or null. */
export async function registryUnavailableReason(): Promise<string | null> {
  for (const tool of ['docker-registry', 'skopeo', 'htpasswd']) {
    if ((await which(tool)) === null) return `${tool} is not installed (apt-get install docker-registry skopeo apache2-utils)`;
  }
  return null;
}

export interface TestRegistry {
  /** 127.0.0.1:PORT: the registry part of a reference. */
  readonly host: string;
  /** The registry's storage root (docker/registry/v2/...). */
  readonly storage: string;
  /** user:password when started with auth. */
  readonly creds: string | null;
  /** The registry's log so far (one JSON-ish line per request at level info). */
  log(): Promise<string>;
  /** Overwrites a stored blob with other bytes of the same length (a registry serving corrupt data). */
  corruptBlob(digest: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startRegistry(opts: { auth?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-registry-'));
  const port = await freePort();
  const storage = join(dir, 'storage');
  const logFile = join(dir, 'registry.log');
  let auth = '';
  if (opts.auth) {
    const r = await run(['htpasswd', '-Bbn', opts.auth.user, opts.auth.password]);
    await writeFile(join(dir, 'htpasswd'), r.stdout);
    auth = `auth:\n  htpasswd:\n    realm: banger-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logFile, 'a');
  const proc: ProcessHandle = spawnProcess(['docker-registry', 'serve', config], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await fetch(`http://${host}/v2/`).then((r) => r.status, () => 0);
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`docker-registry did not answer on ${host}: ${await readFile(logFile, 'utf8').catch(() => '')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    storage,
    creds: opts.auth ? `${opts.auth.user}:${opts.auth.password}` : null,
    log: () => readFile(logFile, 'utf8'),
    async corruptBlob(digest) {
      const hex = digest.replace(/^sha256:/, '');
      const file = join(storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
      const data = await readFile(file);
      data[data.length - 1] ^= 0xff;
      await writeFile(file, data);
    },
    async stop() {
      proc.kill('SIGTERM');
      await Promise.race([proc.exit, new Promise((r) => setTimeout(r, 3000))]);
      proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One tar entry of a test layer. */
export type EntrySpec = Partial<tar.Header> & { name: string; body?: string | Buffer };

export async function tarOf(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { body, ...h } of entries) pack.entry({ mode: h.type === 'directory' ? 0o755 : 0o644, ...h }, body ?? Buffer.alloc(0)); // no body = an open stream
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface ImageSpec {
  layers: EntrySpec[][];
  /** The image config's `config` (Env, WorkingDir, User, Entrypoint, Cmd). */
  config?: Record<string, unknown>;
  architecture?: string;
  /** gzip (default), zstd, or plain tar layers (false). */
  compress?: boolean | 'zstd';
}

export interface WrittenImage {
  manifest: { digest: string; size: number };
  layers: string[];
  config: string;
}

async function putBlob(dir: string, data: Buffer | string): Promise<{ digest: string; size: number }> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const hex = sha(buf);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'blobs', 'sha256', hex), buf);
  return { digest: `sha256:${hex}`, size: buf.length };
}

/** Writes one image's blobs (layers, config, manifest) into the layout `dir`; index.json is the caller's. */
async function writeImage(dir: string, spec: ImageSpec): Promise<WrittenImage> {
  const layers = [];
  const diffIds = [];
  for (const entries of spec.layers) {
    const raw = await tarOf(entries);
    diffIds.push(`sha256:${sha(raw)}`);
    const blob = spec.compress === false ? raw : spec.compress === 'zstd' ? (await run(['zstd', '-q', '-c'], { input: raw, binary: true })).stdoutBytes : gzipSync(raw);
    const d = await putBlob(dir, blob);
    const suffix = spec.compress === false ? '' : spec.compress === 'zstd' ? '+zstd' : '+gzip';
    layers.push({ mediaType: `application/vnd.oci.image.layer.v1.tar${suffix}`, ...d });
  }
  const config = {
    architecture: spec.architecture ?? 'amd64',
    os: 'linux',
    config: spec.config ?? {},
    rootfs: { type: 'layers', diff_ids: diffIds },
    // buildah wants one history entry per layer.
    history: diffIds.map((_, i) => ({ created: '2026-01-01T00:00:00Z', created_by: `layer ${i}` })),
  };
  const c = await putBlob(dir, JSON.stringify(config));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
    layers,
  };
  const m = await putBlob(dir, JSON.stringify(manifest));
  return { manifest: m, layers: layers.map((l) => l.digest), config: c.digest };
}

/** An OCI layout holding one image tagged `tag`. */
export async function writeOciLayout(dir: string, spec: ImageSpec, tag = 'latest'): Promise<WrittenImage> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const img = await writeImage(dir, spec);
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...img.manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return img;
}

/** An OCI layout whose `tag` is an image index over the given per-architecture images. */
export async function writeIndexLayout(dir: string, images: ImageSpec[], tag = 'latest'): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const manifests = [];
  for (const spec of images) {
    const img = await writeImage(dir, spec);
    manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...img.manifest, platform: { os: 'linux', architecture: spec.architecture ?? 'amd64' } });
  }
  const idx = await putBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...idx, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}

/** Pushes `dir:tag` to `docker://ref` with skopeo (plain HTTP; `creds` user:password for an auth registry). */
export async function pushLayout(dir: string, tag: string, ref: string, creds?: string | null): Promise<void> {
  const all = tag === '*';
  await run(['skopeo', 'copy', ...(all ? ['--all'] : []), '--dest-tls-verify=false', ...(creds ? ['--dest-creds', creds] : []), `oci:${dir}:${all ? 'latest' : tag}`, `docker://${ref}`]);
}

/** A busybox-static-only root: no libc, no shell but busybox's. */
export async function busyboxRootfs(): Promise<EntrySpec[]> {
  const busybox = await readFile('/bin/busybox');
  const applets = ['sh', 'cat', 'ls', 'env', 'pwd', 'echo', 'id', 'uname'];
  return [
    { name: './', type: 'directory' },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', type: 'file', mode: 0o755, body: busybox },
    ...applets.map((a): EntrySpec => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', type: 'file', body: 'ID=busybox\nNAME="BusyBox"\nPRETTY_NAME="BusyBox static"\n' },
    { name: 'etc/passwd', type: 'file', body: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
    { name: 'root/', type: 'directory', mode: 0o700 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ];
}

/** Paths in an ext4 image, read with debugfs (nothing mounted): names in `dir`. */
export async function ext4List(image: string, dir: string): Promise<string[]> {
  const r = await run(['debugfs', '-R', `ls -p ${dir}`, image]);
  return r.stdout
    .split('\n')
    .map((l) => l.split('/'))
    .filter((f) => f.length >= 7 && f[5] !== '.' && f[5] !== '..')
    .map((f) => f[5]!)
    .sort();
}

/** A file's bytes from an ext4 image (debugfs `cat`); null when it does not exist. */
export async function ext4Cat(image: string, path: string): Promise<Buffer | null> {
  const st = await run(['debugfs', '-R', `stat ${path}`, image], { check: false });
  if (/File not found|not found by ext2_lookup/.test(st.stderr + st.stdout)) return null;
  const r = await run(['debugfs', '-R', `cat ${path}`, image], { binary: true });
  return r.stdoutBytes;
}

/** debugfs `stat` output of one path (type, mode, owner), or null. */
export async function ext4Stat(image: string, path: string): Promise<string | null> {
  const r = await run(['debugfs', '-R', `stat ${path}`, image], { check: false });
  if (/File not found|not found by ext2_lookup/.test(r.stderr + r.stdout)) return null;
  return r.stdout;
}
