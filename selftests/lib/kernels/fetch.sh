#!/bin/sh
# Prints the cache directory of a Debian cloud kernel, fetching it first if
# it is not there yet.
#
#   sh selftests/lib/kernels/fetch.sh SERIES      (5.10, 6.1 or 6.12)
#
# tc-cls-redirect.8, KERNELS: Debian's linux-image-*-cloud-amd64 packages, fetched with
# `apt-get download` and unpacked, never installed.  The host's apt sources
# and state are left untouched: a private apt configuration (its own source
# list, index, cache and an empty dpkg status) lives in the cache:
#
#   bullseye, bullseye-security                  5.10
#   bookworm, bookworm-security                  6.1 (and 6.12 from 2025 on)
#   bookworm-backports                           6.12
#
# all signed with keys of /usr/share/keyrings/debian-archive-keyring.gpg
# (bookworm's keyring still holds the bullseye keys).  The newest package of
# the series is taken: the highest version of the meta packages
# linux-image-cloud-amd64 / linux-image-SERIES-cloud-amd64 whose upstream
# version is SERIES.*, and the image package it depends on.
#
# Cache: ${CLS_REDIRECT_CACHE:-/var/cache/cls-redirect}/kernels/SERIES/
#   vmlinuz        the kernel
#   release        its uname -r (e.g. 5.10.0-46-cloud-amd64)
#   package        "name version" of the .deb it came from
#   modules/*.ko   cls_bpf, sch_ingress, veth and what they depend on,
#                  decompressed (busybox insmod reads plain .ko only)
#   modules/order  their names, dependencies first: the insmod order
# A complete entry is reused without touching the network; delete the
# directory to fetch the newest package again.
#
# Progress goes to stderr, the directory to stdout.  Exit 0 on success, 1
# with the reason on stderr (no network, package gone, unknown series).
set -eu

series=${1:?usage: fetch.sh SERIES (5.10, 6.1, 6.12)}
case $series in
5.10 | 6.1 | 6.12) ;;
*) echo "kernels: unknown series '$series' (5.10, 6.1 or 6.12)" >&2; exit 1 ;;
esac
# Modules the tests need: cls_bpf (tc filter ... bpf), sch_ingress (the
# ingress and clsact qdiscs), veth.
want="cls_bpf sch_ingress veth"

top=${CLS_REDIRECT_CACHE:-/var/cache/cls-redirect}/kernels
dir=$top/$series

say() { echo "kernels: $*" >&2; }
die() { say "$*"; exit 1; }

entry_ok() { [ -s "$dir/vmlinuz" ] && [ -s "$dir/release" ] && [ -s "$dir/modules/order" ]; }

if entry_ok; then
	echo "$dir"
	exit 0
fi

mkdir -p "$top"
# Serialise concurrent callers: the second one waits and finds the entry.
exec 9>"$top/.lock"
flock 9
if entry_ok; then
	echo "$dir"
	exit 0
fi

for c in apt-get apt-cache dpkg-deb objcopy; do
	command -v "$c" >/dev/null || die "$c not found: run 'make deps' (selftests/lib/deps.sh) as root"
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "$keyring missing: apt-get install debian-archive-keyring"

# The mirror the host installs from, so a site with a local mirror keeps it.
mirror=$(awk '$1 == "URIs:" && $2 !~ /security/ { print $2; exit }' \
	/etc/apt/sources.list.d/debian.sources 2>/dev/null || :)
