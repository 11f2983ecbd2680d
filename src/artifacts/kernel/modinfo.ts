/**
 * Reads a kernel module's .modinfo strings (NUL-separated `key=value`) without the host's
 * modinfo/depmod, which these hosts do not have. Pure.
 */
import { BangerError } from '../../api/errors.js';
import { ET_REL, parseElfHeader, sectionByName } from './elf.js';

export interface ModInfo {
  /** The module's own name (`name=`), e.g. virtio_rng for virtio-rng.ko. */
  name?: string;
  /** Modules that must be loaded first (`depends=`), in the order the kernel listed them. */
  depends: string[];
  /** Every key with all its values (license, alias, vermagic, ...). */
  fields: Record<string, string[]>;
}

/** Parses `key=value\0key=value\0...` as found in a .modinfo section (padding NULs allowed). */
export function parseModinfoStrings(section: Buffer): ModInfo {
  const fields: Record<string, string[]> = {};
  for (const entry of section.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    (fields[key] ??= []).push(entry.slice(eq + 1));
  }
  const depends = (fields.depends ?? [])
    .flatMap((d) => d.split(','))
    .map((d) => d.trim())
    .filter((d) => d !== '');
  return { name: fields.name?.[0], depends, fields };
}

/** Parses the modinfo of an uncompressed .ko (an ELF relocatable object with a .modinfo section). */
export function parseModinfo(ko: Buffer, what = 'kernel module'): ModInfo {
  const h = parseElfHeader(ko, what);
  if (h.type !== ET_REL) throw new BangerError('bad_request', `${what} is not a kernel module (ELF type ${h.type}, expected relocatable)`);
  const section = sectionByName(ko, h, '.modinfo', what);
  if (!section) throw new BangerError('bad_request', `${what} has no .modinfo section; is it a kernel module?`);
  return parseModinfoStrings(section);
}
