#!/bin/sh
# test_deb: `make deb` as a packager runs it (README, The Debian package).
# In a copy of the tree: make deb builds cls-redirect_VERSION_ARCH.deb with
# dpkg-buildpackage from debian/, writes nothing next to the tree, and make
# clean removes what it left.  The package: its control fields, lintian
# (no error; warnings listed), exactly the files `make install PREFIX=/usr`
# installs (plus the three Debian adds: copyright, changelog, lintian
# overrides), hardened tools.  Unpacked into a throwaway root (dpkg -x):
# the tools print their version; the installed cls-redirect-deploy attaches
# the installed object with the real tc in a network namespace (private
# bpffs), packets are counted, and cls-redirect-undeploy removes it.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"
cd "$REPO" || exit 2
require_present test_deb debian/control debian/rules selftests/bin/sendraw -- dpkg-buildpackage dh dpkg-deb lintian readelf

VERSION=$(sed -n 's/^VERSION := //p' Makefile)
ARCH=$(dpkg --print-architecture)
TRIPLET=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
DEB=cls-redirect_${VERSION}_$ARCH.deb
tmpdir T

# mk ARGS...: make with none of the variables of an outer make: a packager's
# build (make check's WERROR=1 stays out of it).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u WERROR make --no-print-directory "$@"; }

# ---- make deb, in a copy of the tree ----
mkdir "$T/tree" "$T/tree/src"
copy_source "$T/tree/src" || { fail "copy of the tree" "cannot copy $REPO"; exit 1; }
if ! mk -C "$T/tree/src" deb >"$T/deb.log" 2>&1; then
	fail "make deb" "$(tail -15 "$T/deb.log" | tr '\n' ' ')"
	exit 1
