#!/bin/sh
# Prints the path of a tc built WITHOUT libbpf, building it first if needed
# (an ip from the same build lies beside it).
#
# tc-cls-redirect.8, LEGACY TC: the legacy map flavour (obj/cls_redirect_legacy.o, an
# ELF "maps" section of struct bpf_elf_map) is only understood by tc's own
# ELF loader, which iproute2 compiles in when it is built without libbpf.
# Debian's tc links libbpf 1.x, which refuses that section, so we build the
# same iproute2 version from Debian's source package with LIBBPF_FORCE=off.
#
# The host's apt sources have no deb-src entries and are left untouched: a
# private apt configuration (its own source list, index and cache
# directories) is derived from /etc/apt/sources.list.d/debian.sources.
#
# Cache: ${CLS_REDIRECT_CACHE:-/var/cache/cls-redirect}/iproute2-legacy/
#   tc          the binary (linked against libelf, libmnl: Debian packages)
#   ip          ip from the same build, whose `ip link set ... xdp obj` has
#               the same legacy loader (the XDP flavour's legacy object)
#   version     the iproute2 Debian version it was built from
# A cached tc is reused while `version` matches the installed iproute2.
#
# Progress goes to stderr, the path of tc to stdout.  Exit 0 on success, 1 if
# the build is impossible (missing packages, no network), with the reason.
set -eu

cache=${CLS_REDIRECT_CACHE:-/var/cache/cls-redirect}/iproute2-legacy
tc=$cache/tc

say() { echo "legacy-tc: $*" >&2; }
die() { say "$*"; exit 1; }

ver=$(dpkg-query -W -f '${Version}' iproute2 2>/dev/null) ||
	die "iproute2 is not installed (apt-get install iproute2)"

# A usable cached build: same iproute2 version, and its -V names no libbpf.
cached_ok() {
	[ -x "$tc" ] && [ -x "$cache/ip" ] && [ -f "$cache/version" ] &&
		[ "$(cat "$cache/version")" = "$ver" ] &&
		v=$("$tc" -V 2>/dev/null) && ! printf '%s\n' "$v" | grep -qi libbpf
}

if cached_ok; then
	echo "$tc"
	exit 0
fi

mkdir -p "$cache"
# Serialise concurrent callers (parallel tests, two make check runs): the
# second one waits and then finds the first one's binary.
exec 9>"$cache/.lock"
flock 9
if cached_ok; then
	echo "$tc"
	exit 0
fi

for p in bison flex libelf-dev libmnl-dev pkg-config dpkg-dev gcc make; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		die "package $p is missing: run 'make deps' (selftests/lib/deps.sh) as root"
done

work=$cache/work
rm -rf "$work"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
trap 'rm -rf "$work"' EXIT

# deb-src lines for the mirror and suites the host installs from, one per
# deb822 stanza of debian.sources (a one-line-style .list file is what
# Dir::Etc::SourceList reads).
sources=/etc/apt/sources.list.d/debian.sources
[ -r "$sources" ] || die "$sources not found: cannot tell which Debian mirror to fetch the iproute2 source from"
awk '
	function flush() {
		if (uris != "" && suites != "")
			for (i = 1; i <= nu; i++)
				for (j = 1; j <= ns; j++)
					printf "deb-src %s %s %s %s\n", opt, u[i], s[j], comps
		uris = suites = opt = ""; comps = "main"
	}
	BEGIN { comps = "main" }
	/^[[:space:]]*$/ { flush(); next }
	/^#/ { next }
	$1 == "URIs:" { uris = $0; sub(/^URIs:[[:space:]]*/, "", uris); nu = split(uris, u, /[[:space:]]+/) }
	$1 == "Suites:" { suites = $0; sub(/^Suites:[[:space:]]*/, "", suites); ns = split(suites, s, /[[:space:]]+/) }
	$1 == "Components:" { comps = $0; sub(/^Components:[[:space:]]*/, "", comps) }
	# A keyring path; an inline key block cannot go on a one-line entry.
	$1 == "Signed-By:" && $2 ~ /^\// { opt = "[signed-by=" $2 "]" }
	END { flush() }
' "$sources" >"$work/apt/sources.list"
[ -s "$work/apt/sources.list" ] || die "no usable stanza in $sources"

# APT::Sandbox::User=root: the private directories belong to root, and apt
# would otherwise warn that its _apt download user cannot write them.
set -- -o Dir::Etc::SourceList="$work/apt/sources.list" \
	-o Dir::Etc::SourceParts=/dev/null \
	-o Dir::State::Lists="$work/apt/lists" \
	-o Dir::Cache="$work/apt/cache" \
	-o APT::Sandbox::User=root

start=$(date +%s)
say "building a tc without libbpf from Debian's iproute2 $ver source into $cache (once; seconds on a fast mirror)"
say "fetching source indexes ($(awk '{print $3, $4}' "$work/apt/sources.list" | tr '\n' ' '))"
apt-get "$@" -qq update >&2 || die "apt-get update of the private deb-src list failed (network? mirror in $sources?)"
say "fetching iproute2=$ver source"
(cd "$work/src" && apt-get "$@" -qq source "iproute2=$ver" >&2) ||
	die "apt-get source iproute2=$ver failed: is that version still on the mirror?"
srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'iproute2-*' | head -n 1)
[ -n "$srcdir" ] && [ -f "$srcdir/configure" ] || die "no unpacked iproute2 source under $work/src"

say "configuring with LIBBPF_FORCE=off"
(cd "$srcdir" && LIBBPF_FORCE=off ./configure >"$work/configure.log" 2>&1) || {
	cat "$work/configure.log" >&2
	die "./configure failed"
}
# The legacy ELF loader is compiled in only with libelf (HAVE_ELF).
grep -q '^HAVE_ELF:=y' "$srcdir/config.mk" ||
	die "configure found no libelf (HAVE_ELF missing in config.mk): install libelf-dev"
if grep -q '^HAVE_LIBBPF:=y' "$srcdir/config.mk"; then
	die "configure enabled libbpf despite LIBBPF_FORCE=off"
fi

jobs=$(nproc 2>/dev/null || echo 1)
say "building lib/, tc/ and ip/ (make -j$jobs)"
# Through the top-level Makefile: it exports the include paths and flags.
(cd "$srcdir" && make -j"$jobs" SUBDIRS="lib tc ip" >"$work/make.log" 2>&1) || {
	tail -n 40 "$work/make.log" >&2
	die "building iproute2's tc failed (full log above)"
}

v=$("$srcdir/tc/tc" -V) || die "the freshly built tc does not run"
if printf '%s\n' "$v" | grep -qi libbpf; then
	die "the built tc links libbpf ($v); the legacy loader is not in it"
fi
install -m 0755 "$srcdir/tc/tc" "$tc.new"
install -m 0755 "$srcdir/ip/ip" "$cache/ip.new"
mv -f "$tc.new" "$tc"
mv -f "$cache/ip.new" "$cache/ip"
echo "$ver" >"$cache/version"
say "built $tc ($v) in $(($(date +%s) - start)) s"
echo "$tc"
