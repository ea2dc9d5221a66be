# Shared helpers of the shell tests; source it, do not run it:
#
#	. "$(dirname "$0")/lib/common.sh"
#	private_bpffs "$@"		# first thing: re-execs the test, see below
#	netns_add srv; netns_add cli
#	veth_pair srv veth0 192.0.2.1 cli veth1 192.0.2.2
#	check "name of case" test "$x" = 3
#
# Results are the lines selftests/run.sh counts:
#	PASS <name> | FAIL <name>: <why> | SKIP <name>: <why>
# Every namespace, link, qdisc, pin and temporary file a test creates through
# these helpers is removed when the test exits, however it exits.  Namespaces
# carry the test's pid in their name, so parallel runs do not collide.
#
# Sets: REPO (top of the tree), TC_BPF_MNT (after private_bpffs), FAILED
# (number of FAIL lines so far; test_done turns it into the exit status).

# A script one level deeper (selftests/bench/) sets CLS_REDIRECT_REPO itself.
REPO=${CLS_REDIRECT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
FAILED=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; }

# check NAME CMD...: PASS if CMD succeeds, else FAIL with CMD's own output
# (stdout and stderr, on one line) as the reason.
check() {
	_name=$1
	shift
	if _out=$("$@" 2>&1); then
		pass "$_name"
	else
		fail "$_name" "$(printf '%s' "${_out:-$* failed}" | tr '\n' ' ')"
	fi
}

# expect_eq NAME WANT GOT [WHAT]: PASS if the two strings are equal.
expect_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "${4:-value}: expected '$2', got '$3'"
	fi
}

# require_present NAME FILE... [-- COMMAND...]: unless every FILE (relative
# to REPO) exists and every COMMAND is on PATH, FAIL NAME naming all that is
# missing, and exit 1.
require_present() {
	_name=$1
	shift
	_missing=
	_files=1
	for _a; do
		if [ "$_a" = -- ]; then
			_files=
		elif [ -n "$_files" ]; then
			[ -e "$REPO/$_a" ] || _missing="$_missing $_a"
		else
			command -v "$_a" >/dev/null || _missing="$_missing $_a"
		fi
	done
	[ -z "$_missing" ] || { fail "$_name" "missing:$_missing (run 'make' and 'make deps')"; exit 1; }
}

# The last line of a test: exit 1 if anything failed.
test_done() { [ "$FAILED" = 0 ]; }

require_root() {
	[ "$(id -u)" = 0 ] || {
		skip "$(basename "$0")" "must run as root (network namespaces, BPF)"
		exit 0
	}
}

# ---- cleanup: commands run in reverse order of registration at exit ----

