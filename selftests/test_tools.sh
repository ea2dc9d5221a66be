#!/bin/sh
# Tests of cls-redirect-config and cls-redirect-stat (tc-cls-redirect.8,
# MAPS, METRICS and the tools' sections): every command and option, every bad input (exit status, a one-line
# error naming the value at fault, maps byte for byte unchanged), foreign and
# stale maps, a user without privileges, read-only opens and the pin
# directory lock.
#
# Everything runs in a private mount namespace (unshare -m) on a bpffs
# mounted for the test; the host's /sys/fs/bpf is never touched (the
# default-path case mounts a fresh bpffs over /sys/fs/bpf inside the
# namespace).  Run as root: sh selftests/test_tools.sh
set -u
. "$(dirname "$0")/lib/common.sh"
cd "$REPO" || exit 2

if [ "${CLS_REDIRECT_TOOLS_NS:-}" != 1 ]; then
	CLS_REDIRECT_TOOLS_NS=1 exec unshare -m sh "$0" "$@"
	echo "SKIP tools: unshare -m failed (no mount namespaces?)"
	exit 0
fi

C=$PWD/tools/cls-redirect-config
S=$PWD/tools/cls-redirect-stat
for t in "$C" "$S"; do
	[ -x "$t" ] || { echo "FAIL build: $t missing (make tools/${t##*/})"; exit 1; }
done
VERSION=$(sed -n 's/^VERSION := //p' Makefile)
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
# Root without the capabilities that bypass file modes: a read-write open of
# a 0400 pin then fails, a read-only one succeeds.
NODAC="setpriv --bounding-set=-dac_override,-dac_read_search"

# The counter names, in layout order, straight from the X-macro as the
# compiler expands it (the header has test-only variants a text scan would
# count too).
NAMES=$(printf '#include <stdio.h>\n#include "cls_redirect.h"\n#define N(id, name, help) puts(#name);\nint main(void) { CLS_REDIRECT_METRICS(N) return 0; }\n' |
	cc -Iinclude -x c -o "${TMPDIR:-/tmp}/clsr-names.$$" - && "${TMPDIR:-/tmp}/clsr-names.$$")
rm -f "${TMPDIR:-/tmp}/clsr-names.$$"
NCOUNTERS=$(echo "$NAMES" | wc -l)
# Possible CPUs, as the kernel sizes per-CPU values ("0-3", "0,2-5"...).
NCPUS=$(awk -F, '{ n = 0; for (i = 1; i <= NF; i++) { split($i, r, "-");
	n += (r[2] == "" ? 1 : r[2] - r[1] + 1) } print n }' /sys/devices/system/cpu/possible)

tmp=$(mktemp -d) || exit 2
chmod 755 "$tmp"
cleanup() {
	umount "$tmp/bpffs" 2>/dev/null
	umount "$tmp/small" 2>/dev/null
	[ -z "${MON:-}" ] || { userdel "$MON"; groupdel "$MON"; } 2>/dev/null
	[ -n "${sys_mounted:-}" ] && umount /sys/fs/bpf 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$tmp/bpffs" "$tmp/plain"
if ! mount -t bpf bpf "$tmp/bpffs"; then
	echo "SKIP tools: cannot mount a bpffs (no CONFIG_BPF_SYSCALL?)"
	exit 0
fi
B=$tmp/bpffs
G=$B/tc/globals
export TC_BPF_MNT=$B


# State of every pinned map under the bpffs: names, shapes, bytes.
snapshot() {
	find "$B" -type f ! -name '*.debug' | sort | while read -r f; do
		echo "== $f $(stat -c %a "$f")"
		bpftool map show pinned "$f" | sed 's/^[0-9]*: //'
		bpftool map dump pinned "$f"
	done 2>&1
}

# expect NAME STATUS NEEDLE CMD...: CMD exits STATUS, prints nothing on
# stdout and exactly one line on stderr containing NEEDLE, and leaves every
# map as it was.
expect() {
	name=$1 want=$2 needle=$3
	shift 3
	before=$(snapshot)
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	after=$(snapshot)
	if [ "$rc" != "$want" ]; then
		fail "$name" "exit status $rc, expected $want; stderr: $(head -c 300 "$tmp/err")"
	elif [ "$(wc -l <"$tmp/err")" != 1 ]; then
		fail "$name" "stderr is $(wc -l <"$tmp/err") lines, expected 1: $(head -c 300 "$tmp/err")"
	elif ! grep -qF -- "$needle" "$tmp/err"; then
		fail "$name" "stderr does not say '$needle': $(cat "$tmp/err")"
	elif [ -s "$tmp/out" ]; then
		fail "$name" "printed on stdout: $(head -c 200 "$tmp/out")"
	elif [ "$before" != "$after" ]; then
		fail "$name" "maps changed"
	else
		pass "$name"
	fi
}

# ok NAME EXPECTED CMD...: CMD exits 0, prints nothing on stderr and
# exactly EXPECTED on stdout.
ok() {
	name=$1 want=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name" "exit status $rc; stderr: $(head -c 300 "$tmp/err")"
	elif [ -s "$tmp/err" ]; then
		fail "$name" "stderr: $(head -c 300 "$tmp/err")"
	elif [ "$(cat "$tmp/out")" != "$want" ]; then
		fail "$name" "printed '$(head -c 600 "$tmp/out")', expected '$want'"
	else
		pass "$name"
	fi
}

# full NAME CMD...: with stdout on /dev/full, CMD exits 2 and says so in one
# line on stderr (man page: EXIT STATUS): a failed write is never a success.
full() {
	name=$1
	shift
	tool=$1
	[ "$tool" = timeout ] && tool=$3
	"$@" >/dev/full 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 2 ]; then
		fail "$name" "exit status $rc on /dev/full, expected 2"
	elif [ "$(cat "$tmp/err")" != "${tool##*/}: cannot write to standard output: No space left on device" ]; then
		fail "$name" "stderr: $(head -c 300 "$tmp/err")"
	else
		pass "$name"
	fi
}

# The bytes of key 0 of a pinned array, as bpftool prints them.
value_of() {
	bpftool -j map dump pinned "$1" | jq -r '.[0].value | map(.[2:]) | join(" ")'
}

hexle32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
hexle64() { echo "$(hexle32 $(($1 & 4294967295))) $(hexle32 $(($1 >> 32)))"; }

# ---- help and version (no privileges, no maps needed) -----------------------

