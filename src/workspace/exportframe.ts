/**
 * Reads what the guest's export script prints (pure, streaming): `<base sha>\n`, the changed paths
 * NUL-terminated, one more NUL, then the patch. The guest is untrusted: sizes are bounded and
 * every path is checked (gitlist.ts unsafePathReason) before a byte of patch is passed on.
 */
import { BangerError } from '../api/errors.js';
import { splitNul, unsafePathReason } from './gitlist.js';

export interface ExportHeader {
  base: string;
  files: string[];
}

export interface ExportParserOptions {
  /** Receives patch bytes, in order, once the header has been read and checked. */
  onPatch(chunk: Buffer): void;
  /** @default 64 MiB */
  maxHeaderBytes?: number;
  maxPatchBytes: number;
  /** VM name, for messages. */
  vm: string;
}

export class ExportOutputParser {
  #head: Buffer[] = [];
  #headLen = 0;
  #header: ExportHeader | null = null;
  #patchBytes = 0;

  constructor(private readonly o: ExportParserOptions) {}

  get header(): ExportHeader | null {
    return this.#header;
  }

  get patchBytes(): number {
    return this.#patchBytes;
  }

  /** Throws a BangerError when the output is malformed, unsafe or too large. */
  push(chunk: Buffer): void {
    if (this.#header) return this.#patch(chunk);
    this.#head.push(chunk);
    this.#headLen += chunk.length;
    const buf = Buffer.concat(this.#head);
    this.#head = [buf];
    const nl = buf.indexOf(10);
    if (nl < 0) {
      if (buf.length > 200) throw this.#bad('the base commit line is missing');
      return;
    }
    // After the base line: either an immediate NUL (no files) or names ending in NUL NUL.
    const names = buf.subarray(nl + 1);
    let end = -1;
    let skip = 0;
    if (names.length > 0 && names[0] === 0) {
      end = 0;
      skip = 1;
    } else {
      const i = names.indexOf(Buffer.from([0, 0]));
      if (i >= 0) {
        end = i;
        skip = 2;
      }
    }
    if (end < 0) {
      if (this.#headLen > (this.o.maxHeaderBytes ?? 64 * 1024 * 1024)) throw this.#bad('the list of changed files is too long');
      return;
    }
    const base = buf.subarray(0, nl).toString('latin1');
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(base)) throw this.#bad(`the base commit line is not a commit id (${JSON.stringify(base.slice(0, 80))})`);
    const files = splitNul(names.subarray(0, end)).map((b) => b.toString('utf8'));
    for (const f of files) {
      const why = unsafePathReason(f);
      if (why) throw this.#bad(`it lists the unsafe path ${JSON.stringify(f)} (${why})`);
    }
    this.#header = { base, files };
    this.#head = [];
    const rest = names.subarray(end + skip);
    if (rest.length > 0) this.#patch(rest);
  }

  /** The header, once the output has ended; throws if it never arrived. */
  end(): ExportHeader {
    if (!this.#header) throw this.#bad('it ended before the list of changed files');
    return this.#header;
  }

  #patch(chunk: Buffer): void {
    this.#patchBytes += chunk.length;
    if (this.#patchBytes > this.o.maxPatchBytes) {
      throw new BangerError('conflict', `the patch from VM "${this.o.vm}" is larger than ${this.o.maxPatchBytes} bytes; export fewer changes (or --name-only to see them)`);
    }
    this.o.onPatch(chunk);
  }

  #bad(why: string): BangerError {
    return new BangerError('internal', `the export output from VM "${this.o.vm}" was refused: ${why}; nothing was written or applied`);
  }
}
