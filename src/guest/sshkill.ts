/**
 * Killing a guest command over SSH: the signal names SSH can carry and the guest-side script that
 * signals every process an exec started (found by the id each exec exports). Pure: builds a command line.
 */
import { shellCommand } from './quote.js';

/** The signal names RFC 4254 defines. */
export const SSH_SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

/**
 * Every exec exports a random id; a kill signals the processes that carry it (the command's shell
 * and everything it started). SSH `signal` requests are not used: sshd refuses them for root
 * logins ("session signalling requires privilege separation"), and banger's guests log in as root.
 */
export const EXEC_ID_VAR = 'BANGER_EXEC_ID';
// Oldest first (ascending pids): the command's shell dies of the signal before it could report a child's death as 128+N.
const KILL_SCRIPT = [
  'for d in /proc/[0-9]*; do',
  '  tr "\\000" "\\n" < "$d/environ" 2>/dev/null | grep -qx "$1=$2" && echo "${d#/proc/}"',
  'done | sort -n | xargs -r kill -s "$3" 2>/dev/null',
  'true',
].join('\n');

export function killCommand(execId: string, signal: string): string {
  return shellCommand(['sh', '-c', KILL_SCRIPT, 'sh', EXEC_ID_VAR, execId, signal.replace(/^SIG/, '')]);
}
