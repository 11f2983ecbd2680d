/** Files in one VM, through `vm.exec` with the argv of fileops.ts (bytes in on stdin, out on stdout). */
import { Readable } from 'node:stream';
import { api, type ConnectionOpts } from './api.js';
import { fileArgv, fileError, parseListing, type FileEntry } from './fileops.js';

export type { FileEntry } from './fileops.js';

export class Files {
  /** @internal */
  constructor(private readonly vmName: string, private readonly conn: ConnectionOpts) {}

  private async exec(argv: string[], stdin?: Buffer): Promise<{ exitCode: number; stdout: Buffer; stderr: string }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await api(
      'vm.exec',
      { name: this.vmName, argv, cwd: '/', stdin: stdin !== undefined },
      { ...this.conn, stdin: stdin !== undefined ? Readable.from([stdin]) : undefined, onStream: (s, d) => (s === 'stdout' ? out : err).push(d) },
    );
    return { exitCode: r.exitCode, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
  }

  private async checked(op: string, path: string, argv: string[], stdin?: Buffer): Promise<Buffer> {
    const r = await this.exec(argv, stdin);
    if (r.exitCode !== 0) throw fileError(op, path, r.exitCode, r.stderr);
    return r.stdout;
  }

  async read(path: string): Promise<string>;
  async read(path: string, opts: { format: 'bytes' }): Promise<Buffer>;
  async read(path: string, opts: { format?: 'text' | 'bytes' } = {}): Promise<string | Buffer> {
    const bytes = await this.checked('read', path, fileArgv.read(path));
    return opts.format === 'bytes' ? bytes : bytes.toString('utf8');
  }

  /** Writes (creating parent directories); one path, or many at once. */
  async write(path: string, data: string | Buffer): Promise<void>;
  async write(files: { path: string; data: string | Buffer }[]): Promise<void>;
  async write(a: string | { path: string; data: string | Buffer }[], data?: string | Buffer): Promise<void> {
    const files = typeof a === 'string' ? [{ path: a, data: data ?? '' }] : a;
    for (const f of files) await this.checked('write', f.path, fileArgv.write(f.path), Buffer.from(f.data));
  }

  async exists(path: string): Promise<boolean> {
    return (await this.exec(fileArgv.exists(path))).exitCode === 0;
  }

  async list(path: string, opts: { depth?: number } = {}): Promise<FileEntry[]> {
    return parseListing(await this.checked('list', path, fileArgv.list(path, opts.depth ?? 1)));
  }

  async getInfo(path: string): Promise<FileEntry> {
    return parseListing(await this.checked('stat', path, fileArgv.stat(path)))[0]!;
  }

  async remove(path: string): Promise<void> {
    await this.checked('remove', path, fileArgv.remove(path));
  }

  async makeDir(path: string): Promise<void> {
    await this.checked('mkdir', path, fileArgv.makeDir(path));
  }

  async rename(from: string, to: string): Promise<void> {
    await this.checked('rename', from, fileArgv.rename(from, to));
  }
}
