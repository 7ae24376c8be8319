#!/bin/sh
# System packages megforge's native builds and tests need. Idempotent: installs only what is
# missing. As root on Debian/Ubuntu it runs apt-get; otherwise it prints the command and fails.
#   cross gcc + qemu-user : linux-aarch64 builds, ctest under qemu
#   llvm                  : llvm-otool / llvm-install-name-tool for delocate's stand-ins (macos-arm64 on Linux)
#   valgrind              : instruction counts in bench/
set -eu
have() { command -v "$1" >/dev/null 2>&1; }
have_any() { for t in "$@"; do have "$t" && return 0; done; return 1; }

case "$(uname -s)" in
  Darwin)
    have clang++ || { echo "megforge needs the Xcode command line tools: xcode-select --install" >&2; exit 1; }
    exit 0 ;;
esac

need=""
have g++ || need="$need g++"
have aarch64-linux-gnu-g++ || need="$need g++-aarch64-linux-gnu"
have qemu-aarch64 || need="$need qemu-user"
have_any llvm-otool llvm-otool-14 llvm-otool-15 llvm-otool-16 || need="$need llvm"
have_any llvm-install-name-tool llvm-install-name-tool-14 llvm-install-name-tool-15 llvm-install-name-tool-16 || need="$need llvm"
have valgrind || need="$need valgrind"
have git || need="$need git"

[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && have apt-get; then
  echo "system-deps: apt-get install$need"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $need >/dev/null
else
  echo "megforge needs system packages:$need" >&2
  echo "install them with: sudo apt-get install$need" >&2
  exit 1
fi
