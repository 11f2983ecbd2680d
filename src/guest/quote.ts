/**
 * The one place that turns values into POSIX shell text. Everything that reaches a guest shell
 * goes through `quote` or `shellCommand`; nothing else builds command strings.
 */
import { BangerError } from '../api/errors.js';

/** Words a shell reads as they are: no quoting, globbing, expansion or word splitting applies. */
const BARE = /^[A-Za-z0-9_\-+=.,/:@%^]+$/;
/** `NAME=...` in the first position is a variable assignment, not a command: `X=1 env` would run `env`. */
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
/** Reserved words change the grammar in the first position (`if`, `time` in bash); quoted they are plain names. */
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'case', 'esac', 'while', 'until', 'for', 'in', 'function', 'select', 'time', 'coproc']);

/**
 * Quotes one value for a POSIX shell: safe for spaces, quotes, newlines, `$(...)`, globbing. A
 * word that would mean something else as the first word of a command (an assignment such as
 * `X=1`, a reserved word) is quoted too, wherever it stands: quoting never changes an argument.
 */
export function quote(value: string): string {
  if (value === '') return "''";
  if (BARE.test(value) && !ASSIGNMENT.test(value) && !RESERVED.has(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Joins argv into one shell command line with every word quoted. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(quote).join(' ');
}

/** `cd DIR && CMD`, both quoted, for running a command in a directory. */
export function inDirectory(dir: string, argv: readonly string[]): string {
  return inDirectoryRaw(dir, shellCommand(argv));
}

/** `cd DIR && LINE` where LINE is shell text the user typed (as `ssh host 'a | b'` takes it). */
export function inDirectoryRaw(dir: string, commandLine: string): string {
  return `cd ${quote(dir)} && ${commandLine}`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `export K=V ...; CMD`: environment for a guest command. Sent as shell text rather than SSH `env`
 * requests, which sshd drops unless its AcceptEnv lists the name. Throws on a name a shell cannot assign.
 */
export function withEnv(env: Readonly<Record<string, string>>, command: string): string {
  const names = Object.keys(env);
  if (names.length === 0) return command;
  const bad = names.find((n) => !ENV_NAME.test(n));
  if (bad !== undefined) throw new BangerError('bad_request', `invalid environment variable name ${JSON.stringify(bad)}: use letters, digits and '_'`);
  return `export ${names.map((n) => `${n}=${quote(env[n])}`).join(' ')}; ${command}`;
}