for tool in "$C" "$S"; do
	n=${tool##*/}
	"$tool" --help >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ] && grep -q "^Usage: $n" "$tmp/out" &&
		grep -q 'Exit status: 0' "$tmp/out"; then
		pass "$n --help"
	else
		fail "$n --help" "exit $rc, stdout $(head -c 100 "$tmp/out")"
	fi
	ok "$n -h equals --help" "$(cat "$tmp/out")" "$tool" -h
	v=$("$tool" -V)
	case $v in
	"$n $VERSION (config layout 1, $NCOUNTERS counters, libbpf v"*")") pass "$n -V" ;;
	*) fail "$n -V" "printed '$v'" ;;
	esac
	ok "$n --version as nobody" "$("$tool" -V)" $NOBODY "$tool" --version
	full "$n --help > /dev/full" "$tool" --help
	full "$n -V > /dev/full" "$tool" -V
done
check "config --help names every keyword" sh -c \
	"$C --help | grep -q 'addr ADDR' && $C --help | grep -q 'port PORT' &&
	 $C --help | grep -q 'no-forward' && $C --help | grep -q 'mtu MTU'"

# ---- usage errors: exit 1 before anything is touched ------------------------

expect "config: no command" 1 "missing command" "$C"
expect "config: unknown command" 1 "'frob'" "$C" frob
expect "config: unknown long option" 1 "'--frob'" "$C" --frob show
expect "config: unknown short option" 1 "'-x'" "$C" show -x
expect "config: -d without a value" 1 "'-d'" "$C" -d
expect "config: --pin-dir without a value" 1 "'--pin-dir'" "$C" show --pin-dir
expect "config: --json with a value" 1 "'--json'" "$C" --json=1 show
expect "config: show with an argument" 1 "'extra'" "$C" show extra
expect "config: clear with an argument" 1 "'extra'" "$C" clear extra
expect "config: reset refused with a hint" 1 "'reset' is now 'clear' (back to unconfigured: cls-redirect-config clear); to zero the counters: cls-redirect-stat --zero" "$C" reset
expect "config: -j with set" 1 "apply to show and status only" "$C" -j set addr 192.0.2.10 port 19523
expect "config: --group with show" 1 "show: --group applies to set only" "$C" --group root show
expect "config: --group of no group" 1 "--group 'no-such-group-clsr': no such group (getent group no-such-group-clsr)" "$C" set --group no-such-group-clsr mtu 1400
expect "stat: unknown long option" 1 "'--frob'" "$S" --frob
expect "stat: unknown short option" 1 "'-x'" "$S" -x
expect "stat: argument" 1 "'table'" "$S" table
expect "stat: -w without a value" 1 "'-w'" "$S" -w
expect "stat: --watch without a value" 1 "'--watch'" "$S" --watch
for w in 0 3601 99999999999999999999; do
	expect "stat: -w $w" 1 "-w $w: out of range 1..3600" "$S" -w "$w"
done
for w in abc 1x -1 " 1" "" 1.5; do
	expect "stat: -w '$w'" 1 "-w '$w': not a decimal number" "$S" -w "$w"
done
# The word at fault is the one getopt was reading, also inside a cluster of
# short options after a long one.
expect "stat: unknown letter in a cluster after a long option" 1 "unknown option '-x':" "$S" --json -xj
expect "stat: unknown letter inside a cluster" 1 "unknown option '-x':" "$S" -jx
expect "config: unknown letter in a cluster after the command" 1 "unknown option '-x':" "$C" show --json -xj
expect "stat: -w missing in a cluster" 1 "option '-w' needs a value" "$S" --json -jw
# Long options only by their whole name: glibc would take any unambiguous
# prefix, and "--res" would reset every counter.
expect "stat: --res is not --reset" 1 "unknown option '--res' (did you mean --reset?)" "$S" --res
expect "stat: --prom is not --prometheus" 1 "unknown option '--prom' (did you mean --prometheus?)" "$S" --prom
expect "stat: --wat=1 is not --watch" 1 "unknown option '--wat' (did you mean --watch?)" "$S" --wat=1
expect "stat: --pin DIR is not --pin-dir" 1 "unknown option '--pin' (did you mean --pin-dir?)" "$S" --pin "$tmp"
expect "stat: --p is ambiguous" 1 "unknown option '--p' (did you mean --pin-dir, --pretty or --prometheus?)" "$S" --p
expect "stat: --zero=1" 1 "option '--zero' takes no value" "$S" --zero=1
expect "stat: --reset refused with a hint" 1 "--reset is now --zero (zero the counters: cls-redirect-stat --zero); to unconfigure: cls-redirect-config clear" "$S" --reset
expect "config: --js is not --json" 1 "unknown option '--js' (did you mean --json?)" "$C" show --js
expect "config: --he is not --help" 1 "unknown option '--he' (did you mean --help?)" "$C" --he
expect "config: --vers is not --version" 1 "unknown option '--vers' (did you mean --version?)" "$C" --vers
expect "stat: -j and --prometheus" 1 "one of" "$S" -j --prometheus
expect "stat: --zero and -w" 1 "one of" "$S" --zero -w 1
expect "stat: -p and --zero" 1 "one of" "$S" -p --zero

# ---- environment errors: exit 2 ----------------------------------------------

expect "config show: pin dir missing (TC_BPF_MNT)" 2 "$G not found" "$C" show
expect "config clear: pin dir missing" 2 "$G not found" "$C" clear
expect "stat: pin dir missing" 2 "$G not found: is cls_redirect.o attached with tc?" "$S"
expect "config: -d DIR missing" 2 "$tmp/nope not found" "$C" -d "$tmp/nope" show
expect "config set: -d DIR missing" 2 "$tmp/nope not found" "$C" -d "$tmp/nope" set addr 192.0.2.10 port 19523
expect "stat: --pin-dir DIR missing" 2 "$tmp/nope not found" "$S" --pin-dir "$tmp/nope"
expect "config: -d not on a bpffs" 2 "$tmp/plain is not on a bpffs" "$C" -d "$tmp/plain" show
expect "config set: TC_BPF_MNT not a bpffs" 2 "bpffs not mounted at $tmp/plain? mount -t bpf bpf $tmp/plain" \
	env TC_BPF_MNT="$tmp/plain" "$C" set addr 192.0.2.10 port 19523
check "config set: nothing created outside bpffs" [ -z "$(ls -A "$tmp/plain")" ]
expect "config set as nobody" 2 "$G not found, and creating the maps needs CAP_BPF or CAP_SYS_ADMIN, which uid 65534 has neither of: run as root" $NOBODY "$C" set addr 192.0.2.10 port 19523
check "config set as nobody: nothing created" [ ! -e "$B/tc" ]

# ---- set before the filter exists: create and pin -----------------------------

