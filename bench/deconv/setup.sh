#!/bin/sh
# One-time setup for bench/deconv (idempotent; run as root on Debian 12, or it prints what it needs).
#   1. system packages: aarch64 cross g++, qemu-user, host gcc (tools/system-deps.sh)
#   2. qemu's plugin API header, taken from Debian's own qemu source package (deb-src entry +
#      `apt-get source`), so bench/deconv/qemu_count.c builds as a TCG plugin for the installed qemu
#   3. optional (--openblas): Debian's arm64 OpenBLAS for the aarch64 anchor, downloaded with
#      apt-get and unpacked under build/bench-deconv/arm64 (NOT installed: a multiarch libc6:arm64
#      next to the cross sysroot makes qemu-aarch64 -L load a mismatched ld.so/libc pair)
#   4. a venv at build/bench-venv with numpy + matplotlib for the table and the chart, and
#      simde-py: the SIMDe headers the x86 build of the NEON kernels needs (run.py configures
#      CMake with this venv's Python, which is where native/cmake/MegforgeSimde.cmake looks)
# Usage: sh bench/deconv/setup.sh [--openblas]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build/bench-deconv"
mkdir -p "$out"
export DEBIAN_FRONTEND=noninteractive

sh "$root/tools/system-deps.sh"
have() { command -v "$1" >/dev/null 2>&1; }
apt_ok() { [ "$(id -u)" = 0 ] && have apt-get; }

# --- 2. qemu-plugin.h from the qemu source package matching the installed qemu-user ------------
if [ ! -f "$out/qemu/qemu-plugin.h" ]; then
  apt_ok || { echo "setup: need root + apt-get to fetch qemu's source (qemu-plugin.h)" >&2; exit 1; }
  src_version=$(dpkg-query -W -f='${source:Version}' qemu-user)
  list=/etc/apt/sources.list.d/megforge-deb-src.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null; then
    cat > "$list" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt-get update -qq
  tmp=$(mktemp -d) && chmod 755 "$tmp"  # apt's _apt user downloads into it
  (cd "$tmp" && apt-get source --download-only -qq "qemu=$src_version" >/dev/null)
  mkdir -p "$out/qemu"
  tar -xf "$tmp"/qemu_*.orig.tar.* -C "$tmp" --wildcards '*/include/qemu/qemu-plugin.h'
  cp "$(find "$tmp" -name qemu-plugin.h | head -n1)" "$out/qemu/qemu-plugin.h"
  rm -rf "$tmp"
  echo "setup: qemu-plugin.h from qemu $src_version"
fi

# --- 3. optional: arm64 OpenBLAS, unpacked locally ------------------------------------------------
arm64="$out/arm64"
if [ "${1:-}" = "--openblas" ] && [ ! -e "$arm64/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so" ]; then
  apt_ok || { echo "setup: need root + apt-get to download the arm64 OpenBLAS packages" >&2; exit 1; }
  archs="-o APT::Architectures::=amd64 -o APT::Architectures::=arm64"
  # shellcheck disable=SC2086
  apt-get $archs update -qq
  tmp=$(mktemp -d) && chmod 755 "$tmp"
  # shellcheck disable=SC2086
  (cd "$tmp" && apt-get $archs download -qq libopenblas0-pthread:arm64 libopenblas-pthread-dev:arm64 \
     libopenblas-dev:arm64 libgfortran5:arm64)
  mkdir -p "$arm64"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$arm64"; done
  rm -rf "$tmp"
  echo "setup: arm64 OpenBLAS unpacked in $arm64"
fi

# --- 4. plotting venv ----------------------------------------------------------------------------
venv="$root/build/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import numpy, matplotlib, simde_py" 2>/dev/null ||
  "$venv/bin/pip" install -q --disable-pip-version-check "numpy<2" "matplotlib>=3.7,<3.10" \
    "$(grep '^simde-py' "$root/requirements/mge-op.txt")"
echo "setup: ok"
