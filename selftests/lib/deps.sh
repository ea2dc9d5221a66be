#!/bin/sh
# Installs the Debian packages the build, the tests and the demo need, and
# only those missing.  Used by `make deps`, `make check` and `make demo`.
set -eu
pkgs="clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 gcc make
      gcc-multilib jq prometheus prometheus-node-exporter curl systemd passwd mandoc groff-base bison flex pkg-config
      libmnl-dev dpkg-dev debhelper lintian ethtool libclang-rt-14-dev xdp-tools
      qemu-system-x86 busybox-static cpio xz-utils zstd"
missing=
for p in $pkgs; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run as root (sudo make deps) to install them" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