mirror=${mirror:-http://deb.debian.org/debian}
security=${mirror%/debian}/debian-security

apt=$top/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
cat >"$apt/sources.list" <<SOURCES
deb [signed-by=$keyring] $mirror bullseye main
deb [signed-by=$keyring] $security bullseye-security main
deb [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $security bookworm-security main
deb [signed-by=$keyring] $mirror bookworm-backports main
SOURCES
: >"$apt/status"
# APT::Sandbox::User=root: the private directories belong to root.
set -- -o Dir::Etc::SourceList="$apt/sources.list" \
	-o Dir::Etc::SourceParts=/dev/null \
	-o Dir::State::Lists="$apt/lists" \
	-o Dir::State::status="$apt/status" \
	-o Dir::Cache="$apt/cache" \
	-o APT::Sandbox::User=root

# The indexes are refreshed at most once an hour (several series in a row).
stamp=$apt/updated
if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
	say "updating the private package index (bullseye, bookworm, bookworm-backports)"
	apt-get "$@" -qq update >&2 || die "apt-get update of the private kernel sources failed (network? mirror $mirror?)"
	touch "$stamp"
fi

# The newest image package of the series, through the meta packages.
best='' bestver=''
for meta in linux-image-cloud-amd64 "linux-image-$series-cloud-amd64"; do
	apt-cache "$@" show "$meta" 2>/dev/null | awk '
		/^Version:/ { v = $2 }
		/^Depends:/ { for (i = 2; i <= NF; i++) if ($i ~ /^linux-image-.*-cloud-amd64$/) { print v, $i; break } }'
done >"$apt/candidates"
while read -r ver pkg; do
	case $ver in "$series".*) ;; *) continue ;; esac
	if [ -z "$bestver" ] || dpkg --compare-versions "$ver" gt "$bestver"; then
		best=$pkg bestver=$ver
	fi
done <"$apt/candidates"
[ -n "$best" ] || die "no linux-image-*-cloud-amd64 package of Linux $series in bullseye/bookworm/bookworm-backports"

work=$top/work-$series
rm -rf "$work"
mkdir -p "$work/root"
trap 'rm -rf "$work"' EXIT
say "downloading $best $bestver"
(cd "$work" && apt-get "$@" -qq download "$best=$bestver" >&2) || die "apt-get download $best=$bestver failed"
deb=$(ls "$work"/*.deb)
dpkg-deb -x "$deb" "$work/root" || die "cannot unpack $deb"

release=$(ls "$work/root/lib/modules" | head -n 1)
[ -n "$release" ] || die "$best has no /lib/modules"
moddir=$work/root/lib/modules/$release
vmlinuz=$work/root/boot/vmlinuz-$release
[ -f "$vmlinuz" ] || die "$best has no /boot/vmlinuz-$release"

# name -> file of every module (names use '_' where files may use '-').
find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' |
	awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n); gsub(/-/, "_", n); print n, $0 }' \
	>"$work/index"

new=$work/entry
mkdir -p "$new/modules"
: >"$new/modules/order"
# add NAME: decompresses the module after its dependencies (the "depends="
# of its .modinfo section, what depmod writes into modules.dep).
add() {
	grep -qx "$1" "$new/modules/order" && return 0
	f=$(awk -v n="$1" '$1 == n { print $2; exit }' "$work/index")
	if [ -z "$f" ]; then
		# Built into the kernel: nothing to load.
		grep -qx "$1" "$moddir/modules.builtin" 2>/dev/null ||
			awk -F/ '{ n = $NF; sub(/\.ko$/, "", n); gsub(/-/, "_", n); print n }' \
				"$moddir/modules.builtin" | grep -qx "$1" ||
			die "module $1 is neither in $best nor built in"
		return 0
	fi
	ko=$new/modules/$1.ko
	case $f in
	*.xz) xz -dc "$f" >"$ko" ;;
	*.zst) zstd -qdc "$f" >"$ko" ;;
	*.gz) gzip -dc "$f" >"$ko" ;;
	*) cp "$f" "$ko" ;;
	esac || die "cannot decompress $f (xz-utils, zstd installed?)"
	deps=$(objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout | tr '\0' '\n' |
		sed -n 's/^depends=//p' | tr ',' ' ')
	for d in $deps; do
		add "$(echo "$d" | tr - _)"
	done
	echo "$1" >>"$new/modules/order"
}
for m in $want; do
	add "$m"
done
cp "$vmlinuz" "$new/vmlinuz"
echo "$release" >"$new/release"
echo "$best $bestver" >"$new/package"
rm -rf "$dir"
mv "$new" "$dir"
say "cached Linux $release ($best $bestver) in $dir: $(du -sh "$dir" | cut -f1)"
echo "$dir"
