/**
 * What every CLI command gets, made once per process in cli/main.ts and passed down explicitly:
 * the install's paths, the guest command (the words after `--`) and the one connection to bangerd.
 * Nothing in cli/ keeps module-level state of its own.
 */
import { resolvePaths, type Paths } from '../store/paths.js';
import { createConnection, type Api, type Connection, type DaemonTarget } from './connection.js';

export interface CliContext {
  readonly paths: Paths;
  /** The words after `--`, or null when there were none. */
  readonly guest: string[] | null;
  readonly api: Api;
  /** Where bangerd listens for this CLI (the system install's socket, else the private one). */
  target(): DaemonTarget;
}

export function createCliContext(opts: { guest?: string[] | null; env?: NodeJS.ProcessEnv; connection?: Connection } = {}): CliContext {
  const env = opts.env ?? process.env;
  const paths = resolvePaths(env);
  const conn = opts.connection ?? createConnection(paths, env);
  return { paths, guest: opts.guest ?? null, api: conn.api, target: conn.target };
}
