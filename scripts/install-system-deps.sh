#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: Go toolchains (bookworm + bookworm-backports),
# binutils (objcopy for stripping fixtures), debuginfod, gcc for cgo fixtures (and the arm64 cross
# gcc + libc for externally linked arm64 PIEs), qemu-user-static
# (linux/arm64 fixture programs run as `qemu-aarch64-static ./prog`; no binfmt registration needed),
# and grpc-go's sources (golang-google-grpc-dev) for the service benchmark's load generator (and its test).
# Safe to run repeatedly; does nothing on machines that are not Debian or when not root.
set -euo pipefail
if [ ! -f /etc/debian_version ]; then
  echo "install-system-deps: not Debian; install Go toolchains yourself (see README)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-system-deps: not root and no sudo; skipping apt" >&2; exit 0; fi
fi
PKGS=(golang-1.19-go golang-1.21-go golang-1.22-go golang-1.23-go binutils gcc libc6-dev debuginfod elfutils gcc-aarch64-linux-gnu libc6-dev-arm64-cross gdb qemu-user-static golang-google-grpc-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "install-system-deps: all present"; exit 0; fi
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian ${codename}-backports main" | $SUDO tee /etc/apt/sources.list.d/gosymd-backports.list >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Backports packages must be requested from backports explicitly when not in the main suite.
$SUDO apt-get install -y -qq --no-install-recommends -t "${codename}-backports" "${missing[@]}" \
  || $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