fi
check "make deb: $DEB in the top of the tree" test -f "$T/tree/src/$DEB"
expect_eq "make deb: nothing written next to the tree" "src" "$(ls "$T/tree")"
cp "$T/tree/src/$DEB" "$T/$DEB" || exit 1
mk -C "$T/tree/src" clean >/dev/null 2>&1
left=$(cd "$T/tree/src" && ls -d build ./*.deb .build-flags 2>/dev/null)
expect_eq "make clean removes the .deb and the build leftovers" "" "$left"
DEB=$T/$DEB

# ---- the package ----
field() { dpkg-deb -f "$DEB" "$1"; }
expect_eq "package name" cls-redirect "$(field Package)"
expect_eq "package version is the Makefile's" "$VERSION" "$(field Version)"
expect_eq "package architecture" "$ARCH" "$(field Architecture)"
deps=$(field Depends)
case $deps in
*libbpf1*iproute2* | *iproute2*libbpf1*) pass "Depends: libbpf1, iproute2 ($deps)" ;;
*) fail "Depends: libbpf1, iproute2" "Depends: $deps" ;;
esac

lintian --fail-on error --no-tag-display-limit "$DEB" >"$T/lintian" 2>&1
rc=$?
grep -v '^running with root privileges' "$T/lintian" >"$T/lintian.tags"
if [ "$rc" = 0 ] && ! grep -q '^E:' "$T/lintian.tags"; then
	pass "lintian: no error ($(grep -c '^W:' "$T/lintian.tags") warnings$(sed -n 's/^W: [^:]*: /; /p' "$T/lintian.tags" | tr '\n' ' '))"
else
	fail "lintian: no error" "exit $rc: $(tr '\n' ' ' <"$T/lintian.tags")"
fi

# No unit is enabled or started by installing the package (debian/rules:
# dh_installsystemd --no-enable --no-start).  debhelper's snippets start a
# unit with deb-systemd-invoke, and enable it on a new installation in the
# branch its comment "new installations run enable" names; with --no-enable
# it only re-creates the links of a unit the admin enabled.
mkdir "$T/control"
dpkg-deb -e "$DEB" "$T/control"
starts=$(cat "$T/control/postinst" 2>/dev/null | grep -E 'deb-systemd-invoke|new installations run enable')
expect_eq "installing the package enables and starts no unit" "" "$starts" "postinst lines"

# The package's files, "TYPE PATH" (man pages without the .gz dh_compress
# adds), against make install PREFIX=/usr of this tree.
dpkg-deb --fsys-tarfile "$DEB" | tar -tvf - | awk '$1 !~ /^d/ { print substr($1, 1, 1), $6 }' |
	sed 's| \./| |; s|^-|f|; s|\(/man/man[0-9]/[^ ]*\)\.gz$|\1|' | LC_ALL=C sort -k2 >"$T/deb.files"
mkdir "$T/inst"
if ! make --no-print-directory install PREFIX=/usr DESTDIR="$T/inst" >"$T/install.log" 2>&1; then
	fail "make install PREFIX=/usr" "$(tail -5 "$T/install.log" | tr '\n' ' ')"
else
	(cd "$T/inst" && find . -mindepth 1 \( -type f -o -type l \) -printf '%y %P\n') | LC_ALL=C sort -k2 >"$T/inst.files"
	# What dpkg-buildpackage adds on its own: nothing else may differ.
	grep -v -x -e 'f usr/share/doc/cls-redirect/copyright' -e 'f usr/share/doc/cls-redirect/changelog.gz' \
		-e 'f usr/share/lintian/overrides/cls-redirect' "$T/deb.files" >"$T/deb.own"
	if cmp -s "$T/deb.own" "$T/inst.files"; then
		pass "the package installs what make install PREFIX=/usr does ($(wc -l <"$T/inst.files") files, plus copyright, changelog, lintian overrides)"
	else
		fail "the package installs what make install PREFIX=/usr does" \
			"(< package, > make install) $(diff "$T/deb.own" "$T/inst.files" | grep '^[<>]' | tr '\n' ' ')"
	fi
fi
missing=
for f in usr/lib/$TRIPLET/bpf/cls_redirect.o usr/lib/$TRIPLET/bpf/cls_redirect_btf.o \
	usr/lib/$TRIPLET/bpf/cls_redirect_legacy.o usr/sbin/cls-redirect-config usr/sbin/cls-redirect-stat \
	usr/sbin/cls-redirect-deploy usr/sbin/cls-redirect-undeploy lib/systemd/system/cls-redirect@.service \
	usr/share/man/man8/tc-cls-redirect.8 usr/share/man/man8/cls-redirect-config.8 \
	usr/share/man/man8/cls-redirect-stat.8 usr/share/man/man8/cls-redirect-deploy.8 \
	usr/share/man/man8/cls-redirect-undeploy.8 usr/share/doc/cls-redirect/copyright \
	usr/share/doc/cls-redirect/examples/cls-redirect.default \
	usr/share/bash-completion/completions/cls-redirect-config \
	usr/share/bash-completion/completions/cls-redirect-stat; do
	grep -q " $f\$" "$T/deb.files" || missing="$missing $f"
done
expect_eq "the package holds the objects in /usr/lib/$TRIPLET/bpf, tools, scripts, unit, man pages, completion" "" "$missing" \
	"missing"

# ---- unpacked into a throwaway root ----
R=$T/root
dpkg -x "$DEB" "$R" || { fail "dpkg -x" "cannot unpack $DEB"; exit 1; }
for t in cls-redirect-config cls-redirect-stat; do
	v=$("$R/usr/sbin/$t" --version 2>&1)
	case $v in
	"$t $VERSION "*) pass "installed $t --version: $v" ;;
	*) fail "installed $t --version" "'$v', not '$t $VERSION ...'" ;;
	esac
	check "installed $t: BIND_NOW, RELRO, PIE, stack protector, fortify" hardened "$R/usr/sbin/$t"
done
for f in cls_redirect cls_redirect_btf cls_redirect_legacy; do
	readelf -h "$R/usr/lib/$TRIPLET/bpf/$f.o" 2>/dev/null | grep -q 'Machine:.*BPF' || missing="$missing $f.o"
done
expect_eq "installed objects are BPF ELF objects" "" "$missing" "not BPF"

# The installed deploy script, tools and object, with the real tc.
DEV=srv0 SRV=192.0.2.1 CLI=192.0.2.2
srv_cli_pair "$DEV" "$SRV" "$CLI"
if in_ns srv "$R/usr/sbin/cls-redirect-deploy" --source "$CLI" "$DEV" "$SRV" 19523 >"$T/deploy.out" 2>&1; then
	pass "installed cls-redirect-deploy attaches the installed object"
else
	fail "installed cls-redirect-deploy attaches the installed object" "$(tr '\n' ' ' <"$T/deploy.out")"
fi
expect_eq "the deploy script found the object in /usr/lib/$TRIPLET/bpf of the root" \
	"$R/usr/lib/$TRIPLET/bpf/cls_redirect.o" \
	"$(sed -n "s/.* (\(\/[^)]*\.o\)) at ingress .*/\1/p" "$T/deploy.out" | head -1)" "object named in the output"
check "tc shows cls_redirect at ingress pref 1000" sh -c \
	"ip netns exec '$(ns srv)' tc filter show dev $DEV ingress | grep -q 'pref 1000 bpf .*cls_redirect.*direct-action'"
# Three frames that are not IPv4 (EtherType 0x88b5, local experimental):
# the classifier counts and passes them.
in_ns cli "$REPO/selftests/bin/sendraw" cli0 "${SRV_MAC}${CLI_MAC}88b5$(printf "%092d" 0)" 3 >"$T/send.out" 2>&1 ||
	fail "sendraw" "$(tr "\n" " " <"$T/send.out")"
got=$(in_ns srv "$R/usr/sbin/cls-redirect-stat" -j 2>&1)
n=$(printf '%s' "$got" | sed -n 's/.*"passed_packets_total":\([0-9]*\).*/\1/p')
p=$(printf "%s" "$got" | sed -n "s/.*\"processed_packets_total\":\([0-9]*\).*/\1/p")
if [ "$n" = 3 ] && [ "$p" = 3 ]; then
	pass "the installed object counts the 3 frames through the installed cls-redirect-stat (processed 3, passed 3)"
else
	fail "the installed object counts packets through the installed cls-redirect-stat" "$got"
fi
check "installed bash completion (as bash-completion loads it, by command name) registers both tools" bash -c \
	". '$R/usr/share/bash-completion/completions/cls-redirect-stat' && complete -p cls-redirect-config && complete -p cls-redirect-stat"
check "installed cls-redirect-undeploy removes it" in_ns srv "$R/usr/sbin/cls-redirect-undeploy" "$DEV"
expect_eq "no filter left" "" "$(in_ns srv tc filter show dev "$DEV" ingress 2>/dev/null)"
test_done
