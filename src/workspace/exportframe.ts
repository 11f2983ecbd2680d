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

/** Longest record the header may hold (a `:<modes> <objects> <status>` line, or one path: Linux's PATH_MAX is 4096). */
export const MAX_EXPORT_RECORD_BYTES = 64 * 1024;
/** Longest base commit line (a sha256 id and its newline fit easily). */
const MAX_BASE_LINE_BYTES = 200;

export interface ExportParserOptions {
  /** Receives patch bytes, in order, once the header has been read and checked. */
  onPatch(chunk: Buffer): void;
  /** Largest header (all records). @default 64 MiB */
  maxHeaderBytes?: number;
  /** Largest single record. @default MAX_EXPORT_RECORD_BYTES */
  maxRecordBytes?: number;
  maxPatchBytes: number;
  /** VM name, for messages. */
  vm: string;
}

/**
 * Cost is linear in the input whatever the chunking: each byte is scanned once (only new bytes
 * are searched for a terminator) and copied at most once (a record split across chunks is joined
 * when it ends); every limit is checked before the bytes are kept.
 */
export class ExportOutputParser {
  #headLen = 0;
  #header: ExportHeader | null = null;
  #patchBytes = 0;
  #base: string | null = null;
  #files: string[] = [];
  /** The unterminated start of the current record (or of the base line), in arrival order. */
  #pending: Buffer[] = [];
  #pendingLen = 0;
  #expect: 'meta' | 'path' = 'meta';
  readonly #maxHeader: number;
  readonly #maxRecord: number;

  constructor(private readonly o: ExportParserOptions) {
    this.#maxHeader = o.maxHeaderBytes ?? 64 * 1024 * 1024;
    this.#maxRecord = o.maxRecordBytes ?? MAX_EXPORT_RECORD_BYTES;
  }

  get header(): ExportHeader | null {
    return this.#header;
  }

  get patchBytes(): number {
    return this.#patchBytes;
  }

  /** Throws a BangerError when the output is malformed, unsafe or too large. */
  push(chunk: Buffer): void {
    if (this.#header) return this.#patch(chunk);
    let pos = 0;
    if (this.#base === null) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.#keep(chunk, MAX_BASE_LINE_BYTES, 'the base commit line is missing');
        return;
      }
      this.#count(nl + 1);
      const line = this.#take(chunk.subarray(0, nl), MAX_BASE_LINE_BYTES, 'the base commit line is missing');
      const base = line.toString('latin1');
      if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(base)) throw this.#bad(`the base commit line is not a commit id (${JSON.stringify(base.slice(0, 80))})`);
      this.#base = base;
      pos = nl + 1;
    }
    while (pos < chunk.length) {
      const nul = chunk.indexOf(0, pos);
      if (nul < 0) {
        this.#count(chunk.length - pos);
        this.#keep(chunk.subarray(pos), this.#maxRecord, 'one record of the list of changed files is too long');
        return;
      }
      this.#count(nul + 1 - pos);
      const rec = this.#take(chunk.subarray(pos, nul), this.#maxRecord, 'one record of the list of changed files is too long');
      pos = nul + 1;
      if (this.#record(rec)) {
        this.#finishHeader();
        if (pos < chunk.length) this.#patch(chunk.subarray(pos));
        return;
      }
    }
  }

  /** The header, once the output has ended; throws if it is incomplete. */
  end(): ExportHeader {
    if (this.#header) return this.#header;
    // No patch followed (nothing changed, or only names were asked for): the records must be complete.
    if (this.#base === null || this.#expect !== 'meta' || this.#pendingLen !== 0) throw this.#bad('it ended in the middle of the list of changed files');
    return this.#finishHeader();
  }

  /** One complete record; true at the empty record that separates the header from the patch. */
  #record(rec: Buffer): boolean {
    if (this.#expect === 'path') {
      const f = rec.toString('utf8');
      const why = unsafePathReason(f);
      if (why) throw this.#bad(`it lists the unsafe path ${JSON.stringify(f)} (${why})`);
      this.#files.push(f);
      this.#expect = 'meta';
      return false;
    }
    if (rec.length === 0) return true;
    if (rec[0] === 0x3a /* : */) {
      this.#expect = 'path';
      return false;
    }
    throw this.#bad(`unexpected diff record ${JSON.stringify(rec.toString('utf8').slice(0, 80))}`);
  }

  /** Counts header bytes, refusing before anything beyond the limit is kept. */
  #count(n: number): void {
    this.#headLen += n;
    if (this.#headLen > this.#maxHeader) throw this.#bad('the list of changed files is too long');
  }

  /** Keeps the unterminated start of a record, if it stays within `max`. */
  #keep(part: Buffer, max: number, tooLong: string): void {
    if (this.#pendingLen + part.length > max) throw this.#bad(tooLong);
    if (part.length === 0) return;
    this.#pending.push(Buffer.from(part)); // a copy: the caller's chunk may be reused
    this.#pendingLen += part.length;
  }

  /** The record ending with `tail`: the kept start (if any) joined to it. */
  #take(tail: Buffer, max: number, tooLong: string): Buffer {
    if (this.#pendingLen === 0) return tail;
    if (this.#pendingLen + tail.length > max) throw this.#bad(tooLong);
    const rec = Buffer.concat([...this.#pending, tail], this.#pendingLen + tail.length);
    this.#pending = [];
    this.#pendingLen = 0;
    return rec;
  }

  #finishHeader(): ExportHeader {
    this.#header = { base: this.#base!, files: this.#files };
    return this.#header;
  }

  #patch(chunk: Buffer): void {
    if (this.#patchBytes + chunk.length > this.o.maxPatchBytes) {
      throw new BangerError('conflict', `the patch from VM "${this.o.vm}" is larger than ${this.o.maxPatchBytes} bytes; export fewer changes (or --name-only to see them)`);
    }
    this.#patchBytes += chunk.length;
    this.o.onPatch(chunk);
  }

  #bad(why: string): BangerError {
    return new BangerError('internal', `the export output from VM "${this.o.vm}" was refused: ${why}; nothing was written or applied`);
  }
}
