/**
 * Fresh identity for a VM restored from a snapshot. Pure: builds the guest script and its inputs.
 *
 * Every VM restored from one memory image starts as a clone: same kernel CRNG state, clock of the
 * moment it was saved, host name, machine-id, MAC and SSH host key. Right after the restore banger
 * runs this script once over the (already authenticated) SSH connection:
 *
 * 1. Randomness first. Host entropy is mixed into the input pool with RNDADDENTROPY (credited), then
 *    RNDRESEEDCRNG makes the kernel rekey its CRNG from that pool at once. Writing to /dev/urandom
 *    alone only mixes: Linux 6.1 would keep serving the cloned CRNG until its next scheduled reseed
 *    (up to a minute). No shell tool issues these ioctls; perl (perl-base, in every Debian system)
 *    does, so the whole refresh is one perl process. A guest without perl gets the shell version:
 *    entropy mixed in, no immediate reseed, and the report says `mixed`, not `reseeded`.
 * 2. The clock: a restored guest believes it is still the moment of the snapshot.
 * 3. Identity (forks and warm starts, not a VM resuming as itself): host name (+ the 127.0.1.1
 *    line of /etc/hosts, other lines kept), /etc/machine-id, the NIC's MAC (changed live), and a
 *    new ed25519 SSH host key made on the host and sent on stdin (into /etc/ssh, or /.banger/state
 *    for a root booted with banger's own sshd: guesttools/plan.ts); the caller records its public
 *    half for the VM's alias. These writes are synced to the guest's disk before the script reports
 *    `done`: a VM killed right after create would otherwise boot later with the template's host key
 *    (writeback runs ~30 s after the write), which banger's known_hosts no longer accepts.
 *
 * Secrets (the entropy, the private key) travel on stdin, never in argv where any guest user could
 * read them from /proc.
 */
import { randomBytes } from 'node:crypto';
import { BangerError } from '../api/errors.js';
import { MAC_ADDRESS, NAME_PATTERN } from '../api/names.js';

export interface HostKey {
  /** OpenSSH private key text. */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicLine: string;
}

export interface IdentityPlan {
  /** Wall clock to set, ms since the epoch. */
  nowMs: number;
  /** Bytes from the host's CSPRNG to mix in before reseeding. */
  entropy: Buffer;
  /** Absent when the VM resumes as itself: only randomness and clock are refreshed. */
  fresh?: {
    hostname: string;
    machineId: string;
    mac: string;
    hostKey: HostKey;
  };
}

/** What the guest reported. */
export interface IdentityReport {
  /** The CRNG was rekeyed from the new entropy (false: mixed only, see the module comment). */
  reseeded: boolean;
  /** The new identity reached the guest's disk (fresh identity only; see IDENTITY_PERL). */
  synced: boolean;
  done: boolean;
}

export const ENTROPY_BYTES = 64;
const MACHINE_ID = /^[0-9a-f]{32}$/;
const PUBLIC_LINE = /^ssh-ed25519 [A-Za-z0-9+/=]+( [A-Za-z0-9@._-]+)?$/;

/** A new machine-id (machine-id(5): 32 lower-case hex digits, v4-style random). */
export function newMachineId(random: (n: number) => Buffer = randomBytes): string {
  return random(16).toString('hex');
}

/**
 * RESEED_PERL: the randomness step alone (also used by tests to check a guest can reseed).
 * RNDADDENTROPY = _IOW('R', 0x03, int[2]); RNDRESEEDCRNG = _IO('R', 0x07) (linux/random.h).
 * Arguments: hex entropy, the urandom path.
 */
export const RESEED_PERL = [
  'open(my $f, "+<", $ARGV[1]) or die "open: $!\\n";',
  'my $b = pack("H*", $ARGV[0]);',
  'ioctl($f, 0x40085203, pack("ii", length($b) * 8, length($b)) . $b) or die "RNDADDENTROPY: $!\\n";',
  'ioctl($f, 0x5207, 0) or die "RNDRESEEDCRNG: $!\\n";',
].join(' ');

/**
 * The fast path: one perl process does everything (each process start costs ~70-100 ms in a TCG
 * guest; the shell version needs a dozen). Clock via settimeofday(2), MAC via SIOCSIFHWADDR, and
 * the gateway's neighbour entry dropped with SIOCDARP so the guest ARPs from its new MAC at once
 * (user-mode networking learns the MAC from that; frames to the old one are dropped meanwhile).
 * With BANGER_ROOT set (tests) the clock and NIC are left alone and the MAC step is reported.
 * No `use` lines: loading even strict/Config costs a guest under TCG a measurable slice of a second.
 */