_cleanup_cmds=
cleanup_add() { _cleanup_cmds="$*
$_cleanup_cmds"; }
_cleanup() {
	printf '%s\n' "$_cleanup_cmds" | while IFS= read -r _c; do
		[ -n "$_c" ] && eval "$_c" >/dev/null 2>&1
	done
	_cleanup_cmds=
}
trap '_rc=$?; _cleanup; exit $_rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# tmpdir VAR: sets VAR to a new temporary directory, removed at exit.  (Not
# "$(tmpdir)": a command substitution is a subshell, its cleanup_add lost.)
tmpdir() {
	_d=$(mktemp -d "${TMPDIR:-/tmp}/cls-redirect-test.XXXXXX") || exit 2
	cleanup_add "rm -rf '$_d'"
	eval "$1=\$_d"
}

# ---- a private bpffs: tests never see or touch the host's /sys/fs/bpf ----

# private_bpffs "$@": re-executes the test in a new mount namespace whose
# mounts do not propagate to the host, then mounts an empty bpffs on a
# temporary directory and exports TC_BPF_MNT to it.  Both tc ELF loaders and
# the tools put their pins under $TC_BPF_MNT/tc/globals.  When the test exits
# the mount namespace dies, and with it the bpffs and every pin in it.
private_bpffs() {
	if [ -z "${CLS_REDIRECT_PRIVATE_MNT:-}" ]; then
		command -v unshare >/dev/null || { skip "$(basename "$0")" "unshare(1) missing (util-linux)"; exit 0; }
		CLS_REDIRECT_PRIVATE_MNT=1 exec unshare -m --propagation private sh "$0" "$@"
	fi
	tmpdir TC_BPF_MNT
	mount -t bpf bpf "$TC_BPF_MNT" || { fail "$(basename "$0")" "cannot mount a bpffs on $TC_BPF_MNT"; exit 1; }
	cleanup_add "umount '$TC_BPF_MNT'"
	export TC_BPF_MNT
}

# bpffs_reset: removes every pin, so a case starts from an empty bpffs.
bpffs_reset() { rm -rf "${TC_BPF_MNT:?}/tc"; }

# ---- network namespaces and veth pairs ----

# netns_add NAME: creates namespace NAME (prefixed "clsr$$-"; use ns NAME to
# refer to it) with IPv6 off and loopback up.  IPv6 stays off so that no
# router solicitation or MLD report reaches a classifier's counters.
ns() { echo "clsr$$-$1"; }
netns_add() {
	ip netns add "$(ns "$1")" || exit 2
	cleanup_add "ip netns del '$(ns "$1")'"
	in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	in_ns "$1" ip link set lo up
}

# in_ns NAME CMD...: runs CMD in namespace NAME.
in_ns() {
	_n=$1
	shift
	ip netns exec "$(ns "$_n")" "$@"
}

# veth_pair NS_A IF_A ADDR_A NS_B IF_B ADDR_B: a veth pair between two
# namespaces, addresses in one /24, both ends up, and permanent neighbour
# entries on both sides: no ARP ever crosses the link, so the only packets a
# classifier sees are the ones the test sends.
veth_pair() {
	ip link add "$2" netns "$(ns "$1")" type veth peer name "$5" netns "$(ns "$4")" || exit 2
	in_ns "$1" ip addr add "$3/24" dev "$2"
	in_ns "$4" ip addr add "$6/24" dev "$5"
	in_ns "$1" ip link set "$2" up
	in_ns "$4" ip link set "$5" up
	in_ns "$1" ip neigh replace "$6" lladdr "$(mac_of "$4" "$5")" dev "$2" nud permanent
	in_ns "$4" ip neigh replace "$3" lladdr "$(mac_of "$1" "$2")" dev "$5" nud permanent
}

# srv_cli_pair DEV SRV_ADDR CLI_ADDR: the usual two namespaces, srv (the
# server under test, device DEV) and cli (the sender, device cli0), joined by
# veth_pair; sets SRV_MAC and CLI_MAC to the two ends' addresses as 12 hex
# digits, ready for a hand-made frame.
srv_cli_pair() {
	netns_add srv
	netns_add cli
	veth_pair srv "$1" "$2" cli cli0 "$3"
	SRV_MAC=$(mac_of srv "$1" | tr -d :)
	CLI_MAC=$(mac_of cli cli0 | tr -d :)
}

# mac_of NS IF: the MAC address of IF, as aa:bb:cc:dd:ee:ff.
mac_of() { in_ns "$1" cat "/sys/class/net/$2/address"; }

# ---- packets ----

# ip4hex A.B.C.D: the address as 8 hex digits.
ip4hex() {
	echo "$1" | { IFS=. read -r _a _b _c _d; printf '%02x%02x%02x%02x' "$_a" "$_b" "$_c" "$_d"; }
}

# csum16 HEX: the Internet checksum (RFC 1071) of the bytes, as 4 hex digits,
# to put into a header whose checksum field was given as 0000.
csum16() {
	_h=$(printf '%s' "$1" | tr -d ' :\n')
	[ $((${#_h} % 4)) = 0 ] || _h=${_h}00
	_s=0
	while [ -n "$_h" ]; do
		_w=${_h%"${_h#????}"}
		_h=${_h#????}
		_s=$((_s + 0x$_w))
	done
	while [ $((_s >> 16)) != 0 ]; do _s=$(((_s & 0xffff) + (_s >> 16))); done
	printf '%04x' $((~_s & 0xffff))
}

# ---- a copy of the source tree, to build in without touching this one ----

# copy_source DEST: copies the source files of the tree into DEST (which
# must exist): what git tracks plus new files it does not ignore, or, outside
# a git checkout, everything but .git and build outputs (make clean runs in
# the copy).
copy_source() {
	if git -C "$REPO" rev-parse --show-toplevel 2>/dev/null | grep -qxF "$(cd "$REPO" && pwd -P)"; then
		(cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
			tar --null --ignore-failed-read -T - -cf -) 2>/dev/null | tar -C "$1" -xf - || return 1
	else
		(cd "$REPO" && tar --exclude=./.git --exclude=./build -cf - .) | tar -C "$1" -xf - || return 1
		make -s -C "$1" clean >/dev/null 2>&1
	fi
}

# hardened BINARY: what Debian's hardening=+all leaves in an ELF executable
# (BIND_NOW, RELRO, PIE, stack protector, fortified calls); prints what is
# missing and fails if anything is.
hardened() {
	_why=
	readelf -d "$1" | grep -q 'FLAGS.*BIND_NOW\|FLAGS_1.*NOW' || _why="$_why no BIND_NOW;"
	readelf -lW "$1" | grep -q GNU_RELRO || _why="$_why no GNU_RELRO segment;"
	readelf -hW "$1" | grep -q 'Type:.*DYN' || _why="$_why not PIE;"
	_syms=$(readelf --dyn-syms -W "$1")
	echo "$_syms" | grep -q ' __stack_chk_fail' || _why="$_why no stack protector (__stack_chk_fail);"
	echo "$_syms" | grep -q ' __[a-z]*_chk@' || _why="$_why no fortified call (__*_chk);"
	[ -z "$_why" ] || { echo "$1:$_why"; return 1; }
}

# ipv4_header TOT_LEN PROTO ID SRC DST: a 20-byte IPv4 header, TTL 64, with
# its checksum.
ipv4_header() {
	_h="4500 $(printf %04x "$1") $(printf %04x "$3") 0000 40$(printf %02x "$2")"
	_a="$(ip4hex "$4") $(ip4hex "$5")"
	echo "$_h $(csum16 "$_h 0000 $_a") $_a"
}
