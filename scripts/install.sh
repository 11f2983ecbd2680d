#!/usr/bin/env bash
# Installs what banger needs on a fresh Debian/Ubuntu machine (host packages, npm dependencies),
# builds it, puts `banger` on PATH, then boots a first VM: `banger vm run -- uname -a`.
#   --no-run    stop after installing and building (CI uses this)
set -euo pipefail
cd "$(dirname "$0")/.."

run_vm=1
for a in "$@"; do
  case "$a" in
    --no-run) run_vm=0 ;;
    *) echo "usage: $0 [--no-run]" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Host packages: QEMU, image/kernel tooling, networking, and what better-sqlite3 needs to build.
# uidmap + fakeroot: rootless image builds/imports; debian-archive-keyring + gpgv: banger's own apt
# verifies Debian's signatures (also on Ubuntu); systemd: systemctl/systemd-analyze for `system install`;
# passt: user-mode networking that keeps guests off the host's 127.0.0.1 (ebtables for per-tap anti-spoofing
# comes with iptables as ebtables-nft); strace: the identity test watches the guest-side syncfs order on the host's own script.
PKGS=(qemu-system-x86 qemu-utils mmdebstrap busybox-static e2fsprogs lz4 zstd cpio iproute2 iptables
      uidmap fakeroot debian-archive-keyring gpgv systemd passt strace
      openssh-client openssh-server git ca-certificates python3 make g++ dnsutils
      skopeo buildah docker-registry apache2-utils chromium \
      zsh fish)  # zsh and fish: the completion tests run the generated scripts in them; docker-registry and apache2-utils: the OCI tests; chromium: the web UI tests (Playwright)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing host packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rootless use (a non-root user): image builds run mmdebstrap in a user namespace, which needs a
# subordinate uid/gid range; /dev/kvm needs the kvm group. Both are granted once, with sudo, and said.
if [ "$(id -u)" -ne 0 ]; then
  me="$(id -un)"
  # The next free 65536-wide range after every range already handed out (at least 100000).
  start=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}')
  for kind in uid gid; do
    file="/etc/sub$kind"
    if ! grep -q "^$me:" "$file" 2>/dev/null; then
      echo "==> granting $me subordinate ${kind}s $start-$((start + 65535)) in $file (rootless image builds)"
      $SUDO usermod "--add-sub${kind}s" "$start-$((start + 65535))" "$me"
    fi
  done
  if [ -c /dev/kvm ] && ! id -nG "$me" | tr ' ' '\n' | grep -qx kvm && getent group kvm >/dev/null; then
    echo "==> adding $me to the kvm group (takes effect at your next login; until then VMs run under software emulation)"
    $SUDO usermod -aG kvm "$me"
  fi
fi

# undici (the host's HTTPS client) needs 20.18.1.
if ! command -v node >/dev/null || ! node -e 'const [a,b,c]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&(b>18||(b===18&&c>=1)))?0:1)'; then
  echo "banger needs Node.js 20.18.1 or newer on PATH (node --version)" >&2
  exit 1
fi

echo "==> npm dependencies"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
echo "==> build"
node scripts/build.mjs

bindir=/usr/local/bin
[ -w "$bindir" ] || bindir="$HOME/.local/bin"
mkdir -p "$bindir"
ln -sf "$PWD/bin/banger" "$bindir/banger"
ln -sf "$PWD/bin/bangerd" "$bindir/bangerd"
echo "==> banger is at $bindir/banger"

if [ "$run_vm" -eq 1 ]; then
  echo "==> first run: builds the default kernel and image (first run only), boots a VM, runs uname -a"
  "$bindir/banger" vm run -- uname -a
fi
