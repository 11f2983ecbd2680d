/**
 * The initramfs /init (busybox sh), implementing the guest boot contract:
 *   root=/dev/vda (default)  rootfstype=ext4 (default)  init=/sbin/init (default)
 *   banger.hostname=NAME     -> /etc/hostname, /etc/hosts in the root fs
 *   banger.key=BASE64        -> "ssh-ed25519 BASE64 banger" in /root/.ssh/authorized_keys (0600, dir 0700)
 *   banger.ip=A.B.C.D/NN banger.gw=A.B.C.D banger.dns=A.B.C.D[,A.B.C.D]  [banger.mac=xx:..:xx]
 *                            -> the interface configured before switch_root, /etc/resolv.conf written
 * A root without its own init or sshd (OCI images) boots banger's init and sshd from the guest
 * tools the initramfs carries (guesttools/plan.ts); the key then goes to the tools' authorized_keys,
 * never into the root's /root.
 * Every value from the command line is validated by a `case` pattern and only ever expanded in
 * double quotes; globbing is off, so a hostile word cannot run or match anything. A problem prints
 * one `banger-init: ...` line on the console and drops to a shell.
 *
 * INIT_LIBRARY holds only function definitions so tests can source it and call them against a
 * temporary root directory with a made-up command line.
 */
import { createHash } from 'node:crypto';
import { GUEST_TOOLS_FINGERPRINT } from '../guesttools/plan.js';

