/** Facts about a root filesystem read from its own files: installed packages, distro, arch. Pure parsers. */
import type { InstalledPackage } from '../../api/image.js';

const byName = (a: InstalledPackage, b: InstalledPackage) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Installed packages from /var/lib/dpkg/status (stanzas whose Status ends in "installed"). */
export function parseDpkgStatus(text: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1].toLowerCase(), m[2].trim());
    }
    const name = fields.get('package');
    const version = fields.get('version');
    const status = fields.get('status') ?? '';
    if (name && version && /\binstalled$/.test(status) && !/\bnot-installed$/.test(status)) out.push({ name, version });
  }
  return out.sort(byName);
}

/** `dpkg-query -W -f '${Package}\t${Version}\t${db:Status-Status}\n'` output. */
export function parseDpkgQuery(text: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const line of text.split('\n')) {
    const [name, version, status] = line.split('\t');
    if (name && version && (status === undefined || status === 'installed')) out.push({ name, version });
  }
  return out.sort(byName);
}

/** KEY=value pairs of os-release(5), quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2];
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]] = v.replace(/\\(["'$`\\])/g, '$1');
  }
  return out;
}

/** `debian-bookworm`, `ubuntu-noble`, `alpine-3.19`, or `unknown`. */
export function distroName(osRelease: Record<string, string>): string {
  const id = (osRelease.ID ?? '').toLowerCase();
  if (!/^[a-z0-9._-]+$/.test(id)) return 'unknown';
  const release = (osRelease.VERSION_CODENAME || osRelease.VERSION_ID || '').toLowerCase();
  return /^[a-z0-9._-]+$/.test(release) ? `${id}-${release}` : id;
}

/** The Debian architecture name for a Node `process.arch`. */
export function debianArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'i386', arm: 'armhf', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' };
  return map[nodeArch] ?? nodeArch;
}