export const IDENTITY_PERL = String.raw`umask 077;
my $R = defined $ENV{BANGER_ROOT} ? $ENV{BANGER_ROOT} : '';
my $real = $R eq '';
my ($epoch, $name, $mid, $mac, $pub) = @ARGV;
sub put {
  my ($path, $text, $mode) = @_;
  $mode = (stat $path)[2] & 07777 if !defined $mode && -e $path;
  my $tmp = "$path.banger-new";
  open(my $f, '>', $tmp) or die "write $tmp: $!\n";
  print $f $text;
  close($f) or die "write $tmp: $!\n";
  chmod(defined $mode ? $mode : 0644, $tmp);
  rename($tmp, $path) or die "rename $tmp: $!\n";
}
my $seed = <STDIN>;
defined $seed or die "no entropy on stdin\n";
chomp $seed;
my $bytes = pack('H*', $seed);
open(my $u, '+<', "$R/dev/urandom") or die "open urandom: $!\n";
if (ioctl($u, 0x40085203, pack('ii', length($bytes) * 8, length($bytes)) . $bytes) && ioctl($u, 0x5207, 0)) {
  print "banger-identity: reseeded\n";
} else {
  defined syswrite($u, $bytes) or die "write urandom: $!\n";
  print "banger-identity: mixed\n";
}
close $u;
my $arch = '';
if (open(my $ah, '<', '/proc/sys/kernel/arch')) { $arch = <$ah>; close $ah; }
if ($real) {
  my $s = int($epoch);
  my $us = int(($epoch - $s) * 1e6 + 0.5);
  my $nr = $arch =~ /^x86_64/ ? 164 : $arch =~ /^aarch64/ ? 170 : -1;
  unless ($nr >= 0 && syscall($nr, pack('q q', $s, $us), 0) == 0) {
    system('date', '-u', '-s', "\@$epoch") == 0 or die "cannot set the clock\n";
  }
}
if (defined $pub) {
  open(my $hn, '>', "$R/proc/sys/kernel/hostname") or die "hostname: $!\n";
  print $hn $name;
  close($hn) or die "hostname: $!\n";
  put("$R/etc/hostname", "$name\n");
  my $hosts = '';
  if (open(my $h, '<', "$R/etc/hosts")) { $hosts = join('', grep { !/^127\.0\.1\.1\s/ } <$h>); close $h; }
  put("$R/etc/hosts", $hosts . "127.0.1.1\t$name\n");
  put("$R/etc/machine-id", "$mid\n", 0444);
  my $dbus = "$R/var/lib/dbus/machine-id";
  put($dbus, "$mid\n") if -f $dbus && !-l $dbus;
  my ($dev, $gw);
  if (open(my $rt, '<', "$R/proc/net/route")) {
    <$rt>;
    while (<$rt>) { my @c = split; if (@c > 2 && $c[1] eq '00000000') { ($dev, $gw) = ($c[0], $c[2]); last; } }
    close $rt;
  }
  if (defined $dev) {
    if ($real) {
      socket(my $sk, 2, 2, 0) or die "socket: $!\n";
      ioctl($sk, 0x8924, pack('a16 S a22', $dev, 1, pack('C6', map { hex } split(/:/, $mac)))) or die "set MAC of $dev: $!\n";
      ioctl($sk, 0x8953, pack('S n a4 x8 x16 i x16 a16', 2, 0, pack('V', hex $gw), 0, $dev));
    } else {
      print "banger-identity: mac $dev $mac\n";
    }
  }
  my $kd = -d "$R/.banger/state" ? "$R/.banger/state" : "$R/etc/ssh";
  if (-d $kd) {
    local $/;
    my $key = <STDIN>;
    defined $key && $key =~ /BEGIN OPENSSH PRIVATE KEY/ or die "no host key on stdin\n";
    put("$kd/ssh_host_ed25519_key", $key, 0600);
    put("$kd/ssh_host_ed25519_key.pub", "$pub\n", 0644);
  }
  # Durable before the caller records the new key: syncfs(2) on the root file system (the files and
  # the directories their renames changed) instead of leaving them to writeback, ~30 s later.
  my $nrs = $arch =~ /^x86_64/ ? 306 : $arch =~ /^aarch64/ ? 267 : -1;
  my $ok = 0;
  if ($nrs >= 0 && opendir(my $etc, "$R/etc")) { $ok = syscall($nrs, fileno($etc)) == 0; closedir $etc; }
  $ok = system('sync') == 0 unless $ok;
  print "banger-identity: synced\n" if $ok;
}
print "banger-identity: done\n";
`;

