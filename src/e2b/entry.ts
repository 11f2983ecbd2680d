/** Guest file metadata as envd's protobuf EntryInfo and /files' JSON EntryInfo (pure). */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { GuestEntry } from '../guest/fileinfo.js';
import { FileType, type EntryInfoSchema } from './gen/filesystem_pb.js';

export function toEntryInfo(e: GuestEntry): MessageInitShape<typeof EntryInfoSchema> {
  return {
    name: e.name,
    type: e.type === 'file' ? FileType.FILE : e.type === 'dir' ? FileType.DIRECTORY : e.type === 'symlink' ? FileType.SYMLINK : FileType.UNSPECIFIED,
    path: e.path,
    size: BigInt(e.size),
    mode: e.mode,
    permissions: e.permissions,
    owner: e.owner,
    group: e.group,
    modifiedTime: { seconds: BigInt(Math.floor(e.mtimeMs / 1000)), nanos: (e.mtimeMs % 1000) * 1_000_000 },
    ...(e.symlinkTarget !== undefined ? { symlinkTarget: e.symlinkTarget } : {}),
  };
}

/** envd's /files upload answer: `{name, type, path}` per file written. */
export function toFileJson(w: { name: string; path: string }): { name: string; type: 'file'; path: string } {
  return { name: w.name, type: 'file', path: w.path };
}
