/**
 * Reads what the guest's export script prints (pure, streaming): `<base sha>\n`, then `git diff -z
 * --raw` records (`:<meta>\0<path>\0` each), then, when a patch follows, an empty record (git's
 * separator) and the patch. The guest is untrusted: sizes are bounded and every path is checked
 * (gitlist.ts unsafePathReason) before a byte of patch is passed on.
 */
import { BangerError } from '../api/errors.js';
import { unsafePathReason } from './gitlist.js';

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

  #base: string | null = null;
  #files: string[] = [];
  /** Where the next record starts in #buf, and whether it is a meta record or a path. */
  #buf = Buffer.alloc(0);
  #pos = 0;
  #expect: 'meta' | 'path' = 'meta';

  /** Throws a BangerError when the output is malformed, unsafe or too large. */
  push(chunk: Buffer): void {
    if (this.#header) return this.#patch(chunk);
    this.#headLen += chunk.length;
    this.#buf = this.#pos > 0 ? Buffer.concat([this.#buf.subarray(this.#pos), chunk]) : Buffer.concat([this.#buf, chunk]);
    this.#pos = 0;
    if (this.#base === null) {
      const nl = this.#buf.indexOf(10);
      if (nl < 0) {
        if (this.#buf.length > 200) throw this.#bad('the base commit line is missing');
        return;
      }
      const base = this.#buf.subarray(0, nl).toString('latin1');
      if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(base)) throw this.#bad(`the base commit line is not a commit id (${JSON.stringify(base.slice(0, 80))})`);
      this.#base = base;
      this.#pos = nl + 1;
    }
    for (;;) {
      const nul = this.#buf.indexOf(0, this.#pos);
      if (nul < 0) break;
      const rec = this.#buf.subarray(this.#pos, nul);
      this.#pos = nul + 1;
      if (this.#expect === 'path') {
        const f = rec.toString('utf8');
        const why = unsafePathReason(f);
        if (why) throw this.#bad(`it lists the unsafe path ${JSON.stringify(f)} (${why})`);
        this.#files.push(f);
        this.#expect = 'meta';
      } else if (rec.length === 0) {
        this.#finishHeader();
        const rest = this.#buf.subarray(this.#pos);
        this.#buf = Buffer.alloc(0);
        this.#pos = 0;
        if (rest.length > 0) this.#patch(rest);
        return;
      } else if (rec[0] === 0x3a /* : */) {
        this.#expect = 'path';
      } else {
        throw this.#bad(`unexpected diff record ${JSON.stringify(rec.toString('utf8').slice(0, 80))}`);
      }
    }
    if (this.#headLen > (this.o.maxHeaderBytes ?? 64 * 1024 * 1024)) throw this.#bad('the list of changed files is too long');
  }

  /** The header, once the output has ended; throws if it is incomplete. */
  end(): ExportHeader {
    if (this.#header) return this.#header;
    // No patch followed (nothing changed, or only names were asked for): the records must be complete.
    if (this.#base === null || this.#expect !== 'meta' || this.#pos !== this.#buf.length) throw this.#bad('it ended in the middle of the list of changed files');
    return this.#finishHeader();
  }

  #finishHeader(): ExportHeader {
    this.#header = { base: this.#base!, files: this.#files };
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