/**
 * The guest script: runs IDENTITY_PERL when the guest has perl, else does the same with shell
 * tools, minus the reseed (reported as `mixed`). Arguments: $1 the perl program, $2 epoch seconds
 * (with fraction), then for a fresh identity $3 host name, $4 machine-id, $5 MAC, $6 public host
 * key line. Stdin: one line of hex entropy, then (fresh identity) the private host key.
 * BANGER_ROOT prefixes every file path (tests).
 */
export const IDENTITY_SCRIPT = `set -euf
prog=$1
shift
if command -v perl >/dev/null 2>&1; then exec perl -e "$prog" -- "$@"; fi
R=\${BANGER_ROOT:-}
read -r seed
printf '%s' "$seed" > "$R/dev/urandom"
echo 'banger-identity: mixed'
# busybox date takes whole seconds only.
date -u -s "@$1" >/dev/null 2>&1 || date -u -s "@\${1%.*}" >/dev/null
if [ "$#" -ge 5 ]; then
  name=$2
  printf '%s' "$name" > "$R/proc/sys/kernel/hostname"
  printf '%s\\n' "$name" > "$R/etc/hostname"
  if [ -f "$R/etc/hosts" ]; then
    sed -i '/^127\\.0\\.1\\.1[[:space:]]/d' "$R/etc/hosts"
  fi
  printf '127.0.1.1\\t%s\\n' "$name" >> "$R/etc/hosts"
  printf '%s\\n' "$3" > "$R/etc/machine-id"
  if [ -f "$R/var/lib/dbus/machine-id" ] && [ ! -L "$R/var/lib/dbus/machine-id" ]; then
    printf '%s\\n' "$3" > "$R/var/lib/dbus/machine-id"
  fi
  dev=
  mac=$4
  pub=$5
  set -- $(ip route show default 2>/dev/null)
  while [ "$#" -gt 0 ]; do
    if [ "$1" = dev ] && [ "$#" -gt 1 ]; then dev=$2; fi
    shift
  done
  if [ -n "$dev" ]; then
    ip link set dev "$dev" address "$mac"
    ip neigh flush dev "$dev" || true
  fi
  kd="$R/etc/ssh"
  if [ -d "$R/.banger/state" ]; then kd="$R/.banger/state"; fi
  if [ -d "$kd" ]; then
    umask 077
    k="$kd/ssh_host_ed25519_key"
    cat > "$k.banger-new"
    printf '%s\\n' "$pub" > "$k.pub.banger-new"
    chmod 600 "$k.banger-new"
    chmod 644 "$k.pub.banger-new"
    mv -f "$k.banger-new" "$k"
    mv -f "$k.pub.banger-new" "$k.pub"
  fi
  if sync -f "$R/etc" 2>/dev/null || sync; then echo 'banger-identity: synced'; fi
fi
echo 'banger-identity: done'
`;

export interface IdentityCommand {
  /** argv for GuestConnection.run (the script runs under `sh -c`). */
  argv: string[];
  stdin: Buffer;
}

/** Turns a plan into the command that applies it. Validates every value that reaches the guest. */
export function identityCommand(plan: IdentityPlan): IdentityCommand {
  if (plan.entropy.length < 32) throw new BangerError('internal', 'identity refresh needs at least 32 bytes of entropy');
  const epoch = (plan.nowMs / 1000).toFixed(3);
  const argv = ['sh', '-c', IDENTITY_SCRIPT, 'banger-identity', IDENTITY_PERL, epoch];
  let stdin = `${plan.entropy.toString('hex')}\n`;
  if (plan.fresh) {
    const f = plan.fresh;
    if (!NAME_PATTERN.test(f.hostname)) throw new BangerError('bad_request', `"${f.hostname}" is not a valid host name`);
    if (!MACHINE_ID.test(f.machineId)) throw new BangerError('internal', `"${f.machineId}" is not a machine-id`);
    if (!MAC_ADDRESS.test(f.mac)) throw new BangerError('internal', `"${f.mac}" is not a MAC address`);
    const pub = f.hostKey.publicLine.trim();
    if (!PUBLIC_LINE.test(pub)) throw new BangerError('internal', 'the generated host key is not an ssh-ed25519 public key line');
    argv.push(f.hostname, f.machineId, f.mac, pub);
    stdin += f.hostKey.privateKey.endsWith('\n') ? f.hostKey.privateKey : `${f.hostKey.privateKey}\n`;
  }
  return { argv, stdin: Buffer.from(stdin) };
}

export function parseIdentityReport(stdout: string): IdentityReport {
  const lines = stdout.split('\n').map((l) => l.trim());
  return {
    reseeded: lines.includes('banger-identity: reseeded'),
    synced: lines.includes('banger-identity: synced'),
    done: lines.includes('banger-identity: done'),
  };
}
