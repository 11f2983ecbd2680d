/**
 * The one decision of what exit code a guest command "has": its own status when it exited, else
 * 128 + the signal's number, as shells and `docker run` report it (SIGTERM 143, SIGKILL 137). The
 * daemon decides it (vm.exec's `exitCode`); the CLI and SDK pass it on unchanged. Pure.
 */
import type { ExitStatus } from './connection.js';

/** Linux signal numbers (the guest is Linux, whatever the host's own table says). */
const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19,
  SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** What a command that reported nothing (no status, no signal: the channel just closed) exits with, like ssh. */
export const NO_STATUS_EXIT = 255;

/** 128 + N for a signal (`SIGTERM` or `TERM`); null for a name the table does not know. */
export function signalExitCode(signal: string): number | null {
  const n = SIGNALS[signal.startsWith('SIG') ? signal : `SIG${signal}`];
  return n === undefined ? null : 128 + n;
}

export function exitCodeOf(status: ExitStatus): number {
  if (status.code !== null) return status.code;
  if (status.signal) return signalExitCode(status.signal) ?? NO_STATUS_EXIT;
  return NO_STATUS_EXIT;
}