/** Raw script text; `\${` stands for the shell's `${` (a template literal would interpolate it). */
function sh(strings: TemplateStringsArray): string {
  return strings.raw.join('').replace(/\\\$\{/g, '${');
}

export const INIT_LIBRARY = sh`
say() { printf 'banger-init: %s\n' "$*"; }

# arg NAME: the value of the last NAME=value word of $CMDLINE (kernel semantics: last wins).
arg() {
  set -f
  _v=
  for _w in $CMDLINE; do
    case "$_w" in "$1"=*) _v="\${_w#*=}" ;; esac
  done
  printf '%s' "$_v"
}

valid_hostname() {
  case "$1" in ''|-*|.*|*[!A-Za-z0-9.-]*) return 1 ;; esac
  [ "\${#1}" -le 253 ]
}
valid_key() {
  case "$1" in ''|*[!A-Za-z0-9+/=]*) return 1 ;; esac
}
valid_ip() {
  case "$1" in ''|.*|*.|*..*|*[!0-9.]*) return 1 ;; esac
  _ip=$1; _n=0
  while [ -n "$_ip" ]; do
    _o=\${_ip%%.*}
    [ "\${#_o}" -le 3 ] && [ "$_o" -le 255 ] || return 1
    _n=$((_n + 1))
    case "$_ip" in *.*) _ip=\${_ip#*.} ;; *) _ip= ;; esac
  done
  [ "$_n" -eq 4 ]
}
valid_cidr() {
  case "$1" in */*) ;; *) return 1 ;; esac
  _p=\${1#*/}
  case "$_p" in ''|*[!0-9]*) return 1 ;; esac
  [ "\${#_p}" -le 2 ] && [ "$_p" -le 32 ] && valid_ip "\${1%/*}"
}
valid_mac() {
  case "$1" in *[!0-9A-Fa-f:]*) return 1 ;; [0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]) return 0 ;; esac
  return 1
}
valid_path() {
  case "$1" in /*) ;; *) return 1 ;; esac
  case "$1" in *[!A-Za-z0-9/._-]*|*..*) return 1 ;; esac
}
valid_fstype() {
  case "$1" in ''|*[!a-z0-9]*) return 1 ;; esac
}

# load_modules DIR: insmod every file named in DIR/order, in that order.
load_modules() {
  [ -f "$1/order" ] || return 0
  while read -r _m; do
    [ -n "$_m" ] || continue
    insmod "$1/$_m" || say "warning: could not load module $_m"
  done < "$1/order"
}

# wait_for_block DEV TRIES: poll every 20 ms.
wait_for_block() {
  _i=0
  while [ ! -b "$1" ]; do
    [ "$_i" -ge "$2" ] && return 1
    sleep 0.02
    _i=$((_i + 1))
  done
}

# configure_root ROOT [KEYFILE]: hostname, SSH key and resolver from the command line, written
# into ROOT; the key goes to KEYFILE (default ROOT/root/.ssh/authorized_keys).
configure_root() {
  _r=$1
  _f=\${2:-$_r/root/.ssh/authorized_keys}
  _h=$(arg banger.hostname)
  if [ -n "$_h" ]; then
    valid_hostname "$_h" || { say "invalid banger.hostname (letters, digits, '.', '-')"; return 1; }
    mkdir -p "$_r/etc"
    printf '%s\n' "$_h" > "$_r/etc/hostname" || return 1
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$_h" > "$_r/etc/hosts" || return 1
  fi
  _k=$(arg banger.key)
  if [ -n "$_k" ]; then
    valid_key "$_k" || { say "invalid banger.key (expected the base64 blob of an ed25519 public key)"; return 1; }
    mkdir -p "\${_f%/*}" && chmod 700 "\${_f%/*}" || return 1
    # Keep keys the user added; replace only banger's own line.
    { [ -f "$_f" ] && grep -v ' banger$' "$_f"; printf 'ssh-ed25519 %s banger\n' "$_k"; } > "$_f.banger-new" || return 1
    chmod 600 "$_f.banger-new" && mv -f "$_f.banger-new" "$_f" || return 1
  fi
  _d=$(arg banger.dns)
  if [ -n "$_d" ]; then
    _lines=
    _rest=$_d
    while [ -n "$_rest" ]; do
      _one=\${_rest%%,*}
      valid_ip "$_one" || { say "invalid banger.dns (comma-separated IPv4 addresses)"; return 1; }
      _lines="$_lines""nameserver $_one
"
      case "$_rest" in *,*) _rest=\${_rest#*,} ;; *) _rest= ;; esac
    done
    mkdir -p "$_r/etc"
    # Debian may ship resolv.conf as a symlink (systemd-resolved): replace it with a file.
    rm -f "$_r/etc/resolv.conf"
    printf '%s' "$_lines" > "$_r/etc/resolv.conf" || return 1
  fi
  return 0
}

# wants_banger_init ROOT INIT: true when the initramfs carries banger's guest tools and ROOT lacks
# its own INIT or an sshd (an OCI image, a bare rootfs): then banger's init and sshd run it.
wants_banger_init() {
  [ -x /banger/libexec/init ] || return 1
  [ -e "$1$2" ] || [ -L "$1$2" ] || return 0
  for _s in /usr/sbin/sshd /sbin/sshd; do
    [ -e "$1$_s" ] || [ -L "$1$_s" ] && return 1
  done
  return 0
}

# setup_tools ROOT: banger's tools on a tmpfs at ROOT/.banger/tools (RAM, not the image), and
# ROOT/.banger/state on the VM's disk for what must outlive a boot (the SSH host key).
setup_tools() {
  mkdir -p "$1/.banger/tools" "$1/.banger/state" && chmod 700 "$1/.banger/state" || return 1
  # Mount points a bare root may lack (an image's existing directories are left alone).
  for _d in dev proc sys run tmp; do [ -d "$1/$_d" ] || [ -L "$1/$_d" ] || mkdir -p "$1/$_d"; done
  mount -t tmpfs -o mode=755 banger-tools "$1/.banger/tools" || return 1
  cp -a /banger/. "$1/.banger/tools/"
}

# find_netdev [MAC]: the interface with that MAC, else eth0, else the first non-loopback one. Waits ~5 s.
find_netdev() {
  _want=$(printf '%s' "$1" | tr 'A-F' 'a-f')
  _i=0
  while [ "$_i" -lt 250 ]; do
    for _n in $(ls /sys/class/net); do
      [ "$_n" = lo ] && continue
      if [ -n "$_want" ]; then
        [ "$(cat "/sys/class/net/$_n/address")" = "$_want" ] && { printf '%s' "$_n"; return 0; }
      elif [ "$_n" = eth0 ] || [ ! -e /sys/class/net/eth0 ]; then
        printf '%s' "$_n"; return 0
      fi
    done
    sleep 0.02
    _i=$((_i + 1))
  done
  return 1
}

# configure_network: banger.ip/gw/mac. Kernel ip= is not built into Debian's cloud kernel.
configure_network() {
  ip link set lo up
  _a=$(arg banger.ip)
  [ -n "$_a" ] || return 0
  valid_cidr "$_a" || { say "invalid banger.ip (expected A.B.C.D/NN)"; return 1; }
  _g=$(arg banger.gw)
  [ -z "$_g" ] || valid_ip "$_g" || { say "invalid banger.gw (expected A.B.C.D)"; return 1; }
  _mac=$(arg banger.mac)
  [ -z "$_mac" ] || valid_mac "$_mac" || { say "invalid banger.mac (expected xx:xx:xx:xx:xx:xx)"; return 1; }
  _dev=$(find_netdev "$_mac") || { say "no network interface appeared (is virtio-net attached?)"; return 1; }
  ip link set "$_dev" up && ip addr add "$_a" dev "$_dev" || { say "cannot set address $_a on $_dev"; return 1; }
  if [ -n "$_g" ]; then
    ip route add default via "$_g" dev "$_dev" || { say "cannot add default route via $_g"; return 1; }
  fi
  return 0
}
`;

const INIT_MAIN = sh`
fail() {
  say "$*"
  say "dropping to a shell (the VM will not finish booting)"
  exec sh
}

/bin/busybox --install -s /bin
export PATH=/bin
set -f
mount -t devtmpfs devtmpfs /dev
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
CMDLINE=$(cat /proc/cmdline)

load_modules /lib/modules

root=$(arg root); [ -n "$root" ] || root=/dev/vda
valid_path "$root" || fail "invalid root= (expected a /dev path)"
fstype=$(arg rootfstype); [ -n "$fstype" ] || fstype=ext4
valid_fstype "$fstype" || fail "invalid rootfstype="
init=$(arg init); [ -n "$init" ] || init=/sbin/init
valid_path "$init" || fail "invalid init= (expected an absolute path)"

wait_for_block "$root" 750 || fail "root device $root did not appear within 15 s (is the disk attached as virtio-blk?)"
mount -t "$fstype" -o rw "$root" /newroot || fail "cannot mount $root ($fstype) on /newroot"
if wants_banger_init /newroot "$init"; then
  say "no $init or sshd in the root filesystem: starting banger's own init and sshd"
  setup_tools /newroot || fail "cannot set up banger's guest tools in /.banger/tools"
  configure_root /newroot /newroot/.banger/tools/etc/ssh/authorized_keys || fail "cannot apply the VM settings to the root filesystem"
  init=/.banger/tools/libexec/init
else
  configure_root /newroot || fail "cannot apply the VM settings to the root filesystem"
fi
configure_network || fail "cannot configure the network"
[ -e "/newroot$init" ] || [ -L "/newroot$init" ] || fail "the root filesystem has no $init"

umount /proc /sys
mount --move /dev /newroot/dev || umount /dev
exec switch_root /newroot "$init"
fail "switch_root to $init failed"
`;

export const INIT_SCRIPT = `#!/bin/busybox sh\n# banger initramfs: load virtio modules, mount the root disk, apply per-VM settings, switch_root.\n${INIT_LIBRARY}${INIT_MAIN}`;

/** Identifies the initramfs builder in manifests: a kernel built with another init script is rebuilt on pull. */
export const INITRD_BUILDER = `banger/${createHash('sha256').update(INIT_SCRIPT).update(GUEST_TOOLS_FINGERPRINT).digest('hex').slice(0, 12)}`;
