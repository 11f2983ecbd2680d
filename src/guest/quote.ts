/**
 * The one place that turns values into POSIX shell text. Everything that reaches a guest shell
 * goes through `quote` or `shellCommand`; nothing else builds command strings.
 */

/** Quotes one value for a POSIX shell: safe for spaces, quotes, newlines, `$(...)`, globbing. */
export function quote(value: string): string {
  if (value === '') return "''";
  if (/^[A-Za-z0-9_\-+=.,/:@%^]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Joins argv into one shell command line with every word quoted. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(quote).join(' ');
}

/** `cd DIR && CMD`, both quoted, for running a command in a directory. */
export function inDirectory(dir: string, argv: readonly string[]): string {
  return `cd ${quote(dir)} && ${shellCommand(argv)}`;
}
