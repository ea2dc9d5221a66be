#!/bin/sh
# test_install: `make install` and `make uninstall` into temporary DESTDIRs,
# with the default PREFIX (/usr/local) and with PREFIX=/usr.  Asserts the
# exact tree (every file, its mode), that installed files are the built ones,
# that the unit names the installed scripts and passes systemd-analyze
# verify, that the installed cls-redirect-deploy finds the installed
# objects, and that uninstall leaves no file behind.  Nothing outside the
# DESTDIRs is touched.
#
# MAKEFILE=path runs another makefile from the top of the tree (to try
# install recipes before they are pasted into the Makefile).
set -u
. "$(dirname "$0")/lib/common.sh"

MAKEFILE=${MAKEFILE:-Makefile}
tmpdir T
cd "$REPO" || exit 2

if [ ! -f tc-cls-redirect.8 ]; then
	fail install "tc-cls-redirect.8 is not in the tree: make install installs the man page"
	exit 1
fi

# mk ARGS...: make from the top of the tree, with none of the variables of
# an outer make (make check PREFIX=... must not leak into these installs).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make -f "$MAKEFILE" --no-print-directory "$@"; }

# tree DIR: "MODE TYPE PATH" for everything under DIR, sorted.
tree() { (cd "$1" && find . -mindepth 1 \( -type f -o -type l \) -printf '%m %y %P\n' | LC_ALL=C sort -k3); }

# expected PREFIX UNITDIR BPF_SUBDIR: the files make install must create,
# nothing else.
expected() {
	{
		for f in sbin/cls-redirect-config sbin/cls-redirect-stat \
			sbin/cls-redirect-deploy sbin/cls-redirect-undeploy; do
			echo "755 f ${1#/}/$f"
		done
		for f in $3/cls_redirect.o $3/cls_redirect_btf.o $3/cls_redirect_legacy.o \
			$3/cls_redirect_xdp.o $3/cls_redirect_xdp_btf.o $3/cls_redirect_xdp_legacy.o \
			share/man/man8/tc-cls-redirect.8 share/man/man8/cls-redirect-config.8 \
			share/man/man8/cls-redirect-stat.8 share/man/man8/cls-redirect-deploy.8 \
			share/doc/cls-redirect/examples/cls-redirect.default \
			share/bash-completion/completions/cls-redirect-config; do
			echo "644 f ${1#/}/$f"
		done
		echo "777 l ${1#/}/share/man/man8/cls-redirect-undeploy.8"
		echo "777 l ${1#/}/share/bash-completion/completions/cls-redirect-stat"
		for f in cls-redirect@.service cls-redirect-textfile.service cls-redirect-textfile.timer; do
			echo "644 f ${2#/}/$f"
		done
	} | LC_ALL=C sort -k3
}

# same_files DESTDIR PREFIX BPF_SUBDIR: installed files are the tree's own
# (the deploy script with the object directory written in).
same_files() {
	sed "s|^BPF_SUBDIR=.*|BPF_SUBDIR=$3|" examples/deploy.sh | cmp - "$1$2/sbin/cls-redirect-deploy" || return 1
	_d=$1$2
	for _p in tools/cls-redirect-config:sbin/cls-redirect-config tools/cls-redirect-stat:sbin/cls-redirect-stat \
		obj/cls_redirect.o:$3/cls_redirect.o obj/cls_redirect_btf.o:$3/cls_redirect_btf.o \
		obj/cls_redirect_legacy.o:$3/cls_redirect_legacy.o tc-cls-redirect.8:share/man/man8/tc-cls-redirect.8 \
		obj/cls_redirect_xdp.o:$3/cls_redirect_xdp.o obj/cls_redirect_xdp_btf.o:$3/cls_redirect_xdp_btf.o \
		obj/cls_redirect_xdp_legacy.o:$3/cls_redirect_xdp_legacy.o \
		cls-redirect-config.8:share/man/man8/cls-redirect-config.8 cls-redirect-stat.8:share/man/man8/cls-redirect-stat.8 \
		cls-redirect-deploy.8:share/man/man8/cls-redirect-deploy.8 cls-redirect-deploy.8:share/man/man8/cls-redirect-undeploy.8 \
		examples/undeploy.sh:sbin/cls-redirect-undeploy \
		examples/cls-redirect.default:share/doc/cls-redirect/examples/cls-redirect.default \
		completions/cls-redirect:share/bash-completion/completions/cls-redirect-config \
		completions/cls-redirect:share/bash-completion/completions/cls-redirect-stat; do
		cmp "${_p%%:*}" "$_d/${_p#*:}" || return 1
	done
}

