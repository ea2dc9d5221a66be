#!/bin/sh
# test_build: the Makefile as a packager uses it (README, Build).  In a
# copy of the tree, the tools built with Debian's hardening flags
# (dpkg-buildflags, hardening=+all) honour CPPFLAGS, CFLAGS and LDFLAGS:
# BIND_NOW, RELRO, PIE, the stack protector and fortified calls; the same
# build without those LDFLAGS has no BIND_NOW (so the check can tell).
# In this tree, with make -n: every compiler command uses the one set of
# warning flags of flags.mk, -Werror only with WERROR=1, and libbpf as
# pkg-config gives it.
set -u
. "$(dirname "$0")/lib/common.sh"
cd "$REPO" || exit 2
require_present build flags.mk -- dpkg-buildflags readelf pkg-config

WARN="-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers"
tmpdir T

# mk ARGS...: make with none of the variables of an outer make (make check
# sets WERROR=1), nor the user's flags.
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u WERROR \
		-u CFLAGS -u CPPFLAGS -u LDFLAGS make --no-print-directory "$@"
}

# ---- the tools with Debian's hardening flags, in a copy of the tree ----
mkdir "$T/src"
if ! copy_source "$T/src"; then
	fail "copy of the tree" "cannot copy $REPO to $T/src"
	exit 1
fi
TOOLS="tools/cls-redirect-config tools/cls-redirect-stat"
flags=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh) || {
	fail "dpkg-buildflags" "dpkg-buildflags --export=sh failed"; exit 1; }
if ! (eval "$flags" && mk -C "$T/src" $TOOLS CPPFLAGS="$CPPFLAGS" CFLAGS="$CFLAGS" \
	LDFLAGS="$LDFLAGS") >"$T/build.log" 2>&1; then
	fail "tools build with dpkg-buildflags" "$(tail -5 "$T/build.log" | tr '\n' ' ')"
	exit 1
fi
eval "$flags"
missing=
for f in $CPPFLAGS $CFLAGS $LDFLAGS; do
	grep -q -- " $f " "$T/build.log" || missing="$missing $f"
done
expect_eq "dpkg-buildflags reach the compiler (CPPFLAGS, CFLAGS, LDFLAGS)" "" "$missing" \
	"flags missing from the command lines"

for t in $TOOLS; do
	check "${t#tools/} with dpkg-buildflags: BIND_NOW, RELRO, PIE, stack protector, fortify" hardened "$T/src/$t"
done

# The same build without the LDFLAGS: no BIND_NOW, so the check above can
# fail (Debian's gcc gives PIE and the rest by default, -z now it does not).
rm -f "$T/src/tools/cls-redirect-stat"
if (mk -C "$T/src" tools/cls-redirect-stat CPPFLAGS="$CPPFLAGS" CFLAGS="$CFLAGS" LDFLAGS=) \
	>"$T/build2.log" 2>&1 && ! readelf -d "$T/src/tools/cls-redirect-stat" | grep -q 'BIND_NOW\|FLAGS_1.*NOW'; then
	pass "without LDFLAGS=-Wl,-z,now the tools have no BIND_NOW"
else
	fail "without LDFLAGS=-Wl,-z,now the tools have no BIND_NOW" "$(tr '\n' ' ' <"$T/build2.log")"
fi

# ---- every build's flags, from make -n -B in this tree ----
# commands MAKE_ARGS...: the compiler commands make would run.
commands() { mk -n -B "$@" 2>&1 | grep -E "^(cc|gcc|clang) "; }
mk_all="all tests kernels-guest"
commands $mk_all >"$T/default"
commands -f selftests/fuzz.mk fuzz-tools FUZZ_TOOLS_DIR="$T/fuzz" >>"$T/default"
commands $mk_all WERROR=1 >"$T/werror"
commands -f selftests/fuzz.mk fuzz-tools FUZZ_TOOLS_DIR="$T/fuzz" WERROR=1 >>"$T/werror"

n=$(wc -l <"$T/default")
if [ "$n" -lt 10 ]; then
	fail "make -n lists the compiler commands" "only $n: $(tr '\n' ' ' <"$T/default")"
else
	pass "make -n lists $n compiler commands"
fi
odd=$(grep -v -- " $WARN " "$T/default" | head -3)
expect_eq "every build uses the warning flags of flags.mk" "" "$odd" "commands without '$WARN'"
expect_eq "no -Werror by default" "" "$(grep -- '-Werror\( \|$\)' "$T/default" | head -3)" "commands with -Werror"
expect_eq "WERROR=1: -Werror in every build" "" "$(grep -v -- " $WARN -Werror " "$T/werror" | head -3)" \
	"commands without -Werror"
check "make check builds with WERROR=1" grep -q '^check: export WERROR = 1$' Makefile

libs=$(pkg-config --libs libbpf)
expect_eq "tools link libbpf as pkg-config --libs libbpf gives it" "" \
	"$(grep -- '-o tools/' "$T/default" | grep -v -- " $libs *$" | head -2)" "link commands without '$libs'"
out=$(mk -n -B tools/cls-redirect-stat CPPFLAGS=-DCLS_MARK_CPP CFLAGS=-DCLS_MARK_C LDFLAGS=-Wl,-z,now 2>&1)
case $out in
*-DCLS_MARK_CPP*-DCLS_MARK_C*-Wl,-z,now*) pass "make CPPFLAGS= CFLAGS= LDFLAGS= reach the tools' command line" ;;
*) fail "make CPPFLAGS= CFLAGS= LDFLAGS= reach the tools' command line" "$out" ;;
esac
test_done