CFG=$G/cls_redirect_config
# On an empty bpffs the trust lists do not exist yet: set warns about both.
"$C" set addr 192.0.2.10 port 19523 >"$tmp/out" 2>"$tmp/err"
rc=$?
check "config set creates the map, says what changed" [ "$rc $(cat "$tmp/out")" = "0 addr: unconfigured -> 192.0.2.10
port: unconfigured -> 19523" ]
check "config set warns while the trust lists are empty" [ "$(cat "$tmp/err")" = "cls-redirect-config: warning: $G/cls_redirect_sources is empty: every GUE packet is dropped as untrusted (cls-redirect-config sources add PREFIX...; 0.0.0.0/0 allows every address)
cls-redirect-config: warning: $G/cls_redirect_hops is empty: nothing is forwarded (cls-redirect-config hops add PREFIX...; 0.0.0.0/0 allows every address)" ]
# From here on both lists are open (the trust list cases are further down).
ok "sources add 0.0.0.0/0" "" "$C" sources add 0.0.0.0/0
ok "hops add 0.0.0.0/0" "" "$C" hops add 0.0.0.0/0
LT='
sources 0.0.0.0/0
hops 0.0.0.0/0'
LJ=',"sources":["0.0.0.0/0"],"hops":["0.0.0.0/0"]'
ok "created map: type, name, flags, key, value, entries" "array cls_redirect_co 0 4 32 1" \
	sh -c "bpftool -j map show pinned '$CFG' |
	jq -r '\"\\(.type) \\(.name) \\(.flags) \\(.bytes_key) \\(.bytes_value) \\(.max_entries)\"'"
check "created tc/globals 0700" [ "$(stat -c %a "$B/tc") $(stat -c %a "$G")" = "700 700" ]
ok "set: value bytes" "01 00 00 00 c0 00 02 0a 4c 43 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" \
	value_of "$CFG"
ok "show" "addr 192.0.2.10 port 19523$LT" "$C" show
ok "show -j" '{"configured":true,"addr":"192.0.2.10","port":19523,"no_forward":false,"route":false,"mtu":0'"$LJ"'}' "$C" show -j
ok "show -p" '{
    "configured": true,
    "addr": "192.0.2.10",
    "port": 19523,
    "no_forward": false,
    "route": false,
    "mtu": 0,
    "sources": [
        "0.0.0.0/0"
    ],
    "hops": [
        "0.0.0.0/0"
    ]
}' "$C" -p show
ok "show -p parses as JSON" "$("$C" show -j | jq -S .)" sh -c "$C show -p | jq -S ."

ok "set no-forward mtu" "addr: 192.0.2.10 -> 198.51.100.7
port: 19523 -> 6080
forwarding: forward -> no-forward
mtu: 0 -> 1400" "$C" set mtu 1400 no-forward port 6080 addr 198.51.100.7
ok "set no-forward mtu: value bytes" "01 00 00 00 c6 33 64 07 17 c0 01 00 78 05 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" \
	value_of "$CFG"
ok "show no-forward mtu" "addr 198.51.100.7 port 6080 no-forward mtu 1400$LT" "$C" show
ok "show -j no-forward mtu" '{"configured":true,"addr":"198.51.100.7","port":6080,"no_forward":true,"route":false,"mtu":1400'"$LJ"'}' "$C" show --json
ok "set limits: port 65535 mtu 65535" "addr: 198.51.100.7 -> 203.0.113.255
port: 6080 -> 65535
forwarding: no-forward -> forward
mtu: 1400 -> 65535" "$C" set addr 203.0.113.255 port 65535 forward mtu 65535
ok "set limits: bytes" "01 00 00 00 cb 00 71 ff ff ff 00 00 ff ff 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" \
	value_of "$CFG"
ok "set limits: mtu 68" "mtu: 65535 -> 68" "$C" set addr 203.0.113.255 port 65535 mtu 68
ok "set limits: mtu 68 bytes" "01 00 00 00 cb 00 71 ff ff ff 00 00 44 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" \
	value_of "$CFG"
ok "set several fields" "addr: 203.0.113.255 -> 192.0.2.10
port: 65535 -> 1
mtu: 68 -> 0" "$C" set addr 192.0.2.10 port 1 mtu 0
ok "show after set" '{"configured":true,"addr":"192.0.2.10","port":1,"no_forward":false,"route":false,"mtu":0'"$LJ"'}' "$C" show -j
ok "set via -d" "port: 1 -> 19523" "$C" -d "$G" set addr 192.0.2.10 port 19523
ok "show via --pin-dir, options after the command" "addr 192.0.2.10 port 19523$LT" "$C" show --pin-dir "$G"

# ---- bad set input: exit 1, config unchanged -----------------------------------

expect "set: nothing" 1 "set: nothing to set (keywords: addr ADDR, port PORT, forward, no-forward, route, no-route, mtu MTU; or --group GROUP)" "$C" set
expect "set: addr without value" 1 "'addr' needs a value" "$C" set port 19523 addr
expect "set: port without value" 1 "'port' needs a value" "$C" set addr 192.0.2.10 port
expect "set: mtu without value" 1 "'mtu' needs a value" "$C" set addr 192.0.2.10 port 1 mtu
for a in 192.0.2 192.0.2.256 192.0.2.1x 192.0.2.1.5 ::1 "" " 192.0.2.1" 0x01020304; do
	expect "set: addr '$a'" 1 "addr '$a': not an IPv4 address" "$C" set addr "$a" port 19523
done
for a in 0.0.0.0 0.1.2.3 127.0.0.1 224.0.0.1 239.1.2.3 240.0.0.1 255.255.255.255; do
	expect "set: addr $a" 1 "addr $a: not a unicast address" "$C" set addr "$a" port 19523
done
for p in 0 65536 70000 99999999999999999999; do
	expect "set: port $p" 1 "port $p: out of range 1..65535" "$C" set addr 192.0.2.10 port "$p"
done
for p in 12ab -1 +5 "" " 5" 0x10 5.0; do
	expect "set: port '$p'" 1 "port '$p': not a decimal number" "$C" set addr 192.0.2.10 port "$p"
done
expect "set: mtu 65536" 1 "mtu 65536: out of range 0..65535" "$C" set addr 192.0.2.10 port 1 mtu 65536
expect "set: mtu 67" 1 "mtu 67: below 68, the smallest IPv4 MTU" "$C" set addr 192.0.2.10 port 1 mtu 67
expect "set: mtu 'x'" 1 "mtu 'x': not a decimal number" "$C" set addr 192.0.2.10 port 1 mtu x
expect "set: unknown flag" 1 "unknown keyword 'forward-syn'" "$C" set addr 192.0.2.10 port 1 forward-syn
expect "set: unknown flag NO-FORWARD" 1 "unknown keyword 'NO-FORWARD'" "$C" set addr 192.0.2.10 port 1 NO-FORWARD
expect "set: addr twice" 1 "'addr' given twice" "$C" set addr 192.0.2.10 port 1 addr 192.0.2.11
expect "set: no-forward twice" 1 "'no-forward' given twice" "$C" set addr 192.0.2.10 port 1 no-forward no-forward
expect "set: forward and no-forward" 1 "'no-forward' given twice, or with its opposite" "$C" set forward no-forward
expect "set: route and no-route" 1 "'no-route' given twice, or with its opposite (route, no-route)" "$C" set route no-route
expect "set: route twice" 1 "'route' given twice" "$C" set route route
expect "set: option after keywords" 1 "unknown keyword '-d'" "$C" set addr 192.0.2.10 port 1 -d "$G"
# A permission error names its cause: here the first directory's file mode
# (tc makes them 0700), then the pin's.
expect "set as nobody" 2 "pin directory $G: permission denied by file modes: $B/tc (owner root, group root, mode 0700) is not searchable for uid 65534: run as root, or let a group read the pins (cls-redirect-config set --group GROUP, as root) and run as a member" \
	$NOBODY "$C" set addr 192.0.2.11 port 1
expect "show as nobody" 2 "$B/tc (owner root, group root, mode 0700) is not searchable for uid 65534" $NOBODY "$C" show
expect "clear as nobody" 2 "$B/tc (owner root, group root, mode 0700) is not searchable for uid 65534" $NOBODY "$C" clear
chmod 0711 "$B/tc" "$G"
expect "show as nobody, directories searchable: the pin's mode" 2 "map $CFG: permission denied by file modes: $CFG (owner root, group root, mode 0600) is not readable for uid 65534" $NOBODY "$C" show
# A write locks the directory first, which needs it readable.
expect "set as nobody, directories searchable: the lock" 2 "cannot open pin directory $G: permission denied by file modes: $G (owner root, group root, mode 0711) is not readable for uid 65534" $NOBODY "$C" set mtu 1400
chmod 0700 "$B/tc" "$G"
ok "config unchanged by all of the above" "addr 192.0.2.10 port 19523$LT" "$C" show

# ---- read-only opens ------------------------------------------------------------

chmod 0400 "$CFG"
ok "show opens read-only (0400 pin, no DAC override)" "addr 192.0.2.10 port 19523$LT" $NODAC "$C" show
expect "set needs write access (0400 pin, no DAC override)" 2 \
	"map $CFG: permission denied by file modes: $CFG (owner root, group root, mode 0400) is not writable for uid 0" \
	$NODAC "$C" set addr 192.0.2.11 port 1
chmod 0600 "$CFG"

# ---- the lock on the pin directory ------------------------------------------------

flock "$G" sleep 2 &
holder=$!
sleep 0.3
"$C" set addr 192.0.2.99 port 99 >/dev/null &
writer=$!
sleep 1
check "set waits for the pin directory lock" [ "$("$C" show)" = "addr 192.0.2.10 port 19523$LT" ]
wait "$holder"
wait "$writer"
check "set writes once the lock is free" [ "$("$C" show)" = "addr 192.0.2.99 port 99$LT" ]

# ---- one field at a time ------------------------------------------------------

ok "set no-forward alone" "forwarding: forward -> no-forward" "$C" set no-forward
ok "set no-forward alone: the rest kept" "addr 192.0.2.99 port 99 no-forward$LT" "$C" show
ok "set no-forward again: unchanged" "unchanged" "$C" set no-forward
ok "set mtu 1400 alone" "mtu: 0 -> 1400" "$C" set mtu 1400
ok "set forward: undoes no-forward" "forwarding: no-forward -> forward" "$C" set forward
ok "set port alone" "port: 99 -> 19523" "$C" set port 19523
ok "set addr alone" "addr: 192.0.2.99 -> 192.0.2.10" "$C" set addr 192.0.2.10
ok "single fields: value bytes" "01 00 00 00 c0 00 02 0a 4c 43 00 00 78 05 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" \
	value_of "$CFG"
ok "set mtu 0" "mtu: 1400 -> 0" "$C" set mtu 0
ok "set route alone" "route: no-route -> route" "$C" set route
ok "set route alone: the rest kept" "addr 192.0.2.10 port 19523 route$LT" "$C" show
ok "set route: value bytes (flags bit 1)" "01 00 00 00 c0 00 02 0a 4c 43 02 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" \
	value_of "$CFG"
ok "show -j route" '{"configured":true,"addr":"192.0.2.10","port":19523,"no_forward":false,"route":true,"mtu":0'"$LJ"'}' "$C" show -j
ok "set no-forward with route" "forwarding: forward -> no-forward" "$C" set no-forward
ok "show no-forward route" "addr 192.0.2.10 port 19523 no-forward route$LT" "$C" show
ok "set forward no-route" "forwarding: no-forward -> forward
route: route -> no-route" "$C" set forward no-route

# ---- clear ----------------------------------------------------------------------

ok "clear" "" "$C" clear
ok "clear: all zero but trust_gen (kept)" "$(echo 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00)" value_of "$CFG"
ok "show after clear" "unconfigured$LT" "$C" show
ok "show -j after clear" '{"configured":false,"addr":"0.0.0.0","port":0,"no_forward":false,"route":false,"mtu":0'"$LJ"'}' "$C" show -j
ok "clear twice" "" "$C" clear
unconf="set: unconfigured: give 'addr ADDR' and 'port PORT' (GLB's default is 19523) before a single field can be changed"
expect "set mtu when unconfigured" 1 "$unconf" "$C" set mtu 1400
expect "set no-forward when unconfigured" 1 "$unconf" "$C" set no-forward
expect "set: missing addr when unconfigured" 1 "$unconf" "$C" set port 19523
expect "set: missing port when unconfigured" 1 "$unconf" "$C" set addr 192.0.2.10
ok "set after clear" "addr: unconfigured -> 192.0.2.10
port: unconfigured -> 19523" "$C" set addr 192.0.2.10 port 19523

# ---- trust lists: sources and hops (man page: SECURITY) -------------------------

SRC=$G/cls_redirect_sources
ok "sources: created map: type, flags, key, value, entries" "lpm_trie 1 8 4 1024" \
	sh -c "bpftool -j map show pinned '$SRC' | jq -r '\"\\(.type) \\(.flags) \\(.bytes_key) \\(.bytes_value) \\(.max_entries)\"'"
# trust_gen (bytes 16-19 of the config) moves on with every delete, so the
# classifier forgets what it remembered as listed; adds and refusals leave it.
trust_gen() { value_of "$CFG" | cut -d' ' -f17-20; }
ok "trust_gen: 1 after set" "01 00 00 00" trust_gen
ok "sources add several" "" "$C" sources add 192.0.2.0/24 198.51.100.7 10.0.0.0/8
ok "trust_gen: an add leaves it" "01 00 00 00" trust_gen
ok "sources add a listed one: no-op" "" "$C" sources add 198.51.100.7/32 192.0.2.0/24
ok "sources: show lists them sorted" "addr 192.0.2.10 port 19523
sources 0.0.0.0/0 10.0.0.0/8 192.0.2.0/24 198.51.100.7/32
hops 0.0.0.0/0" "$C" show
ok "sources: show -j arrays" '["0.0.0.0/0","10.0.0.0/8","192.0.2.0/24","198.51.100.7/32"] ["0.0.0.0/0"]' \
	sh -c "$C show -j | jq -c '.sources, .hops' | tr '\n' ' ' | sed 's/ \$//'"
for bad in 192.0.2 192.0.2.256/24 192.0.2.1x/24 ::1/128 ""; do
	expect "sources add '$bad'" 1 "sources: '$bad' is not an IPv4 prefix" "$C" sources add 203.0.113.0/24 "$bad"
done
for bad in 192.0.2.0/33 192.0.2.0/100 192.0.2.0/032 192.0.2.0/ 192.0.2.0/x 192.0.2.0/-1 192.0.2.0/+8 "192.0.2.0/ 8"; do
	expect "sources add $bad" 1 "sources: '$bad': prefix length must be a number from 0 to 32" "$C" sources add "$bad"
done
expect "sources add host bits set: the corrected prefix" 1 \
	"sources: '10.1.2.3/8' has host bits set: did you mean 10.0.0.0/8?" "$C" sources add 203.0.113.0/24 10.1.2.3/8
expect "hops add host bits set /31" 1 "hops: '198.51.100.5/31' has host bits set: did you mean 198.51.100.4/31?" \
	"$C" hops add 198.51.100.5/31
expect "sources del not listed" 1 "sources del: 203.0.113.0/24 is not listed in $SRC; nothing changed" \
	"$C" sources del 10.0.0.0/8 203.0.113.0/24
expect "sources del: a /32 is not its /24" 1 "is not listed" "$C" sources del 192.0.2.1
expect "sources: missing action" 1 "sources: missing add or del" "$C" sources
expect "sources: unknown action" 1 "sources: unknown action 'list'" "$C" sources list 192.0.2.0/24
expect "sources add: no prefix" 1 "sources add: missing PREFIX" "$C" sources add
expect "hops del: list absent" 1 "hops del: $B/foreign-lists/cls_redirect_hops does not exist" \
	sh -c "mkdir -p '$B/foreign-lists' && '$C' -d '$B/foreign-lists' hops del 192.0.2.1"
ok "trust_gen: refused adds and deletes leave it" "01 00 00 00" trust_gen
ok "sources del several" "" "$C" sources del 10.0.0.0/8 198.51.100.7 10.0.0.0/8
ok "trust_gen: a delete moves it on" "02 00 00 00" trust_gen
ok "sources after del" '["0.0.0.0/0","192.0.2.0/24"]' sh -c "$C show -j | jq -c .sources"
expect "sources add as nobody" 2 "is not searchable for uid 65534" $NOBODY "$C" sources add 203.0.113.0/24
# A full list: 1024 prefixes at most, and a change that would overflow
# fails whole, naming the limit.
i=0 many=
while [ $i -lt 1022 ]; do many="$many 10.$((i / 256)).$((i % 256)).0/24"; i=$((i + 1)); done
# shellcheck disable=SC2086 # a list of prefixes
ok "sources add up to the limit (1024)" "" "$C" sources add $many
expect "sources add past the limit" 1 \
	"sources add: $SRC is full: it holds at most 1024 prefixes, 1024 are listed and 1 would be new; nothing changed" \
	"$C" sources add 203.0.113.0/24
# shellcheck disable=SC2086 # a list of prefixes
ok "sources del them again" "" "$C" sources del $many
ok "sources after the full list" '["0.0.0.0/0","192.0.2.0/24"]' sh -c "$C show -j | jq -c .sources"
ok "sources del the last one added" "" "$C" sources del 192.0.2.0/24
ok "hops add, del" "" sh -c "'$C' hops add 203.0.113.0/24 && '$C' hops del 203.0.113.0/24"
ok "trust_gen: one step per delete command" "05 00 00 00" trust_gen
# A map of another shape in the list's place is refused (exit 2, untouched).
mkdir -p "$B/lpm"
bpftool map create "$B/lpm/cls_redirect_sources" type hash key 8 value 4 entries 1024 name cls_redirect_sources
"$C" -d "$B/lpm" set addr 192.0.2.10 port 19523 >/dev/null 2>&1
expect "sources: a hash map in its place refused" 2 \
	"expects lpm_trie key 8 value 4 entries 1024 flags 0x1, found hash key 8 value 4 entries 1024 flags 0x0" \
	"$C" -d "$B/lpm" sources add 192.0.2.0/24
expect "show: a hash map as a list refused" 2 "found hash key 8 value 4" "$C" -d "$B/lpm" show
rm -rf "$B/lpm" "$B/foreign-lists"
# A delete whose trust_gen cannot move on (a frozen config map refuses every
# write) is undone: the classifier could still believe the prefix listed.
mkdir -p "$B/frozen"
"$C" -d "$B/frozen" set addr 192.0.2.10 port 19523 >/dev/null 2>&1
"$C" -d "$B/frozen" sources add 192.0.2.0/24 198.51.100.0/24 >/dev/null
bpftool map freeze pinned "$B/frozen/cls_redirect_config"
expect "sources del: trust_gen cannot move on: undone" 2 \
	"sources del: cannot write $B/frozen/cls_redirect_config, whose trust_gen makes the classifier forget deleted prefixes; the prefixes are listed again; nothing changed: Operation not permitted" \
	"$C" -d "$B/frozen" sources del 192.0.2.0/24 198.51.100.0/24
ok "sources del undone: both still listed" '["192.0.2.0/24","198.51.100.0/24"]' \
	sh -c "'$C' -d '$B/frozen' show -j | jq -c .sources"
rm -rf "$B/frozen"

# ---- foreign, stale and missing maps ----------------------------------------------

F=$B/foreign
mkdir "$F"
expect "show: map absent" 2 "$F/cls_redirect_config not found: run cls-redirect-config set" "$C" -d "$F" show
expect "clear: map absent" 2 "$F/cls_redirect_config not found" "$C" -d "$F" clear
check "clear: map absent, nothing created" [ -z "$(ls -A "$F")" ]
expect "set mtu: map absent, needs addr and port" 1 "$unconf" "$C" -d "$F" set mtu 1400
check "set mtu: map absent, nothing created" [ -z "$(ls -A "$F")" ]

# foreign PIN BPFTOOL-MAP-CREATE-ARGS...: pin a foreign map in $F.
foreign() {
	pin=$F/$1
	shift
	rm -f "$pin"
	bpftool map create "$pin" "$@" || echo "FAIL setup: bpftool map create $pin $*"
}
# foreign_value PIN SIZE: key 0 = bytes 0 1 2 ... SIZE-1.
foreign_value() {
	bpftool map update pinned "$1" key 0 0 0 0 value $(i=0; while [ $i -lt "$2" ]; do printf '%d ' $((i % 256)); i=$((i + 1)); done)
}
# refused WHAT NEEDLE: show, set and clear all refuse the map in $F.
refused() {
	for cmd in show "set addr 192.0.2.10 port 19523" clear; do
		# shellcheck disable=SC2086
		expect "config ${cmd%%" "*}: $1 refused" 2 "$2" "$C" -d "$F" $cmd
	done
}
shape="expects array key 4 value 32 entries 1 flags 0x0, found"
foreign cls_redirect_config type hash key 4 value 32 entries 1 name cls_redirect_config &&
	foreign_value "$F/cls_redirect_config" 32
refused "hash map" "$shape hash key 4 value 32 entries 1 flags 0x0"
foreign cls_redirect_config type hash key 8 value 32 entries 1 name cls_redirect_config
refused "key size 8" "$shape hash key 8 value 32 entries 1 flags 0x0"
foreign cls_redirect_config type array key 4 value 16 entries 1 name cls_redirect_config &&
	foreign_value "$F/cls_redirect_config" 16
refused "value size 16" "$shape array key 4 value 16 entries 1 flags 0x0"
foreign cls_redirect_config type array key 4 value 32 entries 2 name cls_redirect_config
refused "2 entries" "$shape array key 4 value 32 entries 2 flags 0x0"
foreign cls_redirect_config type array key 4 value 32 entries 1 flags 1024 name cls_redirect_config
refused "mmapable flag" "$shape array key 4 value 32 entries 1 flags 0x400"
# The right shape with another layout version, or unknown flag bits.
foreign cls_redirect_config type array key 4 value 32 entries 1 name cls_redirect_config &&
	bpftool map update pinned "$F/cls_redirect_config" key 0 0 0 0 value 2 0 0 0 192 0 2 10 76 67 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
refused "layout version 2" "config layout version 2, cls-redirect-config $VERSION knows version 1"
bpftool map update pinned "$F/cls_redirect_config" key 0 0 0 0 value 1 0 0 0 192 0 2 10 76 67 16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
refused "unknown flag bits" "unknown flags 0x10"
rm -f "$F/cls_redirect_config"

# ---- cls-redirect-stat ------------------------------------------------------------

M=$G/cls_redirect_metrics
expect "stat: metrics map absent" 2 "$M not found: is cls_redirect.o attached with tc?" "$S"
expect "stat --zero: metrics map absent" 2 "$M not found: is cls_redirect.o attached with tc?" "$S" --zero
check "stat never creates the metrics map" [ ! -e "$M" ]

VSIZE=$((NCOUNTERS * 8))
bpftool map create "$M" type percpu_array key 4 value $VSIZE entries 1 name cls_redirect_metrics
# Counter i holds i + 1 on every CPU; the last one 2^32 + 1, to catch a
# truncation to 32 bits.
BIG=4294967297
vals=
i=0
while [ $i -lt "$NCOUNTERS" ]; do
	v=$((i + 1))
	[ $i = $((NCOUNTERS - 1)) ] && v=$BIG
	vals="$vals $(hexle64 $v)"
	i=$((i + 1))
done
# shellcheck disable=SC2086
bpftool map update pinned "$M" key 0 0 0 0 value hex $vals
expected_sum() { # index
	if [ "$1" = $((NCOUNTERS - 1)) ]; then echo $((BIG * NCPUS)); else echo $((($1 + 1) * NCPUS)); fi
}

want=$(printf '%-40s %16s\n' counter packets
	i=0
	for n in $NAMES; do printf '%-40s %16s\n' "$n" "$(expected_sum $i)"; i=$((i + 1)); done)
ok "stat: table, summed over $NCPUS CPUs" "$want" "$S"

want=$(i=0; printf '{'; for n in $NAMES; do
	[ $i = 0 ] || printf ','
	printf '"%s":%s' "$n" "$(expected_sum $i)"
	i=$((i + 1))
done; printf '}')
ok "stat -j: every counter, in order, exact values" "$want" "$S" -j
ok "stat -j: keys are exactly the counters of cls_redirect.h" "$NAMES" sh -c "$S -j | jq -r 'keys_unsorted[]'"
ok "stat -p: same object" "$("$S" -j | jq -S .)" sh -c "$S --pretty | jq -S ."
full "stat > /dev/full" "$S"
full "stat -j > /dev/full" "$S" -j
full "stat --prometheus > /dev/full" "$S" --prometheus
full "stat -w 1 > /dev/full" timeout 5 "$S" -w 1
full "config show > /dev/full" "$C" show
full "config show -j > /dev/full" "$C" show -j
# set writes the map, then its report of what changed: that write is
# checked as well (exit 2), though the change is made.
full "config set > /dev/full" "$C" set mtu 1400
ok "config set > /dev/full: the change was made" "addr 192.0.2.10 port 19523 mtu 1400$LT" "$C" show
"$C" set mtu 0 >/dev/null

"$S" --prometheus >"$tmp/prom" 2>"$tmp/err"
rc=$?
check "stat --prometheus: exit 0, no stderr" sh -c "[ $rc = 0 ] && [ ! -s '$tmp/err' ]"
if promtool check metrics <"$tmp/prom" >"$tmp/promtool" 2>&1; then
	if [ -s "$tmp/promtool" ]; then
		fail "stat --prometheus: promtool check metrics" "$(cat "$tmp/promtool")"
	else
		pass "stat --prometheus: promtool check metrics"
	fi
else
	fail "stat --prometheus: promtool check metrics" "$(cat "$tmp/promtool")"
fi
# Labelled families (man page: CLS-REDIRECT-STAT): the outcome counters in
# cls_redirect_packets_total{outcome,reason}, the l3/l4 counters by protocol.
prom_series() {
	echo "$1" | sed -e 's/^processed_packets_total$/cls_redirect_processed_packets_total/' \
		-e 's/^passed_packets_total$/cls_redirect_packets_total{outcome="passed",reason=""}/' \
		-e 's/^accepted_packets_total_\(.*\)/cls_redirect_packets_total{outcome="accepted",reason="\1"}/' \
		-e 's/^forwarded_packets_total_\(.*\)/cls_redirect_packets_total{outcome="forwarded",reason="\1"}/' \
		-e 's/^errors_total_\(.*\)/cls_redirect_packets_total{outcome="error",reason="\1"}/' \
		-e 's/^\(l[34]_protocol_packets_total\)_\(.*\)/cls_redirect_\1{protocol="\2"}/'
}
want=$({ i=0; for n in $NAMES; do echo "$(prom_series "$n") $(expected_sum $i)"; i=$((i + 1)); done
	echo "cls_redirect_build_info{version=\"$VERSION\"} 1"
	echo "cls_redirect_configured 1"; } | sort)
ok "stat --prometheus: every series, exact values" "$want" sh -c "grep -v '^#' '$tmp/prom' | sort"
ok "stat --prometheus: not attached: no cls_redirect_attached series" "" sh -c "grep '^cls_redirect_attached{' '$tmp/prom'; true"
ok "stat --prometheus: families and types" "cls_redirect_processed_packets_total counter
cls_redirect_l3_protocol_packets_total counter
cls_redirect_l4_protocol_packets_total counter
cls_redirect_packets_total counter
cls_redirect_build_info gauge
cls_redirect_configured gauge
cls_redirect_attached gauge" sh -c "grep '^# TYPE' '$tmp/prom' | cut -d' ' -f3-"
ok "stat --prometheus: a HELP for each family" "$(grep '^# TYPE' "$tmp/prom" | cut -d' ' -f3)" \
	sh -c "grep '^# HELP' '$tmp/prom' | cut -d' ' -f3"
# The HELP texts come from cls_redirect.h, each counter's under its label.
ok "stat --prometheus: HELP text from cls_redirect.h" "1" \
	sh -c "grep '^# HELP cls_redirect_packets_total ' '$tmp/prom' | grep -c 'error/fragmented_outer_ip: Dropped: outer IPv4 fragment\.'"
ok "stat --prometheus: processed HELP from cls_redirect.h" \
	"# HELP cls_redirect_processed_packets_total Packets seen on the wire by the classifier (decapsulated packets re-entering are not counted again)" \
	grep '^# HELP cls_redirect_processed_packets_total' "$tmp/prom"

# --output FILE: the same bytes, written atomically.
mkdir "$tmp/textfile"
ok "stat --prometheus --output FILE" "" "$S" --prometheus --output "$tmp/textfile/cls_redirect.prom"
check "--output FILE: same bytes as stdout" cmp -s "$tmp/prom" "$tmp/textfile/cls_redirect.prom"
check "--output FILE: mode 0644 (the collector runs as another user)" \
	[ "$(stat -c %a "$tmp/textfile/cls_redirect.prom")" = 644 ]
check "--output FILE: no temporary file left" [ "$(ls "$tmp/textfile")" = cls_redirect.prom ]
ok "stat -j --output FILE" "" "$S" -j --output "$tmp/textfile/c.json"
ok "stat -j --output FILE: same JSON" "$("$S" -j)" cat "$tmp/textfile/c.json"
expect "--output: directory missing" 2 "--output $tmp/nope/x.prom: cannot create a temporary file" \
	"$S" --prometheus --output "$tmp/nope/x.prom"
expect "--output with -w" 1 "--output goes with the table" "$S" -w 1 --output "$tmp/x"
expect "--output with --zero" 1 "--output goes with the table" "$S" --zero --output "$tmp/x"
expect "--output without a value" 1 "option '--output' needs a value" "$S" --prometheus --output
# A full filesystem: exit 2, the previous file intact, no temporary left.
mkdir "$tmp/small"
if mount -t tmpfs -o size=16k tmpfs "$tmp/small"; then
	cp "$tmp/textfile/cls_redirect.prom" "$tmp/small/cls_redirect.prom"
	old=$(cat "$tmp/small/cls_redirect.prom")
	dd if=/dev/zero of="$tmp/small/fill" bs=1k count=64 2>/dev/null
	expect "--output on a full filesystem: exit 2" 2 "--output $tmp/small/cls_redirect.prom: cannot write" \
		"$S" --prometheus --output "$tmp/small/cls_redirect.prom"
	check "--output on a full filesystem: previous file intact" [ "$(cat "$tmp/small/cls_redirect.prom")" = "$old" ]
	check "--output on a full filesystem: no temporary left" [ "$(ls "$tmp/small")" = "cls_redirect.prom
fill" ]
	umount "$tmp/small"
else
	fail "--output on a full filesystem" "cannot mount a tmpfs"
fi

# -w: the first table has no rates, the next ones rates per second.
timeout --preserve-status -s INT 2.5 "$S" -w 1 >"$tmp/watch" 2>"$tmp/err"
rc=$?
check "stat -w 1: Ctrl-C exits 0" sh -c "[ $rc = 0 ] && [ ! -s '$tmp/err' ]"
ok "stat -w 1: 3 tables in 2.5 s" 3 grep -c '^counter .* per-second$' "$tmp/watch"
ok "stat -w 1: first table without rates" \
	"$(printf '%-40s %16s %12s' processed_packets_total "$(expected_sum 0)" -)" \
	sh -c "grep '^processed_packets_total ' '$tmp/watch' | head -1"
ok "stat -w 1: rate 0.0 while nothing changes" \
	"$(printf '%-40s %16s %12s' processed_packets_total "$(expected_sum 0)" 0.0)" \
	sh -c "grep '^processed_packets_total ' '$tmp/watch' | sed -n 3p"
# Add 1000 per CPU to processed_packets_total between the first and the
# second table: its rate there is 1000 * NCPUS per second (the interval is
# measured, so allow 10%).
"$S" --watch 1 >"$tmp/watch" 2>"$tmp/err" &
watcher=$!
sleep 0.4
# shellcheck disable=SC2086
bpftool map update pinned "$M" key 0 0 0 0 value hex $(hexle64 1001) $(echo "$vals" | cut -d' ' -f10-)
sleep 1.8
kill -INT "$watcher"
wait "$watcher"
rc=$?
check "stat --watch: SIGINT exits 0" [ "$rc" = 0 ]
rate=$(grep '^processed_packets_total ' "$tmp/watch" | sed -n 2p | awk '{ print $3 }')
check "stat --watch: rate $rate ~ $((1000 * NCPUS))/s" \
	awk -v r="$rate" -v w=$((1000 * NCPUS)) 'BEGIN { exit !(r > w * 0.9 && r < w * 1.1) }'
ok "stat --watch: other counters rate 0.0" "0.0" \
	sh -c "grep '^passed_packets_total ' '$tmp/watch' | sed -n 2p | awk '{ print \$3 }'"
bpftool map update pinned "$M" key 0 0 0 0 value hex $vals

# Read-only open, and --zero needs write access.
chmod 0400 "$M"
ok "stat opens read-only (0400 pin, no DAC override)" "$("$S" -j)" $NODAC "$S" -j
expect "stat --zero needs write access" 2 "$M (owner root, group root, mode 0400) is not writable for uid 0" $NODAC "$S" --zero
chmod 0600 "$M"
expect "stat as nobody" 2 "$B/tc (owner root, group root, mode 0700) is not searchable for uid 65534" $NOBODY "$S"
chmod 0711 "$B/tc" "$G"
expect "stat as nobody, directories searchable" 2 "$M (owner root, group root, mode 0600) is not readable for uid 65534" $NOBODY "$S"
expect "stat --zero as nobody, directories searchable" 2 "$G (owner root, group root, mode 0711) is not readable for uid 65534" $NOBODY "$S" --zero
chmod 0700 "$B/tc" "$G"

# ---- --group: a real unprivileged user reads the pins ----------------------------

MON=clsrmon$$
if useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$MON"; then
	mon_cleanup() { userdel "$MON" 2>/dev/null; groupdel "$MON" 2>/dev/null; }
	AS_MON="setpriv --reuid=$MON --regid=$MON --init-groups"
	expect "as $MON before --group: the directory mode is named" 2 "$B/tc (owner root, group root, mode 0700) is not searchable for uid $(id -u "$MON")" \
		$AS_MON "$S" -j
	ok "set --group $MON" "group: $MON may read $G (directory 0750, 4 pins 0640); search permission for others (o+x) added to $B/tc" \
		"$C" set --group "$MON"
	check "--group: modes and group of the directory and pins" [ "$(stat -c '%a %G' "$B/tc" "$G" "$CFG" "$M" "$SRC" | tr '\n' ' ')" = "701 root 750 $MON 640 $MON 640 $MON 640 $MON " ]
	check "--group: no field changed" [ "$("$C" show)" = "addr 192.0.2.10 port 19523$LT" ]
	check "--group: $MON has no capability" sh -c "$AS_MON grep '^CapEff' /proc/self/status | grep -q '0000000000000000'"
	ok "as $MON: config show" "$("$C" show)" $AS_MON "$C" show
	ok "as $MON: config show -j" "$("$C" show -j)" $AS_MON "$C" show -j
	ok "as $MON: stat -j" "$("$S" -j)" $AS_MON "$S" -j
	ok "as $MON: stat --prometheus" "$("$S" --prometheus)" $AS_MON "$S" --prometheus
	expect "as $MON: set is refused by the pin's mode" 2 "$CFG (owner root, group $MON, mode 0640) is not writable for uid $(id -u "$MON")" \
		$AS_MON "$C" set mtu 1400
	expect "as $MON: --zero is refused by the pin's mode" 2 "$M (owner root, group $MON, mode 0640) is not writable for uid $(id -u "$MON")" \
		$AS_MON "$S" --zero
	expect "as nobody (not in the group): the directory mode is named" 2 "$G (owner root, group $MON, mode 0750) is not searchable for uid 65534" \
		$NOBODY "$C" show
	ok "set --group with a field" "mtu: 0 -> 1400
group: $MON may read $G (directory 0750, 4 pins 0640)" "$C" set --group "$MON" mtu 1400
	ok "set mtu 0" "mtu: 1400 -> 0" "$C" set mtu 0
	chmod 0700 "$B/tc" "$G"
	chmod 0600 "$CFG" "$M" "$G"/cls_redirect_sources "$G"/cls_redirect_hops
	chgrp root "$G" "$CFG" "$M" "$G"/cls_redirect_sources "$G"/cls_redirect_hops
	mon_cleanup
else
	fail "--group" "useradd $MON failed"
fi

# An abbreviation or the old spelling never zeroes: every counter stays
# (expect compares bytes).
expect "stat --res: refused, counters kept" 1 "unknown option '--res' (did you mean --reset?)" "$S" --res
expect "stat --rese: refused, counters kept" 1 "unknown option '--rese' (did you mean --reset?)" "$S" --rese
cfg_before=$(value_of "$CFG")
expect "stat --reset: refused, counters kept" 1 "--reset is now --zero" "$S" --reset
expect "stat --ze: refused, counters kept" 1 "unknown option '--ze' (did you mean --zero?)" "$S" --ze
ok "stat --zero" "" "$S" --zero
zero=$(i=0; while [ $i -lt "$VSIZE" ]; do printf '0x00 '; i=$((i + 1)); done)
ok "stat --zero: every CPU zero" "$NCPUS" sh -c "bpftool -j map dump pinned '$M' |
	jq '[.[0].values[] | select((.value | join(\" \")) + \" \" == \"$zero\")] | length'"
ok "stat --zero: -j all zero" "$(for n in $NAMES; do echo "$n 0"; done)" \
	sh -c "$S -j | jq -r 'to_entries[] | \"\\(.key) \\(.value)\"'"
ok "stat --zero: config survives" "$cfg_before" value_of "$CFG"
ok "show after stat --zero" "addr 192.0.2.10 port 19523$LT" "$C" show

# Foreign metrics maps: an older layout (one counter fewer) and a plain array.
bpftool map pin pinned "$M" "$B/metrics_good"
rm "$M"
bpftool map create "$M" type percpu_array key 4 value $((VSIZE - 8)) entries 1 name cls_redirect_metrics
expect "stat: older metrics layout refused" 2 \
	"expects percpu_array key 4 value $VSIZE entries 1 flags 0x0, found percpu_array key 4 value $((VSIZE - 8))" "$S"
expect "stat --zero: older metrics layout refused" 2 "found percpu_array key 4 value $((VSIZE - 8))" "$S" --zero
rm -f "$M"
bpftool map create "$M" type array key 4 value $VSIZE entries 1 name cls_redirect_metrics
bpftool map update pinned "$M" key 0 0 0 0 value hex $vals
expect "stat -j: plain array refused" 2 "found array key 4 value $VSIZE" "$S" -j
expect "stat --zero: plain array refused" 2 "found array key 4 value $VSIZE" "$S" --zero
rm -f "$M"
bpftool map pin pinned "$B/metrics_good" "$M"
rm "$B/metrics_good"

# ---- the default pin directory: /sys/fs/bpf/tc/globals ---------------------------

# Only in our own mount namespace: a fresh bpffs over /sys/fs/bpf hides the
# host's pins from this test and this test from the host.
if [ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] &&
	mount -t bpf bpf /sys/fs/bpf; then
	sys_mounted=1
	unset TC_BPF_MNT
	ok "default path: sources add creates tc/globals" "" "$C" sources add 0.0.0.0/0
	ok "default path: hops add" "" "$C" hops add 0.0.0.0/0
	ok "default path: set" "addr: unconfigured -> 192.0.2.10
port: unconfigured -> 19523" "$C" set addr 192.0.2.10 port 19523
	check "default path: pinned in /sys/fs/bpf/tc/globals" [ -e /sys/fs/bpf/tc/globals/cls_redirect_config ]
	ok "default path: show" "addr 192.0.2.10 port 19523$LT" "$C" show
	expect "default path: stat" 2 "/sys/fs/bpf/tc/globals/cls_redirect_metrics not found" "$S"
	ok "empty TC_BPF_MNT means the default" "addr 192.0.2.10 port 19523$LT" env TC_BPF_MNT= "$C" show
	umount /sys/fs/bpf && sys_mounted=
else
	echo "SKIP default path: not in a private mount namespace"
fi
test_done