# install_case NAME PREFIX UNITDIR BPF_SUBDIR: one install, checked, then
# uninstalled.
install_case() {
	_case=$1 _pfx=$2 _unitdir=$3 _bpfsub=$4
	_dest=$T/$_case
	mkdir -p "$_dest"
	if [ "$_pfx" = /usr/local ]; then
		set -- # the default PREFIX, not given on the command line
	else
		set -- PREFIX="$_pfx"
	fi
	if ! mk install DESTDIR="$_dest" "$@" >"$T/make.out" 2>&1; then
		fail "install $_case" "make install failed: $(tr '\n' ' ' <"$T/make.out")"
		return
	fi
	_want=$(expected "$_pfx" "$_unitdir" "$_bpfsub")
	_got=$(tree "$_dest")
	if [ "$_want" = "$_got" ]; then
		pass "install $_case: tree"
	else
		fail "install $_case: tree" "expected: $(echo "$_want" | tr '\n' ' ') got: $(echo "$_got" | tr '\n' ' ')"
	fi
	check "install $_case: files are the built ones" same_files "$_dest" "$_pfx" "$_bpfsub"

	_unit=$_dest$_unitdir/cls-redirect@.service
	_why=
	for _l in "ExecStart=$_pfx/sbin/cls-redirect-deploy \$OPTIONS %I \${ADDR} \${PORT} \$OBJ" \
		"ExecStop=$_pfx/sbin/cls-redirect-undeploy %I --keep-maps" \
		"EnvironmentFile=/etc/default/cls-redirect" "Type=oneshot" "RemainAfterExit=yes" \
		"After=network-online.target"; do
		grep -qxF "$_l" "$_unit" 2>/dev/null || _why="$_why missing line '$_l';"
	done
	_cmds=$(sed -n 's/^Exec[A-Za-z]*=\([^ ]*\).*/\1/p' "$_unit" 2>/dev/null)
	for _x in $_cmds; do
		[ -x "$_dest$_x" ] || _why="$_why $_x is not installed;"
	done
	! grep -q /usr/local/ "$_unit" 2>/dev/null || [ "$_pfx" = /usr/local ] || _why="$_why still names /usr/local;"
	if [ -z "$_why" ]; then pass "install $_case: unit"; else fail "install $_case: unit" "$_unit:$_why"; fi

	if command -v systemd-analyze >/dev/null; then
		# verify needs the commands at their paths: a copy pointing into DESTDIR.
		mkdir -p "$T/verify-$_case"
		_v=$T/verify-$_case/cls-redirect@eth0.service
		sed "s|=$_pfx/|=$_dest$_pfx/|" "$_unit" >"$_v"
		if _out=$(systemd-analyze verify --man=no "$_v" 2>&1) && [ -z "$_out" ]; then
			pass "install $_case: systemd-analyze verify"
		else
			fail "install $_case: systemd-analyze verify" "$(echo "$_out" | tr '\n' ' ')"
		fi
	else
		skip "install $_case: systemd-analyze verify" "systemd-analyze not installed"
	fi

	# The installed scripts find the installed objects and tools, wherever
	# the tree was put.
	_help=$(sh "$_dest$_pfx/sbin/cls-redirect-deploy" --help 2>&1)
	_first=$(echo "$_help" | sed -n '/default: the first/{n;s/^ *//p;}')
	expect_eq "install $_case: deploy.sh finds the installed object" \
		"$(cd "$_dest$_pfx/$_bpfsub" && pwd -P)/cls_redirect.o" "$_first"

	if ! mk uninstall DESTDIR="$_dest" "$@" >"$T/make.out" 2>&1; then
		fail "uninstall $_case" "make uninstall failed: $(tr '\n' ' ' <"$T/make.out")"
		return
	fi
	expect_eq "uninstall $_case: no file left" "" "$(tree "$_dest")"
}

# With PREFIX=/usr on Debian the objects go to /usr/lib/<triplet>/bpf, as
# in the package.
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
install_case usr-local /usr/local /usr/local/lib/systemd/system lib/bpf
install_case usr /usr /lib/systemd/system "lib${triplet:+/$triplet}/bpf"
install_case opt /opt/cls-redirect /opt/cls-redirect/lib/systemd/system lib/bpf

test_done
