/**
 * Where Debian packages come from: the one definition of the archive banger uses (suite, mirror,
 * security mirror, keyring) for both the private apt that fetches kernels and the sources an image
 * is bootstrapped from and keeps. Pure.
 */

export interface DebianSource {
  /** Debian release codename. @default 'bookworm' */
  suite: string;
  /** @default 'http://deb.debian.org/debian' */
  mirror: string;
  /** @default 'http://deb.debian.org/debian-security' */
  securityMirror: string;
}

export const DEFAULT_DEBIAN_SOURCE: DebianSource = {
  suite: 'bookworm',
  mirror: 'http://deb.debian.org/debian',
  securityMirror: 'http://deb.debian.org/debian-security',
};

/** The Debian archive's signing keys (package debian-archive-keyring); on Ubuntu too, never Ubuntu's. */
export const DEBIAN_ARCHIVE_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * The apt source lines for `src`: the suite, its -updates and -security. With `signedBy`, each line
 * names the keyring that must have signed its Release file (apt's `signed-by` option).
 */
export function aptSourceLines(src: DebianSource, signedBy?: string): string[] {
  const opts = signedBy === undefined ? '' : `[signed-by=${signedBy}] `;
  return [
    `deb ${opts}${src.mirror} ${src.suite} main`,
    `deb ${opts}${src.mirror} ${src.suite}-updates main`,
    `deb ${opts}${src.securityMirror} ${src.suite}-security main`,
  ];
}
