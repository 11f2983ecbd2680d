/**
 * The OpenSSH client's argv for `vm ssh`, and the checks on the values it takes from the daemon's
 * answer (user, host, port, alias, paths). Those values are data, never options: a `user` of
 * `-oProxyCommand=…` would make ssh run a command on the host, so each value is checked against
 * what it can legitimately be and `--` ends ssh's options before the destination. ssh-config
 * rendering (network/sshconfig.ts) uses the same checks. Pure.
 */
import { isIP } from 'node:net';
import { BangerError } from '../api/errors.js';
import { inDirectory, inDirectoryRaw } from './quote.js';

const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);
const CONTROL = /[\x00-\x1f\x7f]/;

const refuse = (what: string, value: string, want: string): never => {
  throw new BangerError('internal', `the daemon answered an unusable ssh ${what} ${JSON.stringify(value)} (expected ${want}); refusing to run ssh with it`);
};

/** A login name: letters, digits, `_ . -`, not starting with `-`. */
export function checkSshUser(user: string): string {
  return USER.test(user) ? user : refuse('user', user, 'a login name like root');
}

/** An IPv4/IPv6 address or a DNS host name (never something ssh could read as an option). */
export function checkSshHost(host: string): string {
  return isIP(host) !== 0 || HOSTNAME.test(host) ? host : refuse('host', host, 'an IP address or host name');
}

export function checkSshPort(port: number): number {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : refuse('port', String(port), 'a port 1-65535');
}

/** An absolute host path without control characters (it goes into `-o KEY=PATH`). */
export function checkSshPath(what: string, path: string): string {
  return path.startsWith('/') && !CONTROL.test(path) && !/\s/.test(path) ? path : refuse(what, path, 'an absolute path without spaces or control characters');
}

export interface SshClientTarget {
  user: string;
  host: string;
  port: number;
  keyPath: string;
  knownHostsPath: string;
  hostKeyAlias: string;
  /** Guest directory to start in (the workspace), or null. */
  cwd: string | null;
}

/**
 * `ssh OPTIONS -- user@host [COMMAND]`: an interactive login (a pty) when `command` is null or
 * empty, else the words joined into one guest shell command line, as ssh itself does.
 */
export function sshClientArgv(t: SshClientTarget, command: readonly string[] | null): string[] {
  const dest = `${checkSshUser(t.user)}@${checkSshHost(t.host)}`;
  const argv = [
    'ssh',
    '-i', checkSshPath('key path', t.keyPath),
    '-o', `UserKnownHostsFile=${checkSshPath('known_hosts path', t.knownHostsPath)}`,
    '-o', `HostKeyAlias=${checkSshHost(t.hostKeyAlias)}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'LogLevel=ERROR',
    '-p', String(checkSshPort(t.port)),
  ];
  if (!command || command.length === 0) {
    argv.push('-t', '--', dest);
    if (t.cwd) argv.push(inDirectory(t.cwd, ['sh', '-c', 'exec "${SHELL:-/bin/sh}" -l']));
  } else {
    // Like ssh: the words form one shell command line in the guest (`vm exec` is the argv-exact way).
    const line = command.join(' ');
    argv.push('--', dest, t.cwd ? inDirectoryRaw(t.cwd, line) : line);
  }
  return argv;
}
