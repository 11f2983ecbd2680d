/**
 * OCI layers → one flattened rootfs tar. Two passes over the (already verified) layer blobs: the
 * first feeds every header to the planner (layers.ts), which refuses a hostile entry by name before
 * anything is written; the second re-reads the layers and packs only the surviving entries, with
 * plain headers (as import.ts's sanitizeTar writes them), into the stream `image import` consumes.
 * Both passes re-hash each blob, so a blob that changes between the passes fails the import.
 * Layers may be gzip, zstd (host `zstd -dc`) or plain tar, told apart by their first bytes.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { BangerError } from '../../../api/errors.js';
import { formatBytes } from '../../../api/names.js';
import { noProgress, type Progress } from '../../../api/progress.js';
import { spawnProcess } from '../../../host/exec.js';
import { newSha256 } from '../../digest.js';
import { packMode } from '../retar.js';
import { digestMismatch, type Descriptor } from './layout.js';
import { entryKey, LayerPlanner, type EmitAction } from './layers.js';

/** One entry's body as tar-stream yields it. */
type Entry = AsyncIterable<unknown> & { resume(): unknown };

export interface LayerBlob {
  descriptor: Descriptor;
  path: string;
}

/** Hashes what passes through and fails at the end unless it is exactly the descriptor's blob. */
function verifying(what: string, d: Descriptor): Transform {
  const hash = newSha256();
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      const actual = hash.digest('hex');
      cb(`sha256:${actual}` === d.digest && size === d.size ? null : digestMismatch(what, d, actual, size));
    },
  });
}

async function sniff(path: string): Promise<'gzip' | 'zstd' | 'tar'> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (b.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
    return 'tar';
  } finally {
    await fh.close();
  }
}

/** The layer's tar bytes: the blob read, verified and decompressed. Errors surface on the returned stream. */
async function openLayer(what: string, layer: LayerBlob): Promise<Readable> {
  const kind = await sniff(layer.path);
  const out = new PassThrough();
  const src = createReadStream(layer.path);
  const verify = verifying(what, layer.descriptor);
  const fail = (err: unknown) => out.destroy(err as Error);
  if (kind === 'zstd') {
    const proc = spawnProcess(['zstd', '-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
    pipeline(src, verify, proc.child.stdin!).catch(fail);
    pipeline(proc.child.stdout!, out).catch(fail);
    void proc.exit.then((code) => {
      if (code !== 0) fail(new BangerError('bad_request', `${what}: layer ${layer.descriptor.digest} is not valid zstd (zstd exit ${code})`));
    }, fail);
    out.on('close', () => proc.kill('SIGKILL'));
  } else {
    pipeline(src, verify, ...(kind === 'gzip' ? [createGunzip()] : []), out).catch(fail);
  }
  return out;
}

/** Calls `onEntry` for each entry of a layer; the entry's body must be consumed or resumed. */
async function eachEntry(what: string, layer: LayerBlob, onEntry: (h: tar.Header, body: Entry, index: number) => Promise<void>): Promise<void> {
  const input = await openLayer(what, layer);
  const extract = tar.extract();
  const done = pipeline(input, extract);
  done.catch(() => {});
  let index = 0;
  try {
    for await (const entry of extract) await onEntry(entry.header, entry, index++);
    await done;
  } catch (err) {
    extract.destroy();
    input.destroy();
    if (err instanceof BangerError) throw err;
    const first = await done.then(() => null, (e: unknown) => e);
    if (first instanceof BangerError) throw first;
    throw new BangerError('bad_request', `${what}: layer ${layer.descriptor.digest} is not a valid tar: ${(err as Error).message}; nothing was registered`, { cause: err });
  }
}

/** The refusal for a hostile layer entry: names the layer and the entry. */
export function layerEntryError(what: string, layerNo: number, layers: number, d: Descriptor, name: string, reason: string): BangerError {
  return new BangerError('bad_request', `${what}: refusing layer ${layerNo}/${layers} (${d.digest.slice(0, 19)}) entry "${name}": ${reason}; nothing was registered`, {
    details: { layer: d.digest, entry: name, reason },
  });
}

/** Pass one: every header of every layer through the planner. Returns the surviving entries. */
export async function planImage(what: string, layers: readonly LayerBlob[], progress: Progress = noProgress): Promise<Map<string, EmitAction>> {
  const planner = new LayerPlanner();
  for (const layer of layers) {
    const n = planner.startLayer();
    progress('layers', `checking layer ${n + 1}/${layers.length} ${layer.descriptor.digest.slice(7, 19)} (${formatBytes(layer.descriptor.size)})`);
    await eachEntry(what, layer, async (h, body, index) => {
      const v = planner.add(index, { name: h.name, type: h.type, linkname: h.linkname });
      body.resume();
      if (!v.ok) throw layerEntryError(what, n + 1, layers.length, layer.descriptor, h.name, v.reason);
    });
  }
  return planner.finish();
}

function cleanHeader(h: tar.Header, a: EmitAction): Partial<tar.Header> & { name: string } {
  const type = a.linkTarget !== undefined ? 'link' : h.type === 'contiguous-file' ? 'file' : h.type;
  return {
    name: a.path === '' ? '.' : a.path,
    type,
    mode: packMode(h.mode),
    uid: h.uid,
    gid: h.gid,
    mtime: h.mtime,
    size: type === 'file' ? h.size : 0,
    linkname: a.linkTarget ?? (type === 'symlink' ? (h.linkname ?? undefined) : undefined),
  };
}

/** Pass two: the flattened tar of the surviving entries, in layer order (a hard link's file always comes first). */
export function emitFlattened(what: string, layers: readonly LayerBlob[], plan: Map<string, EmitAction>, progress: Progress = noProgress): Readable {
  const pack = tar.pack();
  void (async () => {
    for (const [n, layer] of layers.entries()) {
      progress('layers', `applying layer ${n + 1}/${layers.length} ${layer.descriptor.digest.slice(7, 19)}`);
      await eachEntry(what, layer, async (h, body, index) => {
        const a = plan.get(entryKey(n, index));
        if (!a) return void body.resume();
        const header = cleanHeader(h, a);
        if (header.type === 'file') await pipeline(body as unknown as Readable, pack.entry(header));
        else {
          body.resume();
          pack.entry(header);
        }
      });
    }
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  return pack as unknown as Readable; // streamx's Readable, consumed by Node's stream.pipeline
}
